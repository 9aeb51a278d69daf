"""The HTTP API, the embeddable widget and the chat page served together by one FastAPI app (`create_app`)."""

from .app import create_app
from .serving import uvicorn_options

__all__ = ["create_app", "uvicorn_options"]
