"""ShaSpec (Wang et al., CVPR 2023) adapted to multiview HAR (methods.md §2.5).

    shared   sh_v = F_sh(x_v)   one ResNet1D trunk for all views; a per-(modality, channels) input stem, since an
                                accelerometer (3 ch) and a pose (18-60 ch) cannot share the first conv
    specific sp_v = F_v(x_v)    one ResNet1D per view
    fusion   f_v = sh_v + Linear([sh_v; sp_v])         for a present view (ShaSpec's residual compositional layer)
             f_v = mean_{u in S} sh_u                   for a missing view (the paper's mean; the code used the first)
    head     y = MLP([f_1; ...; f_V])                   (fixed view order)
    loss     L = L_task + alpha L_shared + beta L_spec, alpha = 0.1, beta = 0.02 [SHA:train_SS.py]
        L_shared: L1 between the shared features of present views in ring order (v_1, v_2), ..., (v_n, v_1)
        L_spec:   CE of a linear domain classifier predicting the view of each present specific feature
The embedding z that `encode` returns is [V, N, 2D] = concat(sh, sp) along the last axis (layout [sh | sp]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ralis.baselines.common import masked_mean, random_view_subset
from ralis.config import LossConfig, ModelConfig, NonNegFloat, Params
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, method_settings, register
from ralis.model.bank import EncoderBank
from ralis.model.encoder import ResNet1D, Stem

__all__ = ["ShaSpecConfig", "SharedEncoder", "ring_pairs", "shared_l1_loss", "specific_domain_loss", "ShaSpec",
           "build_shaspec"]


@dataclass(frozen=True)
class ShaSpecConfig:
    """params.yaml `baselines.shaspec`."""

    alpha: NonNegFloat = 0.1  # weight of L_shared [SHA:train_SS.py]
    beta: NonNegFloat = 0.02  # weight of L_spec [SHA:train_SS.py]
    random_subset: bool = False  # --mode=random phase: random view subsets per step [SHA:run.sh]; RALIS silent


class SharedEncoder(nn.Module):
    """F_sh: per-(modality, channels) stem, then residual blocks and head shared by every view -> [V, N, D]."""

    def __init__(self, views: Sequence[ViewSpec], cfg: ModelConfig):
        super().__init__()
        if cfg.encoder != "resnet1d":  # the shared trunk is a ResNet1D body behind per-modality stems
            raise ValueError(f"ShaSpec's shared encoder is built from ResNet1D parts; params.yaml model.encoder = "
                             f"{cfg.encoder!r} is not supported for train.method shaspec (use resnet1d)")
        self.keys = [f"{v.modality}_{v.channels}" for v in views]
        args = (cfg.width, cfg.kernel_size, cfg.n_blocks, cfg.dropout)
        self.stems = nn.ModuleDict({k: Stem(v.channels, cfg.width, cfg.kernel_size) for k, v in zip(self.keys, views)})
        self.trunk = ResNet1D(1, *args)  # its blocks and head are shared; its own stem is unused
        del self.trunk.stem
        self.width = cfg.width

    def forward(self, views: Sequence[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        sh = views[0].new_zeros(len(self.keys), present.shape[0], self.width)  # [V, N, D]
        for v, (key, x) in enumerate(zip(self.keys, views)):
            rows = present[:, v]
            if rows.any():
                h = self.stems[key](x[rows].transpose(1, 2))  # [n_v, D, T]
                sh[v, rows] = self.trunk.body(h)  # [n_v, D]
        return sh


def ring_pairs(present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ring over each sample's present views in index order: (s_1, s_2), ..., (s_{n-1}, s_n), and (s_n, s_1) when
    n > 2. Returns first, second view index [N, V] and a bool mask [N, V] of the pairs that exist."""
    n, v = present.shape
    order = torch.sort((~present).to(torch.int8), dim=1, stable=True).indices  # [N, V], present views first
    n_i = present.sum(1, keepdim=True)  # [N, 1]
    k = torch.arange(v, device=present.device)[None, :]  # [1, V]
    nxt = order.gather(1, torch.remainder(k + 1, n_i.clamp_min(1)))  # [N, V]
    valid = (k < n_i - 1) | ((k == n_i - 1) & (n_i > 2))
    return order, nxt, valid


