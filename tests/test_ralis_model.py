"""The RALIS method: missing views never leak, no NaN with single-view samples, every Table 5 switch does what it
claims, and a tiny model overfits a tiny batch."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from ralis.config import AblationConfig, LossConfig, ModelConfig, Params
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.model.contrastive import adjusted_center_loss, full_graph_loss
from ralis.model.heads import MLPHead
from ralis.model.moe import balance_loss
from ralis.model.ralis import RALIS
from ralis.zoo import build_method

VIEWS = (ViewSpec("wrist", "acc", 3, 50.0), ViewSpec("waist", "acc", 3, 50.0), ViewSpec("skel", "pose3d", 6, 20.0))
T = (32, 32, 16)
C = 3
SMALL = ModelConfig(width=16, kernel_size=3, n_blocks=2, dropout=0.0, att_hidden=8, n_experts=4, top_k=2,
                    expert_hidden=8)


def model(seed=0, cfg=SMALL, **ablation) -> RALIS:
    torch.manual_seed(seed)
    return RALIS(VIEWS, C, cfg, AblationConfig(**ablation), LossConfig())


def batch(n=8, seed=0, missing=True, labels=True) -> MultiviewBatch:
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, C, (n,), generator=gen)
    views = tuple(torch.randn(n, t, v.channels, generator=gen) + y[:, None, None] for t, v in zip(T, VIEWS))
    present = torch.ones(n, 3, dtype=torch.bool)
    if missing:
        present = torch.rand(n, 3, generator=gen) < 0.6
        present[0] = torch.tensor([False, True, False])  # a single-view sample
        present[1] = True
        present[~present.any(1), 0] = True
    views = tuple(torch.where(present[:, v, None, None], x, 0.0) for v, x in enumerate(views))
    return MultiviewBatch(views, present, y if labels else None)


def capture_head(m: RALIS) -> list:
    calls = []
    m.head.register_forward_hook(lambda _mod, _inp, out: calls.append(out))
    return calls


def test_registered_and_built_from_params():
    params = Params(model=SMALL, ablation=AblationConfig(moe=False))
    m = build_method("ralis", VIEWS, C, params)
    assert isinstance(m, RALIS) and isinstance(m.head, MLPHead)
    assert m.encoders.groups == {"c3_50hz": [0, 1], "c6_20hz": [2]}  # the two accelerometers in one grouped call
    assert m.encoders.encoders["c3_50hz"].groups == 2
    shared = model(cfg=dataclasses.replace(SMALL, shared_encoder=True))
    assert shared.encoders.groups == {"acc_3": [0, 1], "pose3d_6": [2]}  # the two 3-channel accelerometers share
    assert shared.encoders.encoders["acc_3"].groups == 1


def test_encode_zeros_missing_rows_and_magnorms_present_ones():
    m = model().eval()
    b = batch()
    z = m.encode(b)
    assert z.shape == (3, 8, 16)
    assert (z[~b.present.T] == 0).all()
    torch.testing.assert_close(z[b.present.T].norm(dim=1), torch.full((int(b.present.sum()),), 4.0))
    z_raw = model(magnorm=False).eval().encode(b)
    assert not torch.allclose(z_raw[b.present.T].norm(dim=1), torch.full((int(b.present.sum()),), 4.0))


def test_missing_views_never_leak_into_predictions():
    m = model().eval()
    b = batch()
    with torch.no_grad():
        base = m(b)
        garbage = tuple(torch.where(b.present[:, v, None, None], x, torch.randn_like(x) * 100)
                        for v, x in enumerate(b.views))
        torch.testing.assert_close(m(MultiviewBatch(garbage, b.present)), base)
        z = m.encode(b)
        z_bad = torch.where(b.present.T[..., None], z, torch.full_like(z, float("nan")))
        torch.testing.assert_close(m.predict(z_bad, b.present), base)
        # eval mode is row-wise: another sample's present values do not change sample 0's output
        other = tuple(torch.cat([x[:1], x[1:] * 3]) for x in b.views)
        torch.testing.assert_close(m(MultiviewBatch(other, b.present))[0], base[0])


def test_predict_is_view_permutation_invariant_given_the_encoders():
    m = model().eval()
    b = batch()
    with torch.no_grad():
        z = m.encode(b)
        perm = torch.tensor([2, 0, 1])
        torch.testing.assert_close(m.predict(z[perm], b.present[:, perm]), m.predict(z, b.present))


def test_training_losses_with_single_view_samples_has_no_nan():
    m = model().train()
    cls, con = batch(seed=1), batch(seed=2, labels=False)
    single = MultiviewBatch(con.views, torch.tensor([[True, False, False]] * 8))
    for c in (con, single):
        m.zero_grad()
        out = m.training_losses(cls, c)
        out.total.backward()
        assert torch.isfinite(out.total)
        assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    assert out.terms["contrast"] == 0.0  # no sample with two views: no positive pair
    assert set(out.terms) == {"cls", "contrast", "balance", "total"}
    assert len(out.logs["att_weights"]) == 3 and len(out.logs["gate_single"]) == 4 and len(out.logs["gate_fused"]) == 4
    assert sum(out.logs["att_weights"]) == pytest.approx(1.0)
    assert all(isinstance(x, float) for k in ("att_weights", "gate_single", "gate_fused") for x in out.logs[k])


def _encode_like_training(m: RALIS, cls: MultiviewBatch, con: MultiviewBatch):
    views = tuple(torch.cat([a, b]) for a, b in zip(cls.views, con.views))
    present = torch.cat([cls.present, con.present])
    z = m.embed(views, present)
    return z, present, m.fusion(z, present)


@pytest.mark.parametrize("full_graph", [False, True])
def test_contrast_term_is_the_ac_or_full_graph_loss_on_the_contrast_rows(full_graph):
    m = model(full_graph=full_graph).train()
    cls, con = batch(seed=1), batch(seed=2, labels=False)
    out = m.training_losses(cls, con)
    z, present, fusion = _encode_like_training(m, cls, con)  # dropout 0: the same pass again
    if full_graph:
        want = full_graph_loss(z[:, 8:], present[8:], 0.1, "sum").loss
    else:
        want = adjusted_center_loss(z[:, 8:], present[8:], fusion.weights[:, 8:], 0.1, "sum").loss
    assert out.terms["contrast"] == pytest.approx(want.item(), rel=1e-5)
    other = adjusted_center_loss(z[:, 8:], present[8:], fusion.weights[:, 8:], 0.1, "sum").loss if full_graph else \
        full_graph_loss(z[:, 8:], present[8:], 0.1, "sum").loss
    assert out.terms["contrast"] != pytest.approx(other.item(), rel=1e-3)


def test_cls_and_balance_terms_follow_eqs_11_and_12():
    m = model().train()
    cls, con = batch(seed=1, missing=False), batch(seed=2, labels=False)
    calls = capture_head(m)
    out = m.training_losses(cls, con)
    fused, single = calls  # the head runs on the fused tokens, then on every single-view token
    assert fused.logits.shape[0] == 8 and single.logits.shape[0] == 24
    y = cls.labels
    heads = [F.cross_entropy(fused.logits, y)]
    heads += [F.cross_entropy(single.logits[8 * v:8 * (v + 1)], y) for v in range(3)]
    assert out.terms["cls"] == pytest.approx((sum(heads) / 4).item(), rel=1e-5)  # (1/(V+1)) (H(wf) + sum_v H(v))
    want = balance_loss(single.importance, single.load) + balance_loss(fused.importance, fused.load)
    assert out.terms["balance"] == pytest.approx(want.item(), rel=1e-5)
    total = out.terms["cls"] + out.terms["contrast"] + 0.01 * out.terms["balance"]
    assert out.terms["total"] == pytest.approx(total, rel=1e-5)


def test_minus_sep_load_is_one_balance_term_over_all_tokens():
    m = model(sep_load=False).train()
    calls = capture_head(m)
    out = m.training_losses(batch(seed=1), batch(seed=2, labels=False))
    fused, single = calls
    joint = balance_loss(fused.importance + single.importance, fused.load + single.load)
    separate = balance_loss(single.importance, single.load) + balance_loss(fused.importance, fused.load)
    assert out.terms["balance"] == pytest.approx(joint.item(), rel=1e-5)
    assert out.terms["balance"] != pytest.approx(separate.item(), rel=1e-3)


def test_minus_ind_view_uses_the_fused_ce_only():
    m = model(ind_view=False).train()
    calls = capture_head(m)
    cls = batch(seed=1)
    out = m.training_losses(cls, batch(seed=2, labels=False))
    assert len(calls) == 1 and calls[0].logits.shape[0] == 8
    assert out.terms["cls"] == pytest.approx(F.cross_entropy(calls[0].logits, cls.labels).item(), rel=1e-5)
    assert "gate_single" not in out.logs


def test_minus_moe_has_no_gate_and_no_balance():
    m = model(moe=False).train()
    out = m.training_losses(batch(seed=1), batch(seed=2, labels=False))
    assert isinstance(m.head, MLPHead) and out.terms["balance"] == 0.0
    assert "gate_fused" not in out.logs and not any("gate" in n for n, _ in m.named_parameters())


def test_minus_contrast_has_no_contrast_term_or_gradient():
    m = model(contrast=False).train()
    cls, con = batch(seed=1), batch(seed=2, labels=False)
    out = m.training_losses(cls, con)
    assert out.terms["contrast"] == 0.0
    assert out.terms["total"] == pytest.approx(out.terms["cls"] + 0.01 * out.terms["balance"], rel=1e-6)
    assert model().train().training_losses(cls, con).terms["contrast"] > 0


def test_minus_attention_gives_uniform_weights():
    m = model(attention=False).train()
    b = batch(seed=1)
    out = m.training_losses(b, batch(seed=2, labels=False))
    assert m.fusion.mlp is None
    uniform = (b.present.float() / b.present.sum(1, keepdim=True)).T  # [V, N]
    want = [uniform[v].mean().item() for v in range(3)]
    assert out.logs["att_weights"] == pytest.approx(want)


@pytest.mark.parametrize("stop_grad", [True, False])
def test_stop_grad_switch_controls_attention_gradients_into_encoders(stop_grad):
    m = model(stop_grad=stop_grad).train()
    b = batch(seed=1)
    w = m.fusion(m.encode(b), b.present).weights  # a loss on the attention weights only
    (w * torch.randn_like(w)).sum().backward()
    grads = [p.grad for p in m.encoders.parameters()]
    reached = any(g is not None and g.abs().sum() > 0 for g in grads)
    assert reached != stop_grad


@pytest.fixture
def one_thread():
    """Tiny convolutions run fastest single-threaded on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tiny_model_overfits_a_tiny_batch(one_thread):
    m = model(seed=0)
    cls, con = batch(seed=3, missing=False), batch(seed=4, missing=False, labels=False)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        m.train()
        out = m.training_losses(cls, con)
        opt.zero_grad()
        out.total.backward()
        opt.step()
        first = first if first is not None else out.terms["cls"]
    assert out.terms["cls"] < 0.2 * first
    m.eval()
    with torch.no_grad():
        assert (m(cls).argmax(1) == cls.labels).all()
