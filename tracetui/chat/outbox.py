"""Turns whose trace could not be written yet, kept on disk and delivered when the server is back.

The outbox is a folder of JSON files, one `TurnRecord` per file named by its
trace id (so a record is stored once), under
`$TRACETUI_STATE_DIR/outbox` (default `$XDG_STATE_HOME/tracetui/outbox`, else
`~/.local/state/tracetui/outbox`), in a subfolder per tracking server and
experiment, so a record is only ever sent where it was meant to go. No
credentials are stored: the key hashes the redacted server URL, and URLs inside
a record lose any user:password part before it is written.

    tracer = with_outbox(TurnTracer(settings, experiment))   # outbox_tracer.py: a TurnSink too
    session = ChatSession(..., tracer=tracer)
    tracer.pending_count()      # cheap: counts files; call it from a poll loop
    tracer.deliver_pending()    # blocking I/O: run it in a thread worker when the count is > 0

A replay is idempotent: the record keeps the trace and span ids chosen when the
turn started, so writing it twice leaves one trace (tests/test_outbox.py checks
this on a real server). Deliveries of one folder still never overlap: an
in-process lock plus an flock on the folder's `.lock` file, so the TUI and a
`tracetui ask` running at once do not both send.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracetui.chat.record import TurnRecord
from tracetui.chat.trace_writer import (
    AUTH,
    KEPT,
    NO_EXPERIMENT,
    TraceNotLogged,
)
from tracetui.tracking.errors import redact_url
from tracetui.visible import one_line

TRACE_FILE = re.compile(r"^tr-[0-9a-f]{32}\.json$")
TARGET_FILE = "target.json"  # which server and experiment this folder is for, for a person reading it
BAD_SUFFIX = ".bad"  # unreadable files are renamed to this, out of the way
REJECTED_SUFFIX = ".rejected"  # records the server refused for good (e.g. HTTP 400), kept for a person
REJECTED_BECAUSE = "rejected_because"  # the sentence saying why, kept inside the set-aside record
UNRESOLVED_MARK = "\0unresolved\0"  # keys the outbox of turns whose destination is not known yet

Tracer = Callable[[TurnRecord], str]


def state_dir(env: dict[str, str] | None = None) -> Path:
    """$TRACETUI_STATE_DIR, else $XDG_STATE_HOME/tracetui, else ~/.local/state/tracetui."""
    env = dict(os.environ) if env is None else env
    if env.get("TRACETUI_STATE_DIR"):
        return Path(env["TRACETUI_STATE_DIR"])
    xdg = env.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "tracetui"


def target_key(server_url: str, experiment: str | None) -> str:
    """A folder name for one server + experiment; hashed from the redacted URL, so no secret is in it."""
    seed = f"{redact_url(server_url.rstrip('/'))}\n{experiment or ''}"
    return hashlib.sha256(seed.encode()).hexdigest()[:20]


def count_waiting(folder: Path) -> int:
    """How many turns wait in an outbox folder (0 when it does not exist). Only lists the folder."""
    try:
        with os.scandir(folder) as entries:
            return sum(1 for entry in entries if TRACE_FILE.match(entry.name))
    except OSError:
        return 0


def turns(count: int) -> str:
    return f"{count} turn{'' if count == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one delivery run did. Unpacks as `(delivered, still_waiting)`."""

    delivered: int
    waiting: int
    sentence: str | None = None  # why turns still wait or were set aside; None when all is well
    failure: TraceNotLogged | None = None  # the failure that stopped the run, if one did
    delivered_ids: tuple[str, ...] = ()  # the trace ids now on the server, in the order sent

    def __iter__(self) -> Iterator[int]:
        yield self.delivered
        yield self.waiting


_folder_locks: dict[Path, threading.Lock] = {}
_folder_locks_guard = threading.Lock()


def _folder_lock(folder: Path) -> threading.Lock:
    with _folder_locks_guard:
        return _folder_locks.setdefault(folder, threading.Lock())


