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

Subjects and split values may be written as numbers or text; they are kept as text. With a train/test file
pair the files define the test set: `split` may then set only `valid` and the fractions. `load_user_manifest`
refuses unknown keys, unknown formats and modalities, views without channels, duplicate views or channels,
overlapping split lists, rates <= 0, and missing files or folders; each message names the manifest, the key and
the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from ralis.data.arrays import SplitRule
from ralis.data.registry import MODALITY_ALIASES
from ralis.schema import Range, build, check_value, unknown_names

__all__ = ["MANIFEST_NAME", "MODALITY_ALIASES", "FORMATS", "ViewEntry", "SplitRule", "RecordingsEntry",
           "UserManifest", "load_user_manifest", "matching_files"]

MANIFEST_NAME = "manifest.yaml"
FORMATS = ("recordings", "ts", "npz")
READABLE_SUFFIXES = (".csv", ".parquet")  # files of a recordings folder that are read
_SPLITS = ("train", "valid", "test")
NPZ_RESERVED = ("labels", "subjects")  # arrays of an .npz file that are not views

# manifest field rules (ralis.schema)
PosFloat = Annotated[float, Range(gt=0)]
Name = str | int  # subjects, classes, columns: numbers or text, kept as text
Format = Literal["recordings", "ts", "npz"]


@dataclass(frozen=True)
class ViewEntry:
    name: str
    modality: str  # internal name after aliasing (MODALITY_ALIASES)
    columns: tuple[str, ...]  # recordings: column names; ts: dimension indices as strings; npz: ()
    key: str | None  # npz only: array key in the file (None: the view name)
    units: str  # free text, "" if not declared
    rate_hz: float | None  # recordings: resampling rate (None: params default); ts/npz: rate of the windows


@dataclass(frozen=True)
class RecordingsEntry:
    path: Path  # absolute, resolved against the manifest's folder
    pattern: str = "*.csv"  # glob; .csv and .parquet files are read
    time_column: str | None = None
    time_unit: str = "s"  # s | ms
    rate_hz: float | None = None  # declared source rate: required without a time column; both must agree (5 %)
    label_column: str = "label"
    null_label: str = ""  # rows whose label equals this, or is empty/NaN, are null (label -1)
    subject_column: str | None = None
    subject_pattern: str | None = None  # regex on the file stem; group 1 is the subject id
    # neither subject source: there are no subjects (the split is a seeded stratified window split)


@dataclass(frozen=True)
class UserManifest:
    """A checked manifest. `step_sec` defaults to `window_sec / 2` for recordings (None for ts / npz unless
    given); `classes` None = the sorted unique labels of the data."""

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


# ---- the YAML shapes, checked by ralis.schema before they become the entries above ----

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


@dataclass(frozen=True)
class _ViewYaml:
    modality: str | None = None
    columns: list[Name] | None = None
    dimensions: list[Annotated[int, Range(ge=0)]] | None = None
    key: str | None = None
    units: str = ""
    rate_hz: PosFloat | None = None


@dataclass(frozen=True)
class _SplitYaml:
    train: list[Name] | None = None
    valid: list[Name] | None = None
    test: list[Name] | None = None
    valid_fraction: Annotated[float, Range(ge=0, lt=1)] = 0.2
    test_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.25
    seed: int = 0


@dataclass(frozen=True)
class _RecordingsYaml:
    path: str | None = None
    pattern: str = "*.csv"
    time_column: Name | None = None
    time_unit: Literal["s", "ms"] = "s"
    rate_hz: PosFloat | None = None
    label_column: Name = "label"
    null_label: Name = ""
    subject_column: Name | None = None
    subject_pattern: str | None = None


