"""Multiview contrastive losses: the pair loss (Eqs. 4-5), the adjusted-center loss (Eq. 6, Listing 1)
and the full-graph loss ("+full graph", CMC-FG), each masked for missing views.

Dimension legend: V views, N samples in the contrastive batch, D embedding width, P = V(V-1)/2 view pairs.
Embeddings are z [V, N, D] (view first) with the presence mask `present` [N, V]; attention weights are
w [V, N] (Listing 1's layout, 0 where a view is missing, each column sums to 1 over the present views).

Every loss has a batched form (one Gram tensor for all views or pairs; used for training) and a looped,
paper-faithful form (a Python loop over views as in Listing 1, or over pairs as in VSF's full graph; used
for the complexity analysis, methods.md §4). Both give the same values.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ralis.config import REDUCTIONS

__all__ = [
    "pair_loss", "masked_pair_loss", "ACLoss", "adjusted_center_loss", "adjusted_center_loss_looped",
    "FullGraphLoss", "full_graph_loss", "full_graph_loss_looped", "view_pairs", "loss_macs", "leave_one_out",
]



class ACLoss(NamedTuple):
    """Adjusted-center loss: `loss` (scalar), `per_sample` [N] (0 where invalid), `valid` [N] (n_i >= 2)."""

    loss: torch.Tensor
    per_sample: torch.Tensor
    valid: torch.Tensor


class FullGraphLoss(NamedTuple):
    """Full-graph loss: `loss` (scalar), `pair_losses` [P] (batch mean per pair), `pair_valid` [P], `pairs` [P, 2]."""

    loss: torch.Tensor
    pair_losses: torch.Tensor
    pair_valid: torch.Tensor
    pairs: torch.Tensor


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"pair_reduction must be one of {REDUCTIONS} (params.yaml loss.pair_reduction), "
                         f"got {reduction!r}")


def _check_multiview(z: torch.Tensor, present: torch.Tensor) -> None:
    if z.dim() != 3:
        raise ValueError(f"z must have shape [V, N, D], got {tuple(z.shape)}")
    if present.dtype != torch.bool or tuple(present.shape) != (z.shape[1], z.shape[0]):
        raise ValueError(f"present must be bool [N={z.shape[1]}, V={z.shape[0]}], got {present.dtype} "
                         f"{tuple(present.shape)}")


def masked_pair_loss(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, tau: float,
                     reduction: str) -> torch.Tensor:
    """Batched per-sample pair loss, Eqs. (4)-(5), over the rows where `mask` holds.

    a, b: [B, N, D] (B independent problems, e.g. views or view pairs); mask: [B, N] bool.
    Rows outside the mask are neither anchors nor negatives and get loss 0; their values never enter (they are
    zeroed first, so a NaN in a missing slot gives no NaN gradient). Returns [B, N].
    """
    _check_reduction(reduction)
    if a.shape != b.shape or a.dim() != 3 or tuple(mask.shape) != tuple(a.shape[:2]):
        raise ValueError(f"expected a, b [B, N, D] and mask [B, N], got {tuple(a.shape)}, {tuple(b.shape)}, "
                         f"{tuple(mask.shape)}")
    n = a.shape[1]
    keep = mask[..., None]  # [B, N, 1]
    a, b = torch.where(keep, a, torch.zeros_like(a)), torch.where(keep, b, torch.zeros_like(b))
    x = F.normalize(torch.cat([a, b], dim=1), dim=-1)  # [B, 2N, D]: cosine similarity, Eq. (5)
    logits = x @ x.transpose(1, 2) / tau  # [B, 2N, 2N]
    col_ok = torch.cat([mask, mask], dim=1)[:, None, :]  # [B, 1, 2N]
    not_self = ~torch.eye(2 * n, dtype=torch.bool, device=a.device)  # only g(a_i, a_i) is excluded (A2)
    logits = logits.masked_fill(~(col_ok & not_self), torch.finfo(logits.dtype).min)  # finite: no NaN rows
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(a.device)  # row i <-> row N+i
    log_p = logits.gather(2, pos.view(1, 2 * n, 1).expand(a.shape[0], -1, -1)).squeeze(2)  # [B, 2N]
    nll = -(log_p - logits.logsumexp(dim=2))  # [B, 2N]: -log softmax at the positive
    per = nll[:, :n] + nll[:, n:]  # [B, N]: l^(a,b) + l^(b,a), Eq. (4)
    if reduction == "mean":
        per = per / 2  # VSF infonce_loss averages the 2N rows (A3b)
    return torch.where(mask, per, torch.zeros_like(per))


def pair_loss(a: torch.Tensor, b: torch.Tensor, tau: float, reduction: str) -> torch.Tensor:
    """Per-sample pair loss L_pair,i(a, b), Eqs. (4)-(5), on complete rows: a, b [N, D] -> [N].

    The plain NT-Xent form: 2N rows, cosine Gram, diagonal dropped, cross-entropy with the partner row as target
    (2N-1 denominator terms: the positive, N-1 same-view and N-1 cross-view negatives).
    """
    _check_reduction(reduction)
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"pair_loss expects a, b of equal shape [N, D], got {tuple(a.shape)}, {tuple(b.shape)}")
    n = a.shape[0]
    x = F.normalize(torch.cat([a, b]), dim=-1)  # [2N, D]
    logits = (x @ x.T / tau).fill_diagonal_(float("-inf"))  # [2N, 2N]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(a.device)
    nll = F.cross_entropy(logits, target, reduction="none")  # [2N]
    per = nll[:n] + nll[n:]  # [N]
    return per / 2 if reduction == "mean" else per


def _weights_or_uniform(present: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Stop-gradient weights [V, N], 0 where missing; None means 1/n_i over the present views."""
    m = present.T  # [V, N]
    if weights is None:
        return m.float() / m.sum(0, keepdim=True).clamp_min(1)
    if tuple(weights.shape) != tuple(m.shape):
        raise ValueError(f"weights must have shape [V, N]={tuple(m.shape)}, got {tuple(weights.shape)}")
    return torch.where(m, weights.detach(), torch.zeros_like(weights))


