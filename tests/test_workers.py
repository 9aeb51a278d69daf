"""Several server processes and shared rate limits, for real: `python app.py` with CFSP_WORKERS=2 on a free loopback
port, rate-limit counts in a real `redis-server` (Debian's package) started on another free port."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.index.generations import index_root
from assistant.index.leases import LEASE_DIR
from assistant.ingest.build import ingest
from assistant.pipeline import Assistant
from assistant.serve.api import create_app
from assistant.serve.api.security import RateLimit
from assistant.serve.feedback import FeedbackStore

from .commands import clean_env, settings_env
from .servers import Served, free_port, start_app_py

SHARED_KEY = "shared-key-0123456789abcdef"
PROBE_KEYS = [f"probe-key-{i:02d}-0123456789" for i in range(24)]  # one request each: finding both workers


class Redis:
    """`redis-server` on a free loopback port, keeping nothing on disk."""

    def __init__(self, folder: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is missing: `apt-get install redis-server` (bash scripts/test.sh does it as root)"
            )
        self.binary, self.folder = binary, folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    yield server
    server.stop()


class Workers:
    """`python app.py` with CFSP_WORKERS=N as operators run it, on a free loopback port; output kept in a log file.
    Ready when every worker has said so in the log (the first one answers while the others still load)."""

    def __init__(self, env: dict[str, str], log: Path, timeout: float = 300):
        self.workers = int(env["CFSP_WORKERS"])
        self.proc, self.port = start_app_py(env, log)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("app.py did not start:\n" + self.output()[-3000:])
            time.sleep(0.5)

    def ready(self) -> bool:
        return self.output().count("Application startup complete.") == self.workers

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def pinned_to_each_worker(url: str) -> dict[int, httpx.Client]:
    """One keep-alive connection to each worker process, found by opening connections until both workers have
    answered one (the kernel hands each new connection to one of the processes listening on the port)."""
    pinned: dict[int, httpx.Client] = {}
    for key in PROBE_KEYS:
        client = httpx.Client(base_url=url, timeout=30)
        pid = client.get("/api/v1/health", headers=bearer(key)).json()["worker_pid"]
        if pid in pinned:
            client.close()
        else:
            pinned[pid] = client
        if len(pinned) == 2:
            return pinned
    pytest.fail(f"only worker {list(pinned)} answered {len(PROBE_KEYS)} new connections")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_app(env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


# ---------------------------------------------------------------- settings


@pytest.mark.slow  # each case starts app.py
@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CFSP_RATE_LIMIT_STORAGE", "mysql://127.0.0.1/limits", "unknown scheme mysql://: use memory://"),
        ("CFSP_RATE_LIMIT_STORAGE", "127.0.0.1:6379", "no scheme: use memory://"),
        ("CFSP_WORKERS", "17", "less than or equal to 16"),
        ("CFSP_WORKERS", "0", "greater than or equal to 1"),
    ],
)
def test_wrong_worker_and_storage_settings_stop_app_py_in_one_line(name, value, says, home):
    result = run_app(clean_env(home, **{"CFSP_WORKERS": "2", name: value}), home, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == result.stderr.strip().splitlines()[-1]  # one line, no traceback
    assert result.stderr.startswith(f"error: invalid settings: {name}: ") and says in result.stderr, result.stderr


@pytest.mark.slow  # starts app.py
def test_an_address_in_use_stops_workers_at_once_in_one_line(home):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_app(clean_env(home, CFSP_WORKERS="2", CFSP_PORT=str(port)), home, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot serve on 127.0.0.1:{port} (Address already in use): set CFSP_PORT to a free port or "
        "CFSP_HOST to an address of this machine"
    )


def test_storage_setting_accepts_memory_and_redis_urls():
    assert Settings().rate_limit_storage is None
    assert Settings(rate_limit_storage=" memory:// ").rate_limit_storage == "memory://"
    assert Settings(rate_limit_storage="rediss://:secret@cache:6380/2").rate_limit_storage.startswith("rediss://")


# ---------------------------------------------------------------- the limit in Redis


def test_processes_pointing_at_one_redis_share_each_callers_allowance(redis_server):
    # two RateLimit objects are what two worker processes hold: only the Redis between them is shared
    first, second = RateLimit("5/minute", redis_server.url), RateLimit("5/minute", redis_server.url)
    assert [(first if i % 2 else second).hit("key:a") for i in range(5)] == [0] * 5
    assert first.peek("key:a") > 0 and 55 <= second.hit("key:a") <= 60  # the sixth, whichever process counts it
    assert first.hit("key:b") == 0  # another caller has its own allowance
    alone = RateLimit("5/minute")  # memory: this process's own counts
    assert [alone.hit("key:a") for _ in range(5)] == [0] * 5


def test_unreachable_or_wrong_redis_is_a_one_line_error_naming_the_url():
    from assistant.errors import ConfigError

    port = free_port()  # nothing listens there
    with pytest.raises(ConfigError) as refused:
        RateLimit("5/minute", f"redis://:hunter2-secret@127.0.0.1:{port}/0")
    message = str(refused.value)
    assert message.startswith(f"cannot reach the rate-limit storage redis://:***@127.0.0.1:{port}/0")
    assert "(CFSP_RATE_LIMIT_STORAGE)" in message and "refused" in message and "hunter2" not in message
    assert "\n" not in message
    with pytest.raises(
        ConfigError, match=r"cannot use the rate-limit storage redis://u:\*\*\*@127\.0\.0\.1:port/0 .* Port"
    ):
        RateLimit("5/minute", "redis://u:secret@127.0.0.1:port/0")


@pytest.fixture
def small_assistant(small_settings, embedder) -> Iterator[Assistant]:
    ingest(small_settings, embedder)
    with Assistant.from_settings(small_settings, embedder) as assistant:
        yield assistant


def limited(settings: Settings, **changes) -> Settings:
    return Settings(**{**settings.model_dump(), **changes})


@pytest.mark.slow
def test_api_and_chat_of_two_servers_share_one_allowance_in_redis(small_assistant, small_settings, redis_server):
    """Two servers (as two processes would be) with the limit in one Redis: the API's requests and the chat's
    questions on either server draw on the same allowance, and the page's notice sees it too."""
    from gradio_client import Client

    settings = limited(small_settings, rate_limit="3/minute", rate_limit_storage=redis_server.url)
    servers = [
        Served(create_app(small_assistant, settings, FeedbackStore(small_settings.data_dir / f"f{i}.sqlite")))
        for i in range(2)
    ]
    try:
        one, two = (s.url for s in servers)
        question = {"question": "What are the restrictive measures against cyber-attacks?"}
        assert httpx.post(f"{one}/api/v1/ask", json=question, timeout=60).status_code == 200
        assert len(Client(f"{two}/", verbose=False).predict("What is PESCO?", api_name="/ask")) == 2
        asked = httpx.post(f"{one}/gradio_api/call/ask", json={"data": ["Who can join PESCO?"]}, timeout=60)
        assert asked.status_code == 200  # the third question of this address
        refused = httpx.post(f"{two}/api/v1/ask", json=question, timeout=60)
        assert refused.status_code == 429 and "the limit is 3 per 1 minute" in refused.json()["error"]
        chat = httpx.post(f"{two}/widget/gradio_api/call/ask", json={"data": ["What is PESCO?"]}, timeout=60)
        assert chat.status_code == 429 and chat.json()["error"].startswith("too many questions")
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_redis_going_away_while_serving_falls_back_to_per_process_limits(
    small_assistant, small_settings, redis_server, caplog, monkeypatch
):
    """Requests keep being answered (never 500 or 503) while Redis is down, with no wait for reconnecting; this
    process then counts alone (said once in the log), and shares the counts again once Redis is back."""
    monkeypatch.setattr(RateLimit, "RETRY_SECONDS", 1.0)
    settings = limited(small_settings, rate_limit="5/minute", rate_limit_storage=redis_server.url)
    served = Served(create_app(small_assistant, settings, FeedbackStore(small_settings.data_dir / "f.sqlite")))
    health = f"{served.url}/api/v1/health"
    me = "addr:127.0.0.1"  # no keys configured: counted per client address
    try:
        assert [httpx.get(health).status_code for _ in range(2)] == [200, 200]
        redis_server.stop()
        with caplog.at_level(logging.INFO, logger="assistant.serve.api.security"):
            started = time.monotonic()
            statuses = [httpx.get(health).status_code for _ in range(6)]
            assert time.monotonic() - started < 3  # no request waited out a reconnect back-off
            # fresh counts in this process: five allowed, the sixth refused by the process's own limit
            assert statuses == [200] * 5 + [429], statuses
            down = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(down) == 1 and redis_server.url in down[0], down  # said once, not per request

            redis_server.start()  # empty (nothing is saved): counting in Redis starts again from zero
            time.sleep(1.2)  # past the retry interval
            assert [httpx.get(health).status_code for _ in range(2)] == [200, 200]
            assert any("reachable again" in r.getMessage() for r in caplog.records)
        other_process = RateLimit("5/minute", redis_server.url)
        assert [other_process.hit(me) for _ in range(3)] == [0, 0, 0]  # 2 + 3: the shared allowance is used up
        refused = httpx.get(health)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    finally:
        served.stop()


