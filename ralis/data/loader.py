"""Torch data access: windowed splits -> MultiviewBatch, and the two training streams (spec §1.8, A4).

RALIS trains on a classification stream and a contrastive stream, two independent loaders over the same
labelled training set, each with its own seeded shuffle generator and its own augmentation RNG.
Evaluation loaders never augment and never shuffle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler, get_worker_info

from ralis.contract import MultiviewBatch
from ralis.data.augment import Augmenter
from ralis.data.store import WindowedSplit
from ralis.runtime import make_generator, seed_worker

__all__ = ["Sample", "MultiviewDataset", "collate_multiview", "TrainStreams", "make_train_streams",
           "make_eval_loader", "stream_seed", "availability_order", "make_sorted_loader"]


class Sample(NamedTuple):
    views: tuple[np.ndarray, ...]  # V arrays [T_v, C_v] float32 (zeros where missing)
    present: np.ndarray  # bool [V]
    label: int


class MultiviewDataset(Dataset):
    """One window per item, views in the split's (registry) order; optionally augmented (training only)."""

    def __init__(self, split: WindowedSplit, augmenter: Augmenter | None = None):
        if len(split) and not split.present.any(axis=1).all():
            bad = np.flatnonzero(~split.present.any(axis=1))[:5].tolist()
            raise ValueError(f"windows {bad} have no present view; apply ralis.data.missing.apply_protocol first")
        if augmenter is not None and [v.name for v in augmenter.view_specs] != list(split.view_names):
            raise ValueError(f"augmenter views {[v.name for v in augmenter.view_specs]} do not match the split's "
                             f"views {list(split.view_names)}")
        self.views = [np.ascontiguousarray(x, dtype=np.float32) for x in split.views.values()]
        self.present = split.present
        self.labels = split.labels.astype(np.int64)
        self.augmenter = augmenter
        self._worker_seed: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> Sample:
        present = self.present[i]
        views = [x[i] for x in self.views]
        if self.augmenter is not None:
            info = get_worker_info()
            if info is not None and self._worker_seed != info.seed:  # each worker copy gets its own RNG stream
                self._worker_seed = info.seed
                self.augmenter.reseed(info.seed % 2**63)
            views = self.augmenter(views, present)
        return Sample(tuple(views), present, int(self.labels[i]))


def collate_multiview(samples: Sequence[Sample]) -> MultiviewBatch:
    """Stack samples into a MultiviewBatch (views [N, T_v, C_v] float32, present [N, V], labels [N])."""
    if not samples:
        raise ValueError("collate_multiview got an empty list of samples")
    n_views = len(samples[0].views)
    views = tuple(torch.from_numpy(np.stack([s.views[v] for s in samples]).astype(np.float32, copy=False))
                  for v in range(n_views))
    present = torch.from_numpy(np.stack([s.present for s in samples]).astype(bool))
    labels = torch.tensor([s.label for s in samples], dtype=torch.long)
    return MultiviewBatch(views, present, labels)


class TrainStreams(NamedTuple):
    cls_loader: DataLoader  # classification stream (labels used)
    con_loader: DataLoader  # contrastive stream (labels ignored by the loss)


def stream_seed(seed: int, stream: int) -> int:
    """Stable derived seed of one stream (0 = classification, 1 = contrastive)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def _train_loader(split: WindowedSplit, batch: int, seed: int, augmenter: Augmenter | None, num_workers: int,
                  balanced: bool, order: list[int] | None = None) -> DataLoader:
    """Training loader: shuffled, class-balanced (`balanced`), or in a fixed `order` (unshuffled)."""
    if len(split) < batch:
        raise ValueError(f"training split has {len(split)} windows, fewer than the batch size {batch} "
                         "(drop_last=True would give no batch); lower train.cls_batch / train.con_batch")
    gen = make_generator(seed)
    sampler = order
    if balanced:  # A13: class-balanced resampling (VSF BalancedFusionDataset), with replacement
        counts = np.bincount(split.labels, minlength=len(split.class_names))
        weights = torch.as_tensor(1.0 / counts[split.labels], dtype=torch.double)
        sampler = WeightedRandomSampler(weights, num_samples=len(split), replacement=True, generator=gen)
    return DataLoader(MultiviewDataset(split, augmenter), batch_size=batch, shuffle=sampler is None, sampler=sampler,
                      drop_last=True, collate_fn=collate_multiview, num_workers=num_workers,
                      worker_init_fn=seed_worker, generator=gen)


def make_train_streams(split: WindowedSplit, cls_batch: int, con_batch: int, seed: int,
                       augmenter: Augmenter | None, num_workers: int = 0, balanced: bool = False) -> TrainStreams:
    """Two independent shuffled loaders over the same labelled training set (spec §1.8, A4).

    Each stream has its own shuffle generator and its own fork of `augmenter` (seeded from `seed`), so
    the sample order and the augmentations are reproducible for a fixed seed (exactly with
    num_workers=0; with workers, through the per-worker seeds torch derives from the generator).
    `balanced` applies class-balanced sampling to the classification stream only (A13).
    """
    forks = (None, None) if augmenter is None else (augmenter.fork(stream_seed(seed, 0)),
                                                    augmenter.fork(stream_seed(seed, 1)))
    return TrainStreams(
        _train_loader(split, cls_batch, stream_seed(seed, 0), forks[0], num_workers, balanced),
        _train_loader(split, con_batch, stream_seed(seed, 1), forks[1], num_workers, False),
    )


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


def make_sorted_loader(split: WindowedSplit, batch: int, seed: int, augmenter: Augmenter | None,
                       num_workers: int = 0) -> DataLoader:
    """Unshuffled classification loader in `availability_order` (full-view windows first), for warm-up epochs.

    Same length as the shuffled classification stream (drop_last); its augmenter is a third fork (stream 2).
    """
    warm_seed = stream_seed(seed, 2)
    aug = None if augmenter is None else augmenter.fork(warm_seed)
    return _train_loader(split, batch, warm_seed, aug, num_workers, balanced=False,
                         order=availability_order(split.present, warm_seed).tolist())


def make_eval_loader(split: WindowedSplit, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Sequential, unaugmented loader for validation and test (keeps every window, in order)."""
    return DataLoader(MultiviewDataset(split, augmenter=None), batch_size=batch_size, shuffle=False,
                      drop_last=False, collate_fn=collate_multiview, num_workers=num_workers)