def shared_l1_loss(sh: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """L_shared: per sample, sum over ring pairs of mean_d |sh_a - sh_b|; mean over samples with >= 2 views."""
    first, second, valid = ring_pairs(present)  # [N, V]
    rows = torch.arange(sh.shape[1], device=sh.device)[:, None]  # [N, 1]
    diff = (sh[first, rows] - sh[second, rows]).abs().mean(-1)  # [N, V]
    per = torch.where(valid, diff, torch.zeros_like(diff)).sum(1)  # [N]
    ok = present.sum(1) >= 2
    return per.sum() / ok.sum().clamp_min(1)


def specific_domain_loss(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """L_spec: CE of the domain classifier logits [V, N, V] against the view index, over present (view, sample)."""
    v = logits.shape[0]
    target = torch.arange(v, device=logits.device)[:, None].expand(v, logits.shape[1])  # [V, N]
    m = present.T  # [V, N]
    return F.cross_entropy(logits[m], target[m])


class ShaSpec(MultiviewMethod):
    """Shared + specific encoders, missing views filled with the mean shared feature, concatenation head."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: ShaSpecConfig):
        super().__init__(views, n_classes)
        m, d, v = model, model.width, len(views)
        self.width = d
        self.shared = SharedEncoder(views, m)
        self.specific = EncoderBank(views, m, magnorm=False)
        self.compose = nn.Linear(2 * d, d)  # residual compositional layer, shared by the views
        self.domain = nn.Linear(d, v)  # domain classifier on the specific features
        self.head = nn.Sequential(nn.Dropout(m.dropout), nn.Linear(v * d, m.expert_hidden), nn.ReLU(),
                                  nn.Linear(m.expert_hidden, n_classes))
        self.alpha, self.beta, self.random_subset = cfg.alpha, cfg.beta, cfg.random_subset
        self.w_cls = loss.w_cls

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        """z [V, N, 2D] = [sh | sp], zeros where missing."""
        return torch.cat([self.shared(batch.views, batch.present), self.specific(batch.views, batch.present)], -1)

    def fuse(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Fused per-view features f [V, N, D]; missing views get the mean shared feature of the present ones."""
        check_embeddings(z, present)
        sh, sp = z[..., : self.width], z[..., self.width:]  # [V, N, D] each
        m = present.T[..., None]  # [V, N, 1]
        fill = masked_mean(sh, present)  # [N, D]
        f = sh + self.compose(torch.cat([sh, sp], -1))  # [V, N, D]
        return torch.where(m, f, fill.expand_as(f))

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        f = self.fuse(z, present)  # [V, N, D]
        return self.head(f.transpose(0, 1).flatten(1))  # [N, V*D] -> [N, n_classes]

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """L_task on the classification rows; L_shared and L_spec (label-free) on all rows of the one pass."""
        both = cls.cat(con)
        z = self.encode(both)  # [V, N_cls + N_con, 2D]
        n = len(cls)
        present = random_view_subset(cls.present) if self.random_subset else cls.present
        l_task = F.cross_entropy(self.predict(z[:, :n], present), cls.labels)
        l_shared = shared_l1_loss(z[..., : self.width], both.present)
        l_spec = specific_domain_loss(self.domain(z[..., self.width:]), both.present)
        total = self.w_cls * l_task + self.alpha * l_shared + self.beta * l_spec
        terms = {"cls": float(l_task.detach()), "shared": float(l_shared.detach()), "spec": float(l_spec.detach())}
        return LossTerms(total=total, terms=terms, logs={})


@register("shaspec", ShaSpecConfig)
def build_shaspec(views: Sequence[ViewSpec], n_classes: int, params: Params) -> ShaSpec:
    return ShaSpec(views, n_classes, params.model, params.loss, method_settings("shaspec", params))
