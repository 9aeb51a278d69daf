"""Shared fixtures: real corpus files, the real packaged model (loaded once), real Chroma in temporary folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings

CORPUS = Path(PROJECT_ROOT.parent / "shared" / "corpus")
# A small but varied corpus: a treaty-format act with oj- classes, an older act, EUR-Lex-Sum records and the web page.
SMALL = [
    "acts-xhtml/32019D0797.xhtml",
    "acts-xhtml/32021D0796.xhtml",
    "eurlex-sum/32017D2315.json",
    "eurlex-sum/32014D0415.json",
    "web/cfsp-overview-page.txt",
]


def pytest_collection_modifyitems(items):
    if not CORPUS.is_dir():
        raise pytest.UsageError(f"the corpus is missing: expected it at {CORPUS}")
    # The tests waiting on the background lane's work (the full-corpus index, its evaluation, the benchmark) run
    # last: the lane starts with the session and the other tests run meanwhile, instead of all waiting for it.
    items.sort(key=lambda item: on_lane(item.fixturenames))  # stable: files and tests keep their order


@pytest.fixture(scope="session", autouse=True)
def isolated_settings():
    """Nothing of the developer's own configuration reaches a test: CFSP_* variables and .env files are ignored."""
    patch = pytest.MonkeyPatch()
    for name in [n for n in os.environ if n.startswith("CFSP_")]:
        patch.delenv(name)
    patch.setitem(Settings.model_config, "env_file", None)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """Model extraction and the embedding cache, shared by every index built in this session (never the repository's
    own .data folder: a run starts from nothing, as on a clean clone)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    """A home and working folder for commands the tests run (no .env there)."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def base_settings(cache_dir) -> Settings:
    return Settings(corpus_dir=CORPUS, data_dir=cache_dir, embedding_cache=cache_dir / "embeddings.sqlite")


@pytest.fixture(scope="session")
def embedder(base_settings):
    """The real packaged all-MiniLM-L6-v2, loaded once per session."""
    from assistant.embedding.embedder import make_embedder

    return make_embedder(base_settings)


def write_catalogue(folder: Path, paths: list[str]) -> Path:
    """A catalogue listing only the given corpus paths (entries taken from the project's catalogue)."""
    text = (PROJECT_ROOT / "corpus" / "catalogue.toml").read_text(encoding="utf-8")
    blocks = [b for b in text.split("[[document]]")[1:] if any(f'path = "{p}"' in b for p in paths)]
    out = folder / "catalogue.toml"
    out.write_text("".join(f"[[document]]{b}" for b in blocks), encoding="utf-8")
    tomllib.loads(out.read_text(encoding="utf-8"))
    return out


@pytest.fixture
def small_corpus(tmp_path) -> tuple[Path, Path]:
    """A writable copy of a few real corpus files (made at test time, never committed) and its catalogue."""
    return copy_small_corpus(tmp_path)


def copy_small_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """The SMALL files copied into `tmp_path`/corpus, with their manifest lines and catalogue."""
    corpus = tmp_path / "corpus"
    for rel in SMALL:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / rel, corpus / rel)
    manifest = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    (corpus / "MANIFEST.tsv").write_text(
        "\n".join([manifest[0]] + [ln for ln in manifest[1:] if ln.split("\t")[0] in SMALL]) + "\n", encoding="utf-8"
    )
    return corpus, write_catalogue(tmp_path, SMALL)


