"""Serve the chat page, the widget and the HTTP API on one port (uvicorn): settings from CFSP_* variables, the index
loaded once (built first if missing), in one process or CFSP_WORKERS processes."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Settings from the environment, then serve (see `assistant.serve.api.serving.serve`) until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings, no version checks
    from assistant.config import load_settings
    from assistant.errors import AssistantError, os_error_message
    from assistant.serve.api.serving import configure_logging, serve

    configure_logging()
    try:
        status = serve(load_settings())
    except AssistantError as exc:
        sys.exit(f"error: {exc}")
    except OSError as exc:  # a data folder that cannot be written, a path under a regular file ...
        sys.exit(f"error: {os_error_message(exc)}")
    sys.exit(status)


if __name__ == "__main__":
    main()
