"""Sensitivity of the F1-score to the number of experts E and the number of selected experts K [P§6.1, Fig. 5].

Two sweeps around Table 2's setting: E in `analysis.sens_experts` at K = `analysis.sens_top_k` (paper: E in
{8, 16, 32}, K = 3) and K in `analysis.sens_top_ks` at E = `analysis.sens_n_experts` (paper: K in {2, 3, 4},
E = 16). Each point is one RALIS run of the study's `train` stage (variant "E<e>_K<k>"; the point of `model`
itself is the Table 5 reference "full"), scored on the test split per scenario (1 view / half / all, macro-F1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ralis.config import Params
from ralis.pipeline import run_dir, sensitivity_grid

__all__ = ["sensitivity_grid", "sensitivity_variant", "sensitivity_from_runs"]


def sensitivity_variant(params: Params, e: int, k: int) -> str:
    """The study variant that trained the point (E, K)."""
    return "full" if (e, k) == (params.model.n_experts, params.model.top_k) else f"E{e}_K{k}"


def sensitivity_from_runs(params: Params, ablations_dir: str | Path, protocol: str) -> pd.DataFrame:
    """Fig. 5: rows sweep, n_experts, top_k, f1_<scenario>, best_epoch from the runs under `ablations_dir`."""
    rows = []
    for sweep, e, k in sensitivity_grid(params.analysis):
        path = run_dir(ablations_dir, sensitivity_variant(params, e, k), protocol, 0) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run `dvc repro train` (it trains the analysis.sens_* grid)")
        m = json.loads(path.read_text())
        rows.append({"sweep": sweep, "n_experts": e, "top_k": k,
                     **{f"f1_{s}": v for s, v in m["test_f1"].items()}, "best_epoch": m["best_epoch"]})
    return pd.DataFrame(rows)
