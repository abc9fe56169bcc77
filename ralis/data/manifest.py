"""A user's own multi-sensor dataset, described by a YAML manifest (no code edits).

Put `manifest.yaml` in a folder beside the data; paths in it are relative to that folder. Three formats:

- `recordings`: continuous recordings, one CSV or Parquet file per session (a row per sample, a column per
  channel, a label column); windows are cut from them (`ralis.data.parsers.recordings`).
- `ts`: already windowed data in the UEA/UCR multivariate `.ts` format of sktime/aeon, a TRAIN/TEST file pair
  or one file (`ralis.data.parsers.prewindowed`).
- `npz`: already windowed data in NumPy `.npz` files, one [N, T, C] array per view plus `labels` (and
  optionally `subjects`), a train/test file pair or one file (`ralis.data.parsers.prewindowed`).

```yaml
name: my smartwatch study     # free title (default: the folder's name)
format: recordings            # recordings | ts | npz
classes: [walk, run, sit]     # optional fixed class order; default: the sorted labels found in the data
window_sec: 4.0               # window length in seconds: required for recordings, optional for ts / npz
step_sec: 2.0                 # step between windows (recordings; default window_sec / 2)
recordings:                   # format recordings only
  path: recordings            # folder of the files, relative to the manifest
  pattern: "*.csv"            # glob in that folder (default *.csv); .csv and .parquet files are read
  time_column: t              # timestamps (optional if rate_hz is given); must increase strictly
  time_unit: s                # s | ms
  rate_hz: 50                 # source sampling rate; required without time_column; with both, they must
                              # agree within 5 %
  label_column: activity      # default: label
  null_label: ""              # rows with this label (or an empty one) are unlabelled
  subject_pattern: "subject(\\d+)"  # regex on the file name (without extension): group 1 = subject id
  # subject_column: person    # ... or a column holding the subject (constant within a file)
views:                        # one entry per sensor / camera view
  watch_acc: {modality: accelerometer, columns: [ax, ay, az], units: m/s^2, rate_hz: 20}
  watch_gyro: {modality: gyroscope, columns: [gx, gy, gz], units: rad/s}
split:                        # optional
  train: [1, 2, 3]            # subject ids (as in the data)
  valid: [4]                  # default: valid_fraction of train (by subject when there are subjects)
  test: [5, 6]
  valid_fraction: 0.2
  test_fraction: 0.25         # only without subjects and without a test file
  seed: 0
```

Views: `modality` is one of accelerometer (acc), gyroscope (gyro), magnetometer (mag), pose2d, pose3d or other;
`units` is free text; `rate_hz` is, for recordings, the rate the view is resampled to (default: the
windowing default of its modality in params.yaml) and, for ts / npz, the rate the windows were sampled at.
Each format names a view's channels its own way:

```yaml
# format ts:  the dimensions of the .ts file, 0-based
files: {train: X_TRAIN.ts, test: X_TEST.ts}     # or {all: X.ts}
views:
  acc: {modality: acc, dimensions: [0, 1, 2], rate_hz: 50}
# format npz: the array `key` of the file (default: the view's name), shaped [windows, time, channels]
files: {train: train.npz, test: test.npz}       # or {all: data.npz}; arrays `labels` and optional `subjects`
views:
  acc: {modality: acc, key: acc, rate_hz: 50}
```

Subjects and split values may be written as numbers or text; they are kept as text, and numeric ids compare as
numbers ("03" and 3 are one subject). Quote ids with a leading zero ('010'): plain YAML reads 010 as octal 8, so
the manifest refuses it. With a train/test file pair the files define the test set: `split` may then set only
`valid` (those subjects are taken out of the TRAIN file) and the fractions. `load_user_manifest` refuses unknown
keys, unknown formats and modalities, views without channels, duplicate views or channels, overlapping split
lists, rates <= 0, and missing files or folders; each message names the manifest, the key and the fix.
This module reads the top level of the file; `ralis.data.manifest_sections` reads and checks its sections.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ralis.data import manifest_sections as sections
from ralis.data.arrays import SplitRule
from ralis.data.manifest_sections import FORMATS, Format, Name, PosFloat, RecordingsEntry, ViewEntry
from ralis.data.registry import MODALITY_ALIASES
from ralis.data.store import SPLITS
from ralis.schema import check_value, unknown_names

__all__ = ["MANIFEST_NAME", "MODALITY_ALIASES", "FORMATS", "ViewEntry", "SplitRule", "RecordingsEntry",
           "UserManifest", "load_user_manifest"]

MANIFEST_NAME = "manifest.yaml"


@dataclass(frozen=True)
class UserManifest:
    """A checked manifest. `step_sec` None = not given (recordings are then windowed with a step of half the
    window in use, ralis.data.user); `classes` None = the sorted unique labels of the data."""

    root: Path
    name: str
    format: str  # recordings | ts | npz
    views: tuple[ViewEntry, ...]
    classes: tuple[str, ...] | None
    window_sec: float | None
    step_sec: float | None
    split: SplitRule
    recordings: RecordingsEntry | None  # format recordings only
    files: dict[str, Path]  # ts/npz: {"train": p, "test": p} or {"all": p}; absolute paths

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.views)


# ---- the top level of the file; its sections are read by ralis.data.manifest_sections ----

@dataclass(frozen=True)
class _TopYaml:
    name: str | None = None
    format: Format | None = None
    classes: list[Name] | None = None
    window_sec: PosFloat | None = None
    step_sec: PosFloat | None = None
    recordings: Any = None
    files: dict[str, str] | None = None
    views: Any = None
    split: Any = None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key repeated in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping; "
                                                        "keep one (names must be unique)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """Plain YAML reads 010 as octal 8; a manifest's numbers (subject ids above all) are never meant so.
        Refused where that changes the value (001 is 1 either way)."""
        text, value = self.construct_scalar(node), super().construct_yaml_int(node)
        if re.fullmatch(r"[-+]?0[0-7_]+", text) and value != int(text.replace("_", ""), 10):
            raise yaml.constructor.ConstructorError(None, None, f"{text} has a leading zero, which YAML reads as the "
                                                    f"octal number {value}; write it in quotes ('{text}') or "
                                                    "without the zero", node.start_mark)
        return value


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; write a {MANIFEST_NAME} describing your data there "
                                "(format: ralis.data.manifest's docstring)")
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of keys (name, format, views, ...) at top level, "
                         f"got {type(raw).__name__}")
    return raw


def _top(raw: dict[str, Any], where: Path) -> _TopYaml:
    fields = [f.name for f in dataclasses.fields(_TopYaml)]
    if bad := unknown_names(raw, fields):
        raise ValueError(f"{where}: unknown key(s) {bad}; known keys are {fields}")
    hints = typing.get_type_hints(_TopYaml, include_extras=True)
    top = _TopYaml(**{k: check_value(v, hints[k], f"{where}: {k}") for k, v in raw.items()})
    if top.format is None:
        raise ValueError(f"{where}: format is missing; add `format: recordings` (CSV/Parquet recordings), "
                         "`format: ts` or `format: npz` (windowed data)")
    return top


def load_user_manifest(user_dir: str | Path) -> UserManifest:
    """Read and check `{user_dir}/manifest.yaml` (format: this module's docstring).

    Errors are ValueError (FileNotFoundError for a missing manifest, data file or folder) naming the manifest,
    the key and the fix.
    """
    where = Path(user_dir) / MANIFEST_NAME
    root = Path(user_dir).resolve()
    top = _top(_read_yaml(where), where)
    fmt = top.format
    views = sections.views(top.views, fmt, where)
    split = sections.split(top.split, where)
    classes = sections.texts(top.classes)
    if classes is not None and len(set(classes)) != len(classes):
        twice = sorted({c for c in classes if classes.count(c) > 1})
        raise ValueError(f"{where}: classes lists {twice} more than once; list each class once")
    recordings, files = None, {}
    if fmt == "recordings":
        if top.files is not None:
            raise ValueError(f"{where}: files does not apply to format recordings; name the folder in "
                             "recordings.path instead")
        if top.window_sec is None:
            raise ValueError(f"{where}: window_sec is missing; format recordings cuts windows of window_sec "
                             "seconds, e.g. window_sec: 4.0")
        recordings = sections.recordings(top.recordings, root, where)
        sections.check_columns(views, recordings, where)
        has_subjects = recordings.subject_column is not None or recordings.subject_pattern is not None
    else:
        if top.recordings is not None:
            raise ValueError(f"{where}: recordings does not apply to format {fmt}; name the data files in "
                             "`files:` instead")
        files = sections.files(top.files, fmt, root, where)
        has_subjects = fmt == "npz"  # an npz file may hold a `subjects` array; a .ts file has none
        if "test" in files and (split.train is not None or split.test is not None):
            raise ValueError(f"{where}: split.train / split.test are given, but the train/test files already "
                             "define the test set; remove them (split.valid may stay) or use files: {all: ...}")
    if not has_subjects and any(getattr(split, k) is not None for k in SPLITS):
        source = ("recordings.subject_column or recordings.subject_pattern" if fmt == "recordings"
                  else "format npz with a `subjects` array")
        raise ValueError(f"{where}: split lists subjects but the data has none; add {source}, or remove "
                         "split.train / valid / test (the split is then drawn by the fractions)")
    return UserManifest(root=root, name=top.name if top.name is not None else root.name, format=fmt, views=views,
                        classes=classes, window_sec=top.window_sec, step_sec=top.step_sec, split=split,
                        recordings=recordings, files=files)