def leave_one_out(wz: torch.Tensor) -> torch.Tensor:
    """Leave-one-out sums c^a = sum_{v != a} wz^v for every view a: [V, N, D] -> [V, N, D] (P§4.1.2).

    Built from exclusive prefix and suffix sums (O(V), like "fuse once, subtract each view") so that a view with
    weight near 1 is never added and subtracted again: that cancels in float32 (w >= 1 - 1e-6 gave a centre with
    ~20% relative error).
    """
    zero = torch.zeros_like(wz[:1])  # [1, N, D]
    before = torch.cat([zero, wz[:-1].cumsum(0)])  # [V, N, D]: sum_{v < a}
    after = torch.cat([wz[1:].flip(0).cumsum(0).flip(0), zero])  # [V, N, D]: sum_{v > a}
    return before + after


def adjusted_center_loss(z: torch.Tensor, present: torch.Tensor, weights: torch.Tensor | None,
                         tau: float, reduction: str) -> ACLoss:
    """Adjusted-center contrastive loss, Eq. (6), batched over views (one [V, 2N, 2N] Gram), masked (A6, A7).

    L_i = 1/(n_i - 1) sum_{a in S_i} sg(1 - w_i^a) L_pair,i(z^a, sg(sum_{v != a} w^v z^v)), averaged over the
    samples with n_i >= 2. For view a, the anchors and negatives are the samples that have view a and >= 2 views.
    """
    _check_multiview(z, present)
    m = present.T  # [V, N]
    z = torch.where(m[..., None], z, torch.zeros_like(z))  # missing values never enter
    w = _weights_or_uniform(present, weights)  # [V, N], stop-gradient
    wz = (z * w[..., None]).detach()  # [V, N, D]
    centers = leave_one_out(wz)  # [V, N, D]: the fused embedding without view a (P§4.1.2)
    n_views = m.sum(0)  # [N]
    valid = n_views >= 2  # single-view samples have no center (A6)
    anchor = m & valid[None, :]  # [V, N]
    per_view = masked_pair_loss(z, centers, anchor, tau, reduction)  # [V, N]
    per_sample = ((1 - w) * per_view).sum(0) / (n_views - 1).clamp_min(1)  # [N], Eq. (7) per sample (A7)
    loss = per_sample.sum() / valid.sum().clamp_min(1)
    return ACLoss(loss, per_sample, valid)


