"""Checkpoints: a method's weights plus everything needed to rebuild it (method name, params, views, classes)
and to feed it new data (`inputs`: per view the window length, rate, units and training statistics).

A checkpoint is one `torch.save` file holding plain Python containers and tensors only, so it loads with
`torch.load(weights_only=True)`. It is written atomically (temporary file + rename).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ralis.config import Params, params_from_sections
from ralis.contract import ViewSpec
from ralis.data.store import WindowedSplit
from ralis.io import atomic_path, reading
from ralis.methods import MultiviewMethod
from ralis.zoo import build_method, method_settings

__all__ = ["FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint", "input_record", "params_to_dict",
           "params_from_dict"]

FORMAT = "ralis-checkpoint-v2"  # v2: records `inputs`; v1 files are refused (retrain)
_STATS_CHUNK = 4096  # windows per chunk when computing the training statistics (bounded memory)


@dataclass
class Checkpoint:
    """A rebuilt method (in eval mode, on CPU) and the metadata stored with it."""

    method: MultiviewMethod
    method_name: str
    params: Params
    views: tuple[ViewSpec, ...]
    class_names: tuple[str, ...]
    epoch: int
    valid_f1: float
    extra: dict[str, Any]
    inputs: dict[str, dict]  # view name -> input_record entry (what the method expects as input)


def params_to_dict(params: Params) -> dict[str, Any]:
    """Params as nested plain dicts (the same shape as params.yaml)."""
    return dataclasses.asdict(params)


# checkpoints written before each baseline had its own settings kept them in one flat section (prefix -> method)
_FLAT_BASELINES = {"cmc_": "cmc", "cocoa_": "cocoa", "flex_": "flexmoe", "fuse_": "fusemoe", "shaspec_": "shaspec",
                   "gmu_": "gmu", "confu_": "confu"}
_FLAT_RENAMED = {"cocoa_lambda": "lam", "confu_lambda": "lam"}


def nested_baselines(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The flat `baselines` section of older checkpoints ({"flex_top_k": 4, "ind_view_ce": False, ...}) in today's
    shape ({"flexmoe": {"top_k": 4}, "cmc": {"ind_view_ce": False}, ...}); an unknown key raises ValueError."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key == "ind_view_ce":  # one switch shared by the three contrastive baselines (A16)
            for method in ("cmc", "cocoa", "confu"):
                out.setdefault(method, {})["ind_view_ce"] = value
            continue
        prefix = next((p for p in _FLAT_BASELINES if key.startswith(p)), None)
        if prefix is None:
            raise ValueError(f"baselines.{key}: not a setting of any baseline")
        out.setdefault(_FLAT_BASELINES[prefix], {})[_FLAT_RENAMED.get(key, key[len(prefix):])] = value
    return out


def params_from_dict(values: dict[str, Any], where: str = "checkpoint") -> Params:
    """Inverse of `params_to_dict`; unknown sections or keys and bad values raise ValueError naming them. A flat
    `baselines` section (checkpoints written before per-baseline settings) is read in today's shape."""
    b = values.get("baselines")
    if isinstance(b, dict) and b and not all(isinstance(v, dict) for v in b.values()):
        values = {**values, "baselines": nested_baselines(b)}
    return params_from_sections(values, where)


