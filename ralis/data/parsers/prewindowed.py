"""A user's already windowed data (manifest formats `ts` and `npz`) -> arrays per view.

`.ts` is the UEA/UCR multivariate format of sktime/aeon: `#` comment lines, `@` header lines (`@problemName`,
`@dimensions`, `@seriesLength`, `@classLabel true walk run ...`), then `@data` and one case per line: the
dimensions separated by `:`, the values of a dimension by `,`, the class label last; `?` is a missing value.
Only equal-length series with class labels are read (no `@timeStamps true`). A view gathers its dimensions.

`.npz` holds one [windows, time, channels] array per view (key: the view's `key` or name), `labels` [windows]
(integers or text) and optionally `subjects` [windows].

A train/test file pair is concatenated (train first) and `ArrayData.fold` says which file each window came
from. Every error names the file (and the line, key or value at fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ralis.data.manifest import UserManifest
from ralis.data.manifest_sections import NPZ_RESERVED
from ralis.data.parsers.rawfile import names_its_file

__all__ = ["ArrayData", "read_ts", "read_npz", "load_prewindowed"]

_FOLDS = ("train", "test", "all")  # order of the files in the result


@dataclass
class ArrayData:
    views: dict[str, np.ndarray]  # float32 [N, T_v, C_v], NaN where a view is missing in a window
    labels: np.ndarray  # str [N]
    subjects: np.ndarray | None  # str [N] or None
    fold: np.ndarray | None  # str [N] "train"/"test" for a TRAIN/TEST file pair, else None
    class_names: tuple[str, ...] | None  # from the .ts @classLabel header (file order), else None


def _flag(path: Path, line_no: int, tag: str, value: str) -> bool:
    word = value.split()[0].lower() if value.split() else ""
    if word not in ("true", "false"):
        raise ValueError(f"{path}: line {line_no}: @{tag} must be followed by true or false, got {value!r}")
    return word == "true"


def _header(path: Path, lines: list[str]) -> tuple[dict, int]:
    """The @ header as a dict (keys lower case) and the index of the first line after @data."""
    header: dict = {"problemname": None, "dimensions": None, "serieslength": None, "classlabel": None}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise ValueError(f"{path}: line {i + 1} is data before the @data line; put @data before the cases")
        tag, _, value = line[1:].partition(" ")
        tag, value = tag.lower(), value.strip()
        if tag == "data":
            return header, i + 1
        if tag in ("dimensions", "serieslength"):
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"{path}: line {i + 1}: @{tag} must be a positive integer, got {value!r}")
            header[tag] = int(value)
        elif tag == "classlabel":
            header[tag] = (tuple(value.split()[1:]) or None) if _flag(path, i + 1, tag, value) else False
        elif tag in ("timestamps", "missing", "univariate", "equallength", "targetlabel"):
            header[tag] = _flag(path, i + 1, tag, value)
        else:
            header[tag] = value
    raise ValueError(f"{path}: has no @data line; a .ts file is @ header lines, then @data, then one case a line")


def _check_header(path: Path, header: dict) -> None:
    if header.get("timestamps"):
        raise ValueError(f"{path}: @timeStamps true is not supported; write the values without timestamps, "
                         "resampled to one rate and one length")
    if header.get("equallength") is False:
        raise ValueError(f"{path}: @equalLength false: series of unequal length are not supported; resample "
                         "every series to one length")
    if header.get("targetlabel") or header["classlabel"] is False:
        raise ValueError(f"{path}: has no class labels (@classLabel false / @targetLabel true); ralis needs "
                         "@classLabel true <labels...> and a class label at the end of each case")
    if header["dimensions"] is None and header.get("univariate"):
        header["dimensions"] = 1


def _values(path: Path, line_no: int, field: str) -> np.ndarray:
    try:
        return np.asarray(field.replace("?", "nan").split(","), dtype=np.float64)
    except ValueError:
        for v in field.split(","):
            if v.strip() != "?":
                try:
                    float(v)
                except ValueError:
                    raise ValueError(f"{path}: line {line_no}: value {v!r} is not a number; write a number, or ? "
                                     "for a missing value") from None
        raise


@names_its_file
def read_ts(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """-> (X float64 [N, C, T] with NaN for '?', labels str [N], header {problemname, dimensions, serieslength,
    classlabel: tuple | None, other tags...})."""
    lines = path.read_text().splitlines()
    header, start = _header(path, lines)
    _check_header(path, header)
    dims, length, classes = header["dimensions"], header["serieslength"], header["classlabel"]
    cases, labels = [], []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        dims = dims or len(fields) - 1
        if len(fields) != dims + 1:
            raise ValueError(f"{path}: line {i + 1} has {len(fields) - 1} dimension(s) before the label, expected "
                             f"{dims} (@dimensions); each case is {dims} ':'-separated dimensions, then the label")
        case = [_values(path, i + 1, f) for f in fields[:-1]]
        length = length or len(case[0])
        if any(len(x) != length for x in case):
            raise ValueError(f"{path}: line {i + 1} has series of length {[len(x) for x in case]}, expected {length}; "
                             "unequal lengths are not supported: resample every series to one length")
        label = fields[-1].strip()
        if classes and label not in classes:
            raise ValueError(f"{path}: line {i + 1}: class label {label!r} is not declared in @classLabel "
                             f"{list(classes)}; add it there or correct the case")
        cases.append(case)
        labels.append(label)
    if not cases:
        raise ValueError(f"{path}: has no cases after @data")
    header["dimensions"], header["serieslength"] = dims, length
    return np.asarray(cases, dtype=np.float64), np.asarray(labels, dtype=str), header


def _ts_views(path: Path, m: UserManifest) -> tuple[dict[str, np.ndarray], np.ndarray, None, tuple | None]:
    x, labels, header = read_ts(path)
    views = {}
    for v in m.views:
        dims = [int(c) for c in v.columns]
        if max(dims) >= x.shape[1]:
            raise ValueError(f"{path}: views.{v.name}.dimensions = {dims} but the file has {x.shape[1]} dimension(s) "
                             f"(0..{x.shape[1] - 1}); correct the view's dimensions")
        views[v.name] = x[:, dims, :].transpose(0, 2, 1).astype(np.float32)
    return views, labels, None, header["classlabel"]


def _text_array(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    """Labels / subjects [N] as text; integral floats lose their '.0'."""
    if a.ndim != 1:
        raise ValueError(f"{path}: array {key!r} has shape {a.shape}; expected one value per window [N]")
    if a.dtype.kind in "US":
        return np.char.strip(a.astype(str))
    if a.dtype.kind in "iu":
        return a.astype(str)
    if a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all():
        return a.astype(np.int64).astype(str)
    raise ValueError(f"{path}: array {key!r} has dtype {a.dtype}; store {key} as integers or strings")


@names_its_file
def read_npz(path: Path, m: UserManifest) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """-> ({view: float32 [N, T, C]}, labels str [N], subjects str [N] or None) of one .npz file."""
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        views = {}
        for v in m.views:
            key = v.key or v.name
            if key not in z.files:
                raise ValueError(f"{path}: has no array {key!r} (views.{v.name}); its arrays are {keys}. Set "
                                 f"views.{v.name}.key to one of them or add the array")
            a = z[key]
            if a.ndim != 3:
                raise ValueError(f"{path}: array {key!r} (views.{v.name}) has shape {a.shape}; expected "
                                 "[windows, time, channels] (3 dimensions; one channel: a[..., None])")
            if a.dtype.kind not in "iuf":
                raise ValueError(f"{path}: array {key!r} (views.{v.name}) has dtype {a.dtype}, not numbers; store "
                                 "the signal as floats (NaN for missing values)")
            views[v.name] = a.astype(np.float32)
        if "labels" not in z.files:
            raise ValueError(f"{path}: has no array 'labels'; its arrays are {keys}. Add labels [windows] "
                             "(integers or strings)")
        labels = _text_array(path, "labels", z["labels"])
        subjects = _text_array(path, "subjects", z["subjects"]) if "subjects" in z.files else None
    sizes = {k: len(a) for k, a in [*views.items(), *zip(NPZ_RESERVED, (labels, subjects))] if a is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{path}: arrays disagree on the number of windows {sizes}; every array's first axis is "
                         "the window")
    return views, labels, subjects


def _check_classes(path: Path, labels: np.ndarray, classes: tuple[str, ...] | None) -> None:
    if classes is not None and len(bad := np.flatnonzero(~np.isin(labels, classes))):
        i = int(bad[0])
        raise ValueError(f"{path}: window {i} has label {str(labels[i])!r}, not in the manifest's classes "
                         f"{list(classes)}; add it to classes or correct the label")


def _join(parts: dict[str, tuple], files: dict[str, Path]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Concatenate the views of a train/test pair (shapes checked); None for the subjects of neither."""
    (a, pa), (b, pb) = ((parts[k], files[k]) for k in ("train", "test"))
    views = {}
    for name in a[0]:
        if a[0][name].shape[1:] != b[0][name].shape[1:]:
            raise ValueError(f"view {name!r}: windows of {pa} are [time, channels] = {list(a[0][name].shape[1:])} "
                             f"but those of {pb} are {list(b[0][name].shape[1:])}; both files need the same shape")
        views[name] = np.concatenate([a[0][name], b[0][name]])
    if (a[2] is None) != (b[2] is None):
        has, lacks = (pa, pb) if b[2] is None else (pb, pa)
        raise ValueError(f"{has} has a 'subjects' array but {lacks} has none; give both files subjects or neither")
    return views, None if a[2] is None else np.concatenate([a[2], b[2]])


