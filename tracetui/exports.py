"""Export from the TUI: a trace as MLflow JSON, a session as a Markdown transcript, to a file.

The documents are the layers' (`tracking.export.to_mlflow_cli_document`,
`tracking.transcript.session_markdown`), written the way the CLI writes them
(`tracetui.files.write_text_file`: whole or not at all). Each action returns
an `Exported` with one sentence naming the path, or saying what went wrong;
it never raises, so a worker can show the sentence as it is.

Files go to the current folder (where the person started tracetui), else,
when that is not writable, to tracetui's cache folder. File names are made
from ids that came from the server, so only safe characters are kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracetui.files import NotWritten, cache_dir, write_text_file
from tracetui.tracking.errors import TrackingError
from tracetui.tracking.export import mlflow_cli_document
from tracetui.tracking.sessions import session_turns
from tracetui.tracking.transcript import session_markdown
from tracetui.visible import make_visible, one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Exported:
    ok: bool
    sentence: str
    path: Path | None = None


def safe_file_name(prefix: str, identifier: str, suffix: str) -> str:
    """File name like trace-tr-abc.json: unsafe characters become "_", the id is cut to 80 characters."""
    stem = _UNSAFE_NAME.sub("_", identifier).strip("._")[:80] or "unnamed"
    return f"{prefix}-{stem}{suffix}"


def _write(text: str, file_name: str, directory: str | None) -> Path:
    """Write to `directory` (default: the current folder), else to the cache folder."""
    first = Path(directory) if directory else Path.cwd()
    try:
        write_text_file(str(first / file_name), text)
        return (first / file_name).absolute()
    except NotWritten:
        if directory:  # the person chose this folder: say why it failed, do not go elsewhere
            raise
    fallback = cache_dir() / "exports"
    fallback.mkdir(parents=True, exist_ok=True)
    write_text_file(str(fallback / file_name), text)
    return fallback / file_name


async def _write_in_thread(text: str, file_name: str, directory: str | None, what: str) -> Exported:
    try:
        path = await asyncio.to_thread(_write, text, file_name, directory)
    except NotWritten as error:
        return Exported(False, f"Could not export {what}: {error}")
    except OSError as error:  # the cache folder itself could not be made
        reason = make_visible(error.strerror or type(error).__name__, keep_newlines=False)
        return Exported(False, f"Could not export {what} ({reason}).")
    shown = make_visible(str(path), keep_newlines=False)
    return Exported(True, f"Exported {what} to {shown}.", path)


async def export_trace_json(
    client: TrackingClient, trace_id: str, *, directory: str | None = None
) -> Exported:
    """The trace as the JSON `mlflow traces get --trace-id` prints, in trace-<id>.json."""
    what = f"trace {one_line(trace_id, 40)}"
    try:
        document = await mlflow_cli_document(client, trace_id)
    except TrackingError as error:
        return Exported(False, str(error))
    # ASCII-only JSON, as the CLI writes it: safe to `cat` even when the trace holds escapes.
    text = json.dumps(document, ensure_ascii=True, indent=2) + "\n"
    return await _write_in_thread(text, safe_file_name("trace", trace_id, ".json"), directory, what)


async def export_session_markdown(
    client: TrackingClient, experiment_id: str, session_id: str, *, directory: str | None = None
) -> Exported:
    """The session as a Markdown transcript, in session-<id>.md."""
    what = f"session {one_line(session_id, 40)}"
    try:
        turns = await session_turns(client, experiment_id, session_id)
    except TrackingError as error:
        return Exported(False, str(error))
    if not turns:
        return Exported(False, f"The {what} has no traces in this experiment, so there is nothing to export.")
    text = session_markdown(session_id, turns, experiment_id=experiment_id, server_url=client.base_url)
    return await _write_in_thread(text, safe_file_name("session", session_id, ".md"), directory, what)
