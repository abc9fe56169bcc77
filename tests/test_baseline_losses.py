"""Every vectorised baseline loss / gate against a slow, obviously-correct Python loop (double precision)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from ralis.baselines.cmc import core_view_loss
from ralis.baselines.cocoa import cocoa_loss_a, cocoa_loss_b
from ralis.baselines.common import masked_mean, random_view_subset
from ralis.baselines.confu import PairFusion, all_triplets, fused_third_loss, sample_triplets
from ralis.baselines.flexmoe import combination_lookup, combinations_order, expert_of_combination
from ralis.baselines.routing import RouterLogits, noisy_top_k, routing_balance
from ralis.baselines.shaspec import ring_pairs, shared_l1_loss, specific_domain_loss
from ralis.model.contrastive import pair_loss

V, N, D, TAU = 4, 9, 5, 0.1


def _data(seed: int = 0, p: float = 0.6):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(V, N, D, generator=g, dtype=torch.float64)
    present = torch.rand(N, V, generator=g) < p
    present[~present.any(1), 0] = True
    present[0] = True  # one complete sample
    present[1] = False
    present[1, 2] = True  # one single-view sample
    return z, present


def _cos(a, b):
    return float(F.cosine_similarity(a, b, dim=0))


def _views(present, i):
    return [v for v in range(present.shape[1]) if present[i, v]]


def _cocoa_a_loop(z, present, tau):
    losses = []
    for i in range(z.shape[1]):
        s = _views(present, i)
        if len(s) < 2:
            continue
        pos = sum(math.exp(_cos(z[a, i], z[b, i]) / tau) for a in s for b in s if a != b)
        neg = 0.0
        for v in s:
            js = [j for j in range(z.shape[1]) if j != i and present[j, v]]
            if js:
                neg += sum(math.exp(_cos(z[v, i], z[v, j]) / tau) for j in js) / len(js)
        losses.append(-math.log(pos / (pos + neg)))
    return sum(losses) / max(len(losses), 1)


def _cocoa_b_loop(z, present, tau, scale, lam):
    pos_total, neg_total = 0.0, 0.0
    for i in range(z.shape[1]):
        s = _views(present, i)
        if len(s) >= 2:
            pos_total += sum(math.exp((1 - _cos(z[a, i], z[b, i])) / tau) for a in s for b in s) / len(s) ** 2
        for v in s:
            js = [j for j in range(z.shape[1]) if j != i and present[j, v]]
            if js:
                neg_total += sum(math.exp(_cos(z[v, i], z[v, j]) / tau) for j in js) / len(js)
    return scale * pos_total + lam * neg_total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cocoa_a_matches_loop(seed):
    z, present = _data(seed)
    assert cocoa_loss_a(z, present, TAU).item() == pytest.approx(_cocoa_a_loop(z, present, TAU), rel=1e-9)


def test_cocoa_a_complete_data_is_the_unmasked_formula():
    """With every view present: BCE(P / (P + N), 1) averaged over the batch (VSF CocoaLoss form)."""
    z, _ = _data(3)
    present = torch.ones(N, V, dtype=torch.bool)
    e = F.normalize(z, dim=-1)
    pos = (torch.einsum("and,bnd->nab", e, e) / TAU).exp() * (1 - torch.eye(V, dtype=z.dtype))
    neg = ((e @ e.transpose(1, 2)) / TAU).exp() * (1 - torch.eye(N, dtype=z.dtype))  # [V, N, N]
    p_i = pos.sum((1, 2))
    n_i = (neg.sum(2) / (N - 1)).sum(0)
    ref = F.binary_cross_entropy(p_i / (p_i + n_i), torch.ones(N, dtype=z.dtype))
    assert cocoa_loss_a(z, present, TAU).item() == pytest.approx(ref.item(), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_cocoa_b_matches_loop(seed):
    z, present = _data(seed)
    got = cocoa_loss_b(z, present, TAU, scale=1 / 32, lam=3.9e-3).item()
    assert got == pytest.approx(_cocoa_b_loop(z, present, TAU, 1 / 32, 3.9e-3), rel=1e-9)


def test_cocoa_single_view_batch_is_zero_and_finite():
    z, _ = _data(4)
    present = torch.zeros(N, V, dtype=torch.bool)
    present[torch.arange(N), torch.arange(N) % V] = True
    z.requires_grad_(True)
    loss = cocoa_loss_a(z, present, TAU)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("core", [0, 2])
def test_cmc_core_view_matches_loop(core):
    z, present = _data(5)
    ref = []
    for j in range(V):
        idx = (present[:, core] & present[:, j]).nonzero().flatten()
        if j != core and len(idx) >= 2:
            ref.append(pair_loss(z[core, idx], z[j, idx], TAU, "sum").mean().item())
    got = core_view_loss(z, present, core, TAU, "sum").item()
    assert got == pytest.approx(sum(ref) / len(ref), rel=1e-9)


def test_cmc_core_view_detach_stops_gradient_into_other_views():
    z, present = _data(6)
    z.requires_grad_(True)
    core_view_loss(z, present, 1, TAU, "sum", detach_others=True).backward()
    assert z.grad[1].abs().sum() > 0
    assert z.grad[[0, 2, 3]].abs().sum() == 0


def test_ring_pairs_and_shared_l1_match_loop():
    z, present = _data(7)
    first, second, valid = ring_pairs(present)
    per = []
    for i in range(N):
        s = _views(present, i)
        ring = [(s[k], s[k + 1]) for k in range(len(s) - 1)] + ([(s[-1], s[0])] if len(s) > 2 else [])
        got = [(int(first[i, k]), int(second[i, k])) for k in range(V) if valid[i, k]]
        assert got == ring
        if len(s) >= 2:
            per.append(sum((z[a, i] - z[b, i]).abs().mean().item() for a, b in ring))
    assert shared_l1_loss(z, present).item() == pytest.approx(sum(per) / len(per), rel=1e-9)


def test_shared_l1_complete_data_is_the_official_ring_sum():
    """All views present: sum over (0,1), (1,2), ..., (V-1,0) of the element-mean L1 (SHA:train_SS.py)."""
    z, _ = _data(8)
    present = torch.ones(N, V, dtype=torch.bool)
    ref = sum(F.l1_loss(z[a], z[(a + 1) % V]) for a in range(V))
    assert shared_l1_loss(z, present).item() == pytest.approx(ref.item(), rel=1e-9)


def test_specific_domain_loss_matches_loop():
    g = torch.Generator().manual_seed(9)
    logits = torch.randn(V, N, V, generator=g, dtype=torch.float64)
    _, present = _data(9)
    terms = [-F.log_softmax(logits[v, i], 0)[v].item() for i in range(N) for v in range(V) if present[i, v]]
    assert specific_domain_loss(logits, present).item() == pytest.approx(sum(terms) / len(terms), rel=1e-9)


def test_confu_triplets_and_fused_term_match_loop():
    torch.manual_seed(0)
    z, present = _data(10, p=0.8)
    fusion = PairFusion(V, D, dropout=0.1).double().eval()
    tri = all_triplets(V)
    assert len(tri) == math.comb(V, 2) * (V - 2)
    assert all(a < b and c not in (a, b) for a, b, c in tri.tolist())
    chosen = sample_triplets(present, 3, torch.Generator().manual_seed(1))
    assert len(chosen) == len({tuple(t) for t in chosen.tolist()}) <= 3
    ref = []
    for a, b, c in chosen.tolist():
        idx = (present[:, a] & present[:, b] & present[:, c]).nonzero().flatten()
        assert len(idx) >= 2
        ta, tb = torch.tensor([a]), torch.tensor([b])
        f = fusion(z[a, idx][None], z[b, idx][None], ta, tb)[0]
        ref.append(pair_loss(f, z[c, idx], TAU, "sum").mean().item())
    got = fused_third_loss(z, present, chosen, fusion, TAU, "sum").item()
    assert got == pytest.approx(sum(ref) / len(ref), rel=1e-9)


def test_confu_sampling_skips_triplets_without_two_samples():
    present = torch.zeros(5, V, dtype=torch.bool)
    present[:, :2] = True
    present[0, 2] = True  # views (0, 1, 2) together in one sample only
    assert len(sample_triplets(present, 10)) == 0


def test_flexmoe_combination_indices_follow_the_official_order():
    order = combinations_order(V)
    assert len(order) == 2 ** V - 1 and order[0] == tuple(range(V))
    assert [len(c) for c in order] == sorted((len(c) for c in order), reverse=True)
    assert order[-V:] == [(v,) for v in range(V)]
    lut = combination_lookup(V)
    for code in range(1, 2 ** V):
        combo = tuple(v for v in range(V) if code >> v & 1)
        assert order[int(lut[code])] == combo
    assert int(lut[0]) == -1


@pytest.mark.parametrize("n_experts", [4, 16])
def test_flexmoe_s_router_target_mapping(n_experts):
    c = torch.arange(2 ** V - 1)
    got = expert_of_combination(c, n_experts).tolist()
    ref = [0 if k == 0 else 1 + (k - 1) % (n_experts - 1) for k in range(2 ** V - 1)]
    assert got == ref
    if 2 ** V - 1 <= n_experts:
        assert got == c.tolist()  # one expert per combination, as in the official code
    assert min(got[1:]) >= 1  # non-full combinations never target the full-modality expert 0


def test_noisy_top_k_eval_is_softmax_over_the_k_largest():
    g = torch.Generator().manual_seed(11)
    clean = torch.randn(7, 6, generator=g, dtype=torch.float64)
    r = noisy_top_k(clean, torch.ones_like(clean), 2, training=False)
    for b in range(7):
        top = sorted(range(6), key=lambda e: -clean[b, e].item())[:2]
        w = torch.softmax(clean[b, top], 0)
        ref = torch.zeros(6, dtype=torch.float64)
        ref[top] = w
        assert torch.allclose(r.gates[b], ref)
    assert torch.equal(r.noisy, clean) and r.std is None


def test_laplace_router_picks_the_k_nearest_keys():
    g = torch.Generator().manual_seed(12)
    router = RouterLogits(D, 6, "laplace", noise_eps=1e-2).double()
    with torch.no_grad():
        router.w_gate.copy_(torch.randn(D, 6, generator=g, dtype=torch.float64))
    x = torch.randn(8, D, generator=g, dtype=torch.float64)
    clean, std = router(x)
    r = noisy_top_k(clean, std, 3, training=False)
    for b in range(8):
        dist = [torch.linalg.vector_norm(x[b] - router.w_gate[:, e]).item() for e in range(6)]
        nearest = sorted(range(6), key=lambda e: dist[e])[:3]
        assert set(r.gates[b].nonzero().flatten().tolist()) == set(nearest)
        assert clean[b].tolist() == pytest.approx([-d for d in dist], rel=1e-9)
        w = torch.softmax(torch.tensor([-dist[e] for e in nearest], dtype=torch.float64), 0)  # exp(l - logsumexp)
        assert r.gates[b, nearest].tolist() == pytest.approx(w.tolist(), rel=1e-9)


def test_group_balance_matches_loop_and_restricts_experts():
    g = torch.Generator().manual_seed(13)
    clean = torch.randn(10, 5, generator=g, dtype=torch.float64)
    r = noisy_top_k(clean, torch.ones_like(clean), 2, training=False)
    rows = torch.tensor([True, False] * 5)

    def cv2(x):
        m = sum(x) / len(x)
        var = sum((xi - m) ** 2 for xi in x) / (len(x) - 1)
        return var / (m * m + 1e-10)

    imp = [sum(r.gates[b, e].item() for b in range(10) if rows[b]) for e in range(1, 5)]
    load = [sum(float(r.gates[b, e] > 0) for b in range(10) if rows[b]) for e in range(1, 5)]
    got = routing_balance(r, rows, slice(1, None)).item()
    assert got == pytest.approx(cv2(imp) + cv2(load), rel=1e-6)
    assert routing_balance(r, torch.zeros(10, dtype=torch.bool)).item() == 0.0


def test_random_view_subset_keeps_a_nonempty_subset_of_present_views():
    _, present = _data(14)
    counts = torch.zeros(N)
    for s in range(50):
        kept = random_view_subset(present, torch.Generator().manual_seed(s))
        assert not (kept & ~present).any() and kept.any(1).all()
        counts += kept.sum(1)
    multi = present.sum(1) >= 2
    assert (counts[multi] < 50 * present.sum(1)[multi]).all()  # views are actually dropped sometimes


def test_masked_mean_ignores_missing_values():
    z, present = _data(15)
    junk = torch.where(present.T[..., None], z, torch.full_like(z, 1e6))
    ref = torch.stack([z[_views(present, i), i].mean(0) for i in range(N)])
    assert torch.allclose(masked_mean(junk, present), ref)


def test_all_combinations_of_views_enumerated_once():
    assert sorted(combinations_order(3)) == sorted(c for r in (1, 2, 3) for c in itertools.combinations(range(3), r))
