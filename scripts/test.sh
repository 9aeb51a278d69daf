#!/usr/bin/env bash
# Set up (if needed), check lint, formatting and types, then run the whole test suite, slow tests included,
# against ../shared/corpus. Extra arguments go to pytest (`bash scripts/test.sh -m "not slow"` for the fast part).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test || exit 1  # runtime dependencies plus the test extras (which hold llm, train, dev)
# The browser tests drive Debian's chromium with Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "could not install chromium: the browser tests will fail" >&2
  else
    echo "chromium is missing: install it (sudo apt-get install chromium) or the browser tests will fail" >&2
  fi
fi
# The shared rate-limit tests start Debian's redis-server on a loopback port (nothing is saved to disk).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's redis-server for the rate-limit tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
      || echo "could not install redis-server: the rate-limit tests will fail" >&2
  else
    echo "redis-server is missing: install it (sudo apt-get install redis-server) or the rate-limit tests will fail" >&2
  fi
fi
# The habits first, so a slip fails in seconds rather than after the tests.
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
# mypy's cache is keyed by each file's content, so every clone on this machine can share it: a second clone checks
# in seconds what a first one checks in about a minute. Set MYPY_CACHE_DIR to keep it elsewhere.
export MYPY_CACHE_DIR="${MYPY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cfsp-assistant/mypy}"
.venv/bin/mypy || exit 1
export CFSP_CORPUS_DIR="${CFSP_CORPUS_DIR:-../shared/corpus}"
export GRADIO_ANALYTICS_ENABLED=False
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$status"
