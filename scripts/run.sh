#!/usr/bin/env bash
# Set up what serving needs, build or update the index from ../shared/corpus and open the chat page at
# http://127.0.0.1:7860, saying what each step does and how long it took. Installs no test tools and compiles nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
begun=$SECONDS
step() { echo "==> $1" >&2; }
took() { echo "    done in $(($SECONDS - $1)) s" >&2; }

t=$SECONDS
step "set-up: .venv with the runtime dependencies"
if [ -n "${CFSP_LLM_BASE_URL:-}" ]; then
  bash scripts/setup.sh llm  # answers worded by a language model need its client library
else
  bash scripts/setup.sh
fi
took "$t"

export CFSP_CORPUS_DIR="${CFSP_CORPUS_DIR:-../shared/corpus}"
export GRADIO_ANALYTICS_ENABLED=False
# The embedding cache is keyed by model and exact text, so every clone on this machine can share it: a second clone
# embeds nothing it already has. Set CFSP_EMBEDDING_CACHE to keep it elsewhere.
export CFSP_EMBEDDING_CACHE="${CFSP_EMBEDDING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cfsp-assistant/embeddings.sqlite}"
# So are the models extracted, merged and exported to ONNX at first use (each checked by sha256 at every load): a
# second clone exports nothing. Set CFSP_MODEL_CACHE to keep them elsewhere.
export CFSP_MODEL_CACHE="${CFSP_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cfsp-assistant/models}"

t=$SECONDS
step "index: the models (their ONNX files built at first use, the reader's beside the embedding model's), then ingest (idempotent: seconds when unchanged)"
.venv/bin/cfsp-assistant ingest
took "$t"

t=$SECONDS
step "server: loading the index and the model"
.venv/bin/python app.py &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server"; exit 130' INT TERM
url="http://${CFSP_HOST:-127.0.0.1}:${CFSP_PORT:-7860}"
until .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url/" \
  2>/dev/null; do
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server"
    exit $?
  fi
  sleep 0.5
done
took "$t"
echo "==> the chat page is served at $url/ ($(($SECONDS - begun)) s after the start; Ctrl-C stops it)" >&2
wait "$server"
