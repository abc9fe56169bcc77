"""ConFu (arXiv 2511.21331) adapted to V views (methods.md §3): pairwise contrast plus fused-pair-vs-third contrast.

    L = 1/2 [ lambda * mean_{sampled (a, b; c)} CL(f_ab, z^c) + (1 - lambda) * mean_{a < b} CL(z^a, z^b) ]
    f_ab = MLP([z^a + id_a ; z^b + id_b])    ONE pair-fusion MLP shared by all pairs, with learnable view-ID embeddings
For 3 views and complete data this equals ConFu's [lambda sum_3 fused + (1 - lambda) sum_3 pairs] / 6. CL is the
harness pair loss, Eq. (4) (NT-Xent, tau = loss.tau), over the samples having every view of the term; each step
samples `baselines.confu.triplets` (pair, third) triplets among those with >= 2 such samples. Classifier: A16.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ralis.baselines.common import ContrastiveMeanFusion
from ralis.config import DropoutP, LossConfig, ModelConfig, Params, PosInt, Prob
from ralis.contract import ViewSpec
from ralis.methods import method_settings, register
from ralis.model.contrastive import full_graph_loss, masked_pair_loss

__all__ = ["ConFuConfig", "all_triplets", "sample_triplets", "PairFusion", "fused_third_loss", "ConFu", "build_confu"]


@dataclass(frozen=True)
class ConFuConfig:
    """params.yaml `baselines.confu` (tau is `loss.tau`)."""

    lam: Prob = 0.5  # weight of the fused-pair-vs-third terms against the pairwise terms [CONFU]
    triplets: PosInt = 4  # (pair, third) triplets sampled per step (harness, methods.md §3)
    fusion_dropout: DropoutP = 0.1  # dropout inside the pair-fusion MLP [CONFU: 2 layers]
    ind_view_ce: bool = False  # add per-view CE to the fused CE (A16: off by default)


def all_triplets(n_views: int) -> torch.Tensor:
    """Every (a, b, c) with a < b and c not in {a, b}: long [C(V,2)(V-2), 3]."""
    rows = [(a, b, c) for a, b in itertools.combinations(range(n_views), 2) for c in range(n_views) if c not in (a, b)]
    return torch.tensor(rows, dtype=torch.long).view(-1, 3)


def sample_triplets(present: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Up to k distinct triplets, uniformly among those whose three views are all present in >= 2 samples."""
    tri = all_triplets(present.shape[1]).to(present.device)  # [T, 3]
    if len(tri) == 0 or k <= 0:
        return tri[:0]
    count = (present[:, tri[:, 0]] & present[:, tri[:, 1]] & present[:, tri[:, 2]]).sum(0)  # [T]
    ok = tri[count >= 2]
    return ok[torch.randperm(len(ok), generator=generator)[:k].to(ok.device)]


class PairFusion(nn.Module):
    """f_ab = MLP([z^a + id_a ; z^b + id_b]): Linear(2D, D) - ReLU - Dropout(0.1) - Linear(D, D) [CONFU: 2 layers]."""

    def __init__(self, n_views: int, dim: int, dropout: float):
        super().__init__()
        self.view_id = nn.Embedding(n_views, dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim))

    def forward(self, za: torch.Tensor, zb: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """za, zb [T, N, D] with view indices a, b [T] -> [T, N, D]."""
        ia, ib = self.view_id(a)[:, None, :], self.view_id(b)[:, None, :]  # [T, 1, D]
        return self.mlp(torch.cat([za + ia, zb + ib], dim=-1))


def fused_third_loss(z: torch.Tensor, present: torch.Tensor, triplets: torch.Tensor, fusion: PairFusion,
                     tau: float, reduction: str) -> torch.Tensor:
    """mean over triplets (a, b, c) of mean_i CL_i(f_ab, z^c) over the samples having a, b and c (batched)."""
    if len(triplets) == 0:
        return z.new_zeros(())
    a, b, c = triplets.unbind(1)  # [T] each
    f = fusion(z[a], z[b], a, b)  # [T, N, D]
    mask = (present[:, a] & present[:, b] & present[:, c]).T  # [T, N]
    per = masked_pair_loss(f, z[c], mask, tau, reduction)  # [T, N]
    return (per.sum(1) / mask.sum(1).clamp_min(1)).mean()


class ConFu(ContrastiveMeanFusion):
    """ConFu: per-view encoders, pairwise + fused-pair-vs-third contrast, mean-fusion MLP classifier (A16)."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: ConFuConfig):
        super().__init__(views, n_classes, model, loss, cfg.ind_view_ce)
        if not 0.0 <= cfg.lam <= 1.0:
            raise ValueError(f"params.yaml baselines.confu.lam must lie in [0, 1], got {cfg.lam}")
        self.fusion = PairFusion(len(views), model.width, cfg.fusion_dropout)
        self.lam, self.k = cfg.lam, cfg.triplets
        self.tau, self.reduction = loss.tau, loss.pair_reduction

    def contrastive_loss(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        pairs = full_graph_loss(z, present, self.tau, self.reduction).loss
        triplets = sample_triplets(present, self.k)
        fused = fused_third_loss(z, present, triplets, self.fusion, self.tau, self.reduction)
        loss = 0.5 * (self.lam * fused + (1 - self.lam) * pairs)
        return loss, {"pairs": float(pairs.detach()), "fused": float(fused.detach()), "triplets": float(len(triplets))}


@register("confu", ConFuConfig)
def build_confu(views: Sequence[ViewSpec], n_classes: int, params: Params) -> ConFu:
    return ConFu(views, n_classes, params.model, params.loss, method_settings("confu", params))
