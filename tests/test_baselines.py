"""Method-level checks for every baseline: finite losses with gradients, single-view samples, no leakage from missing
views, unseen view combinations at predict time, per-row independence in eval mode, config errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ralis.baselines.flexmoe import FlexMoE
from ralis.baselines.gmu import GMU
from ralis.baselines.shaspec import ShaSpec
from ralis.config import ModelConfig, Params
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.model.bank import EncoderBank
from ralis.zoo import build_method, method_settings
from tests.train_fixtures import one_thread

_one_thread = pytest.fixture(autouse=True)(one_thread)

VIEWS = [ViewSpec("wrist", "acc", 3, 50.0), ViewSpec("waist", "acc", 3, 50.0), ViewSpec("pose", "pose3d", 6, 20.0)]
LENGTHS = (32, 32, 16)
N_CLASSES = 4
KEYS = ["cmc", "cocoa", "confu", "flexmoe", "fusemoe", "gmu", "shaspec"]
VARIANTS = {  # extra configurations worth running end to end
    "cmc-core": ("cmc", {"cmc": {"core_view": "waist", "detach_others": True}}),
    "cocoa-B": ("cocoa", {"cocoa": {"variant": "B"}}),
    "shaspec-random": ("shaspec", {"shaspec": {"random_subset": True}}),
    "gmu-renorm-random": ("gmu", {"gmu": {"renorm": True, "random_subset": True}}),
    "fusemoe-softmax": ("fusemoe", {"fusemoe": {"gating": "softmax"}}),
    "cmc-ind-view": ("cmc", {"cmc": {"ind_view_ce": True}}),
}
SMALL = {"flexmoe": {"n_experts": 4, "top_k": 2}, "fusemoe": {"n_experts": 4, "top_k": 2}, "confu": {"triplets": 2}}


def _params(**settings: dict) -> Params:
    """Tiny model; params.yaml `baselines` = SMALL updated by {method: {key: value}}."""
    p = Params(model=ModelConfig(width=8, kernel_size=3, n_blocks=2, expert_hidden=8, att_hidden=8))
    b = {m: dict(v) for m, v in SMALL.items()}
    for m, v in settings.items():
        b.setdefault(m, {}).update(v)
    return dataclasses.replace(p, baselines=b)


def _build(name: str, seed: int = 0, **baselines):
    torch.manual_seed(seed)
    return build_method(name, VIEWS, N_CLASSES, _params(**baselines))


def _batch(present: torch.Tensor, seed: int, fill: float | None = None) -> MultiviewBatch:
    """Random views (zeros where missing, or `fill`-scaled noise there to probe leakage) and labels."""
    g, g_junk = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1000)
    n = present.shape[0]
    views = []
    for v, (spec, t) in enumerate(zip(VIEWS, LENGTHS)):
        x = torch.randn(n, t, spec.channels, generator=g)
        junk = torch.zeros_like(x) if fill is None else fill * torch.randn(n, t, spec.channels, generator=g_junk)
        views.append(torch.where(present[:, v, None, None], x, junk))
    return MultiviewBatch(tuple(views), present, torch.randint(0, N_CLASSES, (n,), generator=g))


def _mixed_present(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    present = torch.rand(n, len(VIEWS), generator=g) < 0.6
    present[~present.any(1), 0] = True
    present[0] = True
    return present


def _single_present(n: int) -> torch.Tensor:
    present = torch.zeros(n, len(VIEWS), dtype=torch.bool)
    present[torch.arange(n), torch.arange(n) % len(VIEWS)] = True
    return present


def _all_cases():
    return [(k, k, {}) for k in KEYS] + [(label, k, cfg) for label, (k, cfg) in VARIANTS.items()]


CASES = _all_cases()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("label,name,cfg", CASES, ids=IDS)
def test_training_losses_finite_with_gradients(label, name, cfg):
    model = _build(name, **cfg).train()
    out = model.training_losses(_batch(_mixed_present(8, 1), 1), _batch(_mixed_present(8, 2), 2))
    assert out.total.dim() == 0 and torch.isfinite(out.total)
    assert all(isinstance(v, float) for v in out.terms.values())
    out.total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    banks = [m for m in model.modules() if isinstance(m, EncoderBank)]
    assert banks, label
    for bank in banks:  # every view's encoder is trained: its block of the grouped stem weights gets a gradient
        for key, members in bank.groups.items():
            grad = bank.encoders[key].stem.conv.weight.grad
            assert grad is not None, (label, key)
            for j, v in enumerate(members):
                assert grad.chunk(len(members))[j].abs().sum() > 0, (label, VIEWS[v].name)


SINGLE = [c for c in CASES if c[0] in KEYS or c[0] in ("cmc-core", "cocoa-B")]  # variants with their own loss path


@pytest.mark.parametrize("label,name,cfg", SINGLE, ids=[c[0] for c in SINGLE])
def test_single_view_samples_give_no_nan(label, name, cfg):
    model = _build(name, **cfg).train()
    out = model.training_losses(_batch(_single_present(9), 3), _batch(_single_present(9), 4))
    assert torch.isfinite(out.total)
    out.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    b = _batch(_single_present(6), 5)
    assert torch.isfinite(model.predict(model.encode(b), b.present)).all()


@pytest.mark.parametrize("name", KEYS)
def test_missing_views_never_leak(name):
    model = _build(name).eval()
    present = _mixed_present(10, 6)
    assert not present.all()
    clean, noisy = _batch(present, 7), _batch(present, 7, fill=100.0)
    with torch.no_grad():
        z = model.encode(clean)
        assert (z.transpose(0, 1)[~present] == 0).all()  # zeros where missing (contract)
        ref = model.predict(z, present)
        assert torch.allclose(model.predict(model.encode(noisy), present), ref, atol=1e-6)
        junk = torch.where(present.T[..., None], z, torch.randn_like(z) * 50)
        assert torch.allclose(model.predict(junk, present), ref, atol=1e-6)


@pytest.mark.parametrize("name", KEYS)
def test_unseen_view_combinations_work_at_predict_time(name):
    model = _build(name).train()
    seen = torch.tensor([[True, True, False], [False, True, True]]).repeat(4, 1)  # combos {0,1} and {1,2} only
    model.training_losses(_batch(seen, 8), _batch(seen, 9)).total.backward()
    with torch.no_grad():  # one plain SGD step (torch.optim's first step costs seconds of lazy imports)
        for p in model.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    model.eval()
    unseen = torch.tensor([[True, False, True], [True, False, False], [False, False, True], [True, True, True]])
    b = _batch(unseen.repeat(2, 1), 10)
    with torch.no_grad():
        logits = model.predict(model.encode(b), b.present)
    assert logits.shape == (8, N_CLASSES) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", KEYS)
def test_rows_are_independent_in_eval_mode(name):
    """Evaluation encodes each window once; a window's logits must not depend on the other rows of the batch."""
    model = _build(name).eval()
    b = _batch(_mixed_present(8, 11), 11)
    with torch.no_grad():
        z = model.encode(b)
        full = model.predict(z, b.present)
        half = model.predict(z[:, :3], b.present[:3])
    assert torch.allclose(full[:3], half, atol=1e-6)


