"""Real servers for tests: a free loopback port, and an ASGI app under uvicorn in a background thread."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn

from assistant.config import PROJECT_ROOT


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app_py(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """`python app.py` as operators run it, on a free loopback port, its output going to `log`; returns the process
    and the port (the caller waits for it to be ready in its own way)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "app.py")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "CFSP_PORT": str(port)},
            cwd=log.parent,
        )
    return proc, port


class Served:
    """An ASGI app under uvicorn in a background thread on a free loopback port (lifespan on, as in production);
    `options` are more `uvicorn.Config` arguments (such as those of `uvicorn_options`), address and port excepted."""

    def __init__(self, app, **options):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "log_level": "warning",
            "timeout_graceful_shutdown": 2,
            **options,
            "host": "127.0.0.1",
            "port": self.port,
        }
        self.server = uvicorn.Server(uvicorn.Config(app, **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
