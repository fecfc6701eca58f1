"""Copy a value to the clipboard, also over SSH, and say in one sentence where it went.

Three ways, because none works everywhere:
1. OSC 52 through the terminal (Textual's `App.copy_to_clipboard` writes
   `ESC ] 52 ; c ; <base64> BEL`). It crosses SSH, but the terminal never says
   whether it accepted it: macOS Terminal, the Linux console and tmux without
   `set-clipboard on` ignore it silently, and some terminals cap its size.
2. The local clipboard tool (`wl-copy`, `xclip`, `xsel`, `pbcopy`) when this is a
   local graphical session, not SSH — on a remote host it would fill the remote
   machine's clipboard, which nobody sees.
3. When no local tool took it, the value is also written to a file under the
   user's cache folder (mode 0600: a value from a trace may be private), and the
   sentence names that file, so it can always be reached.

The tool and the file run in a thread worker: `xclip` can take a while to fork.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from textual.app import App

from tracetui.files import cache_dir
from tracetui.visible import make_visible

OSC52_LIMIT_BYTES = 100_000  # xterm's default and several terminals' cap on one OSC 52 write
TOOL_TIMEOUT_S = 3.0
FALLBACK_NAME = "clipboard.txt"


def is_remote_session(env: Mapping[str, str]) -> bool:
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or env.get("SSH_TTY"))


def native_copy_command(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> list[str] | None:
    """The local clipboard tool to run for this session, or None (remote, headless, none installed)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if is_remote_session(env):
        return None
    candidates: list[list[str]] = []
    if platform == "darwin":
        candidates.append(["pbcopy"])
    if env.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if env.get("DISPLAY"):
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    for command in candidates:
        if shutil.which(command[0]) is not None:
            return command
    return None


def run_native_copy(command: list[str], text: str) -> bool:
    """Feed `text` to the tool; True when it took it."""
    try:
        done = subprocess.run(
            command,
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def write_fallback_file(text: str, env: Mapping[str, str] | None = None) -> Path:
    """Write `text` to the cache folder's clipboard file, readable by this user only."""
    path = cache_dir(env) / FALLBACK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(path, 0o600)  # an older file may have been made with wider permissions
    return path


def deliver(text: str, what: str, env: Mapping[str, str] | None = None) -> str:
    """The local part of a copy (tool, else file); returns the sentence to show. Blocking."""
    too_big = len(text.encode("utf-8")) * 4 // 3 > OSC52_LIMIT_BYTES
    command = native_copy_command(env)
    if command is not None and run_native_copy(command, text):
        return f"Copied {what} to the clipboard (with {command[0]})."
    try:
        path = write_fallback_file(text, env)
    except OSError as error:
        reason = make_visible(error.strerror or type(error).__name__, keep_newlines=False)
        return f"Sent {what} to the terminal's clipboard (OSC 52); saving a copy to a file failed ({reason})."
    shown = make_visible(str(path), keep_newlines=False)
    if too_big:
        return f"{what[:1].upper()}{what[1:]} is too long for most terminals' clipboard; it is in {shown}."
    return (
        f"Sent {what} to the terminal's clipboard (OSC 52); if your terminal refuses it, "
        f"it is also in {shown}."
    )


def copy_text(app: App[object], text: str, what: str = "the value") -> None:
    """Copy `text` (OSC 52 at once, then tool or file in a thread) and notify one sentence.

    `what` names the value in the sentence ("the trace id").
    """
    app.copy_to_clipboard(text)  # OSC 52 now; also keeps App.clipboard for in-app paste

    def local_part() -> None:
        sentence = deliver(text, what)
        app.call_from_thread(app.notify, sentence, markup=False)

    app.run_worker(local_part, thread=True, group="clipboard", exit_on_error=False)
