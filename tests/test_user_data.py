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
    SplitRule,
    ViewEntry,
    load_user_manifest,
)
from ralis.data.parsers.prewindowed import load_prewindowed, read_ts
from ralis.data.parsers.recordings import load_recordings

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
    assert m.classes is None and m.window_sec == 4.0 and m.step_sec is None  # windowed at half the window
    assert m.split == SplitRule(train=("1", "2"), valid=None, test=("10",))
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
    assert m.classes == ("1", "2") and m.split == SplitRule(valid_fraction=0.1, seed=3)
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


# ---------------------------------------------------------------- recordings


def test_recordings_round_trip_csv_and_parquet(tmp_path):
    sessions, classes, subjects = load_recordings(load_user_manifest(recordings_dir(tmp_path)))
    assert [s.name for s in sessions] == ["subject01.csv", "subject02.parquet", "subject10.csv"]
    assert [s.subject for s in sessions] == [1, 2, 10] and subjects == {1: "01", 2: "02", 10: "10"}
    assert classes == ("run", "sit", "walk")
    rows = np.arange(6)
    for s, subj in zip(sessions, (1, 2, 10)):
        np.testing.assert_allclose(s.label_t_ms, 5000.0 + rows * 100.0)
        np.testing.assert_array_equal(s.labels, [2, 2, -1, -1, 0, 1])  # "none" (null_label) and "" are null
        acc = s.streams["watch_acc"]
        np.testing.assert_allclose(acc.t_ms, s.label_t_ms)
        np.testing.assert_allclose(acc.values, signal(subj, np.arange(3)[None], rows[:, None]))
        assert acc.values.dtype == np.float64
    np.testing.assert_allclose(sessions[0].streams["watch_gyro"].values, signal(1, np.arange(3, 6)[None],
                                                                                rows[:, None]))
    assert "watch_gyro" not in sessions[2].streams  # all its columns absent: a missing view


def test_recordings_missing_cells_numeric_labels_and_rate(tmp_path):
    a, b = table(1).drop(columns="t"), table(2).drop(columns="t")
    a.loc[2, "ay"] = np.nan  # an empty CSV cell
    a["activity"] = [1, 1, 2, 10, 10, None]
    b["activity"] = [2.0, np.nan, 10.0, 10.0, 1.0, 1.0]  # float labels in Parquet: 10.0 is the class "10"
    b.loc[0, "gz"] = np.nan
    root = recordings_dir(tmp_path, {"subject01.csv": a, "subject02.parquet": b}, classes=None, split=None,
                          recordings=with_recordings(time_column=None, rate_hz=25, null_label=""))
    sessions, classes, _ = load_recordings(load_user_manifest(root))
    assert classes == ("1", "2", "10")  # integer labels sort as numbers
    np.testing.assert_array_equal(sessions[0].labels, [0, 0, 1, 2, 2, -1])
    np.testing.assert_array_equal(sessions[1].labels, [1, -1, 2, 2, 0, 0])
    np.testing.assert_allclose(sessions[0].label_t_ms, np.arange(6) * 40.0)
    acc = sessions[0].streams["watch_acc"].values
    assert np.isnan(acc[2, 1]) and np.isfinite(np.delete(acc.ravel(), 2 * 3 + 1)).all()
    gyro = sessions[1].streams["watch_gyro"].values
    assert np.isnan(gyro[0, 2]) and np.isfinite(gyro[1:]).all()


def test_recordings_subject_column_fixed_classes_and_no_subjects(tmp_path):
    frames = {"subject_ann.csv": table(1).assign(who="ann"), "subject_bob.csv": table(2).assign(who="bob"),
              "subject_al.csv": table(3).assign(who="al")}
    classes = ["sit", "walk", "run", "jump"]
    root = recordings_dir(tmp_path, frames, classes=classes, split={"train": ["ann", "al"], "test": ["bob"]},
                          recordings=with_recordings(subject_pattern=None, subject_column="who", time_unit="ms",
                                                     rate_hz=10000))
    sessions, names, subjects = load_recordings(load_user_manifest(root))
    assert names == tuple(classes) and subjects == {1: "al", 2: "ann", 3: "bob"}
    assert [(s.name, s.subject) for s in sessions] == [("subject_al.csv", 1), ("subject_ann.csv", 2),
                                                         ("subject_bob.csv", 3)]
    np.testing.assert_array_equal(sessions[0].labels, [1, 1, -1, -1, 2, 0])
    np.testing.assert_allclose(sessions[0].label_t_ms, 5.0 + np.arange(6) * 0.1)  # time_unit ms
    root = recordings_dir(tmp_path, frames, split=None, recordings=with_recordings(subject_pattern=None))
    sessions, _, subjects = load_recordings(load_user_manifest(root))
    assert subjects == {} and {s.subject for s in sessions} == {0}


