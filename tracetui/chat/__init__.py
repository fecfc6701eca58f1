"""The chat layer: a chat session over litellm, traced in MLflow. Never imports Textual or Rich."""
