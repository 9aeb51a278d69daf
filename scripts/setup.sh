#!/usr/bin/env bash
# Create .venv and install the project. torch==2.13.0 (CPU build) goes first so nothing pulls a GPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi

pip_install() {
  # pip's notes about this machine's extra package folder are noise; its errors are not: a failed install stops here
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2 || true
    rm -f "$log"
    echo "setup failed: pip install $*" >&2
    exit 1
  fi
  grep -v "^WARNING: Location" "$log" || true
  rm -f "$log"
}

pip_install torch==2.13.0
pip_install -e ".[test]"
.venv/bin/python -c "import assistant, torch; print('installed cfsp-assistant', assistant.__version__, 'with torch', torch.__version__)"
