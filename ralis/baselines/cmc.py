"""CMC* (Tian et al. 2020) as used in RALIS: in-batch NT-Xent over view pairs + mean fusion classifier (A16).

Full graph (default): L_F = mean over pairs (a < b) of the pair loss, Eq. (4), each over the samples having both
views (methods.md §2.1; `full_graph_loss`). Core view (`baselines.cmc.core_view`): L_C = mean over j != core of
L_pair(z^core, z^j); pairs involving a missing core view simply disappear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ralis.baselines.common import ContrastiveMeanFusion
from ralis.config import LossConfig, ModelConfig, Params
from ralis.contract import ViewSpec
from ralis.methods import method_settings, register
from ralis.model.contrastive import full_graph_loss, masked_pair_loss

__all__ = ["CMCConfig", "CMC", "core_view_loss", "build_cmc"]


@dataclass(frozen=True)
class CMCConfig:
    """params.yaml `baselines.cmc`."""

    core_view: str | None = None  # None = full graph [VSF MultiviewInfoNCELoss]; a view name = core view [CMC]
    detach_others: bool = False  # core view: detach the non-core views [VSF ignore_submodal]
    ind_view_ce: bool = False  # add per-view CE to the fused CE (A16: off by default)


def core_view_loss(z: torch.Tensor, present: torch.Tensor, core: int, tau: float, reduction: str,
                   detach_others: bool = False) -> torch.Tensor:
    """Core-view CMC loss: mean over views j != core of mean_i L_pair,i(z^core, z^j) over samples having both.

    z [V, N, D], present [N, V]; pairs with < 2 such samples are skipped. `detach_others` stops the gradient into
    the non-core views (VSF `ignore_submodal`).
    """
    others = [j for j in range(z.shape[0]) if j != core]
    if not others:
        return z.new_zeros(())
    b = z[others]  # [V-1, N, D]
    if detach_others:
        b = b.detach()
    a = z[core].expand_as(b)  # [V-1, N, D]
    both = (present[:, [core]] & present[:, others]).T  # [V-1, N]
    per = masked_pair_loss(a, b, both, tau, reduction)  # [V-1, N]
    count = both.sum(1)  # [V-1]
    ok = count >= 2
    pair_losses = torch.where(ok, per.sum(1) / count.clamp_min(1), torch.zeros_like(per[:, 0]))  # [V-1]
    return pair_losses.sum() / ok.sum().clamp_min(1)


class CMC(ContrastiveMeanFusion):
    """CMC*: per-view encoders, full-graph (or core-view) in-batch contrast, mean-fusion MLP classifier."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: CMCConfig):
        super().__init__(views, n_classes, model, loss, cfg.ind_view_ce)
        self.tau, self.reduction = loss.tau, loss.pair_reduction
        self.core: int | None = None
        if cfg.core_view is not None:
            if cfg.core_view not in self.view_names:
                raise ValueError(f"params.yaml baselines.cmc.core_view = {cfg.core_view!r} is not a view of this "
                                 f"dataset; choose one of {list(self.view_names)} or null for the full graph")
            self.core = self.view_names.index(cfg.core_view)
        self.detach_others = cfg.detach_others

    def contrastive_loss(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if self.core is None:
            fg = full_graph_loss(z, present, self.tau, self.reduction)
            return fg.loss, {"pairs_used": float(fg.pair_valid.sum())}
        return core_view_loss(z, present, self.core, self.tau, self.reduction, self.detach_others), {}


@register("cmc", CMCConfig)
def build_cmc(views: Sequence[ViewSpec], n_classes: int, params: Params) -> CMC:
    return CMC(views, n_classes, params.model, params.loss, method_settings("cmc", params))
