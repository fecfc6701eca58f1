"""Feedback as MLflow assessments on the real server: mlflow's own client sees each vote,
a changed vote overrides the previous one, and the CLI says one sentence on failure."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from click.testing import CliRunner
from trace_factory import log_nested_trace, use_server

from tracetui.cli import main
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.errors import TraceNotFound
from tracetui.tracking.feedback import (
    FEEDBACK_NAME,
    current_feedback,
    get_trace_info,
    set_feedback,
    thumbs,
)

_ENV = {"MLFLOW_TRACKING_URI": None, "MLFLOW_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_NAME": None}


def cli(url: str, *args: str):
    return CliRunner().invoke(main, ["--tracking-uri", url, "traces", "feedback", *args], env=_ENV)


@pytest.fixture()
def trace_id(mlflow_server) -> str:
    use_server(mlflow_server.url)
    return log_nested_trace(f"feedback-{uuid.uuid4().hex[:8]}")


def mlflow_feedback(url: str, trace_id: str):
    import mlflow

    mlflow.set_tracking_uri(url)
    assessments = mlflow.MlflowClient().get_trace(trace_id).info.assessments
    return [a for a in assessments if a.name == FEEDBACK_NAME]


def test_cli_vote_is_seen_by_mlflows_own_client(mlflow_server, trace_id) -> None:
    result = cli(mlflow_server.url, trace_id, "--up", "--comment", "clear and short", "--user", "ana")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Recorded thumbs up on {trace_id}")
    (vote,) = mlflow_feedback(mlflow_server.url, trace_id)
    assert vote.value is True
    assert vote.rationale == "clear and short"
    assert vote.source.source_type == "HUMAN" and vote.source.source_id == "ana"


def test_a_changed_vote_overrides_the_previous_one(mlflow_server, tracking_settings, trace_id) -> None:
    assert cli(mlflow_server.url, trace_id, "--up", "--user", "ana").exit_code == 0
    assert cli(mlflow_server.url, trace_id, "--down", "--user", "ana").exit_code == 0
    assert cli(mlflow_server.url, trace_id, "--up", "--user", "bo", "--comment", "fine").exit_code == 0
    votes = sorted(mlflow_feedback(mlflow_server.url, trace_id), key=lambda a: a.create_time_ms)
    assert [(v.source.source_id, v.value, v.valid) for v in votes] == [
        ("ana", True, False),  # replaced by ana's second vote
        ("ana", False, True),
        ("bo", True, True),
    ]

    async def read():
        async with TrackingClient(tracking_settings, mlflow_server.url) as client:
            return await get_trace_info(client, trace_id)

    info = asyncio.run(read())
    assert thumbs(current_feedback(info, source_id="ana")) is False
    assert thumbs(current_feedback(info)) is True  # the newest vote on the trace: bo's
    assert current_feedback(info, source_id="bo").rationale == "fine"


def test_set_feedback_with_the_info_at_hand(mlflow_server, tracking_settings, trace_id) -> None:
    async def vote():
        async with TrackingClient(tracking_settings, mlflow_server.url) as client:
            info = await get_trace_info(client, trace_id)
            first = await set_feedback(client, trace_id, thumbs_up=False, source_id="cy", info=info)
            info = await get_trace_info(client, trace_id)
            second = await set_feedback(client, trace_id, thumbs_up=True, source_id="cy", info=info)
            return first, second, await get_trace_info(client, trace_id)

    first, second, info = asyncio.run(vote())
    assert first.value is False and second.value is True
    assert current_feedback(info, source_id="cy").assessment_id == second.assessment_id
    raw = mlflow_feedback(mlflow_server.url, trace_id)
    assert {a.assessment_id: a.valid for a in raw} == {first.assessment_id: False, second.assessment_id: True}


def test_vote_on_a_missing_trace_is_one_sentence(mlflow_server, tracking_settings) -> None:
    missing = "tr-" + "0" * 32

    async def vote():
        async with TrackingClient(tracking_settings, mlflow_server.url) as client:
            await set_feedback(client, missing, thumbs_up=True, source_id="x")

    with pytest.raises(TraceNotFound, match=f"^No trace {missing} on "):
        asyncio.run(vote())
    result = cli(mlflow_server.url, missing, "--down")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(f"No trace {missing}") and "Traceback" not in result.output


def test_cli_needs_a_direction(mlflow_server) -> None:
    result = cli(mlflow_server.url, "tr-whatever")
    assert result.exit_code == 2 and "--up or --down" in result.output


def test_vote_on_an_unreachable_server_is_one_sentence() -> None:
    result = cli("http://127.0.0.1:9", "tr-x", "--up")
    assert result.exit_code == 1
    assert "Cannot reach the MLflow tracking server at http://127.0.0.1:9" in result.stderr
