"""Gate-score distributions of single-view vs multi-view tokens, with and without separate load balancing
[P§6.3, Fig. 7; methods.md §1.7, A9].

The paper trains RALIS with the contrastive weight lowered to 0.1 and the balance weight raised to 1 (Table 2:
1 and 0.01), on missing-view training data, for 10 epochs, once with L_LB = L_bal(single) + L_bal(fused) and once
with one L_bal over all tokens ("-sep. load"), and shows the gate distribution over the 16 experts of one-view and
multi-view tokens: with separate balancing the two look alike (no disjoint expert sets).

Here, on the test split (eval mode: the clean gate, no noise):
* single-view tokens: every present view's embedding z^(v) of every window;
* multi-view tokens: the fused token z^(wf) of every window with >= 2 available views;
the mean gate vector of each group (a distribution over E experts: each token's gates sum to 1) and ONE number
for their difference, the Jensen-Shannon divergence (base 2, in [0, 1]); total variation is reported beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from ralis.config import Params
from ralis.evaluate import EncodedSplit, encode_split, macro_f1, predict_encoded
from ralis.methods import MultiviewMethod
from ralis.pipeline import run_dir, run_params

__all__ = ["js_divergence", "total_variation", "GateDistributions", "gate_distributions", "LoadBalanceResult",
           "load_balance_from_runs", "rows_with_views", "VARIANTS"]

VARIANTS = {"sep_load": "full", "joint_load": "no_sep_load"}  # Fig. 7 curve -> the study variant it reads


def _as_distribution(p: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or len(p) == 0 or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector of non-negative finite numbers with a positive sum")
    return p / p.sum()


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits, 0 (equal) .. 1 (disjoint supports); inputs are normalised first."""
    p, q = _as_distribution(p, "p"), _as_distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q need the same length, got {len(p)} and {len(q)}")
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log2(a[nz] / m[nz])).sum())

    return max(0.0, (kl(p) + kl(q)) / 2)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance 0.5 * sum |p - q| of the normalised inputs, in [0, 1]."""
    p, q = _as_distribution(p, "p"), _as_distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q need the same length, got {len(p)} and {len(q)}")
    return float(0.5 * np.abs(p - q).sum())


class GateDistributions(NamedTuple):
    """Mean gate vectors [E] of single-view and fused (>= 2 views) tokens, and the token counts."""

    single: np.ndarray
    fused: np.ndarray
    n_single: int
    n_fused: int


def rows_with_views(present: torch.Tensor, at_least: int) -> torch.Tensor:
    """Indices of the rows of `present` [N, V] with >= `at_least` present views."""
    return (present.sum(1) >= at_least).nonzero().flatten()


@torch.no_grad()
def gate_distributions(method: MultiviewMethod, encoded: EncodedSplit, batch_size: int = 256) -> GateDistributions:
    """Clean top-K gates (eval mode) of every single-view token and every multi-view fused token, averaged."""
    head, fusion = getattr(method, "head", None), getattr(method, "fusion", None)
    gate = getattr(head, "gate", None)
    if gate is None or fusion is None:
        raise ValueError(f"{type(method).__name__} has no MoE gate (`.head.gate`) or attention fusion; the §6.3 "
                         "analysis needs RALIS with ablation.moe = true")
    method.eval()
    device = next(method.parameters()).device
    z, present = encoded.z, encoded.present  # [V, N, D], [N, V]
    single = z[present.T]  # [T, D]: every present view token, view-major
    multi = rows_with_views(present, 2)
    sums = {"single": torch.zeros(gate.n_experts, dtype=torch.float64),
            "fused": torch.zeros(gate.n_experts, dtype=torch.float64)}
    for s in range(0, len(single), batch_size):
        sums["single"] += gate(single[s:s + batch_size].to(device)).gates.double().sum(0).cpu()
    for s in range(0, len(multi), batch_size):
        idx = multi[s:s + batch_size]
        fused = fusion(z[:, idx].to(device), present[idx].to(device)).fused  # [n, D]
        sums["fused"] += gate(fused).gates.double().sum(0).cpu()
    if len(single) == 0 or len(multi) == 0:
        raise ValueError(f"the split has {len(single)} single-view tokens and {len(multi)} windows with >= 2 views; "
                         "both groups are needed")
    return GateDistributions((sums["single"] / len(single)).numpy(), (sums["fused"] / len(multi)).numpy(),
                             int(len(single)), int(len(multi)))


@dataclass
class LoadBalanceResult:
    """`gates`: variant, group (single / fused), expert, score; `metrics`: per variant JS divergence, TV, F1."""

    gates: pd.DataFrame
    metrics: dict[str, dict[str, float]]

    def summary(self) -> dict:
        return self.metrics


def load_balance_from_runs(params: Params, ablations_dir: str | Path, protocol: str) -> LoadBalanceResult:
    """Fig. 7 from the study's runs: the Table 5 reference "full" (separate balancing) and "-sep. load" (one
    balance term), seed 0; gates of the test split masked by `protocol`."""
    from ralis.api import apply_missing, load_checkpoint, load_splits

    p = run_params(params, "ralis", protocol, 0)  # both runs' data: the same protocol, seed 0
    test = apply_missing(load_splits(p), p)[0]["test"]
    rows, metrics = [], {}
    for variant, run in VARIANTS.items():
        folder = run_dir(ablations_dir, run, protocol, 0)
        if not (folder / "checkpoint.pt").is_file():
            raise FileNotFoundError(f"{folder}/checkpoint.pt is missing; Fig. 7 reads the '{run}' run: keep it in "
                                    f"params.yaml pipeline.ablations and run `dvc repro train`")
        method = load_checkpoint(folder / "checkpoint.pt").method
        encoded = encode_split(method, test, p.evaluate.batch_size)
        g = gate_distributions(method, encoded, p.evaluate.batch_size)
        pred = predict_encoded(method, encoded, None, p.evaluate.batch_size)
        best = json.loads((folder / "metrics.json").read_text()).get("best_epoch")
        metrics[variant] = {"js_divergence": js_divergence(g.single, g.fused),
                            "total_variation": total_variation(g.single, g.fused),
                            "n_single_tokens": g.n_single, "n_fused_tokens": g.n_fused,
                            "test_f1_available_views": macro_f1(pred.y_true, pred.y_pred), "best_epoch": best}
        for group, dist in (("single", g.single), ("fused", g.fused)):
            rows += [{"variant": variant, "group": group, "expert": e, "score": float(s)} for e, s in enumerate(dist)]
    return LoadBalanceResult(pd.DataFrame(rows), metrics)
