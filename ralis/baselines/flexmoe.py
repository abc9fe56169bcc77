"""Flex-MoE (Yun et al., NeurIPS 2024) on per-view ResNet1D tokens (methods.md §2.3).

    tokens   t_v = u_v if view v is present, else bank[c, v]      bank [2^V - 1, V, D], randn; c = the sample's
             combination index (0 = all views, then every combination of V-1 views, ..., then the singletons)
    layer    x = LN(t + pos);  a = MHA(x);  x = a + Dropout(a)      (the official layer's residual, kept as is)
             x = x + Dropout(MoE(LN(x)))                            MoE FFN per token, noisy top-K router
    head     y = Linear([x_1; ...; x_V])
    loss     CE + w_gate (CE_S-router + L_bal(full tokens) + L_bal(non-full tokens, experts 1..E-1))
    warm-up  the first `baselines.flexmoe.warmup_epochs` epochs draw classification batches unshuffled, windows
             with the most views first (ralis.data.loader.make_sorted_loader, used by ralis.train.fit)
The S-router sends every token of a non-full sample to the expert of its combination. With 2^V - 1 > E the
harness maps combination c to expert(c) = 0 if c = 0 else 1 + ((c - 1) mod (E - 1)) (identity when 2^V - 1 <= E).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ralis.baselines.routing import ExpertFFN, RouterLogits, noisy_top_k, routing_balance
from ralis.config import DropoutP, LossConfig, ModelConfig, NonNegFloat, NonNegInt, Params, PosInt, check_top_k
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, method_settings, register
from ralis.model.bank import EncoderBank

__all__ = ["FlexMoEConfig", "combinations_order", "combination_lookup", "expert_of_combination", "FlexMoE",
           "build_flexmoe"]


@dataclass(frozen=True)
class FlexMoEConfig:
    """params.yaml `baselines.flexmoe` (noise_eps is `model.noise_eps`, the embedding width `model.width`)."""

    n_experts: PosInt = 16  # E [FLEX:main.py]
    top_k: PosInt = 4  # [FLEX:main.py]
    heads: PosInt = 4  # attention heads [FLEX:main.py]
    dropout: DropoutP = 0.5  # [FLEX:main.py]
    gate_weight: NonNegFloat = 1e-2  # gate_loss_weight: S-router CE + both balance groups [FLEX:main.py]
    warmup_epochs: NonNegInt = 5  # first epochs on an unshuffled loader, full-view windows first [FLEX:main.py]

    def __post_init__(self) -> None:
        check_top_k(self, "baselines.flexmoe")


def combinations_order(n_views: int) -> list[tuple[int, ...]]:
    """Flex-MoE's combination indices: 0 = all views, then every combination of size V-1, ..., 1 [FLEX:data.py]."""
    return [c for r in range(n_views, 0, -1) for c in itertools.combinations(range(n_views), r)]


def combination_lookup(n_views: int) -> torch.Tensor:
    """Long tensor [2^V]: bit code sum_v present_v 2^v -> combination index (-1 for the empty set)."""
    lut = torch.full((2 ** n_views,), -1, dtype=torch.long)
    for idx, combo in enumerate(combinations_order(n_views)):
        lut[sum(1 << v for v in combo)] = idx
    return lut


def expert_of_combination(c: torch.Tensor, n_experts: int) -> torch.Tensor:
    """S-router target: expert(c) = 0 if c == 0 else 1 + ((c - 1) mod (E - 1)) (methods.md §2.3 harness mapping)."""
    if n_experts < 2:
        raise ValueError(f"Flex-MoE needs >= 2 experts (params.yaml baselines.flexmoe.n_experts), got {n_experts}")
    return torch.where(c == 0, torch.zeros_like(c), 1 + torch.remainder(c - 1, n_experts - 1))


