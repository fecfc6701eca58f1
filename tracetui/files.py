"""Writing a file whole or not at all, with one sentence when it cannot be written.

Shared by the CLI's exports and the dashboard's: the text goes to a temporary
file beside the target first, so an interrupted export never leaves half a
file where a good one was. No click and no Textual here: each caller turns
`NotWritten` into its own way of saying it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tracetui.visible import make_visible


class NotWritten(Exception):
    """The file could not be written; `str()` is a sentence for a person."""


def write_text_file(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically (a temporary file renamed into place), or raise NotWritten."""
    target = Path(path)
    shown = make_visible(str(target), keep_newlines=False)
    try:
        directory = target.parent if str(target.parent) else Path(".")
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temp_name, target)
        except BaseException:
            os.unlink(temp_name)
            raise
    except IsADirectoryError:
        raise NotWritten(f"{shown} is a directory; give a file name.") from None
    except FileNotFoundError:
        raise NotWritten(f"The folder of {shown} does not exist; create it first.") from None
    except PermissionError:
        raise NotWritten(f"No permission to write {shown}; choose another place.") from None
    except OSError as error:
        reason = make_visible(error.strerror or type(error).__name__, keep_newlines=False)
        raise NotWritten(f"Could not write {shown} ({reason}).") from None


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """tracetui's cache folder: $XDG_CACHE_HOME/tracetui, else ~/.cache/tracetui."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "tracetui"
