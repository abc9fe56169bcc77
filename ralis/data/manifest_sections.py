"""The sections of a user's `manifest.yaml` (ralis.data.manifest): views, recordings, files and split.

Each section is a YAML shape checked field by field by `ralis.schema`, then by the rules that span its fields
(channels named once, one role per column, a subject in one split only), and becomes the frozen entry the
parsers read (`ViewEntry`, `RecordingsEntry`, `SplitRule`, the data files). Every error names the manifest, the
key and the fix.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from ralis.data.arrays import SplitRule
from ralis.data.registry import MODALITY_ALIASES
from ralis.data.store import SPLITS
from ralis.schema import Range, build

__all__ = ["FORMATS", "READABLE_SUFFIXES", "NPZ_RESERVED", "ViewEntry", "RecordingsEntry",
           "matching_files", "texts", "views", "split", "recordings", "files", "check_columns"]

FORMATS = ("recordings", "ts", "npz")
READABLE_SUFFIXES = (".csv", ".parquet")  # files of a recordings folder that are read
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


# ---- the YAML shapes of the sections, checked by ralis.schema before they become the entries above ----

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


def texts(values: list | None) -> tuple[str, ...] | None:
    """Names written as numbers or text, kept as text (None stays None)."""
    return None if values is None else tuple(str(v) for v in values)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


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
    channels = texts(v.columns if fmt == "recordings" else v.dimensions)
    if not channels:
        example = "[ax, ay, az]" if fmt == "recordings" else "[0, 1, 2]"
        raise ValueError(f"{where}.{own} is missing or empty; list the view's {own}, e.g. {own}: {example}")
    if len(set(channels)) != len(channels):
        twice = sorted({c for c in channels if channels.count(c) > 1})
        raise ValueError(f"{where}.{own} lists {twice} more than once; list each channel once")
    return ViewEntry(name, modality, channels, None, v.units, v.rate_hz)


def views(raw: Any, fmt: str, where: Path) -> tuple[ViewEntry, ...]:
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


def split(raw: Any, where: Path) -> SplitRule:
    s = build(_SplitYaml, raw, f"{where}: split")
    lists = {k: texts(getattr(s, k)) for k in SPLITS}
    rule = SplitRule(**lists, valid_fraction=s.valid_fraction, test_fraction=s.test_fraction, seed=s.seed)
    rule.check(str(where))
    return rule


def recordings(raw: Any, root: Path, where: Path) -> RecordingsEntry:
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


def files(raw: dict[str, str] | None, fmt: str, root: Path, where: Path) -> dict[str, Path]:
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


def check_columns(views: tuple[ViewEntry, ...], rec: RecordingsEntry, where: Path) -> None:
    """The time, label and subject columns may not also be a view's channel."""
    for role in ("time_column", "label_column", "subject_column"):
        col = getattr(rec, role)
        for v in views:
            if col is not None and col in v.columns:
                raise ValueError(f"{where}: column {col!r} is both recordings.{role} and a channel of "
                                 f"views.{v.name}; a column has one role")


