"""View-combination evaluation (methods.md §1.12, A10): math against a slow loop, exclusion, encode-once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score
from torch import nn

import ralis.evaluate as ev
from ralis.contract import MultiviewBatch
from ralis.io import read_json
from ralis.methods import LossTerms, MultiviewMethod
from ralis.zoo import build_method
from tests.train_fixtures import CLASSES, VIEWS, make_split, one_thread, tiny_params

_one_thread = pytest.fixture(autouse=True)(one_thread)


class VoteMethod(MultiviewMethod):
    """Each view votes for a class (its mean value rounded); views are weighted 1, 1.1, 1.2, ... to break ties.

    Counts encode calls so tests can check that evaluation encodes each window once.
    """

    def __init__(self):
        super().__init__(VIEWS, len(CLASSES))
        self.dummy = nn.Parameter(torch.zeros(()))
        self.encode_calls = 0
        self.encoded_rows = 0

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        self.encode_calls += 1
        self.encoded_rows += len(batch)
        votes = torch.stack([x.mean(dim=(1, 2)).round() for x in batch.views])  # [V, N]
        z = torch.nn.functional.one_hot(votes.long().clamp(0, self.n_classes - 1), self.n_classes).float()
        return z * batch.present.T[:, :, None]  # [V, N, C]

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        w = 1.0 + 0.1 * torch.arange(self.n_views, dtype=z.dtype)
        return (z * (present.T[:, :, None] * w[:, None, None])).sum(0) + self.dummy  # [N, C]

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:  # pragma: no cover
        raise NotImplementedError


def vote_split(n: int, seed: int, drop: float):
    """A split whose view values are constant class votes (random, correlated with the label)."""
    split = make_split(n, seed, drop=drop)
    rng = np.random.default_rng(seed + 100)
    votes = np.where(rng.random((n, len(VIEWS))) < 0.6, split.labels[:, None], rng.integers(0, 3, (n, len(VIEWS))))
    for j, name in enumerate(split.view_names):
        x = np.broadcast_to(votes[:, j, None, None], split.views[name].shape).astype(np.float32)
        split.views[name] = np.where(split.present[:, j, None, None], x, 0).astype(np.float32)
    return split, votes


def slow_vote_predictions(votes, present, labels, combo):
    """Independent loop: S_i ∩ Q, exclusion of empty intersections, weighted vote -> (y_true, y_pred)."""
    y_true, y_pred = [], []
    for i in range(len(labels)):
        views = [v for v in combo if present[i, v]]
        if not views:
            continue
        score = np.zeros(len(CLASSES))
        for v in views:
            score[votes[i, v]] += 1.0 + 0.1 * v
        y_true.append(labels[i])
        y_pred.append(int(np.argmax(score)))
    return y_true, y_pred


def slow_vote_f1(votes, present, labels, combo):
    """sklearn macro-F1 of the slow loop's predictions, and the number of scored samples."""
    y_true, y_pred = slow_vote_predictions(votes, present, labels, combo)
    if not y_true:
        return float("nan"), 0
    return f1_score(y_true, y_pred, average="macro"), len(y_true)


def test_scenario_sizes_follow_the_paper():
    # DailySport 5 -> 3, RealDisp 9 -> 5, CMDFall 7 -> 4, UP-Fall 5 -> 3, CMDFall-3 -> 2
    assert [ev.scenario_size("half", v) for v in (5, 9, 7, 5, 3)] == [3, 5, 4, 3, 2]
    assert ev.scenario_size("1", 9) == 1 and ev.scenario_size("all", 9) == 9 and ev.scenario_size("2", 3) == 2
    for bad in ("0", "10", "most"):
        with pytest.raises(ValueError, match="scenarios"):
            ev.scenario_size(bad, 9)
    combos = ev.view_combinations(5)
    assert len(combos) == 31 and len(set(combos)) == 31
    assert [sum(len(c) == k for c in combos) for k in range(1, 6)] == [math.comb(5, k) for k in range(1, 6)]


def test_per_combination_f1_and_summary_match_independent_loop():
    split, votes = vote_split(90, seed=1, drop=0.45)
    method = VoteMethod()
    encoded = ev.encode_split(method, split, batch_size=16)
    res = ev.evaluate_combinations(method, encoded, split.view_names, CLASSES, scenarios=("1", "half", "all"))
    table = res.frame()
    assert len(table) == 7
    for combo in ev.view_combinations(3):
        name = "+".join(split.view_names[i] for i in combo)
        row = table.set_index("combination").loc[name]
        f1, n_scored = slow_vote_f1(votes, split.present, split.labels, combo)
        assert row.n_scored == n_scored and row.n_excluded == 90 - n_scored and row.k == len(combo)
        assert row.f1 == pytest.approx(f1, abs=1e-12)
        y_true, y_pred = slow_vote_predictions(votes, split.present, split.labels, combo)
        assert row.accuracy == pytest.approx(sum(a == b for a, b in zip(y_true, y_pred)) / len(y_true), abs=1e-12)
    assert table.n_excluded.max() > 0  # missing data really excluded samples
    for sc, k in (("1", 1), ("half", 2), ("all", 3)):
        assert res.scenario_k[sc] == k
        assert res.summary[sc] == pytest.approx(table[table.k == k].f1.mean(), abs=1e-12)
        assert res.accuracy[sc] == pytest.approx(table[table.k == k].accuracy.mean(), abs=1e-12)
    slow = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)  # all-views confusion, true x predicted
    for t, p in zip(*slow_vote_predictions(votes, split.present, split.labels, (0, 1, 2))):
        slow[t, p] += 1
    assert (res.confusion == slow).all() and res.confusion.sum() == 90
    assert list(res.confusion_frame().columns) == list(CLASSES)


