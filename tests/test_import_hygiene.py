"""The tracking and chat layers never use Textual or Rich (checked in a fresh interpreter).

httpx's `__init__` tries `from ._main import main` (its optional command-line
client), which loads Rich whenever Rich is installed — and Textual installs
it. So a plain "rich not in sys.modules" is false for any module that imports
httpx. Instead the check makes `rich` and `textual` unimportable: every layer
module must still import (httpx falls back, as it does without httpx[cli]), and
no tracetui module may even try to import them.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import tracetui.chat
import tracetui.tracking

_CHECK = r"""
import importlib, importlib.abc, json, sys

FORBIDDEN = ("textual", "rich")
attempts = []

class Forbid(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in FORBIDDEN:
            return None
        frame = sys._getframe(1)
        while frame and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
            frame = frame.f_back
        attempts.append([name, frame.f_globals.get("__name__", "?") if frame else "?"])
        raise ImportError(f"{name} is forbidden in this layer")

sys.meta_path.insert(0, Forbid())
failed = {}
for module in MODULES:
    try:
        importlib.import_module(module)
    except ImportError as error:
        failed[module] = str(error)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print(json.dumps({"attempts": attempts, "failed": failed, "loaded": loaded}))
"""


def _modules(package: object) -> list[str]:
    return [
        f"{package.__name__}.{info.name}"  # type: ignore[attr-defined]
        for info in pkgutil.iter_modules(package.__path__)  # type: ignore[attr-defined]
    ]


def test_core_layers_do_not_import_textual_or_rich() -> None:
    # The layers, and the Textual-free modules beside them that the CLI and the layers share.
    shared = [
        "tracetui.config",
        "tracetui.visible",
        "tracetui.formatting",
        "tracetui.files",
        "tracetui.exports",
    ]
    modules = _modules(tracetui.tracking) + _modules(tracetui.chat) + shared + ["tracetui.gc_policy"]
    assert "tracetui.tracking.client" in modules and "tracetui.tracking.live" in modules
    result = subprocess.run(
        [sys.executable, "-c", f"MODULES = {modules!r}\n{_CHECK}"],
        capture_output=True,
        text=True,
        check=True,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["loaded"] == []
    from_our_code = [attempt for attempt in report["attempts"] if attempt[1].startswith("tracetui")]
    assert from_our_code == []


def test_the_check_catches_a_layer_that_imports_rich(tmp_path) -> None:
    """The same check, on a module that does import Rich, reports it."""
    (tmp_path / "bad_layer.py").write_text("import rich\n")
    result = subprocess.run(
        [sys.executable, "-c", f"MODULES = ['bad_layer']\n{_CHECK}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "bad_layer" in report["failed"]
    assert ["rich", "bad_layer"] in report["attempts"]


def test_headless_commands_load_nothing_they_do_not_use() -> None:
    """`tracetui traces …` starts in a fraction of a second: no Rich, Pygments, Textual, litellm or MLflow.

    Rich and Pygments come in through httpx's own command-line client unless tracetui
    keeps httpx from importing it (tracetui/__init__.py); they were ~100 ms of every command.
    """
    code = (
        "import sys, json\n"
        "import tracetui.cli, tracetui.commands.traces, tracetui.commands.sessions\n"
        "import tracetui.commands.experiments, tracetui.tracking.client\n"
        "import httpx\n"
        "assert callable(httpx.AsyncClient)\n"
        "heavy = ('rich', 'pygments', 'textual', 'litellm', 'mlflow')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
