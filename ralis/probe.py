"""The per-epoch attention probe of every RALIS run [P§6.2, Fig. 6]: per-class view weights and validation L_AC.

After every epoch (`ralis.train.fit`'s `on_epoch_end` hook, attached by `ralis.api.run_experiment` to any
method with an attention fusion) the probe reads fit's encoding of the validation split (eval mode) and records
in the training log
* the per-class view weights: the mean attention weight w^(v) (Eq. 8) of each view over the validation windows of
  each class -> [C, V] (log columns `w/<class>/<view>`), and their spread `att_spread` (std over views, averaged
  over classes): 0 when all views weigh alike;
* the validation contrastive loss `valid_contrast`: L_AC (Eq. 6, with the attention weights) on consecutive batches
  of `analysis.conv_batch` windows, so models trained with and without L_AC are measured alike.
"""

from __future__ import annotations

import numpy as np
import torch

from ralis.config import Params
from ralis.data.store import WindowedSplit
from ralis.evaluate import EncodedSplit, encode_split
from ralis.methods import MultiviewMethod
from ralis.model.contrastive import adjusted_center_loss
from ralis.model.fusion import AttentionFusion

__all__ = ["view_weights", "attention_by_class", "weight_spread", "validation_contrast", "ConvergenceProbe",
           "weight_column", "has_fusion"]


def has_fusion(method: MultiviewMethod) -> bool:
    """Whether the method fuses views by RALIS's attention (Eqs. 8-9), i.e. whether the probe applies."""
    return isinstance(getattr(method, "fusion", None), AttentionFusion)


def weight_column(class_name: str, view: str) -> str:
    """Training-log column of the mean view weight of one class."""
    return f"w/{class_name}/{view}"


def _fusion(method: MultiviewMethod):
    if not has_fusion(method):
        raise ValueError(f"{type(method).__name__} has no attention fusion (`.fusion`); the §6.2 analysis needs RALIS")
    return method.fusion


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
                        tau: float, reduction: str) -> float:
    """L_AC (Eq. 6) with the attention weights on batches of about `batch` windows, averaged over the batches
    having >= 2 windows with >= 2 views (eval mode). Batch j takes the rows j, j + B, j + 2B, ... of the B batches:
    the split is stored by subject and class, so strided batches span every subject and class, as the training
    loss's random batches do, and stay the same from epoch to epoch."""
    if batch < 2:
        raise ValueError(f"params.yaml analysis.conv_batch must be >= 2, got {batch}")
    losses = []
    n_batches = -(-encoded.present.shape[0] // batch)
    for j in range(n_batches):
        present = encoded.present[j::n_batches]  # [n, V]
        if int((present.sum(1) >= 2).sum()) < 2:
            continue
        out = adjusted_center_loss(encoded.z[:, j::n_batches], present, weights[:, j::n_batches], tau, reduction)
        losses.append(float(out.loss))
    return float(np.mean(losses)) if losses else float("nan")


class ConvergenceProbe:
    """`on_epoch_end` hook: per-class view weights [C, V] and the validation L_AC after every epoch, from `fit`'s
    encoding of the same validation split (encoded here when not given)."""

    def __init__(self, split: WindowedSplit, params: Params):
        self.split, self.params = split, params
        self.by_class: list[np.ndarray] = []  # one [C, V] array per epoch

    def __call__(self, epoch: int, method: MultiviewMethod, encoded: EncodedSplit | None = None) -> dict[str, float]:
        p = self.params
        _fusion(method)  # fail before encoding when the method has no attention fusion
        if encoded is None:
            encoded = encode_split(method, self.split, p.evaluate.batch_size)
        w = view_weights(method, encoded, p.evaluate.batch_size)  # [V, N]
        by_class = attention_by_class(w, encoded.labels, len(self.split.class_names))
        self.by_class.append(by_class)
        con = validation_contrast(method, encoded, w, p.analysis.conv_batch, p.loss.tau, p.loss.pair_reduction)
        cols = {weight_column(c, v): float(by_class[i, j]) for i, c in enumerate(self.split.class_names)
                for j, v in enumerate(self.split.view_names)}
        return {"valid_contrast": con, "att_spread": weight_spread(by_class), **cols}
