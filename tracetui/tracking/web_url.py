"""Links into MLflow's own web UI.

MLflow 3.17.2's UI builds a trace link as (server/js, the notebook trace renderer):
    /#/experiments/<experiment id>/traces?selectedEvaluationId=<tr-id>&traceId=<tr-id>&compareRunsMode=TRACES
and the traces page opens the trace drawer from `selectedEvaluationId`.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from tracetui.tracking.errors import redact_url


def trace_web_url(base_url: str, experiment_id: str, trace_id: str) -> str:
    """The MLflow UI page of one trace, without any credentials from `base_url`."""
    parts = urlsplit(redact_url(base_url.strip()))
    path = parts.path.rstrip("/") + "/"
    query = urlencode({"selectedEvaluationId": trace_id, "traceId": trace_id, "compareRunsMode": "TRACES"})
    fragment = f"/experiments/{quote(experiment_id, safe='')}/traces?{query}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", fragment))
