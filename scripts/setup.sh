#!/usr/bin/env bash
# Create .venv and install the project. torch==2.13.0 (CPU build) goes first so nothing pulls a GPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import assistant, torch; print('installed cfsp-assistant', assistant.__version__, 'with torch', torch.__version__)"