def load_prewindowed(m: UserManifest) -> ArrayData:
    """Read the manifest's .ts or .npz file(s) into ArrayData (a train/test pair concatenated, train first)."""
    if m.format not in ("ts", "npz"):
        raise ValueError(f"{m.root}: manifest format is {m.format!r}; load_prewindowed reads formats ts and npz "
                         "(use ralis.data.parsers.recordings.load_recordings)")
    parts = {}
    for fold in (f for f in _FOLDS if f in m.files):
        path = m.files[fold]
        parts[fold] = _ts_views(path, m) if m.format == "ts" else (*read_npz(path, m), None)
        _check_classes(path, parts[fold][1], m.classes)
    if "all" in parts:
        views, labels, subjects, class_names = parts["all"]
        return ArrayData(views, labels, subjects, None, class_names)
    names = {k: parts[k][3] for k in ("train", "test")}
    if names["train"] != names["test"]:
        raise ValueError(f"{m.files['train']} declares @classLabel {names['train']} but {m.files['test']} declares "
                         f"{names['test']}; both files need the same class list")
    views, subjects = _join(parts, m.files)
    n = {k: len(parts[k][1]) for k in ("train", "test")}
    fold = np.array(["train"] * n["train"] + ["test"] * n["test"])
    return ArrayData(views, np.concatenate([parts["train"][1], parts["test"][1]]), subjects, fold, names["train"])