def test_combination_with_no_scored_sample_is_nan_and_left_out_of_the_mean(tmp_path):
    split, votes = vote_split(30, seed=2, drop=0.0)
    split.present[:, 0] = False  # view 0 never present
    split.views[split.view_names[0]][:] = 0
    method = VoteMethod()
    res = ev.evaluate_combinations(method, ev.encode_split(method, split, 8), split.view_names, CLASSES)
    row = res.frame().set_index("combination").loc["wrist"]
    assert row.n_scored == 0 and math.isnan(row.f1)
    singles = res.frame().query("k == 1").f1.dropna()
    assert res.n_combinations["1"] == 2 and res.summary["1"] == pytest.approx(singles.mean())
    paths = res.save(tmp_path)
    assert read_json(paths["json"])["combinations"][0]["f1"] is None  # NaN written as JSON null
    assert pd.read_csv(paths["csv"]).shape == (7, 6)
    assert pd.read_csv(paths["confusion"], index_col=0).to_numpy().sum() == 30


def test_encoders_run_once_per_window_not_per_combination():
    split, _ = vote_split(40, seed=3, drop=0.3)
    method = VoteMethod()
    encoded = ev.encode_split(method, split, batch_size=16)
    assert (method.encode_calls, method.encoded_rows) == (3, 40)
    ev.evaluate_combinations(method, encoded, split.view_names, CLASSES)
    assert (method.encode_calls, method.encoded_rows) == (3, 40)


def test_meanfusion_encoder_forward_count_with_hooks():
    split = make_split(20, seed=4, drop=0.3)
    torch.manual_seed(0)
    method = build_method("meanfusion", VIEWS, 3, tiny_params())
    calls = []
    method.encoders.register_forward_hook(lambda m, inp, out: calls.append(out.shape[1]))  # the encoder bank
    encoded = ev.encode_split(method, split, batch_size=8)
    assert calls == [8, 8, 4]  # one bank call per batch of windows
    ev.evaluate_combinations(method, encoded, split.view_names, CLASSES)
    assert calls == [8, 8, 4]  # scoring the 2^V - 1 combinations encodes nothing again


def test_encode_split_matches_batch_encoding_and_zeroes_missing():
    split = make_split(20, seed=5, drop=0.4)
    torch.manual_seed(0)
    method = build_method("meanfusion", VIEWS, 3, tiny_params()).eval()
    encoded = ev.encode_split(method, split, batch_size=7)
    assert isinstance(encoded, ev.EncodedSplit) and encoded.z.shape == (3, 20, 16)
    assert not encoded.z[~split.present.T].any()
    batch = MultiviewBatch(tuple(torch.from_numpy(x) for x in split.views.values()), torch.from_numpy(split.present))
    with torch.no_grad():
        torch.testing.assert_close(encoded.z, method.encode(batch), atol=1e-5, rtol=1e-5)
    # fused_f1 (the A11 criterion) is the all-view combination
    pred = ev.predict_encoded(method, encoded)
    assert len(pred.rows) == 20
    assert ev.fused_f1(method, split, 7) == pytest.approx(f1_score(pred.y_true, pred.y_pred, average="macro"))


def test_views_outside_the_combination_never_reach_predict():
    split, _ = vote_split(24, seed=6, drop=0.0)
    method = VoteMethod()
    encoded = ev.encode_split(method, split, 8)
    poisoned = ev.EncodedSplit(encoded.z.clone(), encoded.present, encoded.labels)
    poisoned.z[1] = float("nan")  # a view outside Q must not reach predict, not even as NaN
    seen = []
    original = method.predict

    def spy(z, present):
        seen.append((z.clone(), present.clone()))
        return original(z, present)

    method.predict = spy
    keep = torch.tensor([True, False, True])
    ev.predict_encoded(method, poisoned, keep)
    z, present = seen[0]
    assert not present[:, 1].any() and not z[1].any()


def test_evaluate_rejects_mismatched_inputs():
    split, _ = vote_split(10, seed=7, drop=0.0)
    method = VoteMethod()
    encoded = ev.encode_split(method, split, 8)
    with pytest.raises(ValueError, match="view names"):
        ev.evaluate_combinations(method, encoded, ("a", "b"), CLASSES)
    with pytest.raises(ValueError, match="out of range"):
        ev.evaluate_combinations(method, encoded, split.view_names, ("only", "two"))
    split.views = {k: split.views[k] for k in reversed(split.view_names)}
    split.present = split.present[:, ::-1].copy()
    with pytest.raises(ValueError, match="differ"):
        ev.encode_split(method, split, 8)


def test_all_views_scenario_equals_sklearn_on_full_predictions():
    split, votes = vote_split(50, seed=8, drop=0.0)
    method = VoteMethod()
    res = ev.evaluate_combinations(method, ev.encode_split(method, split, 50), split.view_names, CLASSES)
    f1, n = slow_vote_f1(votes, split.present, split.labels, (0, 1, 2))
    assert n == 50 and res.summary["all"] == pytest.approx(f1)
    assert res.frame().query("k == 2").shape[0] == 3
