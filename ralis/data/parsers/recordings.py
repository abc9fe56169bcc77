"""A user's continuous recordings (manifest format `recordings`) -> Sessions.

One CSV or Parquet file per session, read in file-name order from `recordings.path` (files matching
`recordings.pattern`). A row is a sample: timestamps come from `time_column` (s or ms) or are synthesised from
`rate_hz`; each view is the stack of its columns (float64 [T, C]); empty / NaN cells are missing data. A view
whose columns are all absent from a file is a missing view of that session. Labels are compared as text (1 and
"1" are one class); null rows (empty, NaN or `null_label`) get label -1. Subjects come from `subject_column`
or from `subject_pattern` on the file name; without either every session has subject 0 and there are none.
Every error names the file, and the column / row / value at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.data.manifest import UserManifest
from ralis.data.manifest_sections import RecordingsEntry, matching_files
from ralis.data.parsers.rawfile import names_its_file, read_csv
from ralis.data.session import Session, Stream

__all__ = ["RATE_TOLERANCE", "read_table", "load_recordings", "id_order"]

RATE_TOLERANCE = 0.05  # a time column and a declared rate_hz may differ by this fraction
PLAUSIBLE_HZ = (0.5, 5000.0)  # wearable / camera rates; outside, the time unit is almost surely wrong (s vs ms)
_MISSING_TEXT = ("", "nan", "na", "n/a", "null", "none")  # cells read as missing numbers


@names_its_file
def read_table(path: Path) -> pd.DataFrame:
    """A CSV (every cell as text) or Parquet file as a DataFrame with text column names; no data rows: error."""
    if path.suffix.lower() == ".parquet":
        df = pd.read_parquet(path)
        if len(df) == 0:
            raise ValueError(f"{path}: has no data rows")
    else:
        df = read_csv(path, dtype=str)
    df.columns = [str(c) for c in df.columns]
    return df


def _row(path: Path, i: int) -> str:
    """'data row 7 (line 8)' for the 0-based row i (a CSV's header is line 1)."""
    return f"data row {i + 1}" + (f" (line {i + 2})" if path.suffix.lower() == ".csv" else "")


def _numbers(path: Path, df: pd.DataFrame, col: str) -> np.ndarray:
    """Column `col` as float64; empty / NaN cells become NaN, any other non-number is an error."""
    s = df[col]
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.to_numpy(np.float64, na_value=np.nan)
    x = pd.to_numeric(s, errors="coerce")
    bad = x.isna() & s.notna() & ~s.astype(str).str.strip().str.lower().isin(_MISSING_TEXT)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}: column {col!r} holds {s.iloc[i]!r} at {_row(path, i)}, not a number; fix the value "
                         "(leave the cell empty for missing data)")
    return x.to_numpy(np.float64, na_value=np.nan)


_INTEGRAL = re.compile(r"([+-]?\d+)\.0*")  # '10.0': an integer written as a float (pandas does, beside NaN)


def _texts(s: pd.Series) -> list[str | None]:
    """Cells as text (integral numbers without '.0', so 1, 1.0, '1' and '1.0' agree); None for empty / NaN."""
    out: list[str | None] = []
    for v in s.tolist():
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append(None)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        else:
            text = str(v).strip()
            out.append((m.group(1) if (m := _INTEGRAL.fullmatch(text)) else text) or None)
    return out


