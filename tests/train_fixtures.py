"""Tiny in-memory windowed splits and params for the training / evaluation tests (CPU, seconds)."""

from __future__ import annotations

import numpy as np

from ralis.config import AugmentConfig, EvalConfig, ModelConfig, Params, TrainConfig
from ralis.contract import ViewSpec
from ralis.data.store import WindowedSplit

VIEWS = (ViewSpec("wrist", "acc", 3, 50.0), ViewSpec("ankle", "acc", 3, 50.0), ViewSpec("pose", "pose3d", 6, 20.0))
CLASSES = ("walk", "run", "sit")


def make_split(n: int, seed: int, drop: float = 0.0, noise: float = 0.3, views: tuple[ViewSpec, ...] = VIEWS,
               classes: tuple[str, ...] = CLASSES) -> WindowedSplit:
    """n windows; each view carries a class-dependent sinusoid plus noise (accelerometers T=32, poses T=16).

    With `drop` > 0 each view is missing independently with that probability (>= 1 view kept per window).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    rng.shuffle(labels)
    present = rng.random((n, len(views))) >= drop
    present[~present.any(axis=1), rng.integers(len(views))] = True
    arrays = {}
    for j, v in enumerate(views):
        length = 32 if v.modality == "acc" else 16
        t = np.arange(length)[None, :, None] / length
        freq = (1 + labels)[:, None, None] * (1 + j)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, v.channels))
        x = np.sin(2 * np.pi * freq * t + phase) + noise * rng.standard_normal((n, length, v.channels))
        arrays[v.name] = np.where(present[:, j, None, None], x, 0).astype(np.float32)
    return WindowedSplit(arrays, present, labels.astype(np.int64), np.zeros(n, dtype=np.int64), classes)


def tiny_params(**train: object) -> Params:
    """Small widths, CPU, no augmentation; `train` overrides TrainConfig fields."""
    t = dict(method="meanfusion", device="cpu", max_epochs=3, min_epochs=1, cls_batch=8, con_batch=8, seed=0)
    t.update(train)
    return Params(model=ModelConfig(width=16, kernel_size=3, n_blocks=2, dropout=0.0, expert_hidden=16),
                  train=TrainConfig(**t), augment=AugmentConfig(enabled=False), evaluate=EvalConfig(batch_size=32))


def one_thread():
    """Generator body of an autouse fixture: tiny models run faster on one thread on a shared CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_windows(root, sizes: tuple[int, int, int] = (48, 24, 30), key: str = "synthetic",
                  views: tuple[ViewSpec, ...] | None = None) -> tuple[ViewSpec, ...]:
    """A windows folder `root/key/` as the windowing stage writes it: train / valid / test .npz and manifest.json
    (views default to the synthetic dataset's)."""
    from pathlib import Path

    from ralis.data.registry import get_dataset
    from ralis.data.store import save_split, view_entry, write_manifest

    views = views or get_dataset("synthetic").views
    splits = {name: make_split(size, seed, views=views) for seed, (name, size) in
              enumerate(zip(("train", "valid", "test"), sizes))}
    for name, ws in splits.items():
        save_split(Path(root) / key, name, ws)
    write_manifest(Path(root) / key, {"dataset": key, "views": [view_entry(v, splits["train"]) for v in views],
                                      "class_names": list(CLASSES)})
    return views