def _bad_value(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({"ay": object})
    df.loc[3, "ay"] = "1,5"
    return df


def _shifted(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[4, "t"] = df.loc[3, "t"]
    return df


RECORDING_ERRORS = [
    (_shifted, {}, r"subject02\.csv: time column 't' must increase strictly, but at data row 5 \(line 6\) it goes "
                   r"from 5\.3 to 5\.3"),
    (lambda df: df, {"recordings": with_recordings(rate_hz=12)}, r"subject01\.csv: inconsistent rates: time column "
                                                                   r"'t' gives 10 Hz .* recordings\.rate_hz = 12 Hz"),
    (lambda df: df.drop(columns=["gy"]), {}, r"subject02\.csv: view 'watch_gyro' lacks column\(s\) \['gy'\] .* the "
                                             r"file's columns are \['t', 'gz', 'ax'"),
    (_bad_value, {}, r"subject02\.csv: column 'ay' holds '1,5' at data row 4 \(line 5\), not a number"),
    (lambda df: df.drop(columns=["activity"]), {}, r"subject02\.csv: has no label column 'activity'"),
    (lambda df: df, {"classes": ["walk", "run"]},
     r"subject01\.csv: label 'sit' at data row 6 \(line 7\) is not in the manifest's classes \['walk', 'run'\]"),
    (lambda df: df.drop(columns=["t"]), {}, r"subject02\.csv: has no time column 't'"),
    (lambda df: df.drop(columns=ACC + GYRO), {}, r"subject02\.csv: holds the columns of no view"),
    (lambda df: df.assign(t=df["t"] * 1000), {}, r"subject02\.csv: time column 't' read in s gives 0\.01 Hz, outside "
     r"0\.5-5000 Hz; if the times are in ms, set recordings\.time_unit: ms"),  # epoch-ms stamps, default unit
    (lambda df: df, {"recordings": with_recordings(time_unit="ms")},
     r"subject01\.csv: time column 't' read in ms gives 1e\+04 Hz, .* set recordings\.time_unit: s"),
]


@pytest.mark.parametrize("edit,changes,match", RECORDING_ERRORS)
def test_recordings_refuse(tmp_path, edit, changes, match):
    root = recordings_dir(tmp_path, {"subject01.csv": table(1), "subject02.csv": edit(table(2))}, **changes)
    with pytest.raises(ValueError, match=match):
        load_recordings(load_user_manifest(root))


def test_recordings_refuse_subjects_views_and_parquet_rows(tmp_path):
    root = recordings_dir(tmp_path, {"subject01.csv": table(1), "other.csv": table(2)},
                          recordings=with_recordings(pattern="*.csv"))
    with pytest.raises(ValueError, match=r"other\.csv: file name 'other' does not match recordings\.subject_pattern "
                                         r"'subject\(\\d\+\)'"):
        load_recordings(load_user_manifest(root))
    mixed = table(1).assign(who=["a"] * 5 + ["b"])
    root = recordings_dir(tmp_path / "b", {"s1.csv": mixed}, split=None,
                          recordings=with_recordings(pattern="*.csv", subject_pattern=None, subject_column="who"))
    with pytest.raises(ValueError, match=r"s1\.csv: subject column 'who' must hold one subject per file, but data "
                                         r"row 6 \(line 7\) has 'b' after 'a'"):
        load_recordings(load_user_manifest(root))
    root = recordings_dir(tmp_path / "c", {"subject1.csv": table(1, gyro=False), "subject2.csv": table(2, gyro=False)})
    with pytest.raises(ValueError, match=r"view 'watch_gyro': none of its columns \['gx', 'gy', 'gz'\] is in any of "
                                         r"the 2 file\(s\)"):
        load_recordings(load_user_manifest(root))
    bad = table(2).astype({"az": str})  # a text column in Parquet
    bad.loc[0, "az"] = "x"
    root = recordings_dir(tmp_path / "d", {"subject1.parquet": bad})
    with pytest.raises(ValueError, match=r"subject1\.parquet: column 'az' holds 'x' at data row 1, not a number"):
        load_recordings(load_user_manifest(root))
    (tmp_path / "d" / "rec" / "subject0.csv").write_text("t,ax,ay,az,activity\n")
    with pytest.raises(ValueError, match=r"subject0\.csv: has no data rows"):
        load_recordings(load_user_manifest(root))


def test_recordings_parquet_timestamp_column(tmp_path):
    df = table(1)
    df["t"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(df["t"], unit="s")
    sessions, _, _ = load_recordings(load_user_manifest(recordings_dir(tmp_path, {"subject1.parquet": df})))
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value / 1e6
    np.testing.assert_allclose(sessions[0].label_t_ms - t0, 5000.0 + np.arange(6) * 100.0)


def test_manifest_refuses_numbers_that_yaml_reads_as_octal(tmp_path):
    root = recordings_dir(tmp_path)
    text = (root / MANIFEST_NAME).read_text()
    assert "  - 10\n" in text
    (root / MANIFEST_NAME).write_text(text.replace("  - 10\n", "  - 010\n"))  # YAML 1.1: octal 8
    with pytest.raises(ValueError, match=r"010 has a leading zero, which YAML reads as the octal number 8; write it "
                                         r"in quotes \('010'\)"):
        load_user_manifest(root)
    (root / MANIFEST_NAME).write_text(text.replace("  - 10\n", "  - '010'\n"))
    assert load_user_manifest(root).split.test == ("10",)


def test_recordings_step_defaults_to_half_the_window_in_use(tmp_path):
    """With params windowing.window_sec overriding the manifest's window, the default step follows it."""
    import dataclasses

    from ralis.config import load_params
    from ralis.data.user import load_user_data
    from tests.user_fixtures import readme_block, write_recordings

    manifest = yaml.safe_load(readme_block("yaml", 0))
    manifest.pop("step_sec")
    root = write_recordings(tmp_path / "user", subjects=(1, 2, 3, 4), manifest=yaml.safe_dump(manifest))
    manifest["split"] = {"train": [1, 2, 3], "test": [4]}
    (root / MANIFEST_NAME).write_text(yaml.safe_dump(manifest))
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    for window, step in ((None, 2.0), (8.0, 4.0)):
        p = dataclasses.replace(params, data=dataclasses.replace(params.data, dataset="user", user_dir=str(root)),
                                windowing=dataclasses.replace(params.windowing, window_sec=window))
        _, extra = load_user_data(p, progress=False)
        assert (extra["window_sec"], extra["step_sec"]) == (window or 4.0, step)


# ---------------------------------------------------------------- .ts


def ts_text(x: np.ndarray, labels, classes=("walk", "run"), extra: str = "") -> str:
    """x [N, C, T] (NaN -> '?') in the UEA/UCR .ts format."""
    head = (f"# generated\n@problemName test\n@timeStamps false\n@missing true\n@univariate false\n"
            f"@dimensions {x.shape[1]}\n@equalLength true\n@seriesLength {x.shape[2]}\n"
            f"@classLabel true {' '.join(classes)}\n{extra}@data\n")
    cases = [":".join(",".join("?" if np.isnan(v) else repr(float(v)) for v in dim) for dim in case) + f":{lab}"
             for case, lab in zip(x, labels)]
    return head + "\n".join(cases) + "\n"


def ts_values(n: int, fold: int, c: int = 3, t: int = 5) -> np.ndarray:
    return (fold * 1000 + np.arange(n)[:, None, None] * 100 + np.arange(c)[None, :, None] * 10
            + np.arange(t)[None, None, :]).astype(np.float64)


def ts_dir(tmp_path: Path, train: str, test: str, views=None) -> Path:
    (tmp_path / "X_TRAIN.ts").write_text(train)
    (tmp_path / "X_TEST.ts").write_text(test)
    views = views or {"acc": {"modality": "acc", "dimensions": [2, 0], "rate_hz": 50}, "mag": {"modality": "mag",
                                                                                            "dimensions": [1]}}
    return write_manifest(tmp_path, {"format": "ts", "files": {"train": "X_TRAIN.ts", "test": "X_TEST.ts"},
                                     "views": views})


def test_ts_pair_round_trip(tmp_path):
    xa, xb = ts_values(3, 1), ts_values(2, 2)
    xa[1, 0, 2] = np.nan
    root = ts_dir(tmp_path, ts_text(xa, ["walk", "run", "walk"]), ts_text(xb, ["run", "run"]))
    x, labels, header = read_ts(root / "X_TRAIN.ts")
    np.testing.assert_array_equal(x, xa)  # NaN == NaN for assert_array_equal
    assert list(labels) == ["walk", "run", "walk"]
    assert header["problemname"] == "test" and header["dimensions"] == 3 and header["serieslength"] == 5
    assert header["classlabel"] == ("walk", "run") and header["missing"] is True
    d = load_prewindowed(load_user_manifest(root))
    both = np.concatenate([xa, xb])
    assert d.views["acc"].dtype == np.float32 and d.views["acc"].shape == (5, 5, 2)
    np.testing.assert_array_equal(d.views["acc"], both[:, [2, 0], :].transpose(0, 2, 1).astype(np.float32))
    np.testing.assert_array_equal(d.views["mag"][..., 0], both[:, 1, :].astype(np.float32))
    assert np.isnan(d.views["acc"][1, 2, 1]) and np.isnan(d.views["acc"]).sum() == 1
    assert list(d.labels) == ["walk", "run", "walk", "run", "run"] and d.subjects is None
    assert list(d.fold) == ["train"] * 3 + ["test"] * 2 and d.class_names == ("walk", "run")


def test_ts_refuses(tmp_path):
    x = ts_values(2, 1)
    good = ts_text(x, ["walk", "run"])
    lines = good.splitlines()
    data = lines.index("@data") + 1
    cases = [
        (ts_text(x, ["walk", "run"], extra="@timeStamps true\n"), r"X_TRAIN\.ts: @timeStamps true is not supported"),
        (good.replace("@equalLength true", "@equalLength false"), r"X_TRAIN\.ts: @equalLength false: .* resample"),
        ("\n".join(lines[:data + 1] + [lines[data + 1].replace(",1104.0", "", 1)]),
         rf"X_TRAIN\.ts: line {data + 2} has series of length \[4, 5, 5\], expected 5; .*resample every series"),
        ("\n".join(lines[:data + 1] + [lines[data + 1].split(":", 1)[1]]),
         rf"X_TRAIN\.ts: line {data + 2} has 2 dimension\(s\) before the label, expected 3"),
        (good.replace("1103.0", "1103.0x"), rf"X_TRAIN\.ts: line {data + 2}: value '1103\.0x' is not a number"),
        (good.replace(":run", ":jog"), rf"X_TRAIN\.ts: line {data + 2}: class label 'jog' is not declared"),
        (good.replace("@data", ""), r"X_TRAIN\.ts: line \d+ is data before the @data line"),
        (good.replace("@classLabel true walk run", "@classLabel false"), r"X_TRAIN\.ts: has no class labels"),
    ]
    for text, match in cases:
        root = ts_dir(tmp_path, text, good)
        with pytest.raises(ValueError, match=match):
            load_prewindowed(load_user_manifest(root))
    root = ts_dir(tmp_path, good, good, views={"acc": {"modality": "acc", "dimensions": [0, 3]}})
    with pytest.raises(ValueError, match=r"X_TRAIN\.ts: views\.acc\.dimensions = \[0, 3\] but the file has 3 "
                                         r"dimension\(s\)"):
        load_prewindowed(load_user_manifest(root))
    root = ts_dir(tmp_path, good, ts_text(ts_values(2, 1, t=7), ["walk", "run"]))
    with pytest.raises(ValueError, match=r"view 'acc': windows of .*X_TRAIN\.ts are \[time, channels\] = \[5, 2\] "
                                         r"but those of .*X_TEST\.ts are \[7, 2\]"):
        load_prewindowed(load_user_manifest(root))
    root = ts_dir(tmp_path, good, ts_text(x, ["walk", "run"], classes=("run", "walk")))
    with pytest.raises(ValueError, match=r"X_TRAIN\.ts declares @classLabel \('walk', 'run'\) but .*X_TEST\.ts"):
        load_prewindowed(load_user_manifest(root))


# ---------------------------------------------------------------- .npz

NPZ = {"format": "npz", "files": {"all": "data.npz"}, "classes": ["0", "1", "2"],
       "views": {"wrist": {"modality": "acc", "key": "w_acc", "rate_hz": 50}, "skeleton": {"modality": "pose3d"}}}


def npz_arrays(n: int = 4, offset: float = 0.0) -> dict[str, np.ndarray]:
    w = offset + np.arange(n * 10 * 3, dtype=np.float64).reshape(n, 10, 3)
    s = -offset - np.arange(n * 4 * 6, dtype=np.float32).reshape(n, 4, 6)
    s[1] = np.nan  # the skeleton view is missing in window 1
    return {"w_acc": w, "skeleton": s, "labels": np.arange(n) % 3, "subjects": np.array(["p1", "p2"] * (n // 2)),
            "unused": np.zeros(2)}


def npz_dir(tmp_path: Path, files: dict[str, dict], **changes) -> Path:
    for name, arrays in files.items():
        np.savez(tmp_path / name, **arrays)
    pair = {"train": "train.npz", "test": "test.npz"} if "train.npz" in files else {"all": "data.npz"}
    return write_manifest(tmp_path, NPZ, files=pair, **changes)


def test_npz_round_trip_one_file_and_pair(tmp_path):
    a = npz_arrays()
    d = load_prewindowed(load_user_manifest(npz_dir(tmp_path, {"data.npz": a})))
    assert set(d.views) == {"wrist", "skeleton"} and d.fold is None and d.class_names is None
    assert d.views["wrist"].dtype == np.float32 and d.views["skeleton"].shape == (4, 4, 6)
    np.testing.assert_array_equal(d.views["wrist"], a["w_acc"].astype(np.float32))
    np.testing.assert_array_equal(d.views["skeleton"], a["skeleton"])
    assert list(d.labels) == ["0", "1", "2", "0"] and list(d.subjects) == ["p1", "p2", "p1", "p2"]
    b = npz_arrays(2, offset=1000.0)
    b["labels"] = np.array([" 2", "1"])  # text labels, stripped
    d = load_prewindowed(load_user_manifest(npz_dir(tmp_path, {"train.npz": a, "test.npz": b})))
    np.testing.assert_array_equal(d.views["wrist"][4:], b["w_acc"].astype(np.float32))
    assert list(d.labels) == ["0", "1", "2", "0", "2", "1"] and list(d.fold) == ["train"] * 4 + ["test"] * 2
    assert list(d.subjects) == ["p1", "p2"] * 3


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


NPZ_ERRORS = [
    (lambda a: _without(a, "w_acc"), r"data\.npz: has no array 'w_acc' \(views\.wrist\); its arrays are \['skeleton', "
                                     r"'labels', 'subjects', 'unused'\]"),
    (lambda a: {**a, "w_acc": a["w_acc"][..., 0]}, r"data\.npz: array 'w_acc' \(views\.wrist\) has shape \(4, 10\); "
                                                   r"expected \[windows, time, channels\]"),
    (lambda a: {**a, "skeleton": a["skeleton"][:3]}, r"data\.npz: arrays disagree on the number of windows "
                                                     r"\{'wrist': 4, 'skeleton': 3, 'labels': 4, 'subjects': 4\}"),
    (lambda a: {**a, "labels": a["labels"][:2]}, r"data\.npz: arrays disagree .*'labels': 2"),
    (lambda a: {**a, "w_acc": a["w_acc"].astype(str)}, r"data\.npz: array 'w_acc' \(views\.wrist\) has dtype <U\d+, "
                                                       r"not numbers"),
    (lambda a: _without(a, "labels"), r"data\.npz: has no array 'labels'"),
    (lambda a: {**a, "labels": a["labels"] + 0.5}, r"data\.npz: array 'labels' has dtype float64; store labels as"),
    (lambda a: {**a, "labels": np.array([0, 1, 5, 0])}, r"data\.npz: window 2 has label '5', not in the manifest's "
                                                        r"classes \['0', '1', '2'\]"),
]


@pytest.mark.parametrize("edit,match", NPZ_ERRORS)
def test_npz_refuses(tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        load_prewindowed(load_user_manifest(npz_dir(tmp_path, {"data.npz": edit(npz_arrays())})))


def test_npz_pair_refuses_different_shapes_and_subjects(tmp_path):
    a, b = npz_arrays(), npz_arrays(2)
    b["w_acc"] = b["w_acc"][:, :, :2]
    with pytest.raises(ValueError, match=r"view 'wrist': windows of .*train\.npz are \[time, channels\] = \[10, 3\] "
                                         r"but those of .*test\.npz are \[10, 2\]"):
        load_prewindowed(load_user_manifest(npz_dir(tmp_path, {"train.npz": a, "test.npz": b})))
    with pytest.raises(ValueError, match=r"train\.npz has a 'subjects' array but .*test\.npz has none"):
        load_prewindowed(load_user_manifest(npz_dir(tmp_path, {"train.npz": a, "test.npz": _without(npz_arrays(2),
                                                                                                     "subjects")})))
    (tmp_path / "data.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"data\.npz: cannot be read"):
        load_prewindowed(load_user_manifest(write_manifest(tmp_path, NPZ)))

