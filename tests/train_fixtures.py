"""Tiny in-memory windowed splits and params for the training / evaluation tests (CPU, seconds)."""

from __future__ import annotations

import numpy as np

from ralis.config import AugmentConfig, EvalConfig, ModelConfig, Params, TrainConfig
from ralis.data.registry import ViewSpec
from ralis.data.store import WindowedSplit

VIEWS = (ViewSpec("wrist", "acc", 3, 50.0), ViewSpec("ankle", "acc", 3, 50.0), ViewSpec("pose", "pose3d", 6, 20.0))
LENGTHS = {"wrist": 32, "ankle": 32, "pose": 16}
CLASSES = ("walk", "run", "sit")


def make_split(n: int, seed: int, drop: float = 0.0, noise: float = 0.3) -> WindowedSplit:
    """n windows of 3 classes; each view carries a class-dependent sinusoid plus noise.

    With `drop` > 0 each view is missing independently with that probability (>= 1 view kept per window).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    present = rng.random((n, len(VIEWS))) >= drop
    present[~present.any(axis=1), rng.integers(len(VIEWS))] = True
    views = {}
    for j, v in enumerate(VIEWS):
        t = np.arange(LENGTHS[v.name])[None, :, None] / LENGTHS[v.name]
        freq = (1 + labels)[:, None, None] * (1 + j)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, v.channels))
        x = np.sin(2 * np.pi * freq * t + phase) + noise * rng.standard_normal((n, LENGTHS[v.name], v.channels))
        views[v.name] = np.where(present[:, j, None, None], x, 0).astype(np.float32)
    return WindowedSplit(views, present, labels.astype(np.int64), np.zeros(n, dtype=np.int64), CLASSES)


def tiny_params(**train: object) -> Params:
    """Small widths, CPU, no augmentation; `train` overrides TrainConfig fields."""
    t = dict(method="meanfusion", device="cpu", max_epochs=3, min_epochs=1, cls_batch=8, con_batch=8, seed=0)
    t.update(train)
    return Params(model=ModelConfig(width=16, kernel_size=3, n_blocks=2, dropout=0.0, expert_hidden=16),
                  train=TrainConfig(**t), augment=AugmentConfig(enabled=False), evaluate=EvalConfig(batch_size=32))
