"""The Textual user interface. Renders what the tracking and chat layers give it."""
