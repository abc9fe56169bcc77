"""Sensitivity of the F1-score to the number of experts E and the number of selected experts K [P§6.1, Fig. 5].

Two sweeps around Table 2's setting: E in `analysis.sens_experts` at K = `analysis.sens_top_k` (paper: E in
{8, 16, 32}, K = 3) and K in `analysis.sens_top_ks` at E = `analysis.sens_n_experts` (paper: K in {2, 3, 4},
E = 16). The shared point (E = 16, K = 3) is trained once. Each point is one RALIS run (`ralis.api` layout,
analysis training settings) scored on the test split per scenario (1 view / half / all, macro-F1).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ralis.analysis.common import analysis_params
from ralis.api import run_experiment
from ralis.config import AnalysisConfig, Params

__all__ = ["sensitivity_grid", "run_sensitivity"]


def sensitivity_grid(cfg: AnalysisConfig) -> list[tuple[str, int, int]]:
    """(sweep, E, K) points: the E sweep ("experts") then the K sweep ("top_k"); K <= E is required."""
    grid = [("experts", e, cfg.sens_top_k) for e in cfg.sens_experts]
    grid += [("top_k", cfg.sens_n_experts, k) for k in cfg.sens_top_ks]
    bad = [(e, k) for _, e, k in grid if not 1 <= k <= e]
    if bad:
        raise ValueError(f"params.yaml analysis: (E, K) points {bad} need 1 <= K <= E; check sens_experts, "
                         f"sens_top_k, sens_n_experts, sens_top_ks")
    return grid


def run_sensitivity(params: Params, out_dir: str | Path) -> pd.DataFrame:
    """Fig. 5: one training per distinct (E, K); rows: sweep, n_experts, top_k, f1_<scenario>, best_epoch."""
    out_dir = Path(out_dir)
    base = analysis_params(params)
    done: dict[tuple[int, int], dict] = {}
    rows = []
    for sweep, e, k in sensitivity_grid(params.analysis):
        if (e, k) not in done:
            p = dataclasses.replace(base, model=dataclasses.replace(base.model, n_experts=e, top_k=k))
            done[(e, k)] = run_experiment(p, out_dir / "runs" / f"E{e}_K{k}", progress=False).metrics
        m = done[(e, k)]
        rows.append({"sweep": sweep, "n_experts": e, "top_k": k,
                     **{f"f1_{s}": v for s, v in m["test_f1"].items()}, "best_epoch": m["best_epoch"]})
    return pd.DataFrame(rows)