class FlexMoE(MultiviewMethod):
    """Per-view encoders, missing-modality bank, one transformer layer with a sparse MoE FFN, linear head."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig, loss: LossConfig,
                 cfg: FlexMoEConfig):
        super().__init__(views, n_classes)
        d, v = model.width, len(views)
        if cfg.warmup_epochs < 0:
            raise ValueError(f"params.yaml baselines.flexmoe.warmup_epochs must be >= 0, got {cfg.warmup_epochs}")
        if d % cfg.heads:
            raise ValueError(f"model.width={d} must be divisible by baselines.flexmoe.heads={cfg.heads}")
        self.encoders = EncoderBank(views, model, magnorm=False)
        self.bank = nn.Parameter(torch.randn(2 ** v - 1, v, d))  # missing_embeds, randn [FLEX:main.py]
        self.pos = nn.Parameter(torch.zeros(v, d))  # learned positional (view) embedding, zero-init [FLEX]
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.drop1, self.drop2 = nn.Dropout(cfg.dropout), nn.Dropout(cfg.dropout)
        self.router = RouterLogits(d, cfg.n_experts, "softmax", model.noise_eps)
        self.experts = ExpertFFN(cfg.n_experts, d, 2 * d, cfg.dropout)  # d -> 2d -> d, GELU [FLEX]
        self.head = nn.Linear(v * d, n_classes)  # num_layers_pred = 1 [FLEX]
        self.register_buffer("lut", combination_lookup(v), persistent=False)
        self.top_k, self.n_experts = cfg.top_k, cfg.n_experts
        self.w_gate, self.w_cls = cfg.gate_weight, loss.w_cls
        self.sorted_warmup_epochs = cfg.warmup_epochs  # G-router first sees complete windows [FLEX:main.py]

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        """Raw encoder outputs u [V, N, D], zeros where missing."""
        return self.encoders(batch.views, batch.present)

    def combination(self, present: torch.Tensor) -> torch.Tensor:
        """Combination index c [N] of each sample's present views."""
        code = (present.long() << torch.arange(present.shape[1], device=present.device)).sum(1)  # [N]
        return self.lut[code]

    def forward_tokens(self, z: torch.Tensor, present: torch.Tensor):
        """Run the fusion layer; returns logits [N, C], the routing of the N*V tokens and the combinations [N]."""
        check_embeddings(z, present)
        v, n, d = z.shape
        c = self.combination(present)  # [N]
        t = torch.where(present[..., None], z.transpose(0, 1), self.bank[c])  # [N, V, D]
        x = self.norm1(t + self.pos)  # [N, V, D]
        a = self.attn(x, x, x, need_weights=False)[0]  # [N, V, D]
        x = a + self.drop1(a)
        flat = self.norm2(x).reshape(n * v, d)  # [N*V, D], token order: sample-major
        clean, std = self.router(flat)
        r = noisy_top_k(clean, std, self.top_k, self.training)
        x = x + self.drop2(self.experts(flat, r.gates).view(n, v, d))  # [N, V, D]
        return self.head(x.reshape(n, v * d)), r, c

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(z, present)[0]

    def gate_loss(self, r, c: torch.Tensor, n_views: int) -> tuple[torch.Tensor, dict[str, float]]:
        """S-router CE on non-full tokens + separate balance losses for full and non-full tokens [FLEX]."""
        c_tok = c.repeat_interleave(n_views)  # [N*V], every token of a sample carries its combination
        full = c_tok == 0
        ce = r.clean.new_zeros(())
        if bool((~full).any()):
            target = expert_of_combination(c_tok[~full], self.n_experts)
            ce = F.cross_entropy(r.noisy[~full], target)  # on the (noisy) router logits, as the official gate
        bal_full = routing_balance(r, full)
        bal_part = routing_balance(r, ~full, slice(1, None))  # non-full tokens, experts 1..E-1
        terms = {"srouter": float(ce.detach()), "bal_full": float(bal_full.detach()),
                 "bal_part": float(bal_part.detach())}
        return ce + bal_full + bal_part, terms

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """CE + w_gate * gate loss on the classification rows (one encoder pass over cls + con rows)."""
        z = self.encode(cls.cat(con))[:, : len(cls)]  # [V, N_cls, D]
        logits, r, c = self.forward_tokens(z, cls.present)
        l_cls = F.cross_entropy(logits, cls.labels)
        l_gate, terms = self.gate_loss(r, c, self.n_views)
        total = self.w_cls * l_cls + self.w_gate * l_gate
        logs = {"gates": r.gates.detach().mean(0)}  # [E] mean gate per expert
        return LossTerms(total=total, terms={"cls": float(l_cls.detach()), **terms}, logs=logs)


@register("flexmoe", FlexMoEConfig)
def build_flexmoe(views: Sequence[ViewSpec], n_classes: int, params: Params) -> FlexMoE:
    return FlexMoE(views, n_classes, params.model, params.loss, method_settings("flexmoe", params))
