"""Torch loaders: contract, reproducible seeded streams, augmentation only in training streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ralis.config import AugmentConfig
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.data.augment_batch import BatchAugmenter as Augmenter
from ralis.data.loader import (
    BatchStream,
    availability_order,
    make_eval_loader,
    make_sorted_loader,
    make_train_streams,
    stream_seed,
)
from ralis.data.store import WindowedSplit

SPECS = (ViewSpec("a", "acc", 3, 50.0), ViewSpec("b", "acc", 3, 50.0), ViewSpec("p", "pose3d", 9, 20.0))


def _split(n: int = 40, seed: int = 0, labels: np.ndarray | None = None) -> WindowedSplit:
    r = np.random.default_rng(seed)
    present = r.random((n, 3)) < 0.7
    present[~present.any(axis=1), 0] = True
    views = {"a": r.normal(size=(n, 20, 3)), "b": r.normal(size=(n, 20, 3)), "p": r.normal(size=(n, 8, 9))}
    views = {k: np.where(present[:, j, None, None], v, 0).astype(np.float32) for j, (k, v) in enumerate(views.items())}
    labels = r.integers(0, 4, n) if labels is None else labels
    return WindowedSplit(views, present, labels.astype(np.int64), np.ones(n, np.int64), ("w", "x", "y", "z"))


def _epoch(loader) -> list[MultiviewBatch]:
    return list(loader)


def _same_batches(xs: list[MultiviewBatch], ys: list[MultiviewBatch]) -> bool:
    return len(xs) == len(ys) and all(
        torch.equal(x.labels, y.labels) and torch.equal(x.present, y.present)
        and all(torch.equal(u, v) for u, v in zip(x.views, y.views)) for x, y in zip(xs, ys))


def test_eval_loader_is_ordered_complete_and_unaugmented():
    split = _split(37)
    batches = _epoch(make_eval_loader(split, batch_size=16))
    assert [len(b) for b in batches] == [16, 16, 5]
    b = batches[0]
    assert isinstance(b, MultiviewBatch) and b.labels.dtype == torch.long and b.present.dtype == torch.bool
    assert [tuple(v.shape) for v in b.views] == [(16, 20, 3), (16, 20, 3), (16, 8, 9)]
    assert all(v.dtype == torch.float32 for v in b.views)
    views = [torch.cat([bb.views[j] for bb in batches]) for j in range(3)]
    for j, name in enumerate("abp"):
        assert torch.equal(views[j], torch.from_numpy(split.views[name]))
    assert torch.equal(torch.cat([bb.labels for bb in batches]), torch.from_numpy(split.labels))
    assert make_eval_loader(split, 8).augmenter is None


def test_rows_without_views_are_rejected():
    split = _split(6)
    split.present[2] = False
    with pytest.raises(ValueError, match="no present view"):
        BatchStream(split, 2)


def test_train_streams_are_reproducible_and_independent():
    split = _split(40)
    aug = Augmenter(SPECS, AugmentConfig(), seed=0)

    def run(seed):
        s = make_train_streams(split, cls_batch=16, con_batch=8, seed=seed, augmenter=aug)
        return _epoch(s.cls_loader) + _epoch(s.cls_loader), _epoch(s.con_loader)

    (cls1, con1), (cls2, con2), (cls3, _) = run(0), run(0), run(1)
    assert [len(b) for b in cls1] == [16, 16] * 2 and [len(b) for b in con1] == [8] * 5  # drop_last
    assert _same_batches(cls1, cls2) and _same_batches(con1, con2)
    assert not _same_batches(cls1, cls3)
    assert not torch.equal(cls1[0].labels, cls1[2].labels)  # a new shuffle every epoch
    assert not torch.equal(cls1[0].labels[:8], con1[0].labels)  # the two streams shuffle independently


def test_training_is_augmented_but_eval_never():
    split = _split(16)
    aug = Augmenter(SPECS, AugmentConfig(), seed=0)
    train = next(iter(make_train_streams(split, 16, 16, seed=0, augmenter=aug).cls_loader))
    plain = next(iter(make_train_streams(split, 16, 16, seed=0, augmenter=None).cls_loader))
    assert torch.equal(train.labels, plain.labels) and torch.equal(train.present, plain.present)  # same order
    raw = torch.from_numpy(split.views["a"]).flatten(1)
    assert all((raw == row.flatten()).all(1).any() for row in plain.views[0])  # unaugmented rows of the split
    assert not any((raw == row.flatten()).all(1).any() for row in train.views[0][train.present[:, 0]])
    ev = next(iter(make_eval_loader(split, 16)))
    assert torch.equal(ev.views[0], torch.from_numpy(split.views["a"]))
    assert (ev.views[2][~ev.present[:, 2]] == 0).all()


def test_balanced_sampling_evens_out_classes():
    labels = np.array([0] * 180 + [1] * 20 + [2] * 20 + [3] * 20)
    s = make_train_streams(_split(240, labels=labels), 16, 16, seed=0, augmenter=None, balanced=True)
    counts = np.bincount(torch.cat([b.labels for _ in range(5) for b in s.cls_loader]).numpy(), minlength=4)
    assert counts.min() > 0.7 * counts.max()
    plain = np.bincount(torch.cat([b.labels for b in s.con_loader]).numpy(), minlength=4)
    assert plain[0] > 3 * plain[1:].max()  # the contrastive stream keeps the natural distribution


def test_stream_batches_are_index_gathers_of_the_split():
    split = _split(32, seed=2)
    stream = make_train_streams(split, 8, 8, seed=0, augmenter=None).cls_loader
    order = torch.randperm(32, generator=torch.Generator().manual_seed(stream_seed(0, 0)))
    for b, batch in enumerate(stream):
        rows = order[8 * b:8 * (b + 1)].numpy()
        assert np.array_equal(batch.labels.numpy(), split.labels[rows])
        assert np.array_equal(batch.views[2].numpy(), split.views["p"][rows])


def test_batch_larger_than_split_is_an_error():
    with pytest.raises(ValueError, match="fewer than the batch size"):
        make_train_streams(_split(10), 16, 16, seed=0, augmenter=None)


# ---------------------------------------------------------------- Flex-MoE warm-up order
def test_availability_order_matches_a_sort_loop_with_seeded_ties():
    present = _split(60, seed=5).present
    order = availability_order(present, seed=3)
    assert sorted(order.tolist()) == list(range(60))
    # slow reference: rank of each window in the seeded permutation breaks the ties
    rank = {int(i): r for r, i in enumerate(np.random.default_rng(3).permutation(60))}
    expected = sorted(range(60), key=lambda i: (-int(present[i].sum()), rank[i]))
    assert order.tolist() == expected
    assert (np.diff(present[order].sum(1)) <= 0).all()  # full-view windows first
    assert np.array_equal(order, availability_order(present, seed=3))
    assert not np.array_equal(order, availability_order(present, seed=4))  # ties: a different seeded order
    with pytest.raises(ValueError, match="bool array"):
        availability_order(present.astype(int), seed=0)


def test_sorted_loader_serves_full_view_windows_first_and_is_reproducible():
    split = _split(45, seed=6)
    aug = Augmenter(SPECS, AugmentConfig(), seed=1)
    a = _epoch(make_sorted_loader(split, 8, seed=0, augmenter=aug))
    assert len(a) == 45 // 8 == len(make_train_streams(split, 8, 8, seed=0, augmenter=None).cls_loader)
    counts = torch.cat([b.present.sum(1) for b in a])
    assert (counts[:-1] >= counts[1:]).all() and int(counts[0]) == 3
    assert _same_batches(a, _epoch(make_sorted_loader(split, 8, seed=0, augmenter=aug)))  # same order, same aug
    plain = _epoch(make_sorted_loader(split, 8, seed=0, augmenter=None))
    assert all(torch.equal(x.labels, y.labels) for x, y in zip(a, plain))  # same order with or without augmentation
    assert not _same_batches(a, plain)  # but the training batches are augmented
    with pytest.raises(ValueError, match="cls_batch"):
        make_sorted_loader(_split(5), 8, seed=0, augmenter=None)
