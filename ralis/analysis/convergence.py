"""Contrastive loss and per-class view weights over the epochs, with and without L_AC [P§6.2, Fig. 6].

The paper's claim: as the contrastive loss falls, the attention weights of the views converge toward a similar
level (the loss pulls every view toward the fusion, so the attention module, trained by L_cls only, finds them
harder to tell apart); without the contrastive loss they do not converge, or converge more slowly.

After every epoch (`ralis.train.fit`'s `on_epoch_end` hook) the probe encodes the validation split once (eval
mode) and records
* the per-class view weights: the mean attention weight w^(v) (Eq. 8) of each view over the validation windows of
  each class -> [C, V], and their spread (std over views, averaged over classes);
* the validation contrastive loss: L_AC (Eq. 6, with the attention weights) on consecutive batches of
  `analysis.conv_batch` windows, so both models (with and without L_AC in training) are measured alike.
The validation windows keep every view the dataset recorded (no simulated drop), so the weights compare views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ralis.analysis.common import analysis_params, load_analysis_data, train_ralis
from ralis.config import Params
from ralis.data.store import WindowedSplit
from ralis.evaluate import EncodedSplit, encode_split
from ralis.methods import MultiviewMethod
from ralis.model.contrastive import adjusted_center_loss

__all__ = ["view_weights", "attention_by_class", "weight_spread", "validation_contrast", "ConvergenceProbe",
           "ConvergenceResult", "run_convergence", "VARIANTS"]

VARIANTS = {"ralis": {}, "no_contrast": {"contrast": False}}  # Fig. 6: with / without the contrastive loss


def _fusion(method: MultiviewMethod):
    fusion = getattr(method, "fusion", None)
    if fusion is None:
        raise ValueError(f"{type(method).__name__} has no attention fusion (`.fusion`); the §6.2 analysis needs RALIS")
    return fusion


def _device(method: MultiviewMethod) -> torch.device:
    p = next(method.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def view_weights(method: MultiviewMethod, encoded: EncodedSplit, batch_size: int = 256) -> torch.Tensor:
    """Attention weights w [V, N] (Eq. 8; 0 where a view is missing) of every encoded window, on CPU."""
    fusion, device = _fusion(method), _device(method)
    method.eval()
    n = encoded.present.shape[0]
    chunks = [fusion(encoded.z[:, s:s + batch_size].to(device), encoded.present[s:s + batch_size].to(device))
              .weights.cpu() for s in range(0, n, batch_size)]
    return torch.cat(chunks, dim=1) if chunks else encoded.z.new_zeros(encoded.z.shape[0], 0)  # [V, N]


def attention_by_class(weights: torch.Tensor, labels: torch.Tensor, n_classes: int) -> np.ndarray:
    """Mean view weight per class: w [V, N], labels [N] -> [C, V] (NaN rows for classes without windows)."""
    w = weights.double().T  # [N, V]
    out = np.full((n_classes, w.shape[1]), np.nan)
    for c in range(n_classes):
        rows = labels == c
        if rows.any():
            out[c] = w[rows].mean(0).numpy()
    return out


def weight_spread(by_class: np.ndarray) -> float:
    """Std of the view weights over views, averaged over the classes present: 0 when all views weigh alike."""
    rows = by_class[~np.isnan(by_class).any(axis=1)]
    return float(rows.std(axis=1).mean()) if len(rows) else float("nan")


@torch.no_grad()
def validation_contrast(method: MultiviewMethod, encoded: EncodedSplit, weights: torch.Tensor, batch: int,
                        tau: float = 0.1, reduction: str = "sum") -> float:
    """L_AC (Eq. 6) with the attention weights on consecutive batches of `batch` windows, averaged over the
    batches having >= 2 windows with >= 2 views (eval mode; the training loss uses random batches)."""
    if batch < 2:
        raise ValueError(f"params.yaml analysis.conv_batch must be >= 2, got {batch}")
    losses = []
    for s in range(0, encoded.present.shape[0], batch):
        present = encoded.present[s:s + batch]  # [n, V]
        if int((present.sum(1) >= 2).sum()) < 2:
            continue
        out = adjusted_center_loss(encoded.z[:, s:s + batch], present, weights[:, s:s + batch], tau, reduction)
        losses.append(float(out.loss))
    return float(np.mean(losses)) if losses else float("nan")


class ConvergenceProbe:
    """`on_epoch_end` hook: per-class view weights [C, V] and the validation L_AC after every epoch."""

    def __init__(self, split: WindowedSplit, params: Params):
        self.split, self.params = split, params
        self.by_class: list[np.ndarray] = []  # one [C, V] array per epoch

    def __call__(self, epoch: int, method: MultiviewMethod) -> dict[str, float]:
        p = self.params
        _fusion(method)  # fail before encoding when the method has no attention fusion
        encoded = encode_split(method, self.split, p.evaluate.batch_size)
        w = view_weights(method, encoded, p.evaluate.batch_size)  # [V, N]
        by_class = attention_by_class(w, encoded.labels, len(self.split.class_names))
        self.by_class.append(by_class)
        con = validation_contrast(method, encoded, w, p.analysis.conv_batch, p.loss.tau, p.loss.pair_reduction)
        return {"valid_contrast": con, "att_spread": weight_spread(by_class)}


@dataclass
class ConvergenceResult:
    """`curves`: variant, epoch, train_contrast, valid_contrast, att_spread, valid_f1;
    `weights`: variant, epoch, class, view, weight (per-class mean attention on the validation split)."""

    curves: pd.DataFrame
    weights: pd.DataFrame
    class_names: list[str] = field(default_factory=list)
    view_names: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """First / last epoch of the validation L_AC and of the weight spread per variant (metrics JSON)."""
        out = {}
        for variant, g in self.curves.groupby("variant", sort=False):
            g = g.sort_values("epoch")
            out[variant] = {f"{q}_{end}": float(g[q].iloc[i]) for q in ("valid_contrast", "att_spread", "valid_f1")
                            for end, i in (("first", 0), ("last", -1))}
            out[variant]["epochs"] = int(g["epoch"].max())
        return out


def run_convergence(params: Params, out_dir: str | Path) -> ConvergenceResult:
    """Fig. 6: train RALIS with and without L_AC (analysis settings) and probe every epoch."""
    out_dir = Path(out_dir)
    base = analysis_params(params)
    data = load_analysis_data(base)
    valid = data.full["valid"]
    curves, weights = [], []
    for variant, switches in VARIANTS.items():
        p = analysis_params(params, **switches)
        probe = ConvergenceProbe(valid, p)
        _, fitted = train_ralis(p, data, out_dir / "runs" / variant, on_epoch_end=probe)
        for row, by_class in zip(fitted.history, probe.by_class, strict=True):
            curves.append({"variant": variant, "epoch": row["epoch"], "train_contrast": row.get("contrast", np.nan),
                           "valid_contrast": row["valid_contrast"], "att_spread": row["att_spread"],
                           "valid_f1": row["valid_f1"]})
            weights += [{"variant": variant, "epoch": row["epoch"], "class": valid.class_names[c],
                         "view": valid.view_names[v], "weight": float(by_class[c, v])}
                        for c in range(by_class.shape[0]) for v in range(by_class.shape[1])]
    return ConvergenceResult(pd.DataFrame(curves), pd.DataFrame(weights), list(valid.class_names),
                             list(valid.view_names))