# ---------------------------------------------------------------- app.py with CFSP_WORKERS=2


@pytest.mark.slow
@pytest.mark.parametrize(("storage", "stop"), [("redis", signal.SIGINT), ("memory", signal.SIGTERM)])
def test_two_workers_serve_one_port_and_share_the_limit_only_through_redis(
    storage, stop, small_settings, tmp_path, request
):
    """app.py with two workers, started on a data folder without an index: the index is built once before the
    workers start; both processes answer on the one port; five requests of one key spread over both use up its
    allowance only when the counts are in Redis (in memory each process counts its own); SIGINT (Ctrl-C) or
    SIGTERM stops every worker and each gives up its lease on the index."""
    env = settings_env(
        small_settings,
        tmp_path,
        CFSP_WORKERS="2",
        CFSP_RATE_LIMIT="5/minute",
        CFSP_API_KEYS=",".join([SHARED_KEY, *PROBE_KEYS]),
        CFSP_OPERATOR_KEYS=",".join([SHARED_KEY, *PROBE_KEYS]),  # health names the worker process to operators
        **({"CFSP_RATE_LIMIT_STORAGE": request.getfixturevalue("redis_server").url} if storage == "redis" else {}),
    )
    server = Workers(env, tmp_path / "app.log")
    pids: list[int] = []
    try:
        output = server.output()
        assert output.count("No usable index") == 1 and output.count("Indexed ") == 1, output[-2000:]
        pinned = pinned_to_each_worker(server.url)
        pids = sorted(pinned)
        answered = []
        for i in range(5):  # alternate between the two processes
            pid = pids[i % 2]
            response = pinned[pid].get("/api/v1/health", headers=bearer(SHARED_KEY))
            assert response.status_code == 200 and response.json()["worker_pid"] == pid
            answered.append(pid)
        assert set(answered) == set(pids)
        sixth = [client.get("/api/v1/health", headers=bearer(SHARED_KEY)) for client in pinned.values()]
        if storage == "redis":
            assert [r.status_code for r in sixth] == [429, 429]
            assert "the limit is 5 per 1 minute" in sixth[0].json()["error"]
        else:  # three and two counted in each process: both still under five
            assert [r.status_code for r in sixth] == [200, 200]

        answer = (
            pinned[pids[0]]
            .post("/api/v1/ask", json={"question": "What is PESCO?"}, headers=bearer(PROBE_KEYS[0]))
            .json()
        )
        assert answer["citations"] and not answer["abstained"]
        page = pinned[pids[1]].get("/", headers=bearer(PROBE_KEYS[1]))
        assert page.status_code == 404 and "CFSP_WORKERS=1" in page.json()["error"]  # the API only
        for client in pinned.values():
            client.close()
        assert len(list((index_root(small_settings) / LEASE_DIR).iterdir())) == 2  # one lease per worker
    finally:
        status = server.stop(stop)
    assert status == 0, server.output()[-2000:]
    assert pids and not any(alive(pid) for pid in pids)
    assert not list((index_root(small_settings) / LEASE_DIR).iterdir())


@pytest.mark.slow
def test_unreachable_redis_stops_two_workers_in_one_line(small_settings, embedder, tmp_path):
    ingest(small_settings, embedder)
    port = free_port()
    env = settings_env(
        small_settings, tmp_path, CFSP_WORKERS="2", CFSP_RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{port}/0"
    )
    result = run_app(env, tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: cannot reach the rate-limit storage redis://127.0.0.1:{port}/0 (CFSP_RATE_LIMIT_STORAGE): "
        f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    ], result.stderr
    assert "Traceback" not in result.stderr and "Started parent process" not in result.stderr


@pytest.mark.slow
def test_a_worker_that_cannot_start_says_why_and_stops_the_others(small_settings, monkeypatch, capsys):
    """`build_server` as a worker runs it, on a data folder without an index (removed after the parent's check):
    one line, and uvicorn's start-up failure status, which makes the supervisor stop instead of restarting it."""
    from assistant.serve.api.serving import STARTUP_FAILURE, build_server

    for name, value in settings_env(small_settings, small_settings.data_dir.parent).items():
        if name.startswith("CFSP_"):
            monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        build_server()
    assert stopped.value.code == STARTUP_FAILURE
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "cfsp-assistant ingest" in error, error
