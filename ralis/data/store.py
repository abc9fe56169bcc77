"""Windowed datasets on disk: one compressed .npz per split plus a manifest.

Layout: `{windows_dir}/{dataset}/{split}.npz` with arrays
    view__<name>  float32 [N, T_v, C_v]   (zeros where the view is missing)
    present       bool    [N, V]          (column order = registry view order)
    label         int64   [N]             (0 .. n_classes-1)
    subject       int64   [N]
and `{windows_dir}/{dataset}/manifest.json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ralis.contract import ViewSpec
from ralis.io import read_json, reading, write_json, write_npz

__all__ = ["SPLITS", "DatasetInfo", "WindowedSplit", "save_split", "load_split", "require_finite", "write_manifest",
           "load_manifest", "view_entry", "dataset_info"]

SPLITS = ("train", "valid", "test")
_VIEW_PREFIX = "view__"


class DatasetInfo(NamedTuple):
    """What a method builder needs: the views (storage order) and the class names."""

    key: str
    views: tuple[ViewSpec, ...]
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.views)


@dataclass
class WindowedSplit:
    """All windows of one split, in the package's array form (see module docstring)."""

    views: dict[str, np.ndarray]
    present: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.present.dtype != np.bool_ or self.present.shape != (n, len(self.views)):
            raise ValueError(f"present must be bool [N={n}, V={len(self.views)}], got "
                             f"{self.present.dtype} {self.present.shape}")
        for name, x in self.views.items():
            if x.ndim != 3 or x.shape[0] != n:
                raise ValueError(f"view '{name}' must be [N={n}, T, C], got {x.shape}")
        if self.subjects.shape != (n,):
            raise ValueError(f"subjects must be [N={n}], got {self.subjects.shape}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"labels must lie in [0, {len(self.class_names)}), got "
                             f"[{self.labels.min()}, {self.labels.max()}]")

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(self.views)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray, present: np.ndarray | None = None) -> WindowedSplit:
        """Rows `index` (optionally with a new presence mask for those rows); missing views are zeroed."""
        pres = self.present[index] if present is None else present
        views = {k: np.where(pres[:, j, None, None], v[index], 0).astype(np.float32)
                 for j, (k, v) in enumerate(self.views.items())}
        return WindowedSplit(views, pres, self.labels[index], self.subjects[index], self.class_names)


def save_split(root: str | Path, split: str, ws: WindowedSplit) -> Path:
    """Write `{root}/{split}.npz` atomically."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    arrays = {f"{_VIEW_PREFIX}{k}": v.astype(np.float32) for k, v in ws.views.items()}
    return write_npz(Path(root) / f"{split}.npz", present=ws.present, label=ws.labels.astype(np.int64),
                     subject=ws.subjects.astype(np.int64), class_names=np.array(ws.class_names),
                     view_order=np.array(ws.view_names), **arrays)


def load_split(root: str | Path, split: str) -> WindowedSplit:
    """Read `{root}/{split}.npz`. A missing file raises FileNotFoundError naming the stage to run; an unreadable
    one (truncated, a key missing, inconsistent shapes) or NaN/inf in a present view raises ValueError naming it."""
    path = Path(root) / f"{split}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run the windowing stage first (`dvc repro windowing`)")
    with reading(path, "rerun the windowing stage (`dvc repro windowing`)"), np.load(path, allow_pickle=False) as z:
        order = [str(s) for s in z["view_order"]]
        views = {name: z[f"{_VIEW_PREFIX}{name}"] for name in order}
        ws = WindowedSplit(views, z["present"], z["label"], z["subject"], tuple(str(c) for c in z["class_names"]))
    return require_finite(ws, f"{path} (split '{split}')")


def require_finite(ws: WindowedSplit, where: str) -> WindowedSplit:
    """Refuse NaN or inf in a present view (missing views may hold anything: they are zeroed on use)."""
    for j, (name, x) in enumerate(ws.views.items()):
        bad = np.flatnonzero(ws.present[:, j] & ~np.isfinite(x).all(axis=(1, 2)))
        if len(bad):
            raise ValueError(f"{where}: view '{name}' has NaN or inf values in {len(bad)} present window(s), "
                             f"window index(es) {bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}; fix the raw "
                             f"data or the windowing, then rerun the windowing stage (`dvc repro windowing`)")
    return ws


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> Path:
    return write_json(Path(root) / "manifest.json", manifest)


def load_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run the windowing stage first (`dvc repro windowing`)")
    return read_json(path)


def view_entry(view: ViewSpec, split: WindowedSplit) -> dict[str, Any]:
    """A view as manifest.json records it: the ViewSpec fields plus its window length T in samples."""
    return asdict(view) | {"channel_names": list(view.channel_names), "T": int(split.views[view.name].shape[1])}


def dataset_info(root: str | Path, split: WindowedSplit) -> DatasetInfo:
    """The dataset of the windows folder `root` (its manifest.json) for the views of `split`, checked against the
    arrays' channel counts."""
    manifest = load_manifest(root)
    fields = set(ViewSpec.__dataclass_fields__)
    specs = {v["name"]: ViewSpec(**{k: x for k, x in v.items() if k in fields}) for v in manifest["views"]}
    views = []
    for name, x in split.views.items():
        if name not in specs or specs[name].channels != x.shape[-1]:
            raise ValueError(f"{root}: view '{name}' ({x.shape[-1]} channels on disk) does not match manifest.json "
                             f"({specs.get(name)}); rerun the windowing stage (`dvc repro windowing`)")
        views.append(specs[name])
    return DatasetInfo(manifest["dataset"], tuple(views), tuple(split.class_names))
