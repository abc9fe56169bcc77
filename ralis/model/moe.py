"""Sparse mixture-of-experts classification head with noisy top-K gating, Eqs. (10) and (12).

Written from Shazeer et al. 2017 (§2.1 and Appendix A) and methods.md §1.6; the softmax runs over the K kept
logits only, and the smooth load compares noisy logits with thresholds in the same (pre-softmax) space.

Dimension legend: B tokens, D token width, E experts, K experts kept per token, H expert hidden size,
C classes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ralis.config import ModelConfig

__all__ = [
    "GateOutput", "Routing", "noisy_top_k", "NoisyTopKGate", "importance", "smooth_load", "cv_squared",
    "balance_loss", "MoEOutput", "MoEHead",
]


class GateOutput(NamedTuple):
    """`gates` [B, E] (K non-zeros per row summing to 1), `clean_logits` [B, E], `load` [E], `importance` [E]."""

    gates: torch.Tensor
    clean_logits: torch.Tensor
    load: torch.Tensor
    importance: torch.Tensor


class Routing(NamedTuple):
    """`gates` [B, E] (K non-zeros per row summing to 1); `clean` / `noisy` logits [B, E] (noisy = clean in eval);
    `std` [B, E] noise scale (None in eval); `top_values` [B, min(K+1, E)] largest noisy logits; `k`."""

    gates: torch.Tensor
    clean: torch.Tensor
    noisy: torch.Tensor
    std: torch.Tensor | None
    top_values: torch.Tensor
    k: int


def noisy_top_k(clean: torch.Tensor, std: torch.Tensor | None, k: int, training: bool) -> Routing:
    """Noisy top-K gating (Shazeer et al. §2.1; methods.md §1.6) from given clean logits [B, E]: noise N(0, std)
    only in training, softmax over the K kept logits only [P§4.3.1], zeros elsewhere. Used by the RALIS gate and
    by the MoE baselines (for Laplace logits this is FuseMoE's exp(l - logsumexp(l)) over the top K)."""
    e = clean.shape[1]
    if not 1 <= k <= e:
        raise ValueError(f"top_k must lie in [1, n_experts={e}], got {k}")
    noisy = clean + torch.randn_like(clean) * std if training else clean  # [B, E]
    top_values, top_idx = noisy.topk(min(k + 1, e), dim=1)  # [B, K+1]: K+1 needed for the load bar
    gates = torch.zeros_like(noisy).scatter(1, top_idx[:, :k], top_values[:, :k].softmax(dim=1))  # [B, E]
    return Routing(gates, clean, noisy, std if training else None, top_values, k)


class MoEOutput(NamedTuple):
    """Head output: `logits` [B, C] (Eq. 10) plus the gate's `gates` [B, E], `clean_logits`, `load`, `importance`.

    A plain MLP head ("-MoE") returns the gate fields as None.
    """

    logits: torch.Tensor
    gates: torch.Tensor | None
    clean_logits: torch.Tensor | None
    load: torch.Tensor | None
    importance: torch.Tensor | None


def importance(gates: torch.Tensor) -> torch.Tensor:
    """Importance_e = sum over tokens of Gate(x)_e (Shazeer §4): [B, E] -> [E]."""
    return gates.sum(0)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def smooth_load(clean: torch.Tensor, noisy: torch.Tensor, std: torch.Tensor, top_values: torch.Tensor,
                k: int) -> torch.Tensor:
    """Differentiable load estimate (Shazeer App. A): sum over tokens of P(expert e stays in the top K).

    clean, noisy, std: [B, E]; top_values: the K+1 largest noisy logits [B, K+1] (descending). For an expert in
    the top K the bar is the (K+1)-th largest noisy logit, for one outside it the K-th; resampling only its own
    noise, P = Phi((clean - bar) / std). Returns [E].
    """
    thr_in = top_values[:, k:k + 1]  # [B, 1]
    thr_out = top_values[:, k - 1:k]  # [B, 1]
    is_in = noisy > thr_in  # [B, E]
    p = torch.where(is_in, _normal_cdf((clean - thr_in) / std), _normal_cdf((clean - thr_out) / std))
    return p.sum(0)


def cv_squared(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Squared coefficient of variation Var(x) / (Mean(x)^2 + eps) (unbiased variance); 0 for a single entry."""
    x = x.float()
    if x.numel() <= 1:
        return x.new_zeros(())
    return x.var() / (x.mean() ** 2 + eps)


def balance_loss(importance: torch.Tensor, load: torch.Tensor) -> torch.Tensor:
    """Load-balancing loss, Eq. (12): CV^2(importance) + CV^2(load)."""
    return cv_squared(importance) + cv_squared(load)


class NoisyTopKGate(nn.Module):
    """Noisy top-K gate G(x) of Eq. (10): W_g and W_noise start at zero; noise only in training mode."""

    def __init__(self, dim: int, n_experts: int, top_k: int, noise_eps: float):
        super().__init__()
        if not 1 <= top_k <= n_experts:
            raise ValueError(f"model.top_k must lie in [1, n_experts={n_experts}], got {top_k}")
        self.n_experts, self.top_k, self.noise_eps = n_experts, top_k, noise_eps
        self.w_gate = nn.Parameter(torch.zeros(dim, n_experts))
        self.w_noise = nn.Parameter(torch.zeros(dim, n_experts))

    def forward(self, x: torch.Tensor) -> GateOutput:  # x: [B, D]
        clean = x @ self.w_gate  # [B, E]
        std = F.softplus(x @ self.w_noise) + self.noise_eps if self.training else None  # [B, E], the noise network
        r = noisy_top_k(clean, std, self.top_k, self.training)
        if r.std is not None and r.k < self.n_experts:
            load = smooth_load(clean, r.noisy, r.std, r.top_values, r.k)
        else:
            load = (r.gates > 0).sum(0).to(r.gates.dtype)  # exact token count (no noise, or every expert kept)
        return GateOutput(r.gates, clean, load, importance(r.gates))


class MoEHead(nn.Module):
    """MoE classification head, Eq. (10): y = sum_e Gate(z, K)_e Expert_e(z).

    Each expert is Dropout-Linear(D, H)-ReLU-Linear(H, C) (A15). The E experts are stored as stacked weights and
    evaluated densely on every token; multiplying by the sparse gates gives the same y as sparse dispatch.
    """

    def __init__(self, n_classes: int, cfg: ModelConfig):
        super().__init__()
        dim, n_experts, hidden = cfg.width, cfg.n_experts, cfg.expert_hidden
        self.gate = NoisyTopKGate(dim, n_experts, cfg.top_k, cfg.noise_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.w1 = nn.Parameter(torch.empty(n_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.empty(n_experts, hidden))
        self.w2 = nn.Parameter(torch.empty(n_experts, hidden, n_classes))
        self.b2 = nn.Parameter(torch.empty(n_experts, n_classes))
        for w, b, fan_in in ((self.w1, self.b1, dim), (self.w2, self.b2, hidden)):  # nn.Linear's default init
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def experts(self, x: torch.Tensor) -> torch.Tensor:
        """Every expert's logits for every token: [B, D] -> [E, B, C] (independent dropout per expert)."""
        h = self.dropout(x.unsqueeze(0).expand(self.w1.shape[0], -1, -1))  # [E, B, D]
        h = torch.relu(torch.baddbmm(self.b1[:, None, :], h, self.w1))  # [E, B, H]
        return torch.baddbmm(self.b2[:, None, :], h, self.w2)  # [E, B, C]

    def forward(self, x: torch.Tensor) -> MoEOutput:  # x: [B, D]
        g = self.gate(x)
        logits = torch.einsum("be,ebc->bc", g.gates, self.experts(x))  # [B, C], Eq. (10)
        return MoEOutput(logits, g.gates, g.clean_logits, g.load, g.importance)
