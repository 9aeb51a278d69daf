"""How the app is served: uvicorn's options (address, port, shutdown, which proxies' X-Forwarded-* headers are
believed), the server built from the settings (the index built first when it is missing), and `CFSP_WORKERS`
server processes sharing one port and the on-disk index."""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from ...config import Settings
from ...errors import AssistantError, ConfigError, IndexUnusableError, os_error_message

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ...pipeline import Assistant

log = logging.getLogger(__name__)

FACTORY = "assistant.serve.api.serving:build_server"  # what each worker process calls to build its app
STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that cannot start: its supervisor then stops them all


def _uvicorn_form(proxy: str) -> str:
    """An address as given; a network in the strict form uvicorn needs (10.0.0.1/8 -> 10.0.0.0/8), since uvicorn
    silently treats a network it cannot parse as a literal name that never matches."""
    return str(ipaddress.ip_network(proxy, strict=False)) if "/" in proxy else proxy


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run(app, **...)`. X-Forwarded-For/-Proto are believed only from the
    configured trusted proxies: uvicorn's own default trusts 127.0.0.1, which gave any local process a fresh
    rate-limit bucket per forged header. Header and body timeouts are the reverse proxy's job."""
    proxies = ",".join(_uvicorn_form(p) for p in settings.trusted_proxies)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": 5,
        # "" rather than None: None makes uvicorn read FORWARDED_ALLOW_IPS from the environment
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,
    }


def configure_logging() -> None:
    """The server's log lines (time, level, logger); libraries' chatter kept at warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "bm25s"):  # Gradio's own start-up probes and index-building chatter
        logging.getLogger(chatty).setLevel(logging.WARNING)


def load_assistant(settings: Settings, build_missing: bool = True) -> Assistant:
    """The model and the served index; with `build_missing`, an index that is missing or unusable is built (or
    repaired) first, with progress on standard output. Raises AssistantError or OSError with a one-line message."""
    from ...embedding.embedder import make_embedder
    from ...ingest.build import ingest
    from ...pipeline import Assistant

    embedder = make_embedder(settings)
    try:
        return Assistant.from_settings(settings, embedder)
    except IndexUnusableError as exc:
        if not build_missing:
            raise
        print(
            f"No usable index in {settings.data_dir} ({exc.problem}): building it from {settings.corpus_dir} "
            "(the first time takes a few minutes)…",
            flush=True,
        )

        def progress(stage: str, done: int, total: int) -> None:
            print(f"\r  {stage}: {done}/{total}".ljust(40), end="", flush=True)

        report = ingest(settings, embedder, progress=progress)
        print(f"\nIndexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.0f} s", flush=True)
        return Assistant.from_settings(settings, embedder)


def server_for(settings: Settings, assistant: Assistant) -> FastAPI:
    """The server around a loaded assistant, which it owns: closed, giving up its lease on the index, when the
    server shuts down (or here, if the server cannot be built). One process serves the chat page, the widget and
    the API; each of several workers the API only (a Gradio page's queue and session live in one process)."""
    from ..feedback import FeedbackStore, feedback_path
    from .app import create_app

    try:
        feedback = FeedbackStore(feedback_path(settings))
        return create_app(assistant, settings, feedback, owns_assistant=True, pages=settings.workers == 1)
    except BaseException:
        assistant.close()
        raise


def _stop_starting(message: str) -> NoReturn:
    """A worker that cannot start: one line, and uvicorn's start-up failure status, so the supervisor stops every
    worker instead of restarting this one for ever."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(STARTUP_FAILURE)


def build_server() -> FastAPI:
    """The app factory each worker process calls (`FACTORY`, uvicorn's `factory=True`): settings from the CFSP_*
    variables, its own model, index (with its own lease, followed while serving) and feedback store. It never
    builds the index: the parent did before starting the workers."""
    from ...config import load_settings

    configure_logging()
    try:
        settings = load_settings()
        return server_for(settings, load_assistant(settings, build_missing=False))
    except AssistantError as exc:
        _stop_starting(str(exc))
    except OSError as exc:
        _stop_starting(os_error_message(exc))
    except Exception:  # a failure here would recur on every restart: stop rather than loop
        log.exception("the server could not be built")
        _stop_starting("the server could not be built (details above)")


def preflight(settings: Settings) -> None:
    """Run in a short-lived process before the workers start: build the server once exactly as a worker will (and
    the index, if it is missing), then let it go. Exits 1 with the one-line error when it cannot be built, so the
    problem is said once rather than by every worker, and the parent never holds a copy of the model."""
    configure_logging()
    try:
        assistant = load_assistant(settings)
        server_for(settings, assistant)
        assistant.close()
    except KeyboardInterrupt:
        sys.exit(130)
    except AssistantError as exc:
        sys.exit(f"error: {exc}")
    except OSError as exc:
        sys.exit(f"error: {os_error_message(exc)}")


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def _preflight_in_child(settings: Settings) -> int:
    """`preflight` in a child process; its exit status (130 when interrupted by Ctrl-C or SIGTERM)."""
    child = multiprocessing.get_context("spawn").Process(target=preflight, args=(settings,), name="cfsp-preflight")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        child.start()
        child.join()
    except KeyboardInterrupt:
        child.terminate()
        child.join(10)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if child.exitcode == 0 else 1


def listening_socket(settings: Settings) -> socket.socket:
    """The address the workers will share, taken before anything is loaded so that an address in use is said at
    once; bound, not yet listening (each worker listens on it once it has started). ConfigError when it cannot."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot serve on {settings.host}:{settings.port} ({exc.strerror or exc}): set CFSP_PORT to a free "
            "port or CFSP_HOST to an address of this machine"
        ) from None
    sock.set_inheritable(True)  # handed to the worker processes
    return sock


def _banner(settings: Settings) -> str:
    url = f"http://{settings.host}:{settings.port}"
    if settings.workers > 1:
        return f"API: {url}/api/v1  docs: {url}/docs  ({settings.workers} worker processes; no chat page)"
    return f"Chat page: {url}/  widget: /widget/  API docs: /docs"


def serve(settings: Settings) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM, which stops every worker); the exit status.

    One worker: the index is loaded (built first if missing) in this process, which serves the chat page, the
    widget and the API. Several: the port is taken, the server is built once in a child process (building a
    missing index, saying any problem in one line), then uvicorn's supervisor runs `settings.workers` processes
    on that socket, each calling `build_server` and serving the API, and restarts one that dies while serving.
    Raises AssistantError or OSError (one line) when a single process cannot start."""
    import uvicorn

    if settings.workers == 1:
        app = server_for(settings, load_assistant(settings))
        print(_banner(settings), flush=True)
        uvicorn.run(app, **uvicorn_options(settings))
        return 0

    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(FACTORY, factory=True, workers=settings.workers, **uvicorn_options(settings))
    with listening_socket(settings) as sock:
        status = _preflight_in_child(settings)
        if status:
            return status
        print(_banner(settings), flush=True)
        supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
    return 1 if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0
