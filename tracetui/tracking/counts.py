"""How many traces an experiment has, counted by the server where it can count.

MLflow 3.x answers `POST /api/3.0/mlflow/traces/metrics` with a COUNT over the trace
table: one indexed aggregate on the server, instead of downloading every trace info
(200 pages at 100,000 traces). Older servers have no such endpoint (404): the
caller then counts by paging, or says "more" without a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TRACE_METRICS_PATH = "/api/3.0/mlflow/traces/metrics"


async def server_trace_count(client: Any, experiment_ids: Sequence[str]) -> int | None:
    """The exact number of traces in `experiment_ids`, or None when the server cannot count them."""
    if not hasattr(client, "raw_request"):
        return None
    capabilities = getattr(client, "capabilities", None)
    if capabilities is not None and not (await capabilities()).v3_search:
        return None  # before 3.5: no /api/3.0 trace routes at all
    response = await client.raw_request(
        "POST",
        TRACE_METRICS_PATH,
        json={
            "experiment_ids": list(experiment_ids),
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
    )
    if response.status_code in (404, 405, 501):
        return None  # a server without the metrics endpoint
    client.raise_for_answer(response, "count traces")
    try:
        points = response.json().get("data_points", [])
        return int(sum(float(point["values"]["COUNT"]) for point in points))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # an answer of another shape: count another way


def listed_label(listed: int, total: int | None, more: bool) -> str:
    """How many traces are listed and whether more exist: "500 of 100,002", "500, more on the server"."""
    if total is not None:
        return f"{listed:,} of {total:,}" if total > listed else f"{listed:,}"
    if more:
        return f"{listed:,}, more on the server"
    return f"{listed:,}"
