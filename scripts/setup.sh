#!/usr/bin/env bash
# Create .venv and install the pinned lock plus the ralis package (editable). Idempotent: it reinstalls
# only when requirements.txt or pyproject.toml changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ralis needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.ralis-installed
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the pinned environment into .venv (about 2 minutes on first run)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
    || .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
  .venv/bin/python -c 'import torch; build = "CUDA " + torch.version.cuda if torch.version.cuda else "CPU-only"
print("setup: torch", torch.__version__, "(" + build, "build), CUDA usable here:", torch.cuda.is_available())'
fi
# Kernels started from this environment (papermill, JupyterLab) keep their own log to errors: ipykernel otherwise
# warns "Kernel is running over TCP without encryption" once per executed notebook (a local kernel, local sockets).
mkdir -p .venv/etc/ipython
[ -f .venv/etc/ipython/ipython_kernel_config.json ] \
  || echo '{"IPKernelApp": {"log_level": "ERROR"}}' > .venv/etc/ipython/ipython_kernel_config.json
