"""Thumbs up/down on a trace, stored as an MLflow assessment so MLflow's own UI shows it.

The request is what `mlflow.log_feedback` sends (MLflow 3.17.2,
`RestStore.create_assessment`):

    POST /api/3.0/mlflow/traces/{trace_id}/assessments
    {"assessment": {"assessment_name": "user_feedback", "trace_id": …,
                    "source": {"source_type": "HUMAN", "source_id": <user>},
                    "feedback": {"value": true}, "rationale": <comment>,
                    "overrides": <id of the person's previous vote>}}

Changing one's mind does not add a second vote: the new assessment `overrides`
the previous one from the same source, which the server then marks invalid
(`valid: false`). The vote in force is the newest feedback of that name.
"""

from __future__ import annotations

import dataclasses
import getpass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tracetui.tracking.compat import UnsupportedServer
from tracetui.tracking.decode import decode_assessment, decode_trace_info
from tracetui.tracking.errors import BadResponse, TraceNotFound, TrackingError
from tracetui.tracking.models import Assessment, TraceInfo

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

FEEDBACK_NAME = "user_feedback"
SOURCE_HUMAN = "HUMAN"
MAX_COMMENT_CHARS = 10_000  # a comment, not a document; the server stores it as text
TRACE_PATH = "/api/3.0/mlflow/traces/{trace_id}"
ASSESSMENTS_PATH = "/api/3.0/mlflow/traces/{trace_id}/assessments"


def default_source_id() -> str:
    """Who is voting: the login name, as MLflow's UI shows a human source."""
    try:
        return getpass.getuser() or "tracetui"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "tracetui"


def feedback_votes(info: TraceInfo, name: str = FEEDBACK_NAME) -> list[Assessment]:
    """Feedback of that name on the trace, oldest first (overridden votes included)."""
    votes = [a for a in info.assessments if a.kind == "feedback" and a.name == name]
    return sorted(votes, key=lambda a: a.create_time_ms or 0)


def current_feedback(
    info: TraceInfo, *, source_id: str | None = None, name: str = FEEDBACK_NAME
) -> Assessment | None:
    """The vote in force: the newest thumbs feedback (from `source_id` when given), else None."""
    votes = [v for v in feedback_votes(info, name) if source_id is None or v.source_id == source_id]
    return votes[-1] if votes else None


def thumbs(assessment: Assessment | None) -> bool | None:
    """True for a thumbs up, False for down, None when there is no boolean vote."""
    if assessment is None:
        return None
    value = assessment.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _path(template: str, trace_id: str) -> str:
    return template.format(trace_id=quote(trace_id, safe=""))


async def get_trace_info(client: TrackingClient, trace_id: str) -> TraceInfo:
    """The trace's info with its assessments, without its spans (one small request)."""
    return decode_trace_info(await client.trace_info_json(trace_id))


async def require_assessments(client: TrackingClient) -> None:
    """Raises UnsupportedServer, with a sentence, when the server has no assessments API."""
    capabilities = await client.capabilities()
    if not capabilities.assessments:
        raise UnsupportedServer(
            f"The MLflow server at {client.base_url} (version {capabilities.version_text}) is too old "
            "for feedback: assessments need MLflow 3.5 or later."
        )


async def log_feedback(
    client: TrackingClient,
    trace_id: str,
    *,
    thumbs_up: bool,
    comment: str | None = None,
    source_id: str | None = None,
    overrides: str | None = None,
    name: str = FEEDBACK_NAME,
) -> Assessment:
    """Store one vote; returns the assessment the server created.

    `overrides` is the assessment id of the vote this one replaces (see
    `current_feedback`); the UI has the trace info at hand and passes it.
    """
    await require_assessments(client)
    source = source_id or default_source_id()
    assessment: dict[str, Any] = {
        "assessment_name": name,
        "trace_id": trace_id,
        "source": {"source_type": SOURCE_HUMAN, "source_id": source},
        "feedback": {"value": bool(thumbs_up)},
    }
    text = (comment or "").strip()
    if text:
        assessment["rationale"] = text[:MAX_COMMENT_CHARS]
    if overrides:
        assessment["overrides"] = overrides
    base = client.base_url

    def not_found(message: str) -> TrackingError:
        if "Assessment" in message:
            return TraceNotFound(
                f"The previous vote on trace {trace_id} is gone from {base}; reload the trace and vote again."
            )
        return TraceNotFound(f"No trace {trace_id} on {base}; it may have been deleted.")

    body = await client.request_json(
        "POST",
        _path(ASSESSMENTS_PATH, trace_id),
        json_body={"assessment": assessment},
        what=f"store feedback on trace {trace_id}",
        not_found=not_found,
    )
    created = body.get("assessment")
    if not isinstance(created, dict):
        raise BadResponse(f"The MLflow tracking server at {base} did not confirm the feedback on {trace_id}.")
    try:
        return decode_assessment(created)
    except (ValueError, TypeError, AttributeError, KeyError):
        raise BadResponse(
            f"The MLflow tracking server at {base} confirmed the feedback on {trace_id} "
            "in a shape this version cannot read."
        ) from None


async def set_feedback(
    client: TrackingClient,
    trace_id: str,
    *,
    thumbs_up: bool,
    comment: str | None = None,
    source_id: str | None = None,
    info: TraceInfo | None = None,
) -> Assessment:
    """Vote, replacing this person's previous vote on the trace if there is one.

    Pass the `info` already at hand (the trace list has it) to save a request;
    without it the trace's info is read first.
    """
    source = source_id or default_source_id()
    if info is None:
        info = await get_trace_info(client, trace_id)
    previous = current_feedback(info, source_id=source)
    return await log_feedback(
        client,
        trace_id,
        thumbs_up=thumbs_up,
        comment=comment,
        source_id=source,
        overrides=previous.assessment_id if previous is not None and previous.assessment_id else None,
    )


def with_assessment(info: TraceInfo, assessment: Assessment) -> TraceInfo:
    """`info` as it is after the vote: the list can show it before the next poll."""
    return dataclasses.replace(info, assessments=(*info.assessments, assessment))
