"""Serve the chat page, the widget and the HTTP API on one port (uvicorn): settings from CFSP_* variables, the index
loaded once (built first if missing)."""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    """Wire settings, pipeline and feedback store into the server (page, widget, API) and serve until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings, no version checks
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "bm25s"):  # Gradio's own start-up probes and index-building chatter
        logging.getLogger(chatty).setLevel(logging.WARNING)
    import uvicorn

    from assistant.api import create_app
    from assistant.api.serving import uvicorn_options
    from assistant.config import load_settings
    from assistant.embeddings import make_embedder
    from assistant.errors import AssistantError, IndexUnusableError, os_error_message
    from assistant.feedback import FeedbackStore, feedback_path
    from assistant.ingest import ingest
    from assistant.pipeline import Assistant

    try:
        settings = load_settings()
        embedder = make_embedder(settings)
        try:
            assistant = Assistant.from_settings(settings, embedder)
        except IndexUnusableError as exc:
            print(
                f"No usable index in {settings.data_dir} ({exc.problem}): building it from {settings.corpus_dir} "
                "(the first time takes a few minutes)…",
                flush=True,
            )

            def progress(stage: str, done: int, total: int) -> None:
                print(f"\r  {stage}: {done}/{total}".ljust(40), end="", flush=True)

            report = ingest(settings, embedder, progress=progress)
            print(
                f"\nIndexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.0f} s", flush=True
            )
            assistant = Assistant.from_settings(settings, embedder)
        # the app closes the assistant when it shuts down (giving up its claim on the served index)
        app = create_app(assistant, settings, FeedbackStore(feedback_path(settings)), owns_assistant=True)
    except AssistantError as exc:
        sys.exit(f"error: {exc}")
    except OSError as exc:  # a data folder that cannot be written, a path under a regular file ...
        sys.exit(f"error: {os_error_message(exc)}")
    print(f"Chat page: http://{settings.host}:{settings.port}/  widget: /widget/  API docs: /docs", flush=True)
    uvicorn.run(app, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
