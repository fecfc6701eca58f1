"""tracetui: a terminal dashboard for live LLM tracing with MLflow, litellm and Ollama."""

import sys

__version__ = "0.1.0"

# httpx's __init__ imports its own command-line client (httpx._main), and with it Rich and
# Pygments whenever they are installed, which Textual makes sure of: ~100 ms added to the start
# of every `tracetui` command, for a tool tracetui never runs. A None in sys.modules makes
# that import fail, and httpx then defines its stub `main`, as it does when installed without
# its `cli` extra. (When httpx was imported before tracetui, this changes nothing.)
sys.modules.setdefault("httpx._main", None)
