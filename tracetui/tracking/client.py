"""An async httpx client for MLflow's tracking REST API.

Every failure is raised as a `TrackingError` subclass whose message is one
sentence a person can act on; nothing else escapes (no httpx errors, no
KeyError on odd JSON).

CONTRACT (pinned; the UI, CLI and live poller are written against it):

    client = TrackingClient(settings: TrackingSettings, base_url: str)
    async with client: ...                      # or await client.aclose()
    await client.health() -> None               # GET /health, raises on failure
    await client.list_experiments() -> list[Experiment]           # all pages, active only
    await client.get_experiment(experiment_id: str) -> Experiment
    await client.get_experiment_by_name(name: str) -> Experiment
    await client.resolve_experiment(name_or_id: str) -> Experiment  # id first, then name
    await client.search_traces(experiment_ids: Sequence[str], *, filter_string: str | None = None,
                               order_by: Sequence[str] = ("timestamp_ms DESC",),
                               max_results: int = 100, page_token: str | None = None) -> TracePage
    await client.iter_trace_infos(experiment_ids, *, filter_string=None, order_by=...,
                                  limit: int | None = None) -> AsyncIterator[TraceInfo]  # follows pages
    await client.get_trace_json(trace_id: str) -> dict    # the raw {"trace": {...}} document
    await client.get_trace(trace_id: str) -> Trace         # decoded
    await client.count_traces(experiment_id) ...  (optional helper for the experiment switcher)
    client.base_url -> str (redacted: no credentials)
"""