def matching_files(folder: Path, pattern: str) -> list[Path]:
    """The .csv / .parquet files in `folder` matching the glob `pattern`, sorted by their path under `folder`."""
    found = (p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _texts(values: list | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(str(v) for v in values)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


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


def _modality(value: str | None, where: str) -> str:
    if value is None:
        raise ValueError(f"{where}.modality is missing; add one of {sorted(MODALITY_ALIASES)}")
    if value.lower() not in MODALITY_ALIASES:
        close = difflib.get_close_matches(value.lower(), list(MODALITY_ALIASES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}.modality = {value!r} is unknown{hint}; use one of {sorted(MODALITY_ALIASES)}")
    return MODALITY_ALIASES[value.lower()]


_CHANNEL_KEYS = {"recordings": "columns", "ts": "dimensions", "npz": "key"}


def _view(name: str, raw: Any, fmt: str, where: str) -> ViewEntry:
    v = build(_ViewYaml, raw, where)
    modality = _modality(v.modality, where)
    own = _CHANNEL_KEYS[fmt]
    for key in set(_CHANNEL_KEYS.values()) - {own}:
        if getattr(v, key) is not None:
            raise ValueError(f"{where}.{key} does not apply to format {fmt}; name the view's channels with "
                             f"`{own}:` instead")
    if fmt == "npz":
        if (v.key or name) in NPZ_RESERVED:
            raise ValueError(f"{where}: array key {v.key or name!r} is reserved for {NPZ_RESERVED}; rename the view "
                             "or set its `key:` to the array holding its windows")
        return ViewEntry(name, modality, (), v.key, v.units, v.rate_hz)
    channels = _texts(v.columns if fmt == "recordings" else v.dimensions)
    if not channels:
        example = "[ax, ay, az]" if fmt == "recordings" else "[0, 1, 2]"
        raise ValueError(f"{where}.{own} is missing or empty; list the view's {own}, e.g. {own}: {example}")
    if len(set(channels)) != len(channels):
        twice = sorted({c for c in channels if channels.count(c) > 1})
        raise ValueError(f"{where}.{own} lists {twice} more than once; list each channel once")
    return ViewEntry(name, modality, channels, None, v.units, v.rate_hz)


def _views(raw: Any, fmt: str, where: Path) -> tuple[ViewEntry, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{where}: views must be a mapping of view name -> {{modality: ..., "
                         f"{_CHANNEL_KEYS[fmt]}: ...}} with at least one view, got {raw!r}")
    views, owner = [], {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: views has a name {name!r}; view names must be non-empty text")
        views.append(_view(name, spec, fmt, f"{where}: views.{name}"))
        channels = views[-1].columns or ((views[-1].key or name),)  # npz: its array key
        for c in channels:
            if c in owner:
                what = {"recordings": "column", "ts": "dimension", "npz": "array key"}[fmt]
                raise ValueError(f"{where}: views.{name} and views.{owner[c]} both use {what} {c!r}; each "
                                 f"{what} may feed one view only")
            owner[c] = name
    # YAML itself keeps the last of two equal keys; names differing only in case would collide in file names
    lower = [v.name.lower() for v in views]
    if len(set(lower)) != len(lower):
        raise ValueError(f"{where}: views has names that differ only in case {sorted(v.name for v in views)}; "
                         "give each view a distinct name")
    return tuple(views)


def _split(raw: Any, where: Path) -> SplitRule:
    s = build(_SplitYaml, raw, f"{where}: split")
    lists = {k: _texts(getattr(s, k)) for k in _SPLITS}
    for k, ids in lists.items():
        if ids is not None and len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"{where}: split.{k} lists subject(s) {twice} more than once; list each once")
    for i, a in enumerate(_SPLITS):
        for b in _SPLITS[i + 1:]:
            if lists[a] and lists[b] and (both := sorted(set(lists[a]) & set(lists[b]))):
                raise ValueError(f"{where}: subject(s) {both} are in both split.{a} and split.{b}; "
                                 "a subject belongs to one split only")
    return SplitRule(**lists, valid_fraction=s.valid_fraction, test_fraction=s.test_fraction, seed=s.seed)


def _recordings(raw: Any, root: Path, where: Path) -> RecordingsEntry:
    if raw is None:
        raise ValueError(f"{where}: recordings is missing; format recordings needs `recordings: {{path: <folder of "
                         "CSV/Parquet files>, time_column: ... or rate_hz: ...}}`")
    r = build(_RecordingsYaml, raw, f"{where}: recordings")
    if r.path is None:
        raise ValueError(f"{where}: recordings.path is missing; give the folder of the CSV/Parquet files, "
                         "relative to the manifest")
    folder = (root / r.path).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: recordings.path = {r.path!r}: folder {folder} does not exist; "
                                "create it or correct the path (relative to the manifest)")
    if not matching_files(folder, r.pattern):
        present = sorted(p.name for p in folder.iterdir())[:10]
        raise FileNotFoundError(f"{where}: recordings.pattern = {r.pattern!r} matches no .csv or .parquet file in "
                                f"{folder} (it holds {present}); correct the pattern or add the files")
    if r.time_column is None and r.rate_hz is None:
        raise ValueError(f"{where}: recordings needs time_column (timestamps) or rate_hz (samples per second); "
                         "add one of them")
    if r.subject_column is not None and r.subject_pattern is not None:
        raise ValueError(f"{where}: recordings sets both subject_column and subject_pattern; keep one")
    if r.subject_pattern is not None:
        try:
            groups = re.compile(r.subject_pattern).groups
        except re.error as e:
            raise ValueError(f"{where}: recordings.subject_pattern = {r.subject_pattern!r} is not a valid regular "
                             f"expression ({e})") from None
        if groups < 1:
            raise ValueError(f"{where}: recordings.subject_pattern = {r.subject_pattern!r} has no group; put the "
                             "subject id in parentheses, e.g. 'subject(\\\\d+)'")
    return RecordingsEntry(folder, r.pattern, _text(r.time_column), r.time_unit, r.rate_hz, str(r.label_column),
                           str(r.null_label), _text(r.subject_column), r.subject_pattern)


def _files(raw: dict[str, str] | None, fmt: str, root: Path, where: Path) -> dict[str, Path]:
    if raw is None:
        raise ValueError(f"{where}: files is missing; format {fmt} needs `files: {{train: <file>, test: <file>}}` "
                         f"or `files: {{all: <file>}}`")
    if set(raw) not in ({"train", "test"}, {"all"}):
        raise ValueError(f"{where}: files has keys {sorted(raw)}; use exactly train and test (a TRAIN/TEST pair) "
                         "or all (one file)")
    files = {}
    for k, rel in raw.items():
        p = (root / rel).resolve()
        if p.suffix.lower() != f".{fmt}":
            raise ValueError(f"{where}: files.{k} = {rel!r} is not a .{fmt} file; format {fmt} reads .{fmt} files")
        if not p.is_file():
            raise FileNotFoundError(f"{where}: files.{k} = {rel!r}: {p} does not exist; put the file there or "
                                    "correct the path (relative to the manifest)")
        files[k] = p
    return files


def _check_columns(views: tuple[ViewEntry, ...], rec: RecordingsEntry, where: Path) -> None:
    """The time, label and subject columns may not also be a view's channel."""
    for role in ("time_column", "label_column", "subject_column"):
        col = getattr(rec, role)
        for v in views:
            if col is not None and col in v.columns:
                raise ValueError(f"{where}: column {col!r} is both recordings.{role} and a channel of "
                                 f"views.{v.name}; a column has one role")


def load_user_manifest(user_dir: str | Path) -> UserManifest:
    """Read and check `{user_dir}/manifest.yaml` (format: this module's docstring).

    Errors are ValueError (FileNotFoundError for a missing manifest, data file or folder) naming the manifest,
    the key and the fix.
    """
    where = Path(user_dir) / MANIFEST_NAME
    root = Path(user_dir).resolve()
    top = _top(_read_yaml(where), where)
    fmt = top.format
    views = _views(top.views, fmt, where)
    split = _split(top.split, where)
    classes = _texts(top.classes)
    if classes is not None and len(set(classes)) != len(classes):
        twice = sorted({c for c in classes if classes.count(c) > 1})
        raise ValueError(f"{where}: classes lists {twice} more than once; list each class once")
    recordings, files, step = None, {}, top.step_sec
    if fmt == "recordings":
        if top.files is not None:
            raise ValueError(f"{where}: files does not apply to format recordings; name the folder in "
                             "recordings.path instead")
        if top.window_sec is None:
            raise ValueError(f"{where}: window_sec is missing; format recordings cuts windows of window_sec "
                             "seconds, e.g. window_sec: 4.0")
        recordings = _recordings(top.recordings, root, where)
        _check_columns(views, recordings, where)
        step = top.window_sec / 2 if step is None else step
        has_subjects = recordings.subject_column is not None or recordings.subject_pattern is not None
    else:
        if top.recordings is not None:
            raise ValueError(f"{where}: recordings does not apply to format {fmt}; name the data files in "
                             "`files:` instead")
        files = _files(top.files, fmt, root, where)
        has_subjects = fmt == "npz"  # an npz file may hold a `subjects` array; a .ts file has none
        if "test" in files and (split.train is not None or split.test is not None):
            raise ValueError(f"{where}: split.train / split.test are given, but the train/test files already "
                             "define the test set; remove them (split.valid may stay) or use files: {all: ...}")
    if not has_subjects and any(getattr(split, k) is not None for k in _SPLITS):
        source = ("recordings.subject_column or recordings.subject_pattern" if fmt == "recordings"
                  else "format npz with a `subjects` array")
        raise ValueError(f"{where}: split lists subjects but the data has none; add {source}, or remove "
                         "split.train / valid / test (the split is then drawn by the fractions)")
    return UserManifest(root=root, name=top.name if top.name is not None else root.name, format=fmt, views=views,
                        classes=classes, window_sec=top.window_sec, step_sec=step, split=split,
                        recordings=recordings, files=files)