def id_order(names: set[str] | list[str]) -> list[str]:
    """Sorted names; numerically when all are integers ('2' before '10')."""
    names = sorted(set(names))
    if all(re.fullmatch(r"[+-]?\d+", n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return names


def _times(path: Path, df: pd.DataFrame, rec: RecordingsEntry) -> np.ndarray:
    """Row times in ms: the time column (checked: present, strictly increasing, agreeing with rate_hz)."""
    if rec.time_column is None:
        return np.arange(len(df)) * 1000.0 / rec.rate_hz
    if rec.time_column not in df.columns:
        raise ValueError(f"{path}: has no time column {rec.time_column!r} (recordings.time_column); its columns "
                         f"are {list(df.columns)}")
    col = df[rec.time_column]
    numeric = not pd.api.types.is_datetime64_any_dtype(col)  # numbers in time_unit, else a Parquet timestamp
    if not numeric:  # ms since the epoch
        t = ((col - pd.Timestamp(0, tz=col.dt.tz)) / pd.Timedelta(milliseconds=1)).to_numpy(np.float64, na_value=np.nan)
    else:
        t = _numbers(path, df, rec.time_column) * (1000.0 if rec.time_unit == "s" else 1.0)
    if np.isnan(t).any():
        i = int(np.flatnonzero(np.isnan(t))[0])
        raise ValueError(f"{path}: time column {rec.time_column!r} is empty at {_row(path, i)}; every row needs a time")
    if (d := np.diff(t) <= 0).any():
        i = int(np.flatnonzero(d)[0]) + 1
        raise ValueError(f"{path}: time column {rec.time_column!r} must increase strictly, but at {_row(path, i)} "
                         f"it goes from {df[rec.time_column].iloc[i - 1]} to {df[rec.time_column].iloc[i]}; sort the "
                         "rows by time and remove repeated times")
    if len(t) < 2:
        return t
    measured = 1000.0 / float(np.median(np.diff(t)))
    if rec.rate_hz is None and numeric and not PLAUSIBLE_HZ[0] <= measured <= PLAUSIBLE_HZ[1]:
        other = "ms" if rec.time_unit == "s" else "s"
        raise ValueError(f"{path}: time column {rec.time_column!r} read in {rec.time_unit} gives {measured:.4g} Hz, "
                         f"outside {PLAUSIBLE_HZ[0]:g}-{PLAUSIBLE_HZ[1]:g} Hz; if the times are in {other}, set "
                         f"recordings.time_unit: {other} (a genuine rate this far out: drop time_column and give "
                         "rate_hz)")
    if rec.rate_hz is not None and abs(measured - rec.rate_hz) > RATE_TOLERANCE * rec.rate_hz:
        raise ValueError(f"{path}: inconsistent rates: time column {rec.time_column!r} gives {measured:.4g} Hz "
                         f"(time_unit {rec.time_unit}) but recordings.rate_hz = {rec.rate_hz:g} Hz; correct "
                         "rate_hz or time_unit, or remove rate_hz to use the timestamps")
    return t


def _subject(path: Path, df: pd.DataFrame, rec: RecordingsEntry) -> str | None:
    if rec.subject_pattern is not None:
        if (match := re.search(rec.subject_pattern, path.stem)) is None or not match.group(1):
            raise ValueError(f"{path}: file name {path.stem!r} does not match recordings.subject_pattern "
                             f"'{rec.subject_pattern}'; rename the file or correct the pattern")
        return match.group(1)
    if rec.subject_column is None:
        return None
    if rec.subject_column not in df.columns:
        raise ValueError(f"{path}: has no subject column {rec.subject_column!r} (recordings.subject_column); its "
                         f"columns are {list(df.columns)}")
    names = _texts(df[rec.subject_column])
    for i, name in enumerate(names):
        if name is None or name != names[0]:
            raise ValueError(f"{path}: subject column {rec.subject_column!r} must hold one subject per file, but "
                             f"{_row(path, i)} has {name!r} after {names[0]!r}; split the file by subject")
    return names[0]


def _labels(path: Path, df: pd.DataFrame, rec: RecordingsEntry, classes: tuple[str, ...] | None) -> list[str | None]:
    """Row labels as text, None for null rows; labels outside a declared class list are an error."""
    if rec.label_column not in df.columns:
        raise ValueError(f"{path}: has no label column {rec.label_column!r} (recordings.label_column); its columns "
                         f"are {list(df.columns)}")
    labels = [None if x == rec.null_label else x for x in _texts(df[rec.label_column])]
    if classes is not None:
        known = set(classes)
        for i, x in enumerate(labels):
            if x is not None and x not in known:
                raise ValueError(f"{path}: label {x!r} at {_row(path, i)} is not in the manifest's classes "
                                 f"{list(classes)}; add it to classes or correct the label")
    return labels


def _streams(path: Path, df: pd.DataFrame, m: UserManifest, t: np.ndarray) -> dict[str, Stream]:
    streams = {}
    for v in m.views:
        missing = [c for c in v.columns if c not in df.columns]
        if len(missing) == len(v.columns):
            continue  # the view is missing from this session
        if missing:
            raise ValueError(f"{path}: view {v.name!r} lacks column(s) {missing} (has {len(v.columns) - len(missing)}"
                             f" of {list(v.columns)}); the file's columns are {list(df.columns)}. Add the columns "
                             "or, if the view is missing from this recording, remove all of them")
        streams[v.name] = Stream(t, np.column_stack([_numbers(path, df, c) for c in v.columns]))
    if not streams:
        raise ValueError(f"{path}: holds the columns of no view (views use {[list(v.columns) for v in m.views]}); "
                         f"its columns are {list(df.columns)}. Correct the views' columns or recordings.pattern")
    return streams


@dataclass
class _Recording:
    path: Path
    subject: str | None
    streams: dict[str, Stream]
    t: np.ndarray
    labels: list[str | None]


def _subject_ids(names: set[str]) -> dict[str, int]:
    """Subject name -> int id: the integer itself when every name is one (and distinct as numbers), else 1..n."""
    order = id_order(names)
    if all(re.fullmatch(r"[+-]?\d+", n) for n in order) and len({int(n) for n in order}) == len(order):
        return {n: int(n) for n in order}
    return {n: i + 1 for i, n in enumerate(order)}


def load_recordings(m: UserManifest) -> tuple[list[Session], tuple[str, ...], dict[int, str]]:
    """-> (one Session per file, class names, {subject id: subject name}; {} when the data has no subjects).

    Class names are `m.classes` or the sorted non-null labels of all files (numerically when all are integers).
    """
    if m.format != "recordings" or m.recordings is None:
        raise ValueError(f"{m.root}: manifest format is {m.format!r}; load_recordings reads format recordings "
                         "(use ralis.data.parsers.prewindowed.load_prewindowed)")
    rec = m.recordings
    files = matching_files(rec.path, rec.pattern)
    if not files:
        raise FileNotFoundError(f"{rec.path}: no .csv / .parquet file matches {rec.pattern!r}")
    found = []
    for path in files:
        df = read_table(path)
        t = _times(path, df, rec)
        found.append(_Recording(path, _subject(path, df, rec), _streams(path, df, m, t), t,
                                _labels(path, df, rec, m.classes)))
    for v in m.views:
        if not any(v.name in r.streams for r in found):
            raise ValueError(f"view {v.name!r}: none of its columns {list(v.columns)} is in any of the {len(files)} "
                             f"file(s) of {rec.path} matching {rec.pattern!r}; correct views.{v.name}.columns")
    classes = m.classes or tuple(id_order({x for r in found for x in r.labels if x is not None}))
    index = {c: i for i, c in enumerate(classes)}
    has_subjects = rec.subject_column is not None or rec.subject_pattern is not None
    ids = _subject_ids({r.subject for r in found}) if has_subjects else {}
    sessions = []
    for r in found:
        labels = np.array([-1 if x is None else index[x] for x in r.labels], dtype=np.int64)
        meta = {"path": str(r.path), "subject_name": r.subject}
        sessions.append(Session(ids.get(r.subject, 0), r.path.relative_to(rec.path).as_posix(), r.streams, r.t,
                                labels, meta=meta))
    return sessions, tuple(classes), {i: n for n, i in ids.items()}
