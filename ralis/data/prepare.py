"""The windowing stage: sessions -> resampled -> windows -> subject split -> `{windows_dir}/{dataset}/`.

`fetch_dataset(spec, raw_dir)` (the data stage, ralis.data.download) makes raw files available;
`prepare_windows(params)` turns them (or the synthetic simulation) into train/valid/test .npz files and a
manifest.json, all written into a temporary folder that replaces the output folder only when complete.
Every registry view is stored; `data.views` selects views when the splits are loaded (ralis.api).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ralis.config import Params
from ralis.data.download import fetch_dataset
from ralis.data.registry import DatasetSpec, get_dataset
from ralis.data.resample import resample_session, target_rate
from ralis.data.session import Session
from ralis.data.store import SPLITS, WindowedSplit, save_split, view_entry, write_manifest
from ralis.data.user import KEY as USER
from ralis.data.user import load_user_data
from ralis.data.windowing import WindowParams, WindowSet, WindowStats, concat_windows, split_by_subject, window_session
from ralis.io import atomic_dir
from ralis.runtime import progress_bar

__all__ = ["fetch_dataset", "load_sessions", "view_rates", "window_params", "prepare_windows"]


def _parser(key: str) -> Callable[[Path], list[Session]]:
    from ralis.data.parsers import cmdfall, dailysport, realdisp, upfall

    return {"dailysport": dailysport.load_sessions, "realdisp": realdisp.load_sessions,
            "upfall": upfall.load_sessions, "cmdfall": cmdfall.load_sessions}[key]


def load_sessions(spec: DatasetSpec, params: Params) -> list[Session]:
    """Parsed raw sessions of a real dataset, or the simulator's sessions for `synthetic`."""
    if spec.obtain == "generated":
        from ralis.data.synthetic import generate_sessions

        return generate_sessions(params.synthetic)
    return _parser(spec.key)(fetch_dataset(spec, params.data.raw_dir))


def view_rates(spec: DatasetSpec, params: Params) -> dict[str, float]:
    """Resampling rate per view from params `windowing` (`resample.target_rate`: pose_hz for poses, else acc_hz)."""
    w = params.windowing
    return {v.name: target_rate(v.modality, w.acc_hz, w.pose_hz) for v in spec.views}


def window_params(spec: DatasetSpec, params: Params) -> WindowParams:
    """Window / step from params `windowing`, falling back to the registry defaults."""
    w = params.windowing
    win = w.window_sec if w.window_sec is not None else spec.window_sec
    step = w.step_sec if w.step_sec is not None else spec.step_sec
    if win <= 0 or (step is not None and step <= 0):
        raise ValueError(f"params.yaml windowing: window_sec and step_sec must be > 0, got {win} and {step}")
    return WindowParams(win, step, w.shift_max_windows, w.shift_min_step_sec)


def _split_counts(ws: WindowedSplit) -> dict[str, Any]:
    return {"n": len(ws),
            "per_class": {c: int((ws.labels == i).sum()) for i, c in enumerate(ws.class_names)},
            "per_view_present": {v: int(ws.present[:, j].sum()) for j, v in enumerate(ws.view_names)},
            "subjects": sorted(int(s) for s in np.unique(ws.subjects))}


def prepare_windows(params: Params, progress: bool = True) -> dict[str, Any]:
    """Window `params.data.dataset` and write `{windows_dir}/{dataset}/{train,valid,test}.npz` + manifest.json.

    Returns the manifest (also written as JSON). Raises ValueError if a split ends up empty.
    """
    if params.data.dataset == USER:
        return _prepare_user(params, progress)
    spec = get_dataset(params.data.dataset)
    rates, wp = view_rates(spec, params), window_params(spec, params)
    channels = {v.name: v.channels for v in spec.views}
    sessions = load_sessions(spec, params)
    parts, stats = [], WindowStats()
    for s in progress_bar(sessions, desc=f"windowing {spec.key}", unit="session", show=progress):
        ws, st = window_session(resample_session(s, channels, rates), wp)
        stats.add(st)
        if len(ws):
            parts.append(ws)
    if not parts:
        raise ValueError(f"{spec.key}: no window survived (window {wp.window_sec} s, {stats}); check the raw data "
                         "and params.yaml windowing")
    everything: WindowSet = concat_windows(parts)
    splits = split_by_subject(everything, spec.split)
    empty = [k for k in SPLITS if len(splits[k]) == 0]
    if empty:
        raise ValueError(f"{spec.key}: split(s) {empty} have no windows (subjects {[spec.split[k] for k in empty]}; "
                         f"windowed subjects {sorted(set(everything.subjects.tolist()))})")
    stored = {k: WindowedSplit(splits[k].views, splits[k].present, splits[k].labels, splits[k].subjects,
                               spec.classes) for k in SPLITS}
    manifest = {
        "dataset": spec.key, "title": spec.title, "source": spec.url or "generated", "licence": spec.licence,
        "views": [view_entry(dataclasses.replace(v, rate_hz=rates[v.name]), stored["train"]) for v in spec.views],
        "class_names": list(spec.classes), "n_classes": spec.n_classes,
        "window_sec": wp.window_sec, "step_sec": wp.step_sec,
        "split_subjects": {k: list(v) for k, v in spec.split.items()},
        "splits": {k: _split_counts(stored[k]) for k in SPLITS},
        "sessions": stats.sessions, "dropped": {"short_sessions": stats.short_sessions,
                                                "null_label_windows": stats.null_windows,
                                                "no_view_windows": stats.empty_windows,
                                                "unassigned_subject_windows": len(everything) - sum(
                                                    len(stored[k]) for k in SPLITS)},
    }
    if spec.obtain == "generated":
        manifest["synthetic"] = dataclasses.asdict(params.synthetic)
    _write_atomically(Path(params.data.windows_dir) / spec.key, stored, manifest)
    return manifest


def _prepare_user(params: Params, progress: bool) -> dict[str, Any]:
    """Your own dataset (`data.dataset: user`): ralis.data.user reads, windows and splits it; stored like the rest."""
    data, extra = load_user_data(params, progress)
    stored = data.as_dict()
    manifest = {
        "dataset": USER, "title": extra["title"], "source": extra["source"], "licence": "", "format": extra["format"],
        "views": [view_entry(v, stored["train"]) for v in data.info.views],
        "class_names": list(data.info.class_names), "n_classes": data.info.n_classes,
        "window_sec": extra["window_sec"], "step_sec": extra["step_sec"], "split_rule": extra["split_rule"],
        "subjects": extra["subjects"], "splits": {k: _split_counts(stored[k]) for k in SPLITS},
        "sessions": extra["sessions"], "dropped": extra["dropped"],
    }
    _write_atomically(Path(params.data.windows_dir) / USER, stored, manifest)
    return manifest


def _write_atomically(out: Path, splits: dict[str, WindowedSplit], manifest: dict[str, Any]) -> None:
    """Write everything into a sibling temp folder, then swap it in; a failure leaves `out` untouched."""
    with atomic_dir(out) as tmp:
        for k, ws in splits.items():
            save_split(tmp, k, ws)
        write_manifest(tmp, manifest)