def small_corpus_settings(corpus: tuple[Path, Path], folder: Path, cache: Path, **changes: object) -> Settings:
    """Settings over a copy of the small corpus (`copy_small_corpus`): its data in `folder`/data, the session's
    embedding cache and models (extracted and exported once per session, not per test)."""
    corpus_dir, catalogue = corpus
    return Settings(
        corpus_dir=corpus_dir,
        catalogue_path=catalogue,
        data_dir=folder / "data",
        embedding_cache=cache / "embeddings.sqlite",
        model_cache=cache / "models",
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def small_settings(small_corpus, tmp_path, cache_dir) -> Settings:
    return small_corpus_settings(small_corpus, tmp_path, cache_dir)


@pytest.fixture(scope="session")
def full_settings(tmp_path_factory, cache_dir) -> Settings:
    return Settings(
        corpus_dir=CORPUS,
        data_dir=tmp_path_factory.mktemp("full"),
        # its own cache: its ingest runs in a child process while other tests write to the session's
        embedding_cache=cache_dir / "full-embeddings.sqlite",
        model_cache=cache_dir / "models",
    )


# The background lane: the commands the slowest tests wait on, run one after another in child processes beside the
# other tests. It starts with the session's first test, each command when the one before it ends; a test's fixture
# waits for the command it needs.
LANE = ("full_index", "committed_eval", "benchmark_run")


def on_lane(fixtures) -> bool:
    """Whether a test uses (directly or through other fixtures) work the lane does."""
    return any(name in fixtures for name in LANE)


class Job:
    """A `cfsp-assistant` command, as a user runs it, for the lane: its output and errors kept in files."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, folder: Path, given: object = None):
        self.args, self.env, self.cwd = args, env, cwd
        self.given = given  # what its test checks besides the output: the report folder, the settings it was run with
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        self.process: subprocess.Popen | None = None
        self.code: int | None = None
        self.done = threading.Event()

    def start(self) -> subprocess.Popen:
        from .commands import CLI

        with open(self.out, "w", encoding="utf-8") as out, open(self.err, "w", encoding="utf-8") as err:
            self.process = subprocess.Popen([*CLI, *self.args], env=self.env, cwd=self.cwd, stdout=out, stderr=err)
        return self.process

    def wait(self, ok: tuple[int, ...] = (0,)) -> int:
        """Its exit code once it is done; the test waiting fails with the command's output on any other."""
        if not self.done.wait(timeout=3600):
            pytest.fail(f"`cfsp-assistant {' '.join(self.args)}` did not finish within an hour")
        if self.code not in ok:
            said = self.out.read_text(encoding="utf-8")[-1500:] + self.err.read_text(encoding="utf-8")[-3000:]
            pytest.fail(f"`cfsp-assistant {' '.join(self.args)}` failed ({self.code}): {said}")
        return self.code  # type: ignore[return-value]


class Lane:
    """Runs its jobs one after another, in a thread of the test process."""

    def __init__(self, jobs: dict[str, Job]):
        self.jobs = jobs
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="test-lane", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for job in self.jobs.values():
            try:
                with self._lock:
                    process = None if self._stopping else job.start()
                job.code = process.wait() if process else None
            except OSError as exc:  # the command could not be started: its test says why
                job.err.write_text(f"could not start: {exc}", encoding="utf-8")
                job.code = -1
            finally:
                job.done.set()

    def job(self, name: str) -> Job:
        if name not in self.jobs:
            pytest.fail(f"{name} is not on the test lane: request it as a fixture argument, not at run time")
        return self.jobs[name]

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            for job in self.jobs.values():
                if job.process is not None and job.process.poll() is None:
                    job.process.kill()
        self._thread.join(timeout=60)


@pytest.fixture(scope="session", autouse=True)
def lane(request, isolated_settings, tmp_path_factory):
    """Starts the lane's work the selected tests need, after the session's model files are made (so the commands find
    them and build none of their own). With other tests to run meanwhile, its models run on one core."""
    items = request.session.items
    wanted = {name for name in LANE if any(name in item.fixturenames for item in items)}
    if not wanted:
        yield Lane({})
        return
    request.getfixturevalue("embedder")
    home, cache = request.getfixturevalue("home"), request.getfixturevalue("cache_dir")
    from .commands import settings_env

    one_core = {"CFSP_EMBEDDING_THREADS": "1"} if not all(on_lane(item.fixturenames) for item in items) else {}
    jobs = {}
    if wanted & {"full_index", "committed_eval"}:
        full_env = settings_env(request.getfixturevalue("full_settings"), home, **one_core)
        jobs["full_index"] = Job(["ingest"], full_env, home, tmp_path_factory.mktemp("lane-ingest"))
    if "committed_eval" in wanted:
        out = tmp_path_factory.mktemp("eval-report")
        questions = PROJECT_ROOT / "eval" / "questions"
        args = ["eval", str(questions), str(questions / "heldout"), "--retrievers", "bm25,dense,hybrid"]
        args += ["--out", str(out), "--gates", str(PROJECT_ROOT / "eval" / "gates.toml")]
        jobs["committed_eval"] = Job(args, full_env, home, tmp_path_factory.mktemp("lane-eval"), out)
    if "benchmark_run" in wanted:
        folder = tmp_path_factory.mktemp("bench")
        bench = small_corpus_settings(copy_small_corpus(folder), folder, cache)
        (folder / "scratch").mkdir()
        args = ["benchmark", "--backends", "torch", "--questions", "3", "--clients", "2", "--seconds", "1", "--json"]
        env = settings_env(bench, home, TMPDIR=str(folder / "scratch"))
        jobs["benchmark_run"] = Job(args, env, home, tmp_path_factory.mktemp("lane-benchmark"), bench)
    running = Lane(jobs)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def full_index(lane, full_settings):
    """The whole in-scope corpus ingested once per session into a real embedded Chroma (its manifest), by
    `cfsp-assistant ingest` on the lane (the reader's files made ready beside it)."""
    from assistant.index.generations import require_manifest

    lane.job("full_index").wait()
    return require_manifest(full_settings)


@pytest.fixture(scope="session")
def committed_eval(lane, full_index) -> tuple[int, Path]:
    """`cfsp-assistant eval` of the committed question sets (tuning and held-out) with every retriever under the CI
    gates (eval/gates.toml), run on the lane once the index is built: (its exit code, its report folder)."""
    job = lane.job("committed_eval")
    code = job.wait(ok=(0, 1))  # 1: a gate failed, which the gate test reports
    return code, job.given


@pytest.fixture(scope="session")
def benchmark_run(lane) -> tuple[dict, Settings, Path]:
    """`cfsp-assistant benchmark --json` on the small corpus, run on the lane: (its report, the settings it was
    given, the TMPDIR it was given)."""
    job = lane.job("benchmark_run")
    job.wait()
    return json.loads(job.out.read_text(encoding="utf-8")), job.given, Path(job.env["TMPDIR"])


@pytest.fixture(scope="session")
def assistant(full_index, full_settings, embedder):
    from assistant.pipeline import Assistant

    return Assistant.from_settings(full_settings, embedder)


@pytest.fixture(scope="session")
def scripted_server():
    """An OpenAI-compatible endpoint on pytest-httpserver (threaded: HTTP/1.1, so a dropped stream is noticed)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="session")
def llm_assistant(full_index, full_settings, embedder, scripted_server):
    """The session's index answered through the scripted language model endpoint."""
    from assistant.pipeline import Assistant

    from .llm_servers import MODEL

    settings = Settings(
        **{
            **full_settings.model_dump(),
            "llm_base_url": scripted_server.url_for("/v1"),
            "llm_model": MODEL,
            "llm_timeout": 3,
        }
    )
    return Assistant.from_settings(settings, embedder)


@pytest.fixture
def scripted_llm(llm_assistant, scripted_server):
    """Fresh scripts for each test; the endpoint's remembered output form and its circuit start over."""
    from assistant.llm.client import Circuit

    from .llm_servers import ScriptedLLM

    settings = llm_assistant.settings
    llm_assistant.llm.output = settings.llm_output
    llm_assistant.llm.circuit = Circuit(settings.llm_circuit_failures, settings.llm_circuit_seconds)
    scripted = ScriptedLLM(scripted_server)
    scripted.install()
    yield scripted
    scripted_server.clear()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama.cpp's server with SmolLM2-135M-Instruct, once per session; its tests are skipped, saying why, on a
    machine where llama.cpp cannot run (they would otherwise only see a dead endpoint's fallbacks)."""
    from .llm_servers import LlamaServer, llama_problem

    problem = llama_problem()
    if problem:
        pytest.skip(problem)
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download), launched once per session."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (bash scripts/test.sh does it as root)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield instance
        instance.close()
