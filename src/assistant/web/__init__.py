"""The browser chat page (Gradio): `build_app` makes the page (or the compact widget), `page_options` and
`launch_options` say how it is served."""

from .page import build_app, launch_options, page_options

__all__ = ["build_app", "launch_options", "page_options"]
