"""Public API for notebooks: build a model, fit, evaluate, load a checkpoint, or run one whole experiment.

    from ralis.api import run_experiment
    from ralis.config import load_params
    result = run_experiment(load_params("params.yaml"), "outputs/runs/ralis-complete-0")
    result.metrics["test_f1"]          # {"1": ..., "half": ..., "all": ...}

`run_experiment` is one method x missing protocol x seed. Its output folder layout is stable (the `train` stage's
outputs; the training notebook draws the curves of train_log.csv, which dvc.yaml does not declare as DVC plots):

    checkpoint.pt       best checkpoint by validation macro-F1 (ralis.checkpoint)
    train_log.csv       per-epoch losses, valid_f1, diagnostics (also train_log.jsonl)
    combinations.csv    test macro-F1 and accuracy per view combination (also combinations.json)
    confusion.csv       test confusion matrix (true x predicted class) of the all-views combination
    metrics.json        test F1 and accuracy per scenario (1 / half / all), best epoch, valid F1, window counts

Your own windows: `run_experiment(params, out_dir, data=from_arrays({"wrist": x}, labels))` (README "Your own
sensors").

The folder is written as a temporary sibling and renamed when every file is there, so it is either complete
(`run_complete`) or absent; a failed run leaves a previous complete folder as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ralis.checkpoint import Checkpoint, load_checkpoint
from ralis.config import Params
from ralis.data.arrays import DatasetSplits, SplitRule, from_arrays
from ralis.data.store import SPLITS, DatasetInfo, WindowedSplit, dataset_info, load_split
from ralis.evaluate import CombinationResults, encode_split, evaluate_combinations, nan_to_none, scenario_size
from ralis.io import atomic_dir, write_json
from ralis.methods import MultiviewMethod
from ralis.model.encoder import encoder_entry
from ralis.probe import ConvergenceProbe, has_fusion
from ralis.runtime import pick_device, seed_everything
from ralis.train import CHECKPOINT_NAME, LOG_CSV, LOG_JSONL, FitResult, fit
from ralis.zoo import build_method, check_method, check_settings

__all__ = [
    "DatasetInfo", "DatasetSplits", "SplitRule", "ExperimentResult", "OUTPUTS", "dataset_info", "from_arrays",
    "select_views", "load_splits", "load_data", "apply_missing", "build_model", "fit", "evaluate", "load_checkpoint",
    "run_experiment", "run_complete", "Checkpoint", "FitResult",
]

OUTPUTS = {
    "checkpoint": CHECKPOINT_NAME, "train_log_csv": LOG_CSV, "train_log_jsonl": LOG_JSONL,
    "combinations_csv": "combinations.csv", "combinations_json": "combinations.json", "confusion": "confusion.csv",
    "metrics": "metrics.json",
}


def run_complete(out_dir: str | Path) -> bool:
    """Whether `out_dir` holds every file of `OUTPUTS` (what `run_experiment` writes)."""
    return all((Path(out_dir) / name).is_file() for name in OUTPUTS.values())


def select_views(split: WindowedSplit, names: Sequence[str] | None) -> WindowedSplit:
    """Keep the views `names` (params data.views; None = all), in the split's order; windows left without
    any view are dropped (A5)."""
    if names is None:
        return split
    unknown = [n for n in names if n not in split.views]
    if unknown or not names:
        raise ValueError(f"params.yaml data.views = {list(names)}: unknown or empty; views are "
                         f"{list(split.view_names)}")
    cols = [i for i, n in enumerate(split.view_names) if n in names]
    present = split.present[:, cols]
    rows = np.flatnonzero(present.any(axis=1))
    views = {n: split.views[n][rows] for n in split.view_names if n in names}
    return WindowedSplit(views, present[rows], split.labels[rows], split.subjects[rows], split.class_names)


def load_splits(params: Params) -> dict[str, WindowedSplit]:
    """Read train / valid / test from `{data.windows_dir}/{data.dataset}/` and apply `data.views`."""
    root = Path(params.data.windows_dir) / params.data.dataset
    return {s: select_views(load_split(root, s), params.data.views) for s in SPLITS}


def load_data(params: Params) -> DatasetSplits:
    """The windowed dataset of params `data` (splits with `data.views` applied, and its manifest's views)."""
    splits = load_splits(params)
    info = dataset_info(Path(params.data.windows_dir) / params.data.dataset, splits["train"])
    return DatasetSplits(info, **splits)


def apply_missing(splits: dict[str, WindowedSplit], params: Params, dataset_key: str | None = None
                  ) -> tuple[dict[str, WindowedSplit], dict[str, int]]:
    """The missing-view protocol (params `missing`), one mask per split seeded with the run seed (§1.13);
    `dataset_key` (default `data.dataset`) picks the per-view rates of Table 6.

    Returns the masked splits (windows with no view left are removed, A5) and the removed counts.
    """
    from ralis.data.missing import apply_protocol

    out, removed = {}, {}
    for name, split in splits.items():
        res = apply_protocol(split.present, params.missing.protocol, view_names=split.view_names, split=name,
                             seed=params.train.seed, cfg=params.missing, dataset_key=dataset_key or params.data.dataset)
        out[name] = split.subset(res.keep, present=res.present)
        removed[name] = int(res.n_removed)
    return out, removed


def build_model(params: Params, info: DatasetInfo) -> MultiviewMethod:
    """Build the method `train.method` for the dataset's views and classes (seed first: `run_experiment` does)."""
    return build_method(params.train.method, info.views, info.n_classes, params)


def evaluate(method: MultiviewMethod, split: WindowedSplit, params: Params, out_dir: str | Path | None = None
             ) -> CombinationResults:
    """Encode `split` once, score all view combinations, optionally write combinations.csv/json."""
    device = pick_device(params.train.device)
    method.to(device)
    encoded = encode_split(method, split, params.evaluate.batch_size, device)
    results = evaluate_combinations(method, encoded, split.view_names, split.class_names,
                                    params.evaluate.scenarios, params.evaluate.batch_size, device)
    if out_dir is not None:
        results.save(out_dir)
    return results


def _build_augmenter(params: Params, info: DatasetInfo) -> Any:
    if not params.augment.enabled:
        return None
    from ralis.data.augment_batch import BatchAugmenter

    return BatchAugmenter(info.views, params.augment, seed=params.train.seed)


@dataclass
class ExperimentResult:
    out_dir: Path
    method: MultiviewMethod
    fit: FitResult
    results: CombinationResults
    metrics: dict[str, Any]


def run_experiment(params: Params, out_dir: str | Path, progress: bool = True, data: DatasetSplits | None = None
                   ) -> ExperimentResult:
    """One method x protocol x seed: load windows (or take `data`, e.g. from `from_arrays`), mask, fit, evaluate the
    test split, write outputs.

    Everything is written into a temporary sibling of `out_dir` that replaces it only when complete."""
    out_dir = Path(out_dir)
    check_method(params.train.method)  # before any data is read
    check_settings(params)
    encoder_entry(params.model)
    data = load_data(params) if data is None else data
    info = data.info
    splits, removed = apply_missing(data.as_dict(), params, dataset_key=info.key)
    for name, split in splits.items():
        if len(split) == 0:
            raise ValueError(f"split '{name}' of {info.key} has no window left after the "
                             f"'{params.missing.protocol}' protocol")
    t = params.train
    if len(splits["train"]) < max(t.cls_batch, t.con_batch):
        raise ValueError(f"the training split of {info.key} has {len(splits['train'])} windows, fewer than one batch "
                         f"(params.yaml train.cls_batch = {t.cls_batch}, train.con_batch = {t.con_batch}); lower the "
                         "batch sizes or add data")
    for scenario in params.evaluate.scenarios:  # checked before training, not after it
        scenario_size(scenario, len(info.views))
    with atomic_dir(out_dir) as tmp:
        seed_everything(params.train.seed)  # the run's one seed: initial weights, dropout, gate noise
        method = build_model(params, info)
        probe = ConvergenceProbe(splits["valid"], params) if has_fusion(method) else None  # §6.2 log columns
        fitted = fit(method, splits["train"], splits["valid"], params, tmp,
                     augmenter=_build_augmenter(params, info), progress=progress, on_epoch_end=probe)
        results = evaluate(method, splits["test"], params, tmp)
        metrics = _metrics(params, info, fitted, results, splits, removed)
        write_json(tmp / OUTPUTS["metrics"], metrics)
    fitted = dataclasses.replace(fitted, checkpoint_path=out_dir / fitted.checkpoint_path.name)
    return ExperimentResult(out_dir, method, fitted, results, metrics)


def _metrics(params: Params, info: DatasetInfo, fitted: FitResult, results: CombinationResults,
             splits: dict[str, WindowedSplit], removed: dict[str, int]) -> dict[str, Any]:
    metrics = {
        "method": params.train.method, "dataset": info.key, "protocol": params.missing.protocol,
        "seed": params.train.seed, "views": list(info.view_names), "test_f1": results.summary,
        "test_accuracy": results.accuracy, "scenario_k": results.scenario_k, "best_epoch": fitted.best_epoch,
        "best_valid_f1": fitted.best_valid_f1, "checkpoint_ties": params.train.checkpoint_ties,
        "epochs_run": fitted.epochs_run, "stopped_early": fitted.stopped_early,
        "windows": {k: len(v) for k, v in splits.items()}, "removed_windows": removed,
    }
    return nan_to_none(metrics)  # JSON has no NaN: a scenario with no scored combination is null
