"""§6 analyses (ralis/analysis): slope fitting, distribution differences, the complexity harness, the looped
COCOA form, the per-class attention probe and fit's on_epoch_end hook, gate distributions, the sensitivity grid.

Looped vs batched full-graph / adjusted-center losses are checked in tests/test_contrastive.py (not repeated).
No timing assertions: the harness is checked for structure and for its FLOP counts only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from ralis.analysis import complexity as cx
from ralis.analysis.convergence import convergence_from_logs
from ralis.analysis.load_balance import gate_distributions, js_divergence, total_variation
from ralis.analysis.sensitivity import sensitivity_grid
from ralis.baselines.cocoa import cocoa_loss_a
from ralis.config import AblationConfig, AnalysisConfig
from ralis.evaluate import encode_split
from ralis.model.contrastive import loss_macs
from ralis.model.ralis import RALIS
from ralis.probe import ConvergenceProbe, attention_by_class, validation_contrast, view_weights, weight_spread
from ralis.train import fit
from tests.train_fixtures import CLASSES, VIEWS, make_split, one_thread, tiny_params

_one_thread = pytest.fixture(autouse=True)(one_thread)


# ---- slopes ---------------------------------------------------------------------------------------------------

def test_loglog_slope_recovers_known_exponents():
    x = np.array([2, 3, 4, 6, 9], dtype=float)
    for p in (1.0, 2.0, 0.5):
        fit_ = cx.fit_loglog_slope(x, 3.7 * x ** p)
        assert fit_.slope == pytest.approx(p) and fit_.intercept == pytest.approx(np.log(3.7)) and fit_.r2 == 1.0
    noisy = 5 * x ** 2 * np.exp(np.random.default_rng(0).normal(0, 0.05, len(x)))
    fit_ = cx.fit_loglog_slope(x, noisy)
    assert abs(fit_.slope - 2) < 0.3 and 0.9 < fit_.r2 < 1.0
    for bad in (([1, 2], [1, -1]), ([1], [1]), ([2, 2], [1, 3]), ([1, 2, 3], [1, 2])):
        with pytest.raises(ValueError):
            cx.fit_loglog_slope(*bad)


# ---- distribution difference ------------------------------------------------------------------------------------

def test_js_divergence_and_total_variation_on_known_inputs():
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    m = np.array([0.75, 0.25])
    expected = 0.5 * np.log2(1 / 0.75) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(0.5 / 0.25))
    assert js_divergence(p, q) == pytest.approx(expected) == pytest.approx(jensenshannon(p, q, base=2) ** 2)
    assert m.sum() == 1 and total_variation(p, q) == pytest.approx(0.5)
    assert js_divergence([1, 0, 0], [0, 0, 1]) == pytest.approx(1.0) and total_variation([1, 0, 0], [0, 0, 1]) == 1
    r = np.random.default_rng(1).random(16)
    assert js_divergence(r, 3 * r) == pytest.approx(0.0, abs=1e-12) and total_variation(r, r) == 0
    s = np.random.default_rng(2).random(16)
    assert js_divergence(r, s) == pytest.approx(js_divergence(s, r))
    assert js_divergence(r, s) == pytest.approx(jensenshannon(r, s, base=2) ** 2)
    for bad in (([1, 0], [1, 0, 0]), ([0, 0], [1, 1]), ([-1, 2], [1, 1])):
        with pytest.raises(ValueError):
            js_divergence(*bad)


# ---- complexity harness ---------------------------------------------------------------------------------------

def test_cocoa_looped_matches_the_batched_baseline_loss_and_gradient():
    g = torch.Generator().manual_seed(0)
    for trial in range(4):
        z = torch.randn(4, 9, 5, generator=g, dtype=torch.float64)
        present = torch.rand(9, 4, generator=g) < (0.5 if trial else 1.1)  # trial 0: complete views
        present[0] = True  # at least one sample with >= 2 views
        za, zb = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        a, b = cocoa_loss_a(za, present, 0.1), cx.cocoa_loss_a_looped(zb, present, 0.1)
        torch.testing.assert_close(a, b)
        a.backward()
        b.backward()
        torch.testing.assert_close(za.grad, zb.grad)


def test_complexity_sweep_on_tiny_sizes_returns_the_expected_structure():
    cfg = AnalysisConfig(complexity_views=[2, 3], complexity_batch=6, complexity_batches=[4, 8], complexity_n_views=3,
                         complexity_dim=8, complexity_warmup=1, complexity_repeats=2)
    res = cx.complexity_sweep(cfg, device="cpu")
    t = res.timings
    assert len(t) == (2 + 2) * len(cx.KINDS) * len(cx.FORMS)
    assert {"sweep", "loss", "form", "V", "N", "D", "forward_ms", "step_ms", "macs", "flops_forward"} <= set(t)
    assert (t[["forward_ms", "step_ms"]] > 0).all().all() and res.device == "cpu"
    assert set(t.loc[t["sweep"] == "V", "N"]) == {6} and set(t.loc[t["sweep"] == "N", "V"]) == {3}
    # torch's FLOP count of the batched forms is twice the analytic Gram MACs (methods.md §4)
    for r in t[t["form"] == "batched"].itertuples():
        gram = loss_macs(r.loss, r.V, r.N, r.D) - (2 * r.V * r.N * r.D if r.loss == "adjusted_center" else 0)
        assert r.flops_forward == 2 * gram, (r.loss, r.V, r.N)
    s = res.slopes.set_index(["sweep", "loss", "form", "quantity"])["slope"]
    assert len(s) == 2 * len(cx.KINDS) * len(cx.FORMS) * len(cx.QUANTITIES)
    assert s[("V", "adjusted_center", "batched", "macs")] == pytest.approx(1.0)  # O(V N^2)
    assert s[("V", "full_graph", "batched", "macs")] == pytest.approx(np.log(3) / np.log(1.5))  # V(V-1): 2 -> 6
    assert s[("N", "full_graph", "looped", "macs")] == pytest.approx(2.0)
    summary = res.summary()
    assert summary["slopes"]["vs_V"]["cocoa"]["looped"]["macs"] == pytest.approx(s[("V", "cocoa", "looped", "macs")],
                                                                                abs=1e-3)
    assert cx.time_ratio(t, "V", "full_graph", "batched", 3, 2, "macs") == pytest.approx(3.0)
    with pytest.raises(ValueError, match="complexity_views"):
        cx.time_ratio(t, "V", "full_graph", "batched", 9, 3)
    with pytest.raises(ValueError, match="unknown"):
        cx.complexity_sweep(dataclasses.replace(cfg, complexity_forms=["vectorised"]), device="cpu")


# ---- convergence: per-class attention and the fit hook -----------------------------------------------------------

def _ralis(params, **ablation):
    torch.manual_seed(0)
    model = dataclasses.replace(params.model, att_hidden=8, n_experts=4, top_k=2)
    return RALIS(VIEWS, len(CLASSES), model, AblationConfig(**ablation), params.loss)


def test_attention_by_class_and_spread_on_known_weights():
    w = torch.tensor([[0.5, 1.0, 0.2, 0.0], [0.5, 0.0, 0.8, 1.0]])  # [V=2, N=4]
    labels = torch.tensor([0, 0, 1, 1])
    by_class = attention_by_class(w, labels, 3)
    np.testing.assert_allclose(by_class[:2], [[0.75, 0.25], [0.1, 0.9]])
    assert np.isnan(by_class[2]).all()  # no window of class 2
    assert weight_spread(by_class) == pytest.approx((0.25 + 0.4) / 2)
    assert weight_spread(np.full((3, 4), 0.25)) == 0.0


def test_probe_on_a_tiny_model_gives_per_class_weights_that_sum_to_one(tmp_path):
    params = dataclasses.replace(tiny_params(method="ralis"), analysis=AnalysisConfig(conv_batch=8))
    split = make_split(24, seed=3, drop=0.4)
    method = _ralis(params).eval()
    encoded = encode_split(method, split, 32)
    w = view_weights(method, encoded, batch_size=5)  # chunked like the full split
    torch.testing.assert_close(w, method.fusion(encoded.z, encoded.present).weights)
    assert (w[~encoded.present.T] == 0).all()  # a missing view never gets weight
    probe = ConvergenceProbe(split, params)
    out = probe(1, method)
    per_class = {k: v for k, v in out.items() if k.startswith("w/")}
    assert set(out) - set(per_class) == {"valid_contrast", "att_spread"} and np.isfinite(list(out.values())).all()
    by_class = probe.by_class[0]
    assert by_class.shape == (len(CLASSES), len(VIEWS)) and len(per_class) == by_class.size
    np.testing.assert_allclose(by_class.sum(1), 1.0, rtol=1e-6)
    assert out[f"w/{CLASSES[1]}/{VIEWS[2].name}"] == pytest.approx(by_class[1, 2])
    # the log columns rebuild Fig. 6's curves and per-class weights
    log = pd.DataFrame([{"epoch": 1, "contrast": 2.0, "valid_f1": 0.5, **out}])
    res = convergence_from_logs({"ralis": log}, list(CLASSES), [v.name for v in VIEWS])
    assert res.curves.loc[0, "att_spread"] == pytest.approx(out["att_spread"])
    assert res.weights.groupby("class")["weight"].sum().to_numpy() == pytest.approx(by_class.sum(1))
    with pytest.raises(ValueError, match="probe columns"):
        convergence_from_logs({"x": log.drop(columns=["att_spread"])}, list(CLASSES), [v.name for v in VIEWS])
    assert validation_contrast(method, encoded, w, 8, 0.1, "sum") == pytest.approx(out["valid_contrast"])
    from ralis.model.contrastive import adjusted_center_loss

    n = encoded.present.shape[0]
    b = -(-n // 8)  # batches strided through the split (stored by subject and class): rows j, j + b, ...
    rows = [torch.arange(j, n, b) for j in range(b)]
    slow = [float(adjusted_center_loss(encoded.z[:, r], encoded.present[r], w[:, r], 0.1, "sum").loss) for r in rows
            if int((encoded.present[r].sum(1) >= 2).sum()) >= 2]
    assert validation_contrast(method, encoded, w, 8, 0.1, "sum") == pytest.approx(np.mean(slow))
    single = encoded._replace(present=torch.zeros_like(encoded.present).index_fill_(1, torch.tensor([0]), True))
    assert np.isnan(validation_contrast(method, single, w, 8, 0.1, "sum"))  # no window with two views: undefined, not 0
    with pytest.raises(ValueError, match="attention fusion"):
        ConvergenceProbe(split, params)(1, torch.nn.Linear(2, 2))


def test_fit_calls_on_epoch_end_and_logs_its_scalars(tmp_path):
    params = tiny_params(method="ralis", max_epochs=2, min_epochs=1, max_steps_per_epoch=2)
    train, valid = make_split(24, seed=0, drop=0.3), make_split(12, seed=1)
    calls = []

    def hook(epoch, method, encoded):
        calls.append((epoch, method.training))
        return {"probe": 10.0 * epoch}

    res = fit(_ralis(params), train, valid, params, tmp_path, progress=False, on_epoch_end=hook)
    assert calls == [(1, False), (2, False)]  # after validation, in eval mode
    assert [r["probe"] for r in res.history] == [10.0, 20.0]
    assert pd.read_csv(tmp_path / "train_log.csv")["probe"].tolist() == [10.0, 20.0]


# ---- load balance ----------------------------------------------------------------------------------------------

def test_gate_distributions_are_distributions_over_the_right_tokens():
    params = tiny_params(method="ralis")
    split = make_split(20, seed=5, drop=0.5)
    method = _ralis(params)
    with torch.no_grad():  # zero-initialised gates would be uniform ties; give them a direction
        method.head.gate.w_gate.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    encoded = encode_split(method, split, 32)
    g = gate_distributions(method, encoded, batch_size=3)
    assert g.n_single == int(encoded.present.sum()) and g.n_fused == int((encoded.present.sum(1) >= 2).sum())
    for dist in (g.single, g.fused):
        assert dist.shape == (4,) and dist.sum() == pytest.approx(1.0) and (dist >= 0).all()
    fused = method.fusion(encoded.z, encoded.present).fused[encoded.present.sum(1) >= 2]
    np.testing.assert_allclose(g.fused, method.head.gate(fused).gates.mean(0).detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="MoE gate"):
        gate_distributions(_ralis(params, moe=False), encoded)


# ---- sensitivity grid ------------------------------------------------------------------------------------------

def test_sensitivity_grid_follows_fig5_and_rejects_k_above_e():
    grid = sensitivity_grid(AnalysisConfig())
    assert grid == [("experts", 8, 3), ("experts", 16, 3), ("experts", 32, 3),
                    ("top_k", 16, 2), ("top_k", 16, 3), ("top_k", 16, 4)]
    assert len({(e, k) for _, e, k in grid}) == 5  # the shared point is trained once
    with pytest.raises(ValueError, match="K <= E"):
        sensitivity_grid(AnalysisConfig(sens_experts=[2], sens_top_k=3))
