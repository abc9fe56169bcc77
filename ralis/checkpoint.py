"""Checkpoints: a method's weights plus everything needed to rebuild it (method name, params, views, classes).

A checkpoint is one `torch.save` file holding plain Python containers and tensors only, so it loads with
`torch.load(weights_only=True)`. It is written atomically (temporary file + rename).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ralis.config import Params, params_from_sections
from ralis.data.registry import ViewSpec
from ralis.io import atomic_path, reading
from ralis.methods import MultiviewMethod, build_method

__all__ = ["FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint", "params_to_dict", "params_from_dict"]

FORMAT = "ralis-checkpoint-v1"


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


def params_to_dict(params: Params) -> dict[str, Any]:
    """Params as nested plain dicts (the same shape as params.yaml)."""
    return dataclasses.asdict(params)


def params_from_dict(values: dict[str, Any], where: str = "checkpoint") -> Params:
    """Inverse of `params_to_dict`; unknown sections or keys and bad values raise ValueError naming them."""
    return params_from_sections(values, where)


def save_checkpoint(path: str | Path, method: MultiviewMethod, *, method_name: str, params: Params,
                    class_names: tuple[str, ...] | list[str], epoch: int, valid_f1: float,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write the method's state_dict and metadata to `path` atomically; tensors are moved to CPU."""
    if len(class_names) != method.n_classes:
        raise ValueError(f"{len(class_names)} class names given for a method with {method.n_classes} classes")
    state = {k: v.detach().cpu() for k, v in method.state_dict().items()}
    payload = {
        "format": FORMAT,
        "method": method_name,
        "params": params_to_dict(params),
        "views": [dataclasses.asdict(v) for v in method.view_specs],
        "class_names": list(class_names),
        "epoch": int(epoch),
        "valid_f1": float(valid_f1),
        "extra": dict(extra or {}),
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
        return Checkpoint(method, payload["method"], params, views, class_names, payload["epoch"],
                          payload["valid_f1"], payload["extra"])
