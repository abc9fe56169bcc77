"""Contrastive losses (Eqs. 4-6, full graph) against slow term-by-term references written from the equations."""

from __future__ import annotations

import itertools

import pytest
import torch

from ralis.model.contrastive import (
    adjusted_center_loss,
    adjusted_center_loss_looped,
    full_graph_loss,
    full_graph_loss_looped,
    loss_macs,
    masked_pair_loss,
    pair_loss,
)

TAU = 0.1


# ---- slow references: one scalar op per term of Eqs. (4)-(6) --------------------------------------------------

def g(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Eq. (5): exp(cos(p, q) / tau)."""
    return torch.exp((p @ q) / (p.norm() * q.norm()) / TAU)


def ell(a: list, b: list, i: int) -> torch.Tensor:
    """Eq. (4), one direction: the denominator sums over j and v in {a, b} unless (j == i and v == a)."""
    den = 0.0
    for j in range(len(a)):
        for name, v in (("a", a), ("b", b)):
            if j != i or name != "a":
                den = den + g(a[i], v[j])
    return -torch.log(g(a[i], b[i]) / den)


def ref_pair(a: list, b: list, i: int, reduction: str = "sum") -> torch.Tensor:
    out = ell(a, b, i) + ell(b, a, i)
    return out / 2 if reduction == "mean" else out


def ref_ac(z, present, w, reduction="sum"):
    """Eq. (6) per sample with missing views: 1/(n_i-1) sum_a sg(1-w_ia) L_pair,i(z^a, sg(center^a))."""
    v_count, n, _ = z.shape
    nv = [int(present[i].sum()) for i in range(n)]
    total, n_valid = 0.0, 0
    for i in range(n):
        if nv[i] < 2:
            continue
        s_i = 0.0
        for a in range(v_count):
            if not present[i, a]:
                continue
            rows = [j for j in range(n) if present[j, a] and nv[j] >= 2]
            anchors = [z[a, j] for j in rows]
            centers = [sum(w[v, j].detach() * z[v, j].detach() for v in range(v_count) if v != a and present[j, v])
                       for j in rows]
            s_i = s_i + (1 - w[a, i].detach()) * ref_pair(anchors, centers, rows.index(i), reduction)
        total = total + s_i / (nv[i] - 1)
        n_valid += 1
    return total / max(n_valid, 1)


def ref_full_graph(z, present, reduction="sum"):
    losses = []
    for a, b in itertools.combinations(range(z.shape[0]), 2):
        rows = [j for j in range(z.shape[1]) if present[j, a] and present[j, b]]
        if len(rows) < 2:
            continue
        za, zb = [z[a, j] for j in rows], [z[b, j] for j in rows]
        losses.append(sum(ref_pair(za, zb, k, reduction) for k in range(len(rows))) / len(rows))
    return sum(losses) / len(losses)


# ---- fixtures -------------------------------------------------------------------------------------------------

def make(v=4, n=6, d=5, missing=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(v, n, d, generator=gen, dtype=torch.float64)
    present = torch.ones(n, v, dtype=torch.bool)
    if missing:
        present = torch.rand(n, v, generator=gen) < 0.6
        present[0] = False
        present[0, 1] = True  # a single-view sample
        present[1] = True  # a complete sample
        present[~present.any(1), 0] = True
    scores = torch.randn(v, n, generator=gen, dtype=torch.float64)
    w = scores.masked_fill(~present.T, float("-inf")).softmax(0)  # [V, N], attention-like
    return z, present, w


# ---- pair loss ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_pair_loss_matches_eq4_term_by_term(reduction):
    z, _, _ = make(v=2, n=5)
    got = pair_loss(z[0], z[1], TAU, reduction)
    want = torch.stack([ref_pair(list(z[0]), list(z[1]), i, reduction) for i in range(5)])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_masked_pair_loss_equals_pair_loss_on_the_kept_rows():
    z, _, _ = make(v=2, n=7)
    mask = torch.tensor([True, False, True, True, False, True, True])
    z_bad = z.clone()
    z_bad[:, ~mask] = float("nan")  # masked rows must not leak
    got = masked_pair_loss(z_bad[0][None], z_bad[1][None], mask[None], TAU, "sum")[0]
    want = pair_loss(z[0, mask], z[1, mask], TAU, "sum")
    torch.testing.assert_close(got[mask], want)
    assert (got[~mask] == 0).all()


def test_bad_reduction_is_rejected():
    z, _, _ = make(v=2, n=3)
    with pytest.raises(ValueError, match="pair_reduction"):
        pair_loss(z[0], z[1], TAU, "avg")


# ---- adjusted-center loss ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_adjusted_center_matches_reference_values_and_gradients(missing, reduction):
    z, present, w = make(missing=missing)
    w = w.clone().requires_grad_(True)
    results = {}
    for name, fn in (("batched", adjusted_center_loss), ("looped", adjusted_center_loss_looped),
                     ("reference", lambda z_, p_, w_, _tau, red: (ref_ac(z_, p_, w_, red),))):
        zz = z.clone().requires_grad_(True)
        loss = fn(zz, present, w, TAU, reduction)[0]
        loss.backward()
        results[name] = (loss.detach(), zz.grad)
    assert w.grad is None  # sg(1 - w) and the center: no gradient reaches the weights
    for name in ("batched", "looped"):
        torch.testing.assert_close(results[name][0], results["reference"][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(results[name][1], results["reference"][1], atol=1e-5, rtol=1e-5)


def test_adjusted_center_uniform_weights_by_default():
    z, present, _ = make()
    uniform = present.T.double() / present.sum(1).double()
    torch.testing.assert_close(adjusted_center_loss(z, present, None, TAU, "sum").loss,
                               adjusted_center_loss(z, present, uniform, TAU, "sum").loss)


def test_adjusted_center_is_view_permutation_invariant():
    z, present, w = make(v=5, n=8)
    base = adjusted_center_loss(z, present, w, TAU, "sum")
    perm = torch.tensor([3, 0, 4, 2, 1])
    out = adjusted_center_loss(z[perm], present[:, perm], w[perm], TAU, "sum")
    torch.testing.assert_close(out.loss, base.loss)
    torch.testing.assert_close(out.per_sample, base.per_sample)
    fg = full_graph_loss(z, present, TAU, "sum").loss
    torch.testing.assert_close(full_graph_loss(z[perm], present[:, perm], TAU, "sum").loss, fg)


def test_two_views_reduce_to_the_pair_loss():
    """V=2: the center of the other view is w_b z_b (cosine drops the scale), n-1 = 1 and the factors
    (1-w_a) + (1-w_b) sum to 1, so L_AC = mean_i L_pair,i(z_a, z_b) for any weights. The gradient differs:
    each anchor sees a stop-gradient partner, so dL_AC/dz_a = d/dz_a mean_i (1 - w_a,i) L_pair,i(z_a, sg(z_b))."""
    z, present, w = make(v=2, n=6, missing=False)
    zz = z.clone().requires_grad_(True)
    ac = adjusted_center_loss(zz, present, w, TAU, "sum").loss
    ac.backward()
    torch.testing.assert_close(ac.detach(), pair_loss(z[0], z[1], TAU, "sum").mean())
    za = z[0].clone().requires_grad_(True)
    ((1 - w[0]) * pair_loss(za, z[1], TAU, "sum")).mean().backward()
    torch.testing.assert_close(zz.grad[0], za.grad)


def test_single_view_samples_contribute_zero_without_nan():
    z, present, w = make()
    z = z.clone()
    z[~present.T] = float("nan")  # whatever a missing view holds never enters
    zz = z.clone().requires_grad_(True)
    out = adjusted_center_loss(zz, present, w.nan_to_num(0.0), TAU, "sum")
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.isfinite(zz.grad).all()
    single = present.sum(1) == 1
    assert single.any() and (out.per_sample[single] == 0).all() and not out.valid[single].any()
    assert (zz.grad[~present.T] == 0).all()
    only_single = torch.zeros_like(present)
    only_single[:, 0] = True
    zs = z.nan_to_num(1.0).requires_grad_(True)
    lone = adjusted_center_loss(zs, only_single, None, TAU, "sum").loss
    lone.backward()
    assert lone.item() == 0.0 and torch.isfinite(zs.grad).all()


def test_float32_batched_and_looped_agree():
    z, present, w = make(v=6, n=16, d=32, seed=3)
    a = adjusted_center_loss(z.float(), present, w.float(), TAU, "sum")
    b = adjusted_center_loss_looped(z.float(), present, w.float(), TAU, "sum")
    torch.testing.assert_close(a.loss, b.loss, atol=1e-5, rtol=1e-5)


# ---- full graph -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_full_graph_matches_reference(missing, reduction):
    z, present, _ = make(missing=missing, seed=1)
    want = ref_full_graph(z, present, reduction)
    batched = full_graph_loss(z, present, TAU, reduction)
    looped = full_graph_loss_looped(z, present, TAU, reduction)
    torch.testing.assert_close(batched.loss, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(looped.loss, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched.pair_losses, looped.pair_losses)
    assert batched.pairs.shape == (6, 2)


def test_full_graph_skips_pairs_with_fewer_than_two_samples():
    z, _, _ = make(v=3, n=4, missing=False)
    present = torch.tensor([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]], dtype=torch.bool)
    out = full_graph_loss(z, present, TAU, "sum")
    assert out.pair_valid.tolist() == [True, False, False]  # (0,1) has 2 samples, (0,2) 1, (1,2) 0
    torch.testing.assert_close(out.loss, pair_loss(z[0, :2], z[1, :2], TAU, "sum").mean())


def test_loss_macs_scale_as_claimed():
    assert loss_macs("full_graph", 8, 16, 128) / loss_macs("full_graph", 4, 16, 128) == pytest.approx(8 * 7 / 12)
    ac = [loss_macs("adjusted_center", v, 16, 128) for v in (4, 8)]
    assert ac[1] / ac[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="unknown loss kind"):
        loss_macs("core", 2, 2, 2)
