"""Mean-fusion baseline: the simplest multiview model that accepts any subset of views.

Per-view ResNet1D encoders f^(v) [P§5.1.3], MagNorm of each embedding (Eq. 13), the mean over the present
views, and one MLP classifier trained with cross-entropy on the fused prediction only. No contrastive loss,
no attention, no mixture of experts. RALIS should beat it, above all on single-view scenarios.

Training uses the same two-stream step as RALIS (methods.md §1.8): the classification and contrastive
batches go through the encoders in one pass (so BatchNorm sees the same 32 rows), and only the
classification rows enter the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ralis.config import ModelConfig, Params
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, register
from ralis.model.bank import EncoderBank

__all__ = ["MeanFusion", "build_meanfusion"]


class MeanFusion(MultiviewMethod):
    """z^(v) = MagNorm(f^(v)(x^(v))); z = mean over present v; y = MLP(z)."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, cfg: ModelConfig):
        super().__init__(views, n_classes)
        self.encoders = EncoderBank(self.view_specs, cfg, magnorm=True)
        self.width = cfg.width
        # classifier shaped like one RALIS expert (A15): Dropout - Linear - ReLU - Linear
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.width, cfg.expert_hidden), nn.ReLU(),
                                  nn.Linear(cfg.expert_hidden, n_classes))

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        """Per-view MagNorm embeddings z [V, N, D]; each encoder runs only on its present rows."""
        if batch.n_views != self.n_views:
            raise ValueError(f"batch has {batch.n_views} views, the model was built for {self.n_views}")
        return self.encoders(batch.views, batch.present)  # [V, N, D]

    def fuse(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Mean of the present views' embeddings: [V, N, D], [N, V] -> [N, D]."""
        check_embeddings(z, present)
        m = present.T[:, :, None]  # [V, N, 1]
        z = torch.where(m, z, torch.zeros_like(z))  # missing embeddings never enter, even if NaN
        return z.sum(dim=0) / m.sum(dim=0).clamp_min(1).to(z.dtype)  # [N, D]

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return self.head(self.fuse(z, present))  # [N, n_classes]

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """CE of the fused prediction on the classification rows; one encoder pass over cls + con rows."""
        if cls.labels is None:
            raise ValueError("the classification batch needs labels")
        z = self.encode(cls.cat(con))[:, : len(cls)]  # [V, N_cls, D]
        loss = F.cross_entropy(self.predict(z, cls.present), cls.labels)
        return LossTerms(total=loss, terms={"cls": float(loss.detach())}, logs={})


@register("meanfusion")
def build_meanfusion(views: Sequence[ViewSpec], n_classes: int, params: Params) -> MeanFusion:
    return MeanFusion(views, n_classes, params.model)
