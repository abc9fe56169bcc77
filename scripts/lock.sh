#!/usr/bin/env bash
# Regenerate requirements.txt from the current .venv (after changing pyproject.toml dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Pinned lock for ralis (Python 3.11). Regenerate with: bash scripts/lock.sh"
  echo "# torch is pinned exactly: an unpinned torch pulls a multi-GB CUDA build."
  .venv/bin/python -m pip freeze --exclude-editable | grep -v '^ralis' | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > requirements.txt.tmp
mv requirements.txt.tmp requirements.txt
