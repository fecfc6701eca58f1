"""tracetui: a terminal dashboard for live LLM tracing with MLflow, litellm and Ollama."""

__version__ = "0.1.0"
