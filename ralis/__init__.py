"""ralis: reproducible companion to RALIS (arXiv 2602.08755), multiview HAR with arbitrarily missing views.

The library in a few names (README "Your own sensors"):

    import ralis
    data = ralis.from_arrays({"acc": x_acc, "gyro": x_gyro}, labels)          # windows [N, T, C] -> splits
    run = ralis.run_experiment(ralis.load_params("params.yaml"), "outputs/my_run", data=data)
    out = ralis.predict("outputs/my_run/checkpoint.pt", {"gyro": x_gyro})      # any subset of the views

The names load on first use, so `import ralis.config` (or a pipeline stage) does not import the whole package.
`ralis.predict` is the module `ralis/predict.py` (`python -m ralis.predict`), callable as its function `predict`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
_LAZY = {"from_arrays": ("ralis.api", "from_arrays"), "run_experiment": ("ralis.api", "run_experiment"),
         "load_params": ("ralis.config", "load_params"), "SplitRule": ("ralis.data.arrays", "SplitRule"),
         "predict": ("ralis.predict", None)}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ralis' has no attribute {name!r}")
    module, attr = _LAZY[name]
    loaded = importlib.import_module(module)
    return loaded if attr is None else getattr(loaded, attr)
