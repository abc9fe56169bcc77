"""COCOA* (Deldari et al. 2022) as used in RALIS: cross-view positives, intra-view negatives, mean fusion (A16).

s = cosine similarity, tau = loss.tau. With S_i the views present in sample i (methods.md §2.2, masked):
    Variant A ('cocoa', VSF CocoaLoss; default):
        P_i = sum_{a != b in S_i} exp(s(z_i^a, z_i^b) / tau)
        N_i = sum_{v in S_i} mean_{j != i, v in S_j} exp(s(z_i^v, z_j^v) / tau)
        L   = mean over samples with n_i >= 2 of BCE(P_i / (P_i + N_i), 1) = log(1 + N_i / P_i)
    Variant B ('cocoa2', the COCOA paper's objective):
        L = scale * sum_{i: n_i >= 2} mean_{a, b in S_i} exp((1 - s(z_i^a, z_i^b)) / tau)
            + lambda * sum_v sum_{i: v in S_i} mean_{j != i, v in S_j} exp(s(z_i^v, z_j^v) / tau)
Cost O(V^2 N + V N^2) (methods.md §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from ralis.baselines.common import ContrastiveMeanFusion
from ralis.config import LossConfig, ModelConfig, NonNegFloat, Params
from ralis.contract import ViewSpec
from ralis.methods import method_settings, register

__all__ = ["CocoaConfig", "cocoa_loss_a", "cocoa_loss_b", "COCOA", "build_cocoa"]


@dataclass(frozen=True)
class CocoaConfig:
    """params.yaml `baselines.cocoa` (tau is `loss.tau`)."""

    variant: Literal["A", "B"] = "A"  # A = 'cocoa' BCE [COCOA:src/losses.py; VSF CocoaLoss]; B = 'cocoa2' (§2.2)
    scale: NonNegFloat = 0.03125  # variant B weight of the positive term, 1/32 [COCOA:src/losses.py]
    lam: NonNegFloat = 3.9e-3  # variant B weight of the negative term, lambda [COCOA:src/losses.py]
    ind_view_ce: bool = False  # add per-view CE to the fused CE (A16: off by default)


def _similarities(z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cosine similarities and masks: positives [N, V, V] over present view pairs of one sample (a != b),
    negatives [V, N, N] over other samples having the same view (j != i)."""
    if z.dim() != 3 or tuple(present.shape) != (z.shape[1], z.shape[0]) or present.dtype != torch.bool:
        raise ValueError(f"expected z [V, N, D] and bool present [N, V], got {tuple(z.shape)}, {tuple(present.shape)}")
    v, n = z.shape[:2]
    e = F.normalize(torch.where(present.T[..., None], z, torch.zeros_like(z)), dim=-1)  # [V, N, D]
    pos = torch.einsum("and,bnd->nab", e, e)  # [N, V, V]
    pos_mask = present[:, :, None] & present[:, None, :] & ~torch.eye(v, dtype=torch.bool, device=z.device)
    neg = e @ e.transpose(1, 2)  # [V, N, N]
    m = present.T  # [V, N]
    neg_mask = m[:, :, None] & m[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=z.device)
    return pos, pos_mask, neg, neg_mask


def cocoa_loss_a(z: torch.Tensor, present: torch.Tensor, tau: float) -> torch.Tensor:
    """COCOA variant A (BCE on P_i / (P_i + N_i)), averaged over samples with >= 2 views; computed in log space."""
    pos, pos_mask, neg, neg_mask = _similarities(z, present)
    low = torch.finfo(z.dtype).min  # finite stand-in for log 0, so empty sets give no NaN gradients
    log_p = (pos / tau).masked_fill(~pos_mask, low).flatten(1).logsumexp(1)  # [N]
    count = neg_mask.sum(2)  # [V, N] negatives per (view, anchor)
    log_mean = (neg / tau).masked_fill(~neg_mask, low).logsumexp(2) - count.clamp_min(1).to(z.dtype).log()  # [V, N]
    log_n = log_mean.masked_fill(count == 0, low).logsumexp(0)  # [N]
    valid = present.sum(1) >= 2  # samples with a positive pair
    log_p = torch.where(valid, log_p, torch.zeros_like(log_p))
    per = torch.where(valid, torch.logaddexp(log_p, log_n) - log_p, torch.zeros_like(log_p))  # -log(P / (P + N))
    return per.sum() / valid.sum().clamp_min(1)


def cocoa_loss_b(z: torch.Tensor, present: torch.Tensor, tau: float, scale: float,
                 lam: float) -> torch.Tensor:
    """COCOA variant B ('cocoa2'): scaled positive distances plus lambda-weighted negative similarities (sums)."""
    pos, _, neg, neg_mask = _similarities(z, present)
    pair_mask = present[:, :, None] & present[:, None, :]  # [N, V, V], a == b included as in the original
    valid = present.sum(1) >= 2
    pos_term = (torch.exp((1 - pos) / tau) * pair_mask).flatten(1).sum(1) / pair_mask.flatten(1).sum(1).clamp_min(1)
    pos_term = torch.where(valid, pos_term, torch.zeros_like(pos_term)).sum()
    count = neg_mask.sum(2)  # [V, N]
    neg_term = (torch.exp(neg / tau) * neg_mask).sum(2) / count.clamp_min(1)  # [V, N], 0 without negatives
    return scale * pos_term + lam * neg_term.sum()


class COCOA(ContrastiveMeanFusion):
    """COCOA*: per-view encoders, COCOA loss on the contrastive rows, mean-fusion MLP classifier."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: CocoaConfig):
        super().__init__(views, n_classes, model, loss, cfg.ind_view_ce)
        if cfg.variant not in ("A", "B"):
            raise ValueError(f"params.yaml baselines.cocoa.variant must be 'A' or 'B', got {cfg.variant!r}")
        self.variant, self.tau, self.scale, self.lam = cfg.variant, loss.tau, cfg.scale, cfg.lam

    def contrastive_loss(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if self.variant == "A":
            return cocoa_loss_a(z, present, self.tau), {}
        return cocoa_loss_b(z, present, self.tau, self.scale, self.lam), {}


@register("cocoa", CocoaConfig)
def build_cocoa(views: Sequence[ViewSpec], n_classes: int, params: Params) -> COCOA:
    return COCOA(views, n_classes, params.model, params.loss, method_settings("cocoa", params))

