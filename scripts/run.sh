#!/usr/bin/env bash
# Set everything up, build the index from ../shared/corpus and answer a first question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CFSP_CORPUS_DIR="${CFSP_CORPUS_DIR:-../shared/corpus}"
.venv/bin/cfsp-assistant ingest
.venv/bin/cfsp-assistant ask "${1:-Can the EU decide foreign policy by majority vote?}"