class Outbox:
    """One folder of undelivered turn records for one server + experiment.

    `server_url` names the server as the person configured it: its URL, or for a
    local server tracetui starts, the store it serves (its port changes every run).
    `experiment` is an experiment id, or a name to find or create. An `unresolved`
    outbox holds turns answered before the destination was known (the server still
    starting, the experiment not chosen yet): `experiment` is then what was asked
    for (None: whichever the dashboard opens), and `adopt` moves its turns into the
    real destination's outbox once that is known.
    """

    def __init__(
        self,
        server_url: str,
        experiment: str | None,
        root: Path | None = None,
        *,
        unresolved: bool = False,
    ) -> None:
        self.server_url = redact_url(server_url.rstrip("/"))
        self.experiment = experiment
        self.unresolved = unresolved
        key_experiment = f"{UNRESOLVED_MARK}{experiment or ''}" if unresolved else experiment
        self.folder = (root or state_dir()) / "outbox" / target_key(server_url, key_experiment)

    # -- storing ----------------------------------------------------------------------------

    def put(self, record: TurnRecord) -> Path:
        """Keep `record` (atomically: a temporary file renamed into place). Stored once per trace id."""
        name = f"{record.trace_id}.json"
        if not TRACE_FILE.match(name):
            raise ValueError(f"Not a trace id tracetui makes: {record.trace_id!r}.")
        self._make_folder()
        path = self.folder / name
        self._write_atomic(path, json.dumps(_without_secrets(record.to_dict()), ensure_ascii=False))
        return path

    def _make_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # prompts and answers are private
        target = self.folder / TARGET_FILE
        if not target.exists():
            about = {"server": self.server_url, "experiment": self.experiment, "unresolved": self.unresolved}
            self._write_atomic(target, json.dumps(about))

    def _write_atomic(self, path: Path, text: str) -> None:
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    # -- reading ----------------------------------------------------------------------------

    def pending_count(self) -> int:
        """How many turns wait. Only lists the folder: cheap enough for every poll."""
        return count_waiting(self.folder)

    def pending(self) -> tuple[list[TurnRecord], list[str]]:
        """The waiting records, oldest turn first, and a sentence per file set aside as unreadable."""
        try:
            paths = [self.folder / name for name in os.listdir(self.folder) if TRACE_FILE.match(name)]
        except OSError:
            return [], []
        records: list[TurnRecord] = []
        set_aside: list[str] = []
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                record = TurnRecord.from_dict(data)
                if f"{record.trace_id}.json" != path.name:
                    raise ValueError("its trace id does not match its name")
            except FileNotFoundError:
                continue  # delivered meanwhile by someone else
            except Exception as exc:  # any damage: bad JSON, wrong shape, wrong types
                why = f"it cannot be read ({one_line(str(exc), 120)})"
                set_aside.append(self._set_aside(path, BAD_SUFFIX, why))
                continue
            records.append(record)
        records.sort(key=lambda r: (r.start_ns, r.trace_id))
        return records, set_aside

    def adopt(self, other: Outbox) -> int:
        """Move every turn waiting in `other` into this outbox; how many moved.

        A rename per record, so a turn is in exactly one outbox at any time (two
        processes adopting at once: one rename wins, the other finds nothing).
        """
        if other.folder == self.folder:
            return 0
        try:
            names = [name for name in os.listdir(other.folder) if TRACE_FILE.match(name)]
        except OSError:
            return 0
        if not names:
            return 0
        self._make_folder()
        moved = 0
        for name in names:
            try:
                os.replace(other.folder / name, self.folder / name)
            except FileNotFoundError:
                continue  # adopted or delivered meanwhile by someone else
            moved += 1
        return moved

    def rejected(self) -> list[Path]:
        """The records set aside because the server refused them, oldest name first."""
        return sorted(self.folder.glob(f"tr-*.json{REJECTED_SUFFIX}"))

    def retry_rejected(self) -> int:
        """Put every refused record back in line to be sent again; how many."""
        count = 0
        for path in self.rejected():
            try:
                os.replace(path, path.with_name(path.name.removesuffix(REJECTED_SUFFIX)))
            except OSError:
                continue
            count += 1
        return count

    def holds(self, trace_id: str) -> bool:
        """Whether the turn with this trace id still waits here."""
        return (self.folder / f"{trace_id}.json").exists()

    def keep_rejected(self, record: TurnRecord, why: str) -> str:
        """Keep a turn the server refused, set aside with the reason; a sentence saying so."""
        self._make_folder()
        return self._reject(self.folder / f"{record.trace_id}.json", record, why)

    def _reject(self, path: Path, record: TurnRecord, why: str) -> str:
        """Set a record the server refused aside, keeping the reason inside it for `outbox list`."""
        aside = path.with_name(path.name + REJECTED_SUFFIX)
        data = _without_secrets(record.to_dict())
        data[REJECTED_BECAUSE] = why
        try:
            self._write_atomic(aside, json.dumps(data, ensure_ascii=False))
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a turn refused at its first write was never queued
        except OSError as exc:
            return f"The waiting turn {path} could not be set aside ({exc.strerror})."
        return f"The waiting turn in {path.name} was set aside as {aside} because {why}."

    def _set_aside(self, path: Path, suffix: str, why: str) -> str:
        aside = path.with_name(path.name + suffix)
        try:
            os.replace(path, aside)
        except OSError as exc:
            return f"The waiting turn {path} could not be set aside ({exc.strerror})."
        return f"The waiting turn in {path.name} was set aside as {aside} because {why}."

    # -- delivering -------------------------------------------------------------------------

    def deliver(self, tracer: Tracer) -> Delivery:
        """Write every waiting record through `tracer`, oldest first; delete each once accepted.

        Stops at the first failure that retrying may fix (server down, 5xx, credentials);
        a record the server refuses for good is set aside, so it cannot block the rest.
        """
        lock = _folder_lock(self.folder)
        if not lock.acquire(blocking=False):
            return Delivery(0, self.pending_count())  # a delivery is running in this process
        try:
            with self._file_lock() as locked:
                if not locked:
                    return Delivery(0, self.pending_count())  # another process is delivering
                return self._deliver_locked(tracer)
        finally:
            lock.release()

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[bool]:
        try:
            self._make_folder()
            fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield True  # no lock file possible (read-only disk?): the in-process lock still holds
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            locked = False
        try:
            yield locked
        finally:
            os.close(fd)  # closing releases the flock

    def _deliver_locked(self, tracer: Tracer) -> Delivery:
        records, sentences = self.pending()
        delivered_ids: list[str] = []
        failure: TraceNotLogged | None = None
        for record in records:
            path = self.folder / f"{record.trace_id}.json"
            try:
                tracer(record)
            except TraceNotLogged as exc:
                if exc.kind in KEPT:
                    sentences.append(waiting_sentence(exc, self.pending_count()))
                    failure = exc
                    break
                sentences.append(self._reject(path, record, f"the server refused it: {exc}"))
                continue
            except Exception as exc:  # a record the writer cannot handle must not block the others
                sentences.append(self._reject(path, record, f"it could not be traced ({type(exc).__name__})"))
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            delivered_ids.append(record.trace_id)
        return Delivery(
            len(delivered_ids),
            self.pending_count(),
            " ".join(sentences) or None,
            failure,
            tuple(delivered_ids),
        )


def waiting_sentence(failure: TraceNotLogged, waiting: int) -> str:
    """One sentence: why the write failed, how many turns wait, and when they will be sent."""
    cause = str(failure).removesuffix(".").removesuffix(", so this turn was not traced")
    when = _WHEN_SENT.get(failure.kind, "when the server is back")
    return f"{cause}: not traced yet, {turns(waiting)} waiting, will be sent {when}."


# When turns kept for a failure that waiting alone does not mend are sent.
_WHEN_SENT = {
    AUTH: "once the credentials are accepted",
    NO_EXPERIMENT: "once the experiment exists",
}
# user:password@ in any URL, wherever it appears (api_base, the wire URL, an error sentence).
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")


def _without_secrets(value: Any) -> Any:
    """The record with credentials cut out of every URL in it (the trace then shows them redacted too)."""
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(r"\1", value)
    if isinstance(value, dict):
        return {key: _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value
