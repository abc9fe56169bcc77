"""Torch data access: a windowed split held in memory as tensors, served as MultiviewBatch (spec §1.8, A4).

RALIS trains on a classification stream and a contrastive stream, two independent batch streams over the
same labelled training set, each with its own seeded shuffle generator and its own augmentation RNG.
A batch is one index gather per view plus one batched augmentation call (`BatchAugmenter`), so the data
pipeline costs a small fraction of a training step. Evaluation streams never augment and never shuffle.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from ralis.contract import MultiviewBatch
from ralis.data.augment_batch import BatchAugmenter
from ralis.data.store import WindowedSplit
from ralis.runtime import derive_seed, make_generator

__all__ = ["BatchStream", "TrainStreams", "make_train_streams", "make_eval_loader", "stream_seed",
           "availability_order", "make_sorted_loader"]


class BatchStream:
    """Batches of `split` in a seeded shuffled order, a class-balanced order (with replacement), a fixed
    `order`, or the stored order (no seed); optionally augmented. Re-iterating draws a fresh epoch."""

    def __init__(self, split: WindowedSplit, batch: int, *, seed: int | None = None, balanced: bool = False,
                 order: np.ndarray | None = None, augmenter: BatchAugmenter | None = None, drop_last: bool = True):
        if batch < 1:
            raise ValueError(f"batch size must be >= 1, got {batch}")
        if len(split) and not split.present.any(axis=1).all():
            bad = np.flatnonzero(~split.present.any(axis=1))[:5].tolist()
            raise ValueError(f"windows {bad} have no present view; apply ralis.data.missing.apply_protocol first")
        if augmenter is not None and [v.name for v in augmenter.view_specs] != list(split.view_names):
            raise ValueError(f"augmenter views {[v.name for v in augmenter.view_specs]} do not match the split's "
                             f"views {list(split.view_names)}")
        self.views = tuple(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in split.views.values())
        self.present = torch.from_numpy(np.asarray(split.present, dtype=bool))
        self.labels = torch.from_numpy(split.labels.astype(np.int64))
        self.batch, self.drop_last, self.augmenter = batch, drop_last, augmenter
        self.order = None if order is None else torch.as_tensor(order, dtype=torch.long)
        self.generator = None if seed is None else make_generator(seed)
        self.weights = None
        if balanced:  # A13: class-balanced resampling (VSF BalancedFusionDataset), with replacement
            counts = np.bincount(split.labels, minlength=len(split.class_names))
            self.weights = torch.as_tensor(1.0 / counts[split.labels], dtype=torch.double)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch if self.drop_last else -(-n // self.batch)

    def _epoch_order(self) -> torch.Tensor:
        n = len(self.labels)
        if self.order is not None:
            return self.order
        if self.weights is not None:
            return torch.multinomial(self.weights, n, replacement=True, generator=self.generator)
        if self.generator is not None:
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def __iter__(self) -> Iterator[MultiviewBatch]:
        order = self._epoch_order()
        for b in range(len(self)):
            rows = order[b * self.batch:(b + 1) * self.batch]  # [B]
            batch = MultiviewBatch(tuple(x[rows] for x in self.views), self.present[rows], self.labels[rows])
            yield batch if self.augmenter is None else self.augmenter(batch)


class TrainStreams(NamedTuple):
    cls_loader: BatchStream  # classification stream (labels used)
    con_loader: BatchStream  # contrastive stream (labels ignored by the loss)


def stream_seed(seed: int, stream: int) -> int:
    """Stable derived seed of one stream (0 = classification, 1 = contrastive, 2 = Flex-MoE warm-up)."""
    return derive_seed(seed, stream)


def _train_stream(split: WindowedSplit, batch: int, seed: int, augmenter: BatchAugmenter | None,
                  balanced: bool = False, order: np.ndarray | None = None) -> BatchStream:
    if len(split) < batch:
        raise ValueError(f"training split has {len(split)} windows, fewer than the batch size {batch} "
                         "(drop_last=True would give no batch); lower train.cls_batch / train.con_batch")
    return BatchStream(split, batch, seed=seed, balanced=balanced, order=order,
                       augmenter=None if augmenter is None else augmenter.fork(seed))


def make_train_streams(split: WindowedSplit, cls_batch: int, con_batch: int, seed: int,
                       augmenter: BatchAugmenter | None, balanced: bool = False) -> TrainStreams:
    """Two independent shuffled streams over the same labelled training set (spec §1.8, A4).

    Each stream has its own shuffle generator and its own fork of `augmenter`, both seeded from `seed`, so
    the sample order and the augmentations are reproducible for a fixed seed.
    `balanced` applies class-balanced sampling to the classification stream only (A13).
    """
    return TrainStreams(_train_stream(split, cls_batch, stream_seed(seed, 0), augmenter, balanced),
                        _train_stream(split, con_batch, stream_seed(seed, 1), augmenter))


def availability_order(present: np.ndarray, seed: int) -> np.ndarray:
    """Window indices by number of present views, most first; ties in a seeded random order.

    The Flex-MoE warm-up order (methods.md §2.3): the official code sorts its training ids stably by the
    number of observed modalities after taking them from a Python set, so ties come in an arbitrary order;
    a seeded permutation gives the same effect reproducibly (our windows are stored grouped by subject
    and class, which a stable sort alone would keep).
    """
    if present.ndim != 2 or present.dtype != np.bool_:
        raise ValueError(f"present must be a bool array [N, V], got {present.dtype} {present.shape}")
    perm = np.random.default_rng(seed).permutation(len(present))
    return perm[np.argsort(-present[perm].sum(1), kind="stable")]


def make_sorted_loader(split: WindowedSplit, batch: int, seed: int,
                       augmenter: BatchAugmenter | None) -> BatchStream:
    """Unshuffled classification stream in `availability_order` (full-view windows first), for warm-up epochs.

    Same length as the shuffled classification stream (drop_last); its augmenter is a third fork (stream 2).
    """
    warm_seed = stream_seed(seed, 2)
    return _train_stream(split, batch, warm_seed, augmenter, order=availability_order(split.present, warm_seed))


def make_eval_loader(split: WindowedSplit, batch_size: int) -> BatchStream:
    """Sequential, unaugmented batches for validation and test (keeps every window, in order)."""
    return BatchStream(split, batch_size, drop_last=False)
