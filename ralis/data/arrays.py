"""Windowed arrays in memory -> checked train / valid / test splits: `from_arrays`, and the split rule that the
user datasets share (`.ts` / `.npz` windows and windowed CSV / Parquet recordings, ralis.data.user).

Which windows go where (`SplitRule`, first rule that applies):
  1. files: a TRAIN/TEST pair (`fold`) gives the test split; valid is carved from TRAIN (the `valid`
     subjects when listed, else step 4);
  2. subject lists: `train` / `test` (and optionally `valid`) name subjects; subjects in no list are dropped;
  3. no subjects: a seeded split stratified by class, `test_fraction` of each class to test;
  4. valid, when not given: with subjects, round(valid_fraction x train subjects) (at least 1) held-out training
     subjects, so that overlapping windows of one recording never straddle train and valid; without subjects,
     `valid_fraction` of each class, stratified and seeded. A class with one training window stays in train.
Subject lists need subject ids and may not overlap (`SplitRule.check`). Then every class must have training
windows, and no label may occur only in valid / test (`check_classes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ralis.contract import ViewSpec
from ralis.data.registry import MODALITY_ALIASES
from ralis.data.store import SPLITS, DatasetInfo, WindowedSplit, require_finite

__all__ = ["SplitRule", "DatasetSplits", "subject_key", "assign_splits", "check_classes", "encode_labels",
           "from_arrays"]


@dataclass(frozen=True)
class SplitRule:
    train: tuple[str, ...] | None = None  # subject ids (as strings) of each split; None = not given
    valid: tuple[str, ...] | None = None
    test: tuple[str, ...] | None = None
    valid_fraction: float = 0.2  # project choice: carved from train when `valid` is not given
    test_fraction: float = 0.25  # project choice: only without subjects and without a TRAIN/TEST pair
    seed: int = 0  # the split's own seed (independent of the training seed)

    def __post_init__(self) -> None:  # subject ids compare as text: 3, "3" and "03" are one subject
        for k in SPLITS:
            if getattr(self, k) is not None:
                object.__setattr__(self, k, tuple(subject_key(s) for s in getattr(self, k)))

    def check(self, where: str) -> None:
        """Each subject listed once and in one split only, compared as `subject_key`s ("03" is subject 3)."""
        lists = {k: getattr(self, k) or () for k in SPLITS}
        for k, ids in lists.items():
            if twice := sorted({i for i in ids if ids.count(i) > 1}):
                raise ValueError(f"{where}: split.{k} lists subject(s) {twice} more than once (ids compare as "
                                 "numbers: 3 and 03 are one subject); list each once")
        for i, a in enumerate(SPLITS):
            for b in SPLITS[i + 1:]:
                if both := sorted(set(lists[a]) & set(lists[b])):
                    raise ValueError(f"{where}: subject(s) {both} are in both split.{a} and split.{b} (ids compare "
                                     "as numbers: 3 and 03 are one subject); a subject belongs to one split only")


def subject_key(subject: object) -> str:
    """How subject ids compare: as text, integers without leading zeros ("03" -> "3", 3.0 -> "3"); integers
    of any length stay exact (no round trip through float)."""
    text = str(subject).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


class DatasetSplits(NamedTuple):
    """A dataset ready for `ralis.api.run_experiment(params, out_dir, data=...)`: its description and splits."""

    info: DatasetInfo
    train: WindowedSplit
    valid: WindowedSplit
    test: WindowedSplit

    def as_dict(self) -> dict[str, WindowedSplit]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def _stratified(labels: np.ndarray, index: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """round(fraction x n_c) windows of each class c among `index` (a class with one window gives none)."""
    picked = []
    for c in np.unique(labels[index]):
        rows = rng.permutation(index[labels[index] == c])
        k = min(int(round(fraction * len(rows))), len(rows) - 1)
        picked.append(rows[:k])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def assign_splits(labels: np.ndarray, subjects: np.ndarray | None, fold: np.ndarray | None, rule: SplitRule,
                  where: str) -> dict[str, np.ndarray]:
    """Row indices of train / valid / test by the module's rule. `subjects` and `fold` are str [N] or None."""
    n = len(labels)
    rule.check(where)
    lists = {k: getattr(rule, k) for k in SPLITS}
    given = [k for k in SPLITS if lists[k] is not None]
    if subjects is None and given:
        raise ValueError(f"{where}: split.{'/'.join(given)} list subjects, but the data have no subject ids; give "
                         "them (an npz `subjects` array, a recordings subject_column / subject_pattern, "
                         "from_arrays(subjects=...)) or remove the lists (the split is then drawn by the fractions)")
    if fold is not None and (lists["train"] is not None or lists["test"] is not None):
        raise ValueError(f"{where}: split.train / split.test are given, but the TRAIN/TEST files already define "
                         "the test set; remove them (split.valid may stay)")
    if subjects is not None:
        subjects = np.array([subject_key(s) for s in subjects])
        known = set(subjects.tolist())
        for k in given:
            if absent := sorted(set(lists[k]) - known):
                raise ValueError(f"{where}: split.{k} names subject(s) {absent} that have no window; subjects are "
                                 f"{sorted(known)}")
    rng = np.random.default_rng(rule.seed)
    rows = np.arange(n)
    if fold is not None:
        out = {"train": rows[fold == "train"], "test": rows[fold == "test"]}
        if lists["valid"] is not None:  # valid subjects are taken out of TRAIN
            in_train = subjects[out["train"]]
            if absent := sorted(set(lists["valid"]) - set(in_train.tolist())):
                raise ValueError(f"{where}: split.valid names subject(s) {absent} that have no window in the TRAIN "
                                 "file; valid subjects are carved from TRAIN")
            in_valid = np.isin(in_train, list(lists["valid"]))
            out = {"train": out["train"][~in_valid], "valid": out["train"][in_valid], "test": out["test"]}
    elif subjects is not None and (lists["train"] is not None or lists["test"] is not None):
        if lists["train"] is None or lists["test"] is None:
            raise ValueError(f"{where}: split lists need both `train` and `test` subjects (valid is optional)")
        out = {k: rows[np.isin(subjects, list(names))] for k, names in lists.items() if names is not None}
    elif subjects is not None:
        raise ValueError(f"{where}: the data have subjects but no split lists; give split.train and split.test "
                         f"subject lists (subjects: {sorted(set(subjects.tolist()))})")
    else:
        test = _stratified(labels, rows, rule.test_fraction, rng)
        out = {"train": np.setdiff1d(rows, test), "test": test}
    if "valid" not in out:
        train = out["train"]
        if subjects is not None and len(set(subjects[train].tolist())) >= 2:
            names = sorted(set(subjects[train].tolist()))
            held = rng.permutation(names)[:max(1, int(round(rule.valid_fraction * len(names))))]
            valid = train[np.isin(subjects[train], held)]
        else:
            valid = _stratified(labels, train, rule.valid_fraction, rng)
        out = {"train": np.setdiff1d(train, valid), "valid": valid, "test": out["test"]}
    for k in SPLITS:
        if len(out[k]) == 0:
            raise ValueError(f"{where}: the {k} split has no window; check the split lists or fractions "
                             f"({n} windows in all)")
    return {k: out[k] for k in SPLITS}


