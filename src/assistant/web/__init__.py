"""The browser chat page (Gradio): `build_app` makes the page, `launch_options` says how `app.py` serves it."""

from .page import build_app, launch_options

__all__ = ["build_app", "launch_options"]
