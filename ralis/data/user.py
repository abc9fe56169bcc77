"""Your own sensors: the dataset `user`, described by `{data.user_dir}/manifest.yaml` (format: ralis.data.manifest).

    params.yaml   data: {dataset: user, user_dir: data/user}

Recordings (one CSV / Parquet file per session) take the built-in datasets' path: parse -> resample each view to
its rate -> sliding windows with a majority label; pre-windowed `.ts` / `.npz` files keep their windows. Both end
in the split rule of `ralis.data.arrays` and in the same windows folder as the built-in datasets, so protocols,
training, evaluation, notebooks and DVC stages are unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ralis.config import Params
from ralis.contract import ViewSpec
from ralis.data.arrays import DatasetSplits, assign_splits, check_classes, from_arrays
from ralis.data.augment import check_modalities
from ralis.data.manifest import MANIFEST_NAME, UserManifest, load_user_manifest
from ralis.data.registry import DatasetSpec
from ralis.data.resample import resample_session, target_rate
from ralis.data.store import SPLITS, DatasetInfo, WindowedSplit, require_finite
from ralis.data.windowing import WindowParams, WindowStats, concat_windows, window_session
from ralis.runtime import progress_bar

__all__ = ["KEY", "user_spec", "user_rates", "load_user_data"]

KEY = "user"  # params.yaml data.dataset


def user_rates(m: UserManifest, params: Params) -> dict[str, float]:
    """Each view's rate: the manifest's `rate_hz`, else params windowing (`resample.target_rate`)."""
    w = params.windowing
    return {v.name: v.rate_hz or target_rate(v.modality, w.acc_hz, w.pose_hz) for v in m.views}


def _channel_names(m: UserManifest, v: Any) -> tuple[str, ...]:
    return tuple(v.columns) if m.format == "recordings" else tuple(f"dim{c}" for c in v.columns)


def user_spec(m: UserManifest, params: Params, classes: tuple[str, ...] = ()) -> DatasetSpec:
    """The manifest as a registry entry (views with channel names, units and rates; the window from params
    `windowing.window_sec` / `step_sec` when set, else the manifest's)."""
    rates = user_rates(m, params) if m.format == "recordings" else {v.name: v.rate_hz or 0.0 for v in m.views}
    views = tuple(ViewSpec(v.name, v.modality, len(v.columns) or 0, rates[v.name], _channel_names(m, v), v.units)
                  for v in m.views)
    w = params.windowing
    return DatasetSpec(key=KEY, title=m.name, views=views, classes=classes or tuple(m.classes or ()), split={},
                       window_sec=w.window_sec or m.window_sec or 0.0, step_sec=w.step_sec or m.step_sec,
                       obtain="files", root=str(m.root), notes=f"{m.format} described by {m.root / MANIFEST_NAME}")


def _recordings(m: UserManifest, params: Params, progress: bool) -> tuple[DatasetSplits, dict[str, Any]]:
    from ralis.data.parsers.recordings import load_recordings

    check_modalities(user_spec(m, params).views, params.augment)  # before any file is read
    sessions, classes, subject_names = load_recordings(m)
    spec = user_spec(m, params, classes)
    where = str(m.root / MANIFEST_NAME)
    wp = WindowParams(spec.window_sec, spec.step_sec or spec.window_sec / 2, params.windowing.shift_max_windows,
                      params.windowing.shift_min_step_sec)
    channels, rates = {v.name: v.channels for v in spec.views}, {v.name: v.rate_hz for v in spec.views}
    parts, stats = [], WindowStats()
    for s in progress_bar(sessions, desc="windowing user", unit="session", show=progress):
        ws, st = window_session(resample_session(s, channels, rates), wp)
        stats.add(st)
        if len(ws):
            parts.append(ws)
    if not parts:
        raise ValueError(f"{where}: no window survived (window {wp.window_sec} s, {stats}); sessions shorter than a "
                         "window or labelled null throughout give none")
    everything = concat_windows(parts)
    names = np.array([subject_names[int(i)] for i in everything.subjects]) if subject_names else None
    index = assign_splits(everything.labels, names, None, m.split, where)
    check_classes(everything.labels, index, classes, where)
    splits = {k: WindowedSplit(*(lambda w: (w.views, w.present, w.labels, w.subjects))(everything.take(index[k])),
                               classes) for k in SPLITS}
    splits = {k: require_finite(v, f"{where} ({k})") for k, v in splits.items()}
    info = DatasetInfo(KEY, spec.views, classes)
    extra = {"window_sec": wp.window_sec, "step_sec": wp.step_sec, "sessions": stats.sessions,
             "dropped": {"short_sessions": stats.short_sessions, "null_label_windows": stats.null_windows,
                         "no_view_windows": stats.empty_windows},
             "subjects": {str(k): v for k, v in subject_names.items()}}
    return DatasetSplits(info, **splits), extra


def _prewindowed(m: UserManifest) -> tuple[DatasetSplits, dict[str, Any]]:
    from ralis.data.parsers.prewindowed import load_prewindowed

    arrays = load_prewindowed(m)
    data = from_arrays(arrays.views, arrays.labels, arrays.subjects, m.classes or arrays.class_names,
                       modalities={v.name: v.modality for v in m.views},
                       rate_hz={v.name: v.rate_hz or 0.0 for v in m.views}, units={v.name: v.units for v in m.views},
                       split=m.split, fold=arrays.fold, name=KEY)
    named = {v.name: _channel_names(m, v) for v in m.views}
    views = tuple(dataclasses.replace(v, channel_names=named[v.name] if len(named[v.name]) == v.channels else ())
                  for v in data.info.views)
    data = data._replace(info=data.info._replace(views=views))
    t = {v.name: arrays.views[v.name].shape[1] for v in m.views}
    rates = [v.rate_hz for v in m.views if v.rate_hz]
    window = t[m.views[0].name] / m.views[0].rate_hz if m.views[0].rate_hz else m.window_sec
    for v in m.views:
        if v.rate_hz and window and abs(t[v.name] / v.rate_hz - window) > 1e-6 * max(window, 1):
            raise ValueError(f"{m.root / MANIFEST_NAME}: inconsistent rates: view '{v.name}' has windows of "
                             f"{t[v.name]} samples at {v.rate_hz} Hz = {t[v.name] / v.rate_hz:g} s, but view "
                             f"'{m.views[0].name}' covers {window:g} s; fix views.{v.name}.rate_hz")
    return data, {"window_sec": window if rates else m.window_sec, "step_sec": None, "sessions": None,
                  "dropped": {}, "subjects": {}}


def load_user_data(params: Params, progress: bool = True) -> tuple[DatasetSplits, dict[str, Any]]:
    """The `user` dataset of `params.data.user_dir`, split and checked, with what the windows manifest records
    besides the splits (window, sessions, dropped windows, subject names)."""
    m = load_user_manifest(params.data.user_dir)
    data, extra = _recordings(m, params, progress) if m.format == "recordings" else _prewindowed(m)
    return data, {"title": m.name, "format": m.format, "source": str(m.root), "split_rule": dataclasses.asdict(
        m.split)} | extra
