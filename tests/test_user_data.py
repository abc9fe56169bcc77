"""User datasets: the YAML manifest and the readers of recordings (CSV / Parquet) and windowed data (.ts / .npz).

Every fixture is generated here in tmp_path; the signals encode file, column and row so the round trips can check
that each value lands in the right view, channel, time and label.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ralis.data.manifest import (
    FORMATS,
    MANIFEST_NAME,
    MODALITY_ALIASES,
    RecordingsEntry,
    SplitEntry,
    ViewEntry,
    load_user_manifest,
)

ACC, GYRO = ["ax", "ay", "az"], ["gx", "gy", "gz"]
RECORDINGS = {
    "name": "watch study",
    "format": "recordings",
    "window_sec": 4.0,
    "recordings": {"path": "rec", "pattern": "subject*", "time_column": "t", "time_unit": "s",
                   "label_column": "activity", "null_label": "none", "subject_pattern": r"subject(\d+)"},
    "views": {"watch_acc": {"modality": "accelerometer", "columns": ACC, "units": "m/s^2", "rate_hz": 20},
              "watch_gyro": {"modality": "Gyroscope", "columns": GYRO, "units": "rad/s"}},
    "split": {"train": [1, "2"], "test": [10]},
}


def signal(subject: int, col: int, rows: np.ndarray) -> np.ndarray:
    """Cell value of a recordings fixture: identifies subject, column and row."""
    return 1000.0 * subject + 100.0 * col + 0.5 * rows


def table(subject: int, n: int = 6, rate: float = 10.0, gyro: bool = True) -> pd.DataFrame:
    """Columns in a shuffled order (gz first) so the views must pick them by name."""
    rows = np.arange(n)
    cols = (["gz"] if gyro else []) + ACC + (["gx", "gy"] if gyro else [])
    df = pd.DataFrame({c: signal(subject, i, rows) for i, c in enumerate(ACC + GYRO) if c in cols})[cols]
    df.insert(0, "t", 5.0 + rows / rate)
    df["activity"] = ["walk", "walk", "none", "", "run", "sit"][:n]
    return df


def write_manifest(root: Path, base: dict, **changes) -> Path:
    """Write `base` with top-level `changes` (a value None deletes the key) as root/manifest.yaml."""
    d = copy.deepcopy(base)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST_NAME).write_text(yaml.safe_dump(d, sort_keys=False))
    return root


def recordings_dir(tmp_path: Path, frames: dict[str, pd.DataFrame] | None = None, **changes) -> Path:
    """A manifest plus rec/ files: subject01.csv, subject02.parquet, subject10.csv (no gyroscope) by default."""
    if frames is None:
        frames = {"subject01.csv": table(1), "subject02.parquet": table(2), "subject10.csv": table(10, gyro=False)}
    rec = tmp_path / "rec"
    rec.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        if name.endswith(".parquet"):
            df.to_parquet(rec / name)
        else:
            df.to_csv(rec / name, index=False)
    return write_manifest(tmp_path, RECORDINGS, **changes)


def with_recordings(**changes) -> dict:
    return {**RECORDINGS["recordings"], **changes}


def with_view(name: str, **changes) -> dict:
    views = copy.deepcopy(RECORDINGS["views"])
    views[name] = {**views[name], **changes}
    return views


# ---------------------------------------------------------------- manifest


def test_modality_aliases_cover_the_augmentation_modalities():
    from ralis.data.augment import MODALITIES

    assert set(MODALITY_ALIASES.values()) == set(MODALITIES)
    assert FORMATS == ("recordings", "ts", "npz")


def test_manifest_recordings_fields(tmp_path):
    m = load_user_manifest(recordings_dir(tmp_path))
    assert m.root == tmp_path.resolve() and m.name == "watch study" and m.format == "recordings"
    assert m.views == (ViewEntry("watch_acc", "acc", tuple(ACC), None, "m/s^2", 20.0),
                       ViewEntry("watch_gyro", "gyro", tuple(GYRO), None, "rad/s", None))
    assert m.classes is None and m.window_sec == 4.0 and m.step_sec == 2.0  # step defaults to window / 2
    assert m.split == SplitEntry(train=("1", "2"), valid=None, test=("10",))
    assert m.recordings == RecordingsEntry(path=(tmp_path / "rec").resolve(), pattern="subject*", time_column="t",
                                           label_column="activity", null_label="none",
                                           subject_pattern=r"subject(\d+)")
    assert m.files == {}


def test_manifest_ts_and_npz_fields(tmp_path):
    for name in ("X_TRAIN.ts", "X_TEST.ts", "all.npz"):
        (tmp_path / name).write_text("")
    ts = {"format": "ts", "files": {"train": "X_TRAIN.ts", "test": "X_TEST.ts"}, "classes": [1, 2],
          "views": {"acc": {"modality": "acc", "dimensions": [2, 0], "rate_hz": 50}}, "step_sec": 1.0,
          "split": {"valid_fraction": 0.1, "seed": 3}}
    m = load_user_manifest(write_manifest(tmp_path, ts))
    assert m.name == tmp_path.name and m.window_sec is None and m.step_sec == 1.0 and m.recordings is None
    assert m.views == (ViewEntry("acc", "acc", ("2", "0"), None, "", 50.0),)
    assert m.files == {"train": tmp_path.resolve() / "X_TRAIN.ts", "test": tmp_path.resolve() / "X_TEST.ts"}
    assert m.classes == ("1", "2") and m.split == SplitEntry(valid_fraction=0.1, seed=3)
    npz = {"format": "npz", "files": {"all": "all.npz"}, "split": {"train": ["a"], "valid": ["b"]},
           "views": {"hip": {"modality": "mag", "key": "hip_mag"}, "cam": {"modality": "pose3d"}}}
    m = load_user_manifest(write_manifest(tmp_path, npz))
    assert m.views == (ViewEntry("hip", "mag", (), "hip_mag", "", None), ViewEntry("cam", "pose3d", (), None, "", None))
    assert m.step_sec is None and m.split.train == ("a",) and m.split.valid == ("b",)


MANIFEST_ERRORS = [
    ({"vews": {}}, ValueError, r"manifest\.yaml: unknown key\(s\) \['vews'\] \(did you mean 'views' for 'vews'\?\)"),
    ({"format": "csv"}, ValueError, r"manifest\.yaml: format = 'csv': must be one of \['recordings', 'ts', 'npz'\]"),
    ({"format": None}, ValueError, r"manifest\.yaml: format is missing"),
    ({"window_sec": None}, ValueError, r"window_sec is missing"),
    ({"window_sec": 0}, ValueError, r"manifest\.yaml: window_sec = 0(\.0)?: must be > 0"),
    ({"views": with_view("watch_acc", modality="gyr")}, ValueError,
     r"manifest\.yaml: views\.watch_acc\.modality = 'gyr' is unknown \(did you mean 'gyro'\?\); use one of"),
    ({"views": with_view("watch_acc", colums=ACC)}, ValueError,
     r"views\.watch_acc: unknown key\(s\) \['colums'\] \(did you mean 'columns' for 'colums'\?\)"),
    ({"views": with_view("watch_acc", columns=[])}, ValueError, r"views\.watch_acc\.columns is missing or empty"),
    ({"views": with_view("watch_acc", columns=None)}, ValueError, r"views\.watch_acc\.columns is missing or empty"),
    ({"views": with_view("watch_acc", dimensions=[0])}, ValueError,
     r"views\.watch_acc\.dimensions does not apply to format recordings"),
    ({"views": with_view("watch_gyro", columns=["gx", "ax", "gz"])}, ValueError,
     r"views\.watch_gyro and views\.watch_acc both use column 'ax'"),
    ({"views": with_view("watch_acc", columns=["ax", "ax"])}, ValueError, r"watch_acc\.columns lists \['ax'\] more"),
    ({"views": with_view("watch_acc", columns=["ax", "activity"])}, ValueError,
     r"column 'activity' is both recordings\.label_column and a channel of views\.watch_acc"),
    ({"views": with_view("watch_acc", rate_hz=0)}, ValueError, r"views\.watch_acc\.rate_hz = 0(\.0)?: must be > 0"),
    ({"views": {}}, ValueError, r"views must be a mapping .* at least one view"),
    ({"recordings": with_recordings(rate_hz=-5)}, ValueError, r"recordings\.rate_hz = -5(\.0)?: must be > 0"),
    ({"recordings": with_recordings(time_column=None)}, ValueError, r"needs time_column .* or rate_hz"),
    ({"recordings": with_recordings(time_unit="min")}, ValueError, r"recordings\.time_unit = 'min': must be one of"),
    ({"recordings": with_recordings(subject_pattern="subject")}, ValueError,
     r"subject_pattern = 'subject' has no group"),
    ({"recordings": with_recordings(subject_pattern=None)}, ValueError, r"split lists subjects but the data has none"),
    ({"recordings": with_recordings(subject_column="id")}, ValueError, r"sets both subject_column and subject_patt"),
    ({"recordings": with_recordings(path="nowhere")}, FileNotFoundError,
     r"manifest\.yaml: recordings\.path = 'nowhere': folder .*nowhere does not exist"),
    ({"recordings": with_recordings(pattern="*.txt")}, FileNotFoundError,
     r"recordings\.pattern = '\*\.txt' matches no \.csv or \.parquet file in .*rec \(it holds \['subject01\.csv'"),
    ({"recordings": None}, ValueError, r"recordings is missing"),
    ({"files": {"all": "x.ts"}}, ValueError, r"files does not apply to format recordings"),
    ({"split": {"train": [1, 2], "valid": [3], "test": ["2", 5]}}, ValueError,
     r"subject\(s\) \['2'\] are in both split\.train and split\.test"),
    ({"split": {"train": [1, 1]}}, ValueError, r"split\.train lists subject\(s\) \['1'\] more than once"),
    ({"split": {"train": [1.5]}}, ValueError, r"split\.train\[0\] = 1\.5"),
    ({"split": {"valid_fraction": 1.0}}, ValueError, r"split\.valid_fraction = 1\.0: must be >= 0 and < 1"),
    ({"classes": ["a", "b", "a"]}, ValueError, r"classes lists \['a'\] more than once"),
]


@pytest.mark.parametrize("changes,error,match", MANIFEST_ERRORS)
def test_manifest_refuses(tmp_path, changes, error, match):
    with pytest.raises(error, match=match):
        load_user_manifest(recordings_dir(tmp_path, **changes))


def test_manifest_refuses_duplicates_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.yaml not found"):
        load_user_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("format: npz\nfiles: {all: d.npz}\nviews:\n  a: {modality: acc}\n"
                                          "  a: {modality: gyro}\n")
    with pytest.raises(ValueError, match=r"(?s)manifest\.yaml: .*key 'a' appears twice.*line 5"):
        load_user_manifest(tmp_path)
    npz = {"format": "npz", "files": {"all": "d.npz"}, "views": {"a": {"modality": "acc"}}}
    with pytest.raises(FileNotFoundError, match=r"manifest\.yaml: files\.all = 'd\.npz': .*d\.npz does not exist"):
        load_user_manifest(write_manifest(tmp_path, npz))
    for name in ("d.npz", "tr.ts", "te.ts"):
        (tmp_path / name).write_text("")
    bad = [
        ({"files": {"train": "d.npz"}}, r"files has keys \['train'\]; use exactly train and test"),
        ({"files": {"all": "tr.ts"}}, r"files\.all = 'tr\.ts' is not a \.npz file"),
        ({"files": None}, r"files is missing"),
        ({"recordings": {"path": "."}}, r"recordings does not apply to format npz"),
        ({"views": {"a": {"modality": "acc", "key": "x"}, "b": {"modality": "acc", "key": "x"}}},
         r"views\.b and views\.a both use array key 'x'"),
        ({"views": {"labels": {"modality": "acc"}}}, r"views\.labels: array key 'labels' is reserved"),
        ({"views": {"a": {"modality": "acc", "columns": ["x"]}}}, r"views\.a\.columns does not apply to format npz"),
    ]
    for changes, match in bad:
        with pytest.raises(ValueError, match=match):
            load_user_manifest(write_manifest(tmp_path, npz, **changes))
    ts = {"format": "ts", "files": {"train": "tr.ts", "test": "te.ts"},
          "views": {"a": {"modality": "acc", "dimensions": [0, 1]}, "b": {"modality": "acc", "dimensions": [1]}}}
    with pytest.raises(ValueError, match=r"views\.b and views\.a both use dimension '1'"):
        load_user_manifest(write_manifest(tmp_path, ts))
    with pytest.raises(ValueError, match=r"views\.a\.dimensions is missing or empty"):
        load_user_manifest(write_manifest(tmp_path, ts, views={"a": {"modality": "acc"}}))
    with pytest.raises(ValueError, match=r"views\.a\.dimensions\[0\] = -1: must be >= 0"):
        load_user_manifest(write_manifest(tmp_path, ts, views={"a": {"modality": "acc", "dimensions": [-1]}}))
    with pytest.raises(ValueError, match=r"split\.train / split\.test are given, but the train/test files"):
        load_user_manifest(write_manifest(tmp_path, ts, views={"a": {"modality": "acc", "dimensions": [0]}},
                                          split={"test": [1]}))
