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

import torch
import torch.nn.functional as F
from torch import nn

from ralis.baselines.routing import ExpertFFN, RouterLogits, Routing, noisy_top_k, routing_balance
from ralis.config import Params
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, register
from ralis.model.bank import EncoderBank

__all__ = ["FuseMoE", "build_fusemoe"]


class FuseMoE(MultiviewMethod):
    """Per-view encoders, learnable missing-view tokens, attention + per-view-routed Laplace MoE, MLP head."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, params: Params):
        super().__init__(views, n_classes)
        m, b = params.model, params.baselines
        d, v = m.width, len(views)
        if d % b.fuse_heads:
            raise ValueError(f"model.width={d} must be divisible by baselines.fuse_heads={b.fuse_heads}")
        self.encoders = EncoderBank(views, m, magnorm=False)
        self.missing = nn.Parameter(torch.randn(v, d))  # missing-view indicator embeddings (RALIS §5.1.2)
        self.type_emb = nn.Parameter(torch.randn(v, d))  # modality-type embeddings, N(0, 1) as nn.Embedding [FUSE]
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, b.fuse_heads, dropout=b.fuse_dropout, batch_first=True)
        self.routers = nn.ModuleList(RouterLogits(d, b.fuse_n_experts, b.fuse_gating, m.noise_eps) for _ in range(v))
        self.experts = ExpertFFN(b.fuse_n_experts, d, 2 * d, b.fuse_dropout)
        self.mlp = nn.Sequential(nn.Linear(v * d, v * d), nn.ReLU(), nn.Dropout(b.fuse_dropout),
                                 nn.Linear(v * d, v * d))  # residual 2-layer MLP before the output layer [FUSE]
        self.out = nn.Linear(v * d, n_classes)
        self.top_k, self.coef, self.w_cls = b.fuse_top_k, b.fuse_balance, params.loss.w_cls

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


@register("fusemoe")
def build_fusemoe(views: Sequence[ViewSpec], n_classes: int, params: Params) -> FuseMoE:
    return FuseMoE(views, n_classes, params)
