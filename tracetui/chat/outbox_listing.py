"""What waits in the outbox, across every server and experiment: for `tracetui outbox` and the status line.

Each outbox folder names its destination in `target.json` (server, experiment,
and whether that destination was still unresolved when its turns were asked).
Counting only lists folders, so the dashboard can count every poll; reading the
refused records (with the reason kept inside each) is for the command line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tracetui.chat.outbox import (
    REJECTED_BECAUSE,
    REJECTED_SUFFIX,
    TARGET_FILE,
    TRACE_FILE,
    Outbox,
    state_dir,
)


@dataclass(frozen=True, slots=True)
class RefusedTurn:
    """A turn the server refused for good, set aside with the reason."""

    trace_id: str
    prompt: str
    reason: str
    path: Path


@dataclass(frozen=True, slots=True)
class OutboxFolder:
    """One destination's outbox and what it holds."""

    folder: Path
    server: str  # redacted: a server URL, or the store a local server serves
    experiment: str | None  # an id or a name; for an unresolved outbox, what was asked for
    unresolved: bool
    waiting: int
    refused: int

    @property
    def where(self) -> str:
        """The destination in words, e.g. "experiment 3 on http://h:5000"."""
        if self.unresolved:
            wanted = (
                f"experiment {self.experiment}" if self.experiment else "the experiment the dashboard opens"
            )
            return f"{wanted} on {self.server} (not resolved yet)"
        return f"experiment {self.experiment or 'Default'} on {self.server}"

    def outbox(self, root: Path | None = None) -> Outbox:
        outbox = Outbox(self.server, self.experiment, root, unresolved=self.unresolved)
        outbox.folder = self.folder  # the folder as found, whatever the key scheme that made it
        return outbox


_targets: dict[Path, tuple[str, str | None, bool] | None] = {}  # target.json never changes


def _target(folder: Path) -> tuple[str, str | None, bool] | None:
    if folder not in _targets:
        try:
            about = json.loads((folder / TARGET_FILE).read_text(encoding="utf-8"))
            target = (str(about["server"]), about.get("experiment"), bool(about.get("unresolved", False)))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # not written yet, or damaged: not an outbox this listing can name
        _targets[folder] = target
    return _targets[folder]


def _counts(folder: Path) -> tuple[int, int]:
    waiting = refused = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if TRACE_FILE.match(entry.name):
                    waiting += 1
                elif entry.name.endswith(REJECTED_SUFFIX) and TRACE_FILE.match(
                    entry.name.removesuffix(REJECTED_SUFFIX)
                ):
                    refused += 1
    except OSError:
        pass
    return waiting, refused


def outbox_folders(root: Path | None = None) -> list[OutboxFolder]:
    """Every outbox that holds a waiting or refused turn, most waiting first. Only lists folders."""
    base = (root or state_dir()) / "outbox"
    try:
        folders = [base / name for name in os.listdir(base)]
    except OSError:
        return []
    found: list[OutboxFolder] = []
    for folder in folders:
        waiting, refused = _counts(folder)
        target = _target(folder) if waiting or refused else None
        if target is not None:
            found.append(OutboxFolder(folder, *target, waiting=waiting, refused=refused))
    return sorted(found, key=lambda f: (-f.waiting, -f.refused, f.where))


def refused_turns(folder: Path) -> list[RefusedTurn]:
    """The refused turns of one outbox with the reason each was refused."""
    turns: list[RefusedTurn] = []
    for path in sorted(folder.glob(f"tr-*.json{REJECTED_SUFFIX}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        trace_id = path.name.removesuffix(REJECTED_SUFFIX).removesuffix(".json")
        turns.append(
            RefusedTurn(
                trace_id=trace_id,
                prompt=str(data.get("prompt", "")),
                reason=str(data.get(REJECTED_BECAUSE) or "the reason was not kept"),
                path=path,
            )
        )
    return turns
