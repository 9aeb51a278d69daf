#!/usr/bin/env bash
# Set everything up, build or update the index from ../shared/corpus and open the chat page at http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CFSP_CORPUS_DIR="${CFSP_CORPUS_DIR:-../shared/corpus}"
export GRADIO_ANALYTICS_ENABLED=False
.venv/bin/cfsp-assistant ingest        # idempotent: an unchanged corpus is detected in seconds
exec .venv/bin/python app.py
