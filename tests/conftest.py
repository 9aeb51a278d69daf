"""Shared fixtures: real corpus files, the real packaged model (loaded once), real Chroma in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
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
    # The tests on the full-corpus index run last: its build starts with the session in a child process
    # (`full_index_started`) and the other tests run meanwhile, instead of all waiting about two minutes for it.
    items.sort(key=lambda item: "full_index" in item.fixturenames)  # stable: files and tests keep their order


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
    corpus = tmp_path / "corpus"
    for rel in SMALL:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / rel, corpus / rel)
    manifest = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    (corpus / "MANIFEST.tsv").write_text(
        "\n".join([manifest[0]] + [ln for ln in manifest[1:] if ln.split("\t")[0] in SMALL]) + "\n", encoding="utf-8"
    )
    return corpus, write_catalogue(tmp_path, SMALL)


@pytest.fixture
def small_settings(small_corpus, tmp_path, cache_dir) -> Settings:
    corpus, catalogue = small_corpus
    return Settings(
        corpus_dir=corpus,
        catalogue_path=catalogue,
        data_dir=tmp_path / "data",
        embedding_cache=cache_dir / "embeddings.sqlite",
        model_cache=cache_dir / "models",  # the models extracted and exported once per session, not per test
    )


@pytest.fixture(scope="session")
def full_settings(tmp_path_factory, cache_dir) -> Settings:
    return Settings(
        corpus_dir=CORPUS,
        data_dir=tmp_path_factory.mktemp("full"),
        # its own cache: its ingest runs in a child process while other tests write to the session's
        embedding_cache=cache_dir / "full-embeddings.sqlite",
        model_cache=cache_dir / "models",
    )


class Background:
    """A `cfsp-assistant` command run in a child process beside the tests, as a user runs it; its output in a log."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path):
        from .commands import CLI

        self.args, self.log = args, log
        with open(log, "w", encoding="utf-8") as out:
            self.process = subprocess.Popen([*CLI, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

    def wait(self, ok: tuple[int, ...] = (0,)) -> int:
        """Its exit code once it is done; the test waiting fails with the command's output on any other."""
        code = self.process.wait(timeout=1800)
        if code not in ok:
            output = self.log.read_text(encoding="utf-8")[-3000:]
            pytest.fail(f"`cfsp-assistant {' '.join(self.args)}` failed ({code}): {output}")
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def full_index_build(settings: Settings, home: Path, log: Path, alongside: bool) -> Background:
    """`cfsp-assistant ingest` of the whole corpus into `full_settings`' data folder (the reader's files made ready
    beside it); with other tests to run `alongside`, on one core: the other runs them meanwhile."""
    from .commands import settings_env

    env = settings_env(settings, home, **({"CFSP_EMBEDDING_THREADS": "1"} if alongside else {}))
    return Background(["ingest"], env, home, log)


def selected(request, fixture: str) -> list[bool]:
    """For each selected test, whether it uses the fixture (directly or through others)."""
    return [fixture in item.fixturenames for item in request.session.items]


@pytest.fixture(scope="session", autouse=True)
def full_index_started(request, isolated_settings, tmp_path_factory):
    """Starts the full-corpus ingest with the session's first test when any selected test needs that index (they run
    last), after the session's model files are made (so the child finds them and builds none of its own)."""
    needs = selected(request, "full_index")
    if not any(needs):
        yield None
        return
    settings, home = request.getfixturevalue("full_settings"), request.getfixturevalue("home")
    request.getfixturevalue("embedder")
    build = full_index_build(settings, home, tmp_path_factory.mktemp("full-build") / "ingest.log", not all(needs))
    yield build
    build.stop()


@pytest.fixture(scope="session")
def full_index(request, full_index_started, full_settings, home, tmp_path_factory):
    """The whole in-scope corpus ingested once per session into a real embedded Chroma (its manifest). Commands that
    only read it and take long (`committed_eval`) are started as soon as it is built, beside the tests that follow."""
    from assistant.index.generations import require_manifest

    build = full_index_started or full_index_build(
        full_settings, home, tmp_path_factory.mktemp("full-build") / "ingest.log", False
    )
    build.wait()
    manifest = require_manifest(full_settings)
    if any(selected(request, "committed_eval")):
        request.getfixturevalue("committed_eval")
    return manifest


@pytest.fixture(scope="session")
def committed_eval(full_settings, home, tmp_path_factory):
    """`cfsp-assistant eval` of the committed question sets (tuning and held-out) with every retriever under the CI
    gates (eval/gates.toml), on one core: (the running command, its report folder). `full_index` starts it once the
    index is built; a test using it asks for `full_index` first."""
    from .commands import settings_env

    out = tmp_path_factory.mktemp("eval-report")
    questions = PROJECT_ROOT / "eval" / "questions"
    args = ["eval", str(questions), str(questions / "heldout"), "--retrievers", "bm25,dense,hybrid", "--out", str(out)]
    args += ["--gates", str(PROJECT_ROOT / "eval" / "gates.toml")]
    env = settings_env(full_settings, home, CFSP_EMBEDDING_THREADS="1")
    run = Background(args, env, home, out.parent / f"{out.name}.log")
    yield run, out
    run.stop()


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
