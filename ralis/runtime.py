"""Seeding and device choice: the one place that touches global RNG state or picks hardware."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from tqdm import tqdm

__all__ = ["seed_everything", "derive_seed", "make_generator", "pick_device"]


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally ask torch for deterministic kernels."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def derive_seed(seed: int, stream: int) -> int:
    """A stable, independent seed for sub-stream `stream` of `seed` (training streams, augmenter forks)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator for DataLoader shuffling, so sample order depends only on `seed`."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def pick_device(choice: str = "auto") -> torch.device:
    """Resolve a device name from params: 'auto' means CUDA when available, otherwise CPU."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"params asks for device {choice!r} but CUDA is not available; set train.device to 'auto' or 'cpu'"
        )
    try:
        return torch.device(choice)
    except RuntimeError as err:
        raise ValueError(f"unknown device {choice!r} in params; use 'auto', 'cpu' or 'cuda[:N]'") from err


QUIET_ENV = "RALIS_QUIET"  # set by dvc.yaml's notebook command and ralis.runner: no progress bars


def progress_bar(iterable=None, *, show: bool = True, **kwargs) -> tqdm:
    """A tqdm text bar on stderr, off when `show` is false or RALIS_QUIET is set (executed notebooks then keep
    one line per epoch instead of hundreds of bar updates). Text bars rather than `tqdm.auto`, which needs
    ipywidgets inside Jupyter and warns (TqdmWarning) without them."""
    return tqdm(iterable, disable=not show or QUIET_ENV in os.environ, **kwargs)

