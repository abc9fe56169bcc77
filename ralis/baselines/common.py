"""Parts shared by the baselines (methods.md §2.0): masked means, random view subsets, and the mean-fusion
base of the contrastive baselines (A16).

Dimension legend: V views, N windows, D embedding width, C classes.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ralis.baselines.meanfusion import MeanFusion
from ralis.config import LossConfig, ModelConfig
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.methods import LossTerms

__all__ = ["masked_mean", "random_view_subset", "ContrastiveMeanFusion"]


def masked_mean(z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Mean over the present views: z [V, N, D], present [N, V] -> [N, D] (missing values never enter)."""
    m = present.T[..., None]  # [V, N, 1]
    return torch.where(m, z, torch.zeros_like(z)).sum(0) / m.sum(0).clamp_min(1).to(z.dtype)


def random_view_subset(present: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep a random non-empty subset of each row's present views, size uniform in 1..n_i [SHA:run.sh --mode=random].

    present [N, V] -> [N, V] with every kept view present in the input and >= 1 view per row.
    """
    n, v = present.shape
    scores = torch.rand(n, v, generator=generator, device=present.device).masked_fill(~present, 2.0)  # [N, V]
    rank = scores.argsort(dim=1).argsort(dim=1)  # rank of each view among the row's random order
    n_i = present.sum(1)  # [N]
    keep_n = (torch.rand(n, generator=generator, device=present.device) * n_i).floor().long() + 1  # [N] in 1..n_i
    return present & (rank < keep_n[:, None])


class ContrastiveMeanFusion(MeanFusion):
    """Base of CMC*, COCOA* and ConFu (A16): MagNorm'ed per-view z, mean fusion of the available views, an MLP
    classifier, trained jointly on CE (classification rows) + w_contrast * contrastive loss (contrastive rows)."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 ind_view_ce: bool):
        super().__init__(views, n_classes, model)
        self.w_cls, self.w_contrast, self.ind_view_ce = loss.w_cls, loss.w_contrast, ind_view_ce

    @abstractmethod
    def contrastive_loss(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The method's contrastive objective on the contrastive rows: z [V, N, D], present [N, V]."""

    def classification_loss(self, z: torch.Tensor, present: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """CE of the fused prediction; with `ind_view_ce` the mean over the fused and each present view's CE (A8)."""
        losses = [F.cross_entropy(self.predict(z, present), labels)]
        if self.ind_view_ce:
            for v in range(self.n_views):
                rows = present[:, v]
                if rows.any():
                    losses.append(F.cross_entropy(self.head(z[v, rows]), labels[rows]))
        return torch.stack(losses).mean()

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        if cls.labels is None:
            raise ValueError("the classification batch needs labels")
        z = self.encode(cls.cat(con))  # [V, N_cls + N_con, D], one encoder pass
        n = len(cls)
        l_cls = self.classification_loss(z[:, :n], cls.present, cls.labels)
        l_con, extra = self.contrastive_loss(z[:, n:], con.present)
        total = self.w_cls * l_cls + self.w_contrast * l_con
        terms = {"cls": float(l_cls.detach()), "contrast": float(l_con.detach()), **extra}
        return LossTerms(total=total, terms=terms, logs={})
