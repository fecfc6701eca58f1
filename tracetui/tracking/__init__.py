"""The tracking layer: MLflow's REST API as plain Python. Never imports Textual or Rich."""