def check_classes(labels: np.ndarray, index: dict[str, np.ndarray], class_names: Sequence[str], where: str) -> None:
    """Refuse a class without training windows; name labels that occur only in valid / test."""
    in_train = set(labels[index["train"]].tolist())
    only = {k: sorted(set(labels[index[k]].tolist()) - in_train) for k in ("valid", "test")}
    if any(only.values()):
        detail = "; ".join(f"{[class_names[c] for c in v]} only in {k}" for k, v in only.items() if v)
        raise ValueError(f"{where}: label(s) occur outside the training split: {detail}. The model cannot learn them; "
                         "move their subjects or windows into train, or drop those labels")
    if absent := [class_names[c] for c in range(len(class_names)) if c not in in_train]:
        raise ValueError(f"{where}: class(es) {absent} have no training window; remove them from the class list "
                         "or add windows")


def encode_labels(labels: np.ndarray, class_names: Sequence[str] | None, where: str) -> tuple[np.ndarray,
                                                                                          tuple[str, ...]]:
    """Labels (ints or strings) -> class indices and the class names (given, or the sorted distinct labels)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{where}: labels must be one value per window [N], got shape {labels.shape}")
    if class_names is None:
        if labels.dtype.kind in "iu":
            raise ValueError(f"{where}: integer labels need class_names (one name per class index)")
        class_names = sorted(set(labels.astype(str).tolist()))
    names = tuple(str(c) for c in class_names)
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: class_names has duplicates: {list(names)}")
    if labels.dtype.kind in "iu":
        bad = labels[(labels < 0) | (labels >= len(names))]
        if len(bad):
            raise ValueError(f"{where}: label {int(bad[0])} is outside [0, {len(names)}) for {len(names)} classes")
        return labels.astype(np.int64), names
    lookup = {c: i for i, c in enumerate(names)}
    text = labels.astype(str)
    if unknown := sorted(set(text.tolist()) - set(lookup)):
        raise ValueError(f"{where}: label(s) {unknown[:5]} are not in the class list {list(names)}")
    return np.array([lookup[t] for t in text], dtype=np.int64), names


def from_arrays(views: Mapping[str, np.ndarray], labels: np.ndarray, subjects: np.ndarray | None = None,
                class_names: Sequence[str] | None = None, *, modalities: Mapping[str, str] | None = None,
                rate_hz: Mapping[str, float] | float | None = None, units: Mapping[str, str] | None = None,
                split: SplitRule | None = None, fold: np.ndarray | None = None, name: str = "arrays"
                ) -> DatasetSplits:
    """Windowed arrays -> `DatasetSplits` for `ralis.api.run_experiment(params, out_dir, data=...)`.

    views: {view name: [N, T, C] array}; NaN anywhere in a window's view marks that view missing there.
    labels: [N] class indices (with `class_names`) or strings. subjects: [N] ids, or None (stratified split).
    modalities: {view: accelerometer | gyroscope | magnetometer | pose3d | pose2d | other} (or acc, gyro, mag);
    views not named are `other` (scaling and time warping only).
    rate_hz: per view or one number (recorded in the checkpoint; None = unknown, stored as 0).
    split / fold: the split rule (module docstring).
    """
    from ralis.data.augment import check_modalities

    if not views:
        raise ValueError(f"{name}: views is empty; pass {{view name: [N, T, C] array}}")
    n = len(labels)
    modalities, units = dict(modalities or {}), dict(units or {})
    rates = dict(rate_hz) if isinstance(rate_hz, Mapping) else {v: rate_hz for v in views}
    for key, given in (("modalities", modalities), ("units", units), ("rate_hz", rates)):
        if unknown := sorted(set(given) - set(views)):
            raise ValueError(f"{name}: {key} names unknown view(s) {unknown}; views are {list(views)}")
    arrays, specs = {}, []
    for v, x in views.items():
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[0] != n:
            raise ValueError(f"{name}: view '{v}' must be [N={n}, T, C], got {x.shape} ([N, C, T] data: "
                             "x.transpose(0, 2, 1))")
        if x.dtype.kind not in "fiu":
            raise ValueError(f"{name}: view '{v}' holds {x.dtype} values; it must be numeric")
        arrays[v] = x.astype(np.float32)
        modality = modalities.get(v, "other")
        specs.append(ViewSpec(v, MODALITY_ALIASES.get(modality, modality), x.shape[2], float(rates.get(v) or 0.0),
                              units=units.get(v, "")))
    check_modalities(specs)
    y, names = encode_labels(labels, class_names, name)
    present = np.stack([~np.isnan(x).any(axis=(1, 2)) for x in arrays.values()], axis=1)  # [N, V]
    keep = np.flatnonzero(present.any(axis=1))  # windows with no view are dropped (A5)
    subj = None if subjects is None else np.asarray(subjects).astype(str)
    fold_ = None if fold is None else np.asarray(fold).astype(str)
    index = assign_splits(y[keep], None if subj is None else subj[keep], None if fold_ is None else fold_[keep],
                          split or SplitRule(), name)
    check_classes(y[keep], index, names, name)
    ids = _subject_ids(subj, n)
    whole = WindowedSplit(arrays, present, y, ids, names)  # NaN only in missing views: subset zeroes them
    parts = {k: require_finite(whole.subset(keep[rows]), f"{name} ({k})") for k, rows in index.items()}
    return DatasetSplits(DatasetInfo(name, tuple(specs), names), **parts)


def _subject_ids(subjects: np.ndarray | None, n: int) -> np.ndarray:
    """int64 ids for the store: the subject itself when every id is an integer, else 1..S in sorted order."""
    if subjects is None:
        return np.zeros(n, dtype=np.int64)
    if all(s.lstrip("-").isdigit() for s in subjects):
        return subjects.astype(np.int64)
    lookup = {s: i + 1 for i, s in enumerate(sorted(set(subjects.tolist())))}
    return np.array([lookup[s] for s in subjects], dtype=np.int64)
