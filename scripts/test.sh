#!/usr/bin/env bash
# Tests: set up .venv, lint with ruff, then pytest (unit tests + every notebook under nbval-lax).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
python -m pytest "$@"
