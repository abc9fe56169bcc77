#!/usr/bin/env bash
# Main job: set up .venv, then run the DVC pipeline on params.yaml (offline synthetic study by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
dvc repro "$@"
