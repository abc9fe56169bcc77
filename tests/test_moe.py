"""Noisy top-K gate and MoE head (Eqs. 10, 12) against loops and Monte-Carlo estimates."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ralis.config import ModelConfig
from ralis.model.moe import MoEHead, NoisyTopKGate, balance_loss, cv_squared, importance, smooth_load


def random_gate(dim=6, e=8, k=3, seed=0, noise_scale=1.0):
    torch.manual_seed(seed)
    gate = NoisyTopKGate(dim, e, k, 1e-2)
    with torch.no_grad():
        gate.w_gate.normal_(0, 1.0)
        gate.w_noise.normal_(0, noise_scale)
    return gate


def test_gate_weights_start_at_zero():
    gate = NoisyTopKGate(4, 5, 2, 1e-2)
    assert (gate.w_gate == 0).all() and (gate.w_noise == 0).all()
    with pytest.raises(ValueError, match="top_k"):
        NoisyTopKGate(4, 5, 6, 1e-2)


@pytest.mark.parametrize("training", [True, False])
def test_exactly_k_nonzeros_summing_to_one(training):
    gate = random_gate()
    gate.train(training)
    out = gate(torch.randn(20, 6))
    assert ((out.gates > 0).sum(1) == 3).all()
    torch.testing.assert_close(out.gates.sum(1), torch.ones(20))


def test_eval_has_no_noise_and_keeps_the_softmax_of_the_top_k_clean_logits():
    gate = random_gate().eval()
    x = torch.randn(10, 6)
    a, b = gate(x), gate(x)
    torch.testing.assert_close(a.gates, b.gates)
    clean = x @ gate.w_gate
    for i in range(10):  # loop: keep the 3 largest clean logits, softmax over them only
        top = clean[i].topk(3).indices
        want = torch.zeros(8)
        want[top] = clean[i, top].softmax(0)
        torch.testing.assert_close(a.gates[i], want)
    assert (a.load == (a.gates > 0).sum(0).float()).all()


def test_training_gate_is_noisy():
    gate = random_gate().train()
    x = torch.randn(10, 6)
    assert not torch.equal(gate(x).gates, gate(x).gates)


def test_k_equals_e_is_the_softmax_of_the_clean_logits():
    gate = random_gate(k=8).eval()
    x = torch.randn(7, 6)
    torch.testing.assert_close(gate(x).gates, (x @ gate.w_gate).softmax(1))


def test_smooth_load_matches_monte_carlo_membership():
    """P(x, e) = Pr[e in top-K when only e's noise is resampled, the others' noisy logits fixed]."""
    gate = random_gate(e=6, k=2, noise_scale=0.5)
    x = torch.randn(5, 6)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        clean = x @ gate.w_gate
        std = F.softplus(x @ gate.w_noise) + gate.noise_eps
        noisy = clean + torch.randn(clean.shape, generator=gen) * std
        top_values = noisy.topk(3, dim=1).values
        est = smooth_load(clean, noisy, std, top_values, 2)  # [E]
        samples, mc = 20000, torch.zeros(6)
        for e in range(6):
            h = noisy[None].repeat(samples, 1, 1)  # [S, B, E]
            h[:, :, e] = clean[:, e] + torch.randn(samples, 5, generator=gen) * std[:, e]
            kth = h.topk(2, dim=2).values[:, :, -1]  # [S, B]
            mc[e] = (h[:, :, e] >= kth).float().mean(0).sum()
    torch.testing.assert_close(est, mc, atol=0.05, rtol=0.0)


def test_mean_smooth_load_matches_mean_top_k_count():
    """Averaged over noise draws, the smooth load equals the expected number of tokens routed to each expert."""
    gate = random_gate(e=6, k=2, noise_scale=0.5).train()
    x = torch.randn(16, 6)
    torch.manual_seed(2)
    with torch.no_grad():
        outs = [gate(x) for _ in range(3000)]
    mean_load = torch.stack([o.load for o in outs]).mean(0)
    mean_count = torch.stack([(o.gates > 0).sum(0).float() for o in outs]).mean(0)
    torch.testing.assert_close(mean_load, mean_count, atol=0.25, rtol=0.0)


def test_importance_and_cv_squared_against_loops():
    gates = torch.rand(9, 5)
    imp = importance(gates)
    torch.testing.assert_close(imp, torch.tensor([sum(gates[i, e].item() for i in range(9)) for e in range(5)]))
    vals = [float(v) for v in imp]
    mean = sum(vals) / 5
    var = sum((v - mean) ** 2 for v in vals) / 4
    torch.testing.assert_close(cv_squared(imp), torch.tensor(var / (mean ** 2 + 1e-10)))
    assert cv_squared(torch.ones(7)) == 0 and cv_squared(torch.tensor([3.0])) == 0
    load = torch.rand(5)
    torch.testing.assert_close(balance_loss(imp, load), cv_squared(imp) + cv_squared(load))


def test_balance_loss_trains_the_gate_and_the_noise_network():
    gate = NoisyTopKGate(6, 8, 3, 1e-2).train()
    torch.manual_seed(0)
    out = gate(torch.randn(32, 6))
    balance_loss(out.importance, out.load).backward()
    assert gate.w_gate.grad.abs().sum() > 0 and gate.w_noise.grad.abs().sum() > 0


def test_moe_head_is_the_gate_weighted_sum_of_experts():
    torch.manual_seed(0)
    head = MoEHead(4, ModelConfig(width=6, n_experts=5, top_k=2, expert_hidden=7, dropout=0.5)).eval()
    with torch.no_grad():
        head.gate.w_gate.normal_()
    x = torch.randn(3, 6)
    out = head(x)
    want = torch.zeros(3, 4)
    for e in range(5):  # loop over experts: Linear -> ReLU -> Linear with expert e's weights
        h = torch.relu(x @ head.w1[e] + head.b1[e])
        want += out.gates[:, e:e + 1] * (h @ head.w2[e] + head.b2[e])
    torch.testing.assert_close(out.logits, want)
    assert out.gates.shape == (3, 5) and out.load.shape == (5,) and out.importance.shape == (5,)
