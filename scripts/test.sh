#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, slow tests included, against ../shared/corpus.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export CFSP_CORPUS_DIR="${CFSP_CORPUS_DIR:-../shared/corpus}"
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$status"
