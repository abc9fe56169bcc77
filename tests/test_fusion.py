"""Attention fusion, Eqs. (8)-(9): masked softmax, MagNorm, view-permutation invariance, switches."""

from __future__ import annotations

import math

import torch

from ralis.config import AblationConfig, ModelConfig
from ralis.model.fusion import AttentionFusion, masked_softmax, mean_weights
from ralis.model.magnorm import magnorm

V, N, D = 4, 7, 6


def make(seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = magnorm(torch.randn(V, N, D, generator=gen))
    present = torch.rand(N, V, generator=gen) < 0.6
    present[0] = torch.tensor([False, False, True, False])  # single view
    present[1] = True
    present[~present.any(1), 3] = True
    z = torch.where(present.T[..., None], z, torch.zeros_like(z))
    torch.manual_seed(seed)
    return z, present, AttentionFusion(ModelConfig(width=D, att_hidden=5), AblationConfig())


def test_masked_softmax_is_the_softmax_over_present_views():
    z, present, fusion = make()
    scores = torch.randn(V, N)
    w = masked_softmax(scores, present)
    for i in range(N):
        idx = present[i].nonzero().flatten()
        want = torch.zeros(V)
        want[idx] = scores[idx, i].softmax(0)
        torch.testing.assert_close(w[:, i], want)


def test_fused_is_magnorm_of_weighted_sum_and_single_view_passes_through():
    z, present, fusion = make()
    out = fusion(z, present)
    for i in range(N):
        s = sum(out.weights[v, i] * z[v, i] for v in range(V) if present[i, v])
        torch.testing.assert_close(out.fused[i], s / s.norm() * math.sqrt(D))
    assert torch.allclose(out.weights[:, 0], torch.tensor([0.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(out.fused[0], z[2, 0])


def test_view_permutation_invariance():
    z, present, fusion = make()
    perm = torch.tensor([2, 0, 3, 1])
    a, b = fusion(z, present), fusion(z[perm], present[:, perm])
    torch.testing.assert_close(a.fused, b.fused)
    torch.testing.assert_close(a.weights[perm], b.weights)


def test_missing_views_never_leak():
    z, present, fusion = make()
    noisy = z.clone()
    noisy[~present.T] = float("nan")
    torch.testing.assert_close(fusion(noisy, present).fused, fusion(z, present).fused)
    noisy[~present.T] = 1e3
    torch.testing.assert_close(fusion(noisy, present).fused, fusion(z, present).fused)


def test_minus_attention_is_the_mean():
    z, present, _ = make()
    out = AttentionFusion(ModelConfig(width=D), AblationConfig(attention=False))(z, present)
    torch.testing.assert_close(out.weights, mean_weights(present))
    torch.testing.assert_close(out.weights.sum(0), torch.ones(N))


def test_minus_magnorm_leaves_the_weighted_sum():
    z, present, _ = make()
    torch.manual_seed(0)
    fusion = AttentionFusion(ModelConfig(width=D, att_hidden=5), AblationConfig(magnorm=False))
    out = fusion(z, present)
    torch.testing.assert_close(out.fused, (out.weights[..., None] * z).sum(0))
    assert not torch.allclose(out.fused.norm(dim=1), torch.full((N,), math.sqrt(D)))


def test_stop_grad_blocks_attention_gradients_into_z():
    z, present, _ = make()
    for stop_grad in (True, False):
        torch.manual_seed(0)
        fusion = AttentionFusion(ModelConfig(width=D, att_hidden=5), AblationConfig(stop_grad=stop_grad))
        zz = z.clone().requires_grad_(True)
        w = fusion.view_weights(zz, present)
        (w * torch.randn_like(w)).sum().backward()
        assert (zz.grad is None or (zz.grad == 0).all()) == stop_grad
        assert fusion.mlp[0].weight.grad.abs().sum() > 0
