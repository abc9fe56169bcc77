"""FuseMoE (Han et al., NeurIPS 2024) on per-view ResNet1D tokens (methods.md §2.4).

    tokens   t_v = (u_v if view v is present else m_v) + type_v      m_v: learnable missing-view embedding
    block    x = t + MHA(LN(t))
             x_v = x_v + MoE_v(LN(x_v))      per-view router ('permod') over ONE shared pool of E experts;
                                             Laplace gate logits_e = -||x - w_e||_2, noisy top-K, softmax over the K
    head     h = [x_1; ...; x_V];  h = h + MLP(h);  y = Linear(h)
    loss     CE + coef * sum_v (CV^2(importance_v) + CV^2(load_v)),  coef = 1e-2 [FUSE --balance_loss_coef]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ralis.baselines.routing import ExpertFFN, RouterLogits, Routing, noisy_top_k, routing_balance
from ralis.config import DropoutP, LossConfig, ModelConfig, NonNegFloat, Params, PosInt, check_top_k
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, method_settings, register
from ralis.model.bank import EncoderBank

__all__ = ["FuseMoEConfig", "FuseMoE", "build_fusemoe"]


@dataclass(frozen=True)
class FuseMoEConfig:
    """params.yaml `baselines.fusemoe` (noise_eps is `model.noise_eps`, the embedding width `model.width`)."""

    n_experts: PosInt = 16  # E; RALIS silent, Flex-MoE default (methods.md §2.4)
    top_k: PosInt = 4  # K; RALIS silent, Flex-MoE default (methods.md §2.4)
    heads: PosInt = 4  # attention heads (same as Flex-MoE)
    dropout: DropoutP = 0.1  # attention / expert dropout [FUSE: transformer default]
    gating: Literal["laplace", "softmax"] = "laplace"  # laplace -||x - w_e|| (FuseMoE) | softmax x W_g [FUSE]
    balance: NonNegFloat = 1e-2  # --balance_loss_coef [FUSE]

    def __post_init__(self) -> None:
        check_top_k(self, "baselines.fusemoe")


class FuseMoE(MultiviewMethod):
    """Per-view encoders, learnable missing-view tokens, attention + per-view-routed Laplace MoE, MLP head."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: FuseMoEConfig):
        super().__init__(views, n_classes)
        d, v = model.width, len(views)
        if d % cfg.heads:
            raise ValueError(f"model.width={d} must be divisible by baselines.fusemoe.heads={cfg.heads}")
        self.encoders = EncoderBank(views, model, magnorm=False)
        self.missing = nn.Parameter(torch.randn(v, d))  # missing-view indicator embeddings (RALIS §5.1.2)
        self.type_emb = nn.Parameter(torch.randn(v, d))  # modality-type embeddings, N(0, 1) as nn.Embedding [FUSE]
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.routers = nn.ModuleList(RouterLogits(d, cfg.n_experts, cfg.gating, model.noise_eps) for _ in range(v))
        self.experts = ExpertFFN(cfg.n_experts, d, 2 * d, cfg.dropout)
        self.mlp = nn.Sequential(nn.Linear(v * d, v * d), nn.ReLU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(v * d, v * d))  # residual 2-layer MLP before the output layer [FUSE]
        self.out = nn.Linear(v * d, n_classes)
        self.top_k, self.coef, self.w_cls = cfg.top_k, cfg.balance, loss.w_cls

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        """Raw encoder outputs u [V, N, D], zeros where missing."""
        return self.encoders(batch.views, batch.present)

    def forward_tokens(self, z: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, list[Routing]]:
        """Logits [N, C] and the routing of each view's router over its N tokens."""
        check_embeddings(z, present)
        v, n, d = z.shape
        t = torch.where(present[..., None], z.transpose(0, 1), self.missing) + self.type_emb  # [N, V, D]
        x = self.norm1(t)
        x = t + self.attn(x, x, x, need_weights=False)[0]  # [N, V, D]
        y = self.norm2(x)  # [N, V, D]
        routes, moe = [], []
        for i, router in enumerate(self.routers):  # 'permod': one router per view, shared experts
            clean, std = router(y[:, i])  # [N, E]
            r = noisy_top_k(clean, std, self.top_k, self.training)
            routes.append(r)
            moe.append(self.experts(y[:, i], r.gates))  # [N, D]
        x = x + torch.stack(moe, dim=1)  # [N, V, D]
        h = x.reshape(n, v * d)  # [N, V*D]
        return self.out(h + self.mlp(h)), routes

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(z, present)[0]

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """CE + coef * per-router balance loss on the classification rows (one encoder pass over cls + con rows)."""
        z = self.encode(cls.cat(con))[:, : len(cls)]  # [V, N_cls, D]
        logits, routes = self.forward_tokens(z, cls.present)
        l_cls = F.cross_entropy(logits, cls.labels)
        l_bal = torch.stack([routing_balance(r) for r in routes]).sum()
        total = self.w_cls * l_cls + self.coef * l_bal
        logs = {"gates": torch.stack([r.gates.detach().mean(0) for r in routes]).mean(0)}  # [E] mean over routers
        return LossTerms(total=total, terms={"cls": float(l_cls.detach()), "balance": float(l_bal.detach())},
                         logs=logs)


@register("fusemoe", FuseMoEConfig)
def build_fusemoe(views: Sequence[ViewSpec], n_classes: int, params: Params) -> FuseMoE:
    return FuseMoE(views, n_classes, params.model, params.loss, method_settings("fusemoe", params))