def test_flexmoe_bank_is_trained_only_for_observed_combinations():
    """RALIS's explanation of Flex-MoE's collapse (methods.md §2.3): complete data never trains the bank."""
    model = _build("flexmoe").train()
    assert isinstance(model, FlexMoE)
    full = torch.ones(6, len(VIEWS), dtype=torch.bool)
    model.training_losses(_batch(full, 12), _batch(full, 13)).total.backward()
    assert model.bank.grad is None or model.bank.grad.abs().sum() == 0
    model.zero_grad()
    part = full.clone()
    part[:3, 2] = False  # combination {0, 1}
    model.training_losses(_batch(part, 14), _batch(full, 15)).total.backward()
    c = int(model.combination(part[:1]))
    used = model.bank.grad.abs().sum(-1) > 0  # [2^V - 1, V]
    assert used[c, 2] and used.sum() == 1


def test_shaspec_fills_a_missing_view_with_the_mean_shared_feature():
    model = _build("shaspec").eval()
    assert isinstance(model, ShaSpec)
    present = torch.tensor([[True, True, False], [True, False, False]])
    with torch.no_grad():
        z = model.encode(_batch(present, 16))
        f = model.fuse(z, present)
    sh = z[..., : model.width]
    assert torch.allclose(f[2, 0], (sh[0, 0] + sh[1, 0]) / 2)
    assert torch.allclose(f[1, 1], sh[0, 1]) and torch.allclose(f[2, 1], sh[0, 1])
    assert z.shape[-1] == 2 * model.width


