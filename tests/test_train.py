"""Fit loop (methods.md §1.8, §1.11, A11), checkpoints, and the mean-fusion baseline."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import ralis.train as train_mod
from ralis.baselines.meanfusion import MeanFusion
from ralis.checkpoint import input_record, load_checkpoint, save_checkpoint
from ralis.config import ModelConfig
from ralis.contract import MultiviewBatch
from ralis.evaluate import FusedScores, encode_split, fused_f1, predict_encoded
from ralis.methods import LossTerms
from ralis.train import LOG_CSV, LOG_JSONL, fit, flatten_logs, lr_factor
from ralis.zoo import build_method
from tests.train_fixtures import CLASSES, VIEWS, make_split, one_thread, tiny_params, write_windows

TINY_MODEL = ModelConfig(width=16, kernel_size=3, n_blocks=2, dropout=0.0, expert_hidden=16)

_one_thread = pytest.fixture(autouse=True)(one_thread)


def _method(params, seed=0):
    torch.manual_seed(seed)
    return build_method(params.train.method, VIEWS, len(CLASSES), params)


def _batch(split):
    return MultiviewBatch(tuple(torch.from_numpy(x) for x in split.views.values()), torch.from_numpy(split.present),
                          torch.from_numpy(split.labels))


class LoggingMeanFusion(MeanFusion):
    """Mean fusion that also reports RALIS-style diagnostics, to test the log flattening in fit."""

    def training_losses(self, cls, con):
        out = super().training_losses(cls, con)
        att = cls.present.float().mean(0)  # [V]
        return LossTerms(out.total, {**out.terms, "extra": 2.0},
                         {"att_weights": att, "gate_fused": torch.tensor([0.25, 0.75]), "scalar": 1.0})


# ---------------------------------------------------------------- fit
def test_fit_writes_logs_and_a_loadable_best_checkpoint(tmp_path):
    params = tiny_params(max_epochs=3, min_epochs=2)
    train, valid = make_split(48, seed=0, drop=0.3), make_split(24, seed=1, drop=0.3)
    method = LoggingMeanFusion(VIEWS, 3, TINY_MODEL)
    res = fit(method, train, valid, params, tmp_path, progress=False)
    assert res.epochs_run == 3 and not res.stopped_early and res.best_epoch in (2, 3)
    log = pd.read_csv(tmp_path / LOG_CSV)
    assert list(log.epoch) == [1, 2, 3] and (log.steps == 48 // 8).all()
    for col in ("total", "cls", "extra", "valid_f1", "is_best", "att_w_wrist", "att_w_ankle", "att_w_pose",
                "gate_fused_0", "gate_fused_1", "scalar"):
        assert col in log.columns, col
    assert log.gate_fused_1.tolist() == pytest.approx([0.75] * 3) and log.is_best[0] == 0  # epoch 1 < min_epochs
    lines = [json.loads(s) for s in (tmp_path / LOG_JSONL).read_text().splitlines()]
    assert [r["valid_f1"] for r in lines] == pytest.approx(log.valid_f1.tolist())
    assert res.best_valid_f1 == pytest.approx(log.valid_f1[res.best_epoch - 1])
    # the returned method holds the best weights, and so does the checkpoint
    assert fused_f1(method, valid) == pytest.approx(res.best_valid_f1)
    ck = load_checkpoint(res.checkpoint_path)
    assert ck.method_name == "meanfusion" and ck.epoch == res.best_epoch and ck.class_names == CLASSES
    assert ck.params == params and ck.views == VIEWS
    # LoggingMeanFusion is not registered: the checkpoint rebuilds the plain registered MeanFusion
    a = predict_encoded(method, encode_split(method, valid)).y_pred
    b = predict_encoded(ck.method, encode_split(ck.method, valid)).y_pred
    np.testing.assert_array_equal(a, b)


def test_fit_is_deterministic_for_a_seed(tmp_path):
    params = tiny_params(max_epochs=2, min_epochs=1)
    train, valid = make_split(40, seed=2, drop=0.2), make_split(20, seed=3, drop=0.2)
    runs = []
    for name in ("a", "b"):
        method = _method(params)
        res = fit(method, train, valid, params, tmp_path / name, progress=False)
        runs.append((res.history, {k: v.clone() for k, v in method.state_dict().items()}))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
    assert (tmp_path / "a" / LOG_CSV).read_bytes() == (tmp_path / "b" / LOG_CSV).read_bytes()
    other = fit(_method(params), train, valid, tiny_params(max_epochs=2, min_epochs=1, seed=1), tmp_path / "c",
                progress=False)
    assert other.history != runs[0][0]


def test_tiny_model_overfits_a_tiny_training_set(tmp_path):
    params = tiny_params(max_epochs=15, min_epochs=1, cls_batch=8, con_batch=8, lr=1e-2)
    tiny = make_split(16, seed=4, noise=0.05)
    res = fit(_method(params), tiny, tiny, params, tmp_path, progress=False)
    assert res.best_valid_f1 == 1.0
    assert res.history[-1]["total"] < 0.25 * res.history[0]["total"]


class RecordingMeanFusion(MeanFusion):
    """Mean fusion that asks fit for sorted warm-up epochs and records each classification batch."""

    sorted_warmup_epochs = 2

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def training_losses(self, cls, con):
        self.seen.append((cls.present.sum(1), cls.labels))
        return super().training_losses(cls, con)


def test_sorted_warmup_epochs_draw_full_view_windows_first_then_shuffle(tmp_path):
    params = tiny_params(max_epochs=3, min_epochs=1)
    train, valid = make_split(48, seed=5, drop=0.4), make_split(24, seed=6, drop=0.4)
    method = RecordingMeanFusion(VIEWS, 3, TINY_MODEL)
    fit(method, train, valid, params, tmp_path, progress=False)
    steps = 48 // 8
    epochs = [method.seen[e * steps:(e + 1) * steps] for e in range(3)]
    counts = [torch.cat([c for c, _ in ep]) for ep in epochs]
    labels = [torch.cat([y for _, y in ep]) for ep in epochs]
    for e in (0, 1):  # warm-up: unshuffled, most views first, the same order both epochs
        assert (counts[e][:-1] >= counts[e][1:]).all() and int(counts[e][0]) == len(VIEWS)
    assert torch.equal(labels[0], labels[1]) and torch.equal(counts[0], counts[1])
    assert not (counts[2][:-1] >= counts[2][1:]).all()  # afterwards: the shuffled stream
    assert pd.read_csv(tmp_path / LOG_CSV).sorted_warmup.tolist() == [1, 1, 0]


def _scripted_f1(monkeypatch, values, losses=None):
    it = iter(zip(values, losses or [0.0] * len(values)))
    monkeypatch.setattr(train_mod, "fused_scores", lambda *a, **k: FusedScores(*(lambda f, l: (f, f, l))(*next(it))))


def test_best_checkpoint_only_among_epochs_from_min_epochs(tmp_path, monkeypatch):
    train = make_split(16, seed=5)
    _scripted_f1(monkeypatch, [0.9, 0.1, 0.2, 0.5, 0.5, 0.3])
    res = fit(_method(tiny_params()), train, train, tiny_params(max_epochs=6, min_epochs=3, max_steps_per_epoch=1),
              tmp_path, progress=False)
    assert (res.best_epoch, res.best_valid_f1, res.epochs_run) == (4, 0.5, 6)  # not epoch 1; equal losses: epoch 4
    assert [r["is_best"] for r in res.history] == [0, 0, 1, 1, 0, 0]
    assert load_checkpoint(res.checkpoint_path).epoch == 4


@pytest.mark.parametrize("rule, best", [("valid_loss", 3), ("later", 5), ("earlier", 2)])
def test_checkpoint_ties_on_a_saturated_validation_f1(tmp_path, monkeypatch, rule, best):
    _scripted_f1(monkeypatch, [0.5, 1.0, 1.0, 1.0, 1.0], losses=[0.9, 0.4, 0.1, 0.3, 0.2])
    res = fit(_method(tiny_params()), make_split(16, seed=5), make_split(16, seed=5),
              tiny_params(max_epochs=5, min_epochs=1, max_steps_per_epoch=1, checkpoint_ties=rule), tmp_path,
              progress=False)
    assert res.best_epoch == best and load_checkpoint(res.checkpoint_path).epoch == best
    assert pd.read_csv(tmp_path / LOG_CSV).valid_loss.tolist() == pytest.approx([0.9, 0.4, 0.1, 0.3, 0.2])


def test_a_step_budget_sets_the_epochs_and_the_last_epoch_may_be_partial(tmp_path):
    with pytest.warns(UserWarning, match="an epoch has only 3 optimiser step.*train.max_steps"):  # 24 / batches of 8
        fit(_method(tiny_params()), make_split(24, seed=3), make_split(16, seed=4), tiny_params(), tmp_path,
            progress=False)
    params = tiny_params(max_steps=8, min_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a step budget is the answer to short epochs: no warning
        res = fit(_method(params), make_split(24, seed=3), make_split(16, seed=4), params, tmp_path, progress=False)
    assert [r["steps"] for r in res.history] == [3, 3, 2] and res.epochs_run == 3
    assert lr_factor(params.train, 3)(7) == 1.0  # constant schedule; cosine ends at the budget:
    cos = replace(params.train, lr_schedule="cosine")
    assert lr_factor(cos, 3)(8) == pytest.approx(0.0) and lr_factor(cos, 3)(4) > 0.4
    with pytest.raises(ValueError, match="train.max_steps = 2 gives 1 epoch"):
        fit(_method(params), make_split(24, seed=3), make_split(16, seed=4),
            tiny_params(max_steps=2, min_epochs=2), tmp_path, progress=False)


def test_early_stopping_counts_only_after_min_epochs(tmp_path, monkeypatch):
    train = make_split(16, seed=6)
    _scripted_f1(monkeypatch, [0.1, 0.1, 0.1, 0.6, 0.5, 0.4, 0.9, 0.9])
    res = fit(_method(tiny_params()), train, train,
              tiny_params(max_epochs=8, min_epochs=4, patience=2, max_steps_per_epoch=1), tmp_path, progress=False)
    assert res.stopped_early and res.epochs_run == 6 and res.best_epoch == 4


def test_fit_rejects_bad_protocol_settings(tmp_path):
    train = make_split(16, seed=7)
    for bad, match in (({"min_epochs": 5, "max_epochs": 3}, "min_epochs"), ({"patience": 0}, "patience"),
                       ({"max_steps_per_epoch": 0}, "max_steps_per_epoch")):
        with pytest.raises(ValueError, match=match):
            fit(_method(tiny_params()), train, train, tiny_params(**bad), tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch"):
        fit(_method(tiny_params()), make_split(6, seed=7), train, tiny_params(), tmp_path, progress=False)


def test_flatten_logs():
    out = flatten_logs({"att_weights": torch.tensor([0.2, 0.3, 0.5]), "gate_single": np.array([1.0, 0.0]),
                        "tau": torch.tensor(0.1)}, ["a", "b", "c"])
    assert out == pytest.approx({"att_w_a": 0.2, "att_w_b": 0.3, "att_w_c": 0.5, "gate_single_0": 1.0,
                                 "gate_single_1": 0.0, "tau": 0.1})
    with pytest.raises(ValueError, match="3 views"):
        flatten_logs({"att_weights": [0.5, 0.5]}, ["a", "b", "c"])


# ---------------------------------------------------------------- checkpoint
def test_checkpoint_round_trip_and_errors(tmp_path):
    params = tiny_params()
    method = _method(params).eval()
    inputs = input_record(make_split(10, seed=8), VIEWS)
    path = save_checkpoint(tmp_path / "ck.pt", method, method_name="meanfusion", params=params, class_names=CLASSES,
                           epoch=7, valid_f1=0.5, inputs=inputs, extra={"note": "x"})
    ck = load_checkpoint(path)
    assert (ck.epoch, ck.valid_f1, ck.extra, ck.inputs) == (7, 0.5, {"note": "x"}, inputs) and not ck.method.training
    batch = _batch(make_split(10, seed=8, drop=0.3))
    with torch.no_grad():
        torch.testing.assert_close(ck.method(batch), method(batch))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="class names"):
        save_checkpoint(tmp_path / "x.pt", method, method_name="meanfusion", params=params, class_names=("a",),
                        epoch=1, valid_f1=0.0, inputs=inputs)
    with pytest.raises(ValueError, match="input_record"):
        save_checkpoint(tmp_path / "x.pt", method, method_name="meanfusion", params=params, class_names=CLASSES,
                        epoch=1, valid_f1=0.0, inputs={"wrist": inputs["wrist"]})


# ---------------------------------------------------------------- mean fusion baseline
def test_meanfusion_missing_views_never_leak():
    method = _method(tiny_params()).eval()
    split = make_split(12, seed=9, drop=0.5)
    batch = _batch(split)
    poisoned = MultiviewBatch(tuple(torch.where(batch.present[:, v, None, None], x, torch.full_like(x, float("nan")))
                                    for v, x in enumerate(batch.views)), batch.present, batch.labels)
    with torch.no_grad():
        z, zp = method.encode(batch), method.encode(poisoned)
        torch.testing.assert_close(z, zp)
        assert not z[~batch.present.T].any()
        logits = method.predict(z, batch.present)
        z_nan = torch.where(batch.present.T[:, :, None], z, torch.full_like(z, float("nan")))
        torch.testing.assert_close(method.predict(z_nan, batch.present), logits)
        assert torch.isfinite(logits).all()


def test_meanfusion_fuse_matches_a_loop_and_ignores_view_order():
    method = _method(tiny_params()).eval()
    z = torch.randn(3, 5, 16)
    present = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1]], dtype=torch.bool)
    fused = method.fuse(z, present)
    for i in range(5):
        views = [v for v in range(3) if present[i, v]]
        torch.testing.assert_close(fused[i], sum(z[v, i] for v in views) / len(views))
    perm = [2, 0, 1]
    torch.testing.assert_close(method.fuse(z[perm], present[:, perm]), fused)


def test_meanfusion_loss_uses_only_the_classification_rows():
    method = _method(tiny_params()).train()
    cls, con = _batch(make_split(8, seed=10, drop=0.3)), _batch(make_split(8, seed=11, drop=0.3))
    torch.manual_seed(0)
    a = method.training_losses(cls, con)
    flipped = MultiviewBatch(con.views, con.present, (con.labels + 1) % 3)
    torch.manual_seed(0)
    b = method.training_losses(cls, flipped)
    assert a.total.item() == b.total.item() and set(a.terms) == {"cls"}
    nan_cls = MultiviewBatch(tuple(torch.where(cls.present[:, v, None, None], x, torch.full_like(x, float("nan")))
                                   for v, x in enumerate(cls.views)), cls.present, cls.labels)
    torch.manual_seed(0)
    assert method.training_losses(nan_cls, con).total.item() == a.total.item()  # missing values never leak
    a.total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in method.head.parameters())


# ---------------------------------------------------------------- public API
def _write_windows(root, n=(48, 24, 30)):
    return write_windows(root, n)


def test_run_experiment_writes_the_stable_layout(tmp_path):
    from dataclasses import replace

    from ralis.api import OUTPUTS, run_experiment
    from ralis.config import DataConfig, MissingConfig
    from ralis.io import read_json

    views = _write_windows(tmp_path / "windows")
    params = tiny_params(max_epochs=2, min_epochs=1, max_steps_per_epoch=2)
    params = replace(params, data=DataConfig(dataset="synthetic", windows_dir=str(tmp_path / "windows")),
                     missing=MissingConfig(protocol="uniform"))
    res = run_experiment(params, tmp_path / "run", progress=False)
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == sorted(OUTPUTS.values())
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics == res.metrics
    assert metrics["views"] == [v.name for v in views] and metrics["scenario_k"] == {"1": 1, "half": 3, "all": 6}
    assert metrics["removed_windows"]["test"] + metrics["windows"]["test"] == 30
    assert sum(metrics["removed_windows"].values()) <= 3  # p^6 = 1e-3 per window: almost never
    combos = pd.read_csv(tmp_path / "run" / "combinations.csv")
    assert len(combos) == 63 and combos.n_excluded.max() > 0  # uniform drop leaves single views missing
    for sc, k in metrics["scenario_k"].items():
        assert metrics["test_f1"][sc] == pytest.approx(combos[combos.k == k].f1.mean())
    # a subset of views (params data.views) and the complete protocol
    sub = replace(params, data=replace(params.data, views=["waist", "pose3d"]), missing=MissingConfig())
    res2 = run_experiment(sub, tmp_path / "run2", progress=False)
    assert res2.metrics["views"] == ["waist", "pose3d"] and len(res2.results.rows) == 3
    assert res2.metrics["removed_windows"] == {"train": 0, "valid": 0, "test": 0}
    with pytest.raises(ValueError, match="data.views"):
        run_experiment(replace(params, data=replace(params.data, views=["nose"])), tmp_path / "bad", progress=False)
