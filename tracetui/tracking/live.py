"""Incremental live list of an experiment's traces.

CONTRACT (pinned):

    live = LiveTraceList(experiment_ids: Sequence[str], filter_string: str | None = None,
                         initial_limit: int = 500)
    update = await live.poll(client)  -> LiveUpdate
        LiveUpdate.added:   tuple[TraceInfo, ...]   # never seen before
        LiveUpdate.changed: tuple[TraceInfo, ...]   # seen before, now different (state, duration,
                                                    # tags, metadata, assessments)
        LiveUpdate.requests: int                    # HTTP requests this poll made
    live.traces -> list[TraceInfo]                  # everything known, newest start first
    live.get(trace_id) -> TraceInfo | None
"""