def _channel_stats(x: np.ndarray, rows: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation (ddof 0, float64) of x [N, T, C] over windows `rows` and all time
    steps, in two chunked passes; NaN when no window is given."""
    idx = np.flatnonzero(rows)
    n_channels = x.shape[2]
    if len(idx) == 0:
        return [float("nan")] * n_channels, [float("nan")] * n_channels
    chunks = [idx[i:i + _STATS_CHUNK] for i in range(0, len(idx), _STATS_CHUNK)]
    count = len(idx) * x.shape[1]
    mean = sum(x[c].sum(axis=(0, 1), dtype=np.float64) for c in chunks) / count  # [C]
    var = sum(np.square(x[c].astype(np.float64) - mean).sum(axis=(0, 1)) for c in chunks) / count  # [C]
    return [float(m) for m in mean], [float(s) for s in np.sqrt(var)]


def input_record(split: WindowedSplit, views: Sequence[ViewSpec]) -> dict[str, dict]:
    """What a method trained on `split` expects as input, per view: modality, channels, channel_names, T (window
    length in samples), rate_hz (0: not declared), window_sec = T / rate_hz (None without a rate), units, and the
    per-channel mean / std over the windows where the view is present. Plain Python values only (the checkpoint
    loads with `weights_only=True`)."""
    names = [v.name for v in views]
    if list(split.view_names) != names:
        raise ValueError(f"split views {list(split.view_names)} differ from the method's {names}")
    record = {}
    for j, spec in enumerate(views):
        x = split.views[spec.name]  # [N, T, C]
        if x.shape[2] != spec.channels:
            raise ValueError(f"view '{spec.name}' has {x.shape[2]} channels in the split but {spec.channels} in its "
                             "ViewSpec")
        mean, std = _channel_stats(x, split.present[:, j])
        record[spec.name] = {"modality": spec.modality, "channels": int(spec.channels),
                             "channel_names": list(spec.channel_names), "T": int(x.shape[1]),
                             "rate_hz": float(spec.rate_hz),
                             "window_sec": float(x.shape[1] / spec.rate_hz) if spec.rate_hz > 0 else None,
                             "units": spec.units, "mean": mean, "std": std}
    return record


def save_checkpoint(path: str | Path, method: MultiviewMethod, *, method_name: str, params: Params,
                    class_names: tuple[str, ...] | list[str], epoch: int, valid_f1: float,
                    inputs: dict[str, dict], extra: dict[str, Any] | None = None) -> Path:
    """Write the method's state_dict and metadata to `path` atomically; tensors are moved to CPU.

    `inputs` is `input_record(train_split, method.view_specs)`: what the method expects as input.
    """
    if len(class_names) != method.n_classes:
        raise ValueError(f"{len(class_names)} class names given for a method with {method.n_classes} classes")
    if list(inputs) != list(method.view_names):
        raise ValueError(f"inputs describe views {list(inputs)} but the method has {list(method.view_names)}; "
                         "pass input_record(train_split, method.view_specs)")
    state = {k: v.detach().cpu() for k, v in method.state_dict().items()}
    if (settings := method_settings(method_name, params)) is not None:  # stored resolved: a later change of a
        params = dataclasses.replace(params, baselines={**params.baselines,  # default cannot alter this model
                                                        method_name: dataclasses.asdict(settings)})
    payload = {
        "format": FORMAT,
        "method": method_name,
        "params": params_to_dict(params),
        "views": [dataclasses.asdict(v) for v in method.view_specs],
        "class_names": list(class_names),
        "epoch": int(epoch),
        "valid_f1": float(valid_f1),
        "extra": dict(extra or {}),
        "inputs": {name: dict(entry) for name, entry in inputs.items()},
        "state_dict": state,
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the method saved at `path` (on CPU, eval mode) and return it with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found; run training first (ralis.api.run_experiment)")
    fix = "retrain to rewrite it (ralis.api.run_experiment)"
    with reading(path, fix):
        payload = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(payload, dict) and payload.get("format") == "ralis-checkpoint-v1":
        raise ValueError(f"{path} is a ralis-checkpoint-v1 file, which records no input window length, rate or units "
                         f"and cannot be used by this version (it needs {FORMAT}); {fix}")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = f"format {payload.get('format')!r}" if isinstance(payload, dict) else f"a {type(payload).__name__}"
        raise ValueError(f"{path} is not a {FORMAT} checkpoint (found {found}); {fix}")
    with reading(path, fix):
        params = params_from_dict(payload["params"], where=str(path))
        views = tuple(ViewSpec(**v) for v in payload["views"])
        class_names = tuple(payload["class_names"])
        method = build_method(payload["method"], views, len(class_names), params)
        method.load_state_dict(payload["state_dict"])
        method.eval()
        inputs = payload["inputs"]
        if list(inputs) != [v.name for v in views]:
            raise ValueError(f"{path}: inputs describe views {list(inputs)} but the checkpoint has "
                             f"{[v.name for v in views]}; {fix}")
        return Checkpoint(method, payload["method"], params, views, class_names, payload["epoch"],
                          payload["valid_f1"], payload["extra"], inputs)
