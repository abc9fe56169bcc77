"""Shared pieces of the training-based analyses (Figs. 5-7): the short-training params, the data, one training.

The analyses train RALIS with params.yaml's `model` / `loss` / `train` sections and the `analysis` overrides
(`protocol`, `epochs`, `steps_per_epoch`, `width`); every analysis training starts from the PAPER's
ablation switches (the full model), like the pipeline's ablation stage, so params.yaml's `ablation` section
does not reach them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ralis.api import DatasetInfo, apply_missing, build_model, dataset_info, load_splits
from ralis.config import AblationConfig, Params
from ralis.data.store import WindowedSplit
from ralis.methods import MultiviewMethod
from ralis.train import FitResult, fit

__all__ = ["analysis_params", "AnalysisData", "load_analysis_data", "train_ralis", "rows_with_views"]


def analysis_params(params: Params, **ablation: bool) -> Params:
    """RALIS with the `analysis` overrides: missing protocol, epochs (min_epochs <= epochs), steps, width."""
    a = params.analysis
    if a.epochs < 1:
        raise ValueError(f"params.yaml analysis.epochs must be >= 1, got {a.epochs}")
    model = params.model
    if a.width is not None:
        model = dataclasses.replace(model, width=a.width, att_hidden=a.width, expert_hidden=a.width)
    train = dataclasses.replace(params.train, method="ralis", max_epochs=a.epochs,
                                min_epochs=min(params.train.min_epochs, a.epochs),
                                max_steps_per_epoch=a.steps_per_epoch)
    return dataclasses.replace(params, model=model, train=train, ablation=AblationConfig(**ablation),
                               missing=dataclasses.replace(params.missing, protocol=a.protocol))


class AnalysisData(NamedTuple):
    """Splits after the missing-view protocol (`masked`), the splits with every recorded view (`full`), views."""

    masked: dict[str, WindowedSplit]
    full: dict[str, WindowedSplit]
    info: DatasetInfo


def load_analysis_data(params: Params) -> AnalysisData:
    """Read the windowed splits of `data.dataset` and apply `missing.protocol` (seeded by `train.seed`)."""
    full = load_splits(params)
    masked, _ = apply_missing(full, params)
    for name, split in masked.items():
        if len(split) == 0:
            raise ValueError(f"split '{name}' of {params.data.dataset} is empty after the "
                             f"'{params.missing.protocol}' protocol")
    return AnalysisData(masked, full, dataset_info(masked["train"], params.data.dataset))


def train_ralis(params: Params, data: AnalysisData, out_dir: str | Path,
                on_epoch_end: Callable[[int, MultiviewMethod], dict[str, float] | None] | None = None
                ) -> tuple[MultiviewMethod, FitResult]:
    """Build (seeded) and fit one model on the masked training split; returns the best-checkpoint model."""
    augmenter: Any = None
    if params.augment.enabled:
        from ralis.data.augment_batch import BatchAugmenter

        augmenter = BatchAugmenter(data.info.views, params.augment, seed=params.train.seed)
    method = build_model(params, data.info)
    fitted = fit(method, data.masked["train"], data.masked["valid"], params, out_dir, augmenter=augmenter,
                 progress=False, on_epoch_end=on_epoch_end)
    return method, fitted


def rows_with_views(present: torch.Tensor, at_least: int) -> torch.Tensor:
    """Indices of the rows of `present` [N, V] with >= `at_least` present views."""
    return (present.sum(1) >= at_least).nonzero().flatten()