def test_gmu_gates_of_missing_views_are_zero():
    model = _build("gmu").eval()
    assert isinstance(model, GMU)
    present = _mixed_present(6, 17)
    with torch.no_grad():
        _, g = model.fuse(model.encode(_batch(present, 17)), present)
    assert (g.transpose(0, 1)[~present] == 0).all() and (g.transpose(0, 1)[present] > 0).all()


@pytest.mark.parametrize("name,key,value", [("cocoa", "variant", "C"), ("cmc", "core_view", "ankle"),
                                            ("fusemoe", "gating", "cosine"), ("confu", "lam", 1.5),
                                            ("flexmoe", "heads", 3), ("flexmoe", "warmup_epochs", -1),
                                            ("gmu", "renorm_all", True)])
def test_bad_baseline_config_raises_naming_its_key(name, key, value):
    with pytest.raises(ValueError, match=rf"baselines\.{name}[.:]"):
        _build(name, **{name: {key: value}})


def test_settings_for_a_method_that_has_none_or_does_not_exist_are_refused():
    from ralis.zoo import check_settings

    with pytest.raises(ValueError, match=r"baselines.meanfusion: method 'meanfusion' takes no settings"):
        _build("meanfusion", meanfusion={"width": 3})
    with pytest.raises(ValueError, match=r"baselines.flexmo: no method 'flexmo' is registered"):
        check_settings(_params(flexmo={"top_k": 2}))


def test_each_baseline_reads_only_its_own_settings():
    a, b = _build("flexmoe"), _build("flexmoe", fusemoe={"top_k": 1}, cmc={"core_view": "pose"})
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert _build("flexmoe", flexmoe={"top_k": 3}).top_k == 3 and a.top_k == 2


def test_every_baseline_is_registered():
    from ralis.methods import METHODS

    build_method("cmc", VIEWS, N_CLASSES, _params())  # imports ralis.baselines
    assert set(KEYS) <= set(METHODS)


@pytest.mark.parametrize("name", KEYS)
def test_fit_checkpoint_and_combination_evaluation_run_end_to_end(name, tmp_path):
    """The harness path: two-stream fit on missing-view data, best checkpoint reload, all 2^V - 1 combinations."""
    from ralis.checkpoint import load_checkpoint
    from ralis.evaluate import encode_split, evaluate_combinations, predict_encoded
    from ralis.train import fit
    from tests.train_fixtures import CLASSES, make_split, tiny_params

    p = tiny_params(method=name, max_epochs=1, min_epochs=1)
    p = dataclasses.replace(p, baselines=_params().baselines)
    torch.manual_seed(0)
    model = build_method(name, VIEWS, len(CLASSES), p)
    train, valid = make_split(32, seed=0, drop=0.3, views=tuple(VIEWS)), make_split(16, seed=1, drop=0.3,
                                                                                      views=tuple(VIEWS))
    res = fit(model, train, valid, p, tmp_path, progress=False)
    ck = load_checkpoint(res.checkpoint_path)
    settings = dataclasses.asdict(method_settings(name, p))  # stored with every default filled in
    assert ck.params.baselines[name] == settings and len(settings) > len(p.baselines.get(name, {}))
    enc = encode_split(ck.method, valid)
    assert (predict_encoded(ck.method, enc).y_pred == predict_encoded(model, encode_split(model, valid)).y_pred).all()
    result = evaluate_combinations(ck.method, enc, [v.name for v in VIEWS], CLASSES)
    assert len(result.rows) == 2 ** len(VIEWS) - 1


def test_only_flexmoe_asks_for_sorted_warmup_epochs():
    assert _build("flexmoe").sorted_warmup_epochs == 5  # [FLEX:main.py]
    assert _build("flexmoe", flexmoe={"warmup_epochs": 0}).sorted_warmup_epochs == 0
    assert all(_build(k).sorted_warmup_epochs == 0 for k in KEYS if k != "flexmoe")