def adjusted_center_loss_looped(z: torch.Tensor, present: torch.Tensor, weights: torch.Tensor | None,
                                tau: float, reduction: str) -> ACLoss:
    """Adjusted-center loss, Eq. (6), written as Listing 1: one pair loss per view in a Python loop."""
    _check_multiview(z, present)
    m = present.T  # [V, N]
    w = _weights_or_uniform(present, weights)  # [V, N]
    wz = torch.where(m[..., None], z * w[..., None], torch.zeros_like(z)).detach()  # [V, N, D]
    centers = leave_one_out(wz)  # [V, N, D], computed once
    n_views = m.sum(0)
    valid = n_views >= 2
    per_sample = torch.zeros(z.shape[1], dtype=z.dtype, device=z.device)
    for a in range(z.shape[0]):
        idx = (m[a] & valid).nonzero().flatten()
        if len(idx) < 2:  # NT-Xent needs >= 1 negative (a single row gives loss 0 anyway)
            continue
        c = centers[a, idx]  # [n_a, D], leave-one-out center
        per_sample = per_sample.index_add(0, idx, (1 - w[a, idx]) * pair_loss(z[a, idx], c, tau, reduction))
    per_sample = per_sample / (n_views - 1).clamp_min(1)
    return ACLoss(per_sample.sum() / valid.sum().clamp_min(1), per_sample, valid)


def view_pairs(n_views: int, device: torch.device | str | None = None) -> torch.Tensor:
    """All unordered view pairs (a < b) as a long tensor [P, 2]."""
    return torch.triu_indices(n_views, n_views, offset=1, device=device).T


def full_graph_loss(z: torch.Tensor, present: torch.Tensor, tau: float, reduction: str) -> FullGraphLoss:
    """Full-graph loss (1/#pairs) sum_{a<b} mean_i L_pair,i(z^a, z^b), batched over pairs ([P, 2N, 2N]).

    Pair (a, b) uses the samples having both views; pairs with < 2 such samples are skipped (methods.md §2.1).
    """
    _check_multiview(z, present)
    pairs = view_pairs(z.shape[0], z.device)  # [P, 2]
    both = present[:, pairs[:, 0]] & present[:, pairs[:, 1]]  # [N, P]
    per = masked_pair_loss(z[pairs[:, 0]], z[pairs[:, 1]], both.T, tau, reduction)  # [P, N]
    count = both.sum(0)  # [P]
    pair_valid = count >= 2
    pair_losses = torch.where(pair_valid, per.sum(1) / count.clamp_min(1), torch.zeros_like(per[:, 0]))  # [P]
    loss = pair_losses.sum() / pair_valid.sum().clamp_min(1)
    return FullGraphLoss(loss, pair_losses, pair_valid, pairs)


def full_graph_loss_looped(z: torch.Tensor, present: torch.Tensor, tau: float,
                           reduction: str) -> FullGraphLoss:
    """Full-graph loss as VSF computes it: a Python loop over the V(V-1)/2 view pairs."""
    _check_multiview(z, present)
    pairs = view_pairs(z.shape[0], z.device)
    losses, ok = [], []
    for a, b in pairs.tolist():
        idx = (present[:, a] & present[:, b]).nonzero().flatten()
        ok.append(len(idx) >= 2)
        losses.append(pair_loss(z[a, idx], z[b, idx], tau, reduction).mean() if ok[-1] else z.new_zeros(()))
    pair_losses = torch.stack(losses) if losses else z.new_zeros(0)
    pair_valid = torch.tensor(ok, dtype=torch.bool, device=z.device)
    return FullGraphLoss(pair_losses.sum() / pair_valid.sum().clamp_min(1), pair_losses, pair_valid, pairs)


def loss_macs(kind: str, n_views: int, batch: int, dim: int) -> int:
    """Dominant multiply-accumulates of one loss forward (methods.md §4): V views, N samples, C = dim.

    full_graph: V(V-1)/2 Grams of (2N)x(2N) -> 2V(V-1)N^2C;  adjusted_center: V Grams plus the weighted sum
    and V leave-one-out centers -> 4VN^2C + 2VNC;  cocoa: N per-sample VxV Grams + V per-view NxN Grams.
    """
    v, n, c = n_views, batch, dim
    if kind == "full_graph":
        return 2 * v * (v - 1) * n * n * c
    if kind == "adjusted_center":
        return 4 * v * n * n * c + 2 * v * n * c
    if kind == "cocoa":
        return n * v * v * c + v * n * n * c
    raise ValueError(f"unknown loss kind {kind!r}; choose full_graph, adjusted_center or cocoa")
