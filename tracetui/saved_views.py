"""Saved filters ("views") and the last filter used, per server and experiment, in the user's config folder.

One JSON file, `$XDG_CONFIG_HOME/tracetui/views.json` (else `~/.config/tracetui/views.json`):

    {"servers": {"http://mlflow.example.com": {"7": {"views": {"errors": "status = 'ERROR'"},
                                                     "last": "status = 'ERROR'"}}}}

A server is its URL without credentials or a trailing slash, so the same server
reached with another password keeps its views; an experiment is its id (names
can be renamed). Written whole to a temporary file and renamed over the old one,
so a crash never leaves half a file; a file that cannot be read is treated as
empty (and said once by the caller) rather than stopping the app. No Textual,
no Rich: the CLI and the dashboard share it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

FILE_NAME = "views.json"


class ViewsError(Exception):
    """The views file could not be written; the message is one sentence."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tracetui"


def server_key(base_url: str) -> str:
    """The server's URL without user, password or trailing slash."""
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class ViewStore:
    """Named filters and the last filter per (server, experiment id)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"servers": {}}
        if not isinstance(document, dict) or not isinstance(document.get("servers"), dict):
            return {"servers": {}}
        return document

    def _write(self, document: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as error:
            raise ViewsError(
                f"Could not save the views in {self.path}: {error.strerror or error}."
            ) from error

    def _entry(self, document: dict[str, Any], base_url: str, experiment_id: str) -> dict[str, Any]:
        server = document["servers"].setdefault(server_key(base_url), {})
        entry = server.setdefault(str(experiment_id), {})
        if not isinstance(entry.get("views"), dict):
            entry["views"] = {}
        return entry

    def views(self, base_url: str, experiment_id: str) -> dict[str, str]:
        """Saved views by name, in name order."""
        entry = self._entry(self._read(), base_url, experiment_id)
        views = {str(name): str(text) for name, text in entry["views"].items() if isinstance(text, str)}
        return dict(sorted(views.items()))

    def save(self, base_url: str, experiment_id: str, name: str, filter_string: str) -> None:
        name = name.strip()
        if not name:
            raise ViewsError("A view needs a name.")
        document = self._read()
        self._entry(document, base_url, experiment_id)["views"][name] = filter_string
        self._write(document)

    def delete(self, base_url: str, experiment_id: str, name: str) -> bool:
        document = self._read()
        views = self._entry(document, base_url, experiment_id)["views"]
        if name not in views:
            return False
        del views[name]
        self._write(document)
        return True

    def last_filter(self, base_url: str, experiment_id: str) -> str:
        """The filter last applied to this experiment ("" for none)."""
        last = self._entry(self._read(), base_url, experiment_id).get("last")
        return last if isinstance(last, str) else ""

    def remember_last(self, base_url: str, experiment_id: str, filter_string: str) -> None:
        document = self._read()
        entry = self._entry(document, base_url, experiment_id)
        if entry.get("last", "") == filter_string:
            return  # nothing to write
        entry["last"] = filter_string
        self._write(document)


def unknown_view_sentence(name: str, saved: dict[str, str], experiment: str) -> str:
    names = ", ".join(saved) if saved else "none yet (v in the dashboard saves the filter shown)"
    return f"No saved view named {name!r} for experiment {experiment}; saved views: {names}."


def starting_filter(
    store: ViewStore, base_url: str, experiment_id: str, experiment_name: str, view: str | None
) -> tuple[str, str | None, bool]:
    """The filter an experiment opens with, and a sentence saying where it came from (and whether
    that sentence is a failure): the view asked for by name, else the last filter used there."""
    from tracetui.visible import one_line

    if view is not None:
        views = store.views(base_url, experiment_id)
        if view in views:
            return (
                views[view],
                f"View {one_line(view, 40)}: {one_line(views[view], 80)} (u clears it).",
                False,
            )
        return "", unknown_view_sentence(view, views, one_line(experiment_name, 60)), True
    last = store.last_filter(base_url, experiment_id)
    if last:
        return last, f"Filter from your last visit: {one_line(last, 80)} (u clears it).", False
    return "", None, False
