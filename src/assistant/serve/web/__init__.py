"""The browser chat page (Gradio): `build_chat_page` makes the page (or the compact widget), `page_options` says
how it is served."""

from .page import build_chat_page, page_options

__all__ = ["build_chat_page", "page_options"]
