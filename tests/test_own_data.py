"""Your own windows in memory (`from_arrays`) and the split rule shared by the user datasets (ralis.data.arrays)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ralis.api import run_experiment
from ralis.data.arrays import SplitRule, assign_splits, from_arrays
from tests.train_fixtures import make_split, one_thread, tiny_params

_one_thread = pytest.fixture(autouse=True)(one_thread)


def _arrays(n=120, seed=0):
    ws = make_split(n, seed, drop=0.2)
    names = np.array(["walk", "run", "sit"])[ws.labels]
    views = {k: np.where(ws.present[:, j, None, None], v, np.nan) for j, (k, v) in enumerate(ws.views.items())}
    return views, names, ws


def test_stratified_split_without_subjects_is_seeded_and_keeps_missing_views():
    views, labels, ws = _arrays()
    a = from_arrays(views, labels, modalities={"wrist": "acc", "ankle": "gyro", "pose": "pose3d"}, rate_hz=50)
    b = from_arrays(views, labels, modalities={"wrist": "acc", "ankle": "gyro", "pose": "pose3d"}, rate_hz=50)
    assert a.info.class_names == ("run", "sit", "walk") and [v.modality for v in a.info.views] == ["acc", "gyro",
                                                                                                    "pose3d"]
    sizes = {k: len(v) for k, v in a.as_dict().items()}
    assert sizes == {"train": 72, "valid": 18, "test": 30} and sum(sizes.values()) == 120  # 25 % test, 20 % of rest
    for k in ("train", "valid", "test"):
        assert np.array_equal(a.as_dict()[k].labels, b.as_dict()[k].labels)
        counts = np.bincount(a.as_dict()[k].labels, minlength=3)
        assert counts.max() - counts.min() <= 1  # stratified: 40 windows per class
        assert np.isfinite(a.as_dict()[k].views["wrist"]).all()  # NaN of missing views zeroed
    total_present = sum(s.present.sum(0) for s in a.as_dict().values())
    assert (total_present == ws.present.sum(0)).all()  # NaN marked exactly the missing views
    c = from_arrays(views, labels, split=SplitRule(seed=1))
    assert not np.array_equal(a.test.labels, c.test.labels) or not np.array_equal(a.test.views["wrist"],
                                                                                  c.test.views["wrist"])


def test_subject_lists_and_validation_carved_by_subject():
    views, labels, _ = _arrays()
    subjects = np.array([f"p{i % 6}" for i in range(120)])
    data = from_arrays(views, labels, subjects, split=SplitRule(train=("p0", "p1", "p2", "p3", "p4"), test=("p5",)))
    held = set(data.valid.subjects.tolist())
    assert len(held) == 1 and not held & set(data.train.subjects.tolist())  # round(0.2 x 5) = 1 subject
    assert set(data.test.subjects.tolist()) == {6}  # string ids -> 1..6 in sorted order
    with pytest.raises(ValueError, match=r"subject\(s\) \['p9'\] that have no window"):
        from_arrays(views, labels, subjects, split=SplitRule(train=("p0",), test=("p9",)))
    with pytest.raises(ValueError, match="have subjects but no split lists"):
        from_arrays(views, labels, subjects)


def test_train_test_files_give_the_test_split():
    views, labels, _ = _arrays()
    fold = np.where(np.arange(120) < 90, "train", "test")
    data = from_arrays(views, labels, fold=fold)
    assert len(data.test) == 30 and len(data.train) + len(data.valid) == 90


def test_labels_only_outside_train_and_empty_classes_are_refused():
    views, labels, _ = _arrays()
    fold = np.where(np.arange(120) < 90, "train", "test")
    odd = labels.copy()
    odd[100] = "jump"  # only in the TEST file
    with pytest.raises(ValueError, match=r"\['jump'\] only in test"):
        from_arrays(views, odd, fold=fold)
    with pytest.raises(ValueError, match=r"class\(es\) \['swim'\] have no training window"):
        from_arrays(views, labels, class_names=["run", "sit", "swim", "walk"])
    with pytest.raises(ValueError, match=r"label\(s\) \['walk'\] are not in the class list"):
        from_arrays(views, labels, class_names=["run", "sit"])


@pytest.mark.parametrize("bad, match", [
    ({"wrist": np.zeros((120, 3, 32))}, r"view 'wrist' must be \[N=120, T, C\].*transpose"),
    ({"wrist": np.zeros((120, 32, 3), dtype=object)}, "holds object values"),
    ({}, "views is empty"),
])
def test_bad_arrays_are_named(bad, match):
    _, labels, _ = _arrays()
    if bad and "transpose" in match:
        bad = {"wrist": np.zeros((121, 3, 32))}
    with pytest.raises(ValueError, match=match):
        from_arrays(bad, labels)
    with pytest.raises(ValueError, match=r"modalities names unknown view\(s\) \['gps'\]"):
        from_arrays(_arrays()[0], labels, modalities={"gps": "other"})
    with pytest.raises(ValueError, match="no augmentation defined for modality 'eeg'"):
        from_arrays(_arrays()[0], labels, modalities={"wrist": "eeg"})


def test_assign_splits_needs_both_lists():
    with pytest.raises(ValueError, match="need both `train` and `test`"):
        assign_splits(np.zeros(4, int), np.array(["a", "a", "b", "b"]), None, SplitRule(train=("a",)), "here")


def test_subject_ids_compare_as_numbers_before_the_overlap_check():
    """"03" and 3 are one subject: listing it in two splits is refused, not split across them (a leak)."""
    labels, subjects = np.zeros(6, int), np.array(["1", "1", "2", "2", "3", "3"])
    with pytest.raises(ValueError, match=r"subject\(s\) \['3'\] are in both split\.train and split\.test"):
        assign_splits(labels, subjects, None, SplitRule(train=("1", "3"), test=("03",)), "here")
    with pytest.raises(ValueError, match=r"split\.train lists subject\(s\) \['1'\] more than once"):
        assign_splits(labels, subjects, None, SplitRule(train=("1", "01"), test=("2",)), "here")
    from ralis.data.arrays import subject_key

    assert subject_key("12345678901234567") == "12345678901234567"  # exact: no round trip through float
    assert subject_key("12345678901234568") != subject_key("12345678901234567")
    assert subject_key(" 007 ") == "7" and subject_key(3.0) == "3" and subject_key("p03") == "p03"


def test_split_lists_without_subject_ids_are_refused():
    views, labels, _ = _arrays()
    with pytest.raises(ValueError, match=r"split\.train/test list subjects, but the data have no subject ids"):
        from_arrays(views, labels, split=SplitRule(train=("1",), test=("2",)))


def test_valid_subjects_are_carved_from_the_train_file():
    views, labels, _ = _arrays()
    subjects = np.array([f"{i % 6}" for i in range(120)])
    fold = np.where(np.isin(subjects, ["4", "5"]), "test", "train")
    data = from_arrays(views, labels, subjects, fold=fold, split=SplitRule(valid=("02",)))
    assert set(data.valid.subjects.tolist()) == {2} and set(data.train.subjects.tolist()) == {0, 1, 3}
    assert set(data.test.subjects.tolist()) == {4, 5}
    with pytest.raises(ValueError, match=r"split\.valid names subject\(s\) \['4'\] that have no window in the "
                                         r"TRAIN file"):
        from_arrays(views, labels, subjects, fold=fold, split=SplitRule(valid=("4",)))
    with pytest.raises(ValueError, match="the TRAIN/TEST files already define the test set"):
        from_arrays(views, labels, subjects, fold=fold, split=SplitRule(train=("0",), test=("4",)))


def test_a_rotated_view_needs_whole_triplets():
    from ralis.config import AugmentConfig
    from ralis.data.augment import check_modalities

    views, labels, _ = _arrays()
    one = {**views, "wrist": views["wrist"][:, :, :1]}  # an acceleration norm: one channel
    data = from_arrays(one, labels, modalities={"wrist": "acc", "ankle": "gyro", "pose": "pose3d"}, rate_hz=50)
    with pytest.raises(ValueError, match=r"view 'wrist' \(acc\) has 1 channel\(s\), but its augmentation needs "
                                         r"xyz triplets.*modality as other, or list it in params\.yaml "
                                         r"augment\.unrotated_views"):
        check_modalities(data.info.views, AugmentConfig())
    check_modalities(data.info.views, AugmentConfig(unrotated_views=("wrist",)))  # the documented way out


def test_data_without_a_rate_is_recorded_in_samples():
    """rate_hz is optional for arrays: the checkpoint records the window in samples only (it divided by 0)."""
    from ralis.checkpoint import input_record
    from ralis.predict import _check_shape

    views, labels, _ = _arrays()
    data = from_arrays(views, labels, modalities={"wrist": "acc", "ankle": "gyro", "pose": "pose3d"})
    record = input_record(data.train, data.info.views)
    assert record["wrist"]["rate_hz"] == 0.0 and record["wrist"]["window_sec"] is None
    t = record["wrist"]["T"]
    with pytest.raises(ValueError, match=rf"trained on {t} samples \(rate not declared\); re-window to {t} samples"):
        _check_shape("wrist", np.zeros((2, t + 1, 3), np.float32), record["wrist"], False)


def test_run_experiment_on_arrays_reports_accuracy_and_a_confusion_matrix(tmp_path):
    views, labels, _ = _arrays(96)
    data = from_arrays(views, labels, modalities={"wrist": "acc", "ankle": "acc", "pose": "pose3d"}, rate_hz=50)
    params = tiny_params(max_epochs=2, min_epochs=1)
    res = run_experiment(params, tmp_path / "run", progress=False, data=data)
    m = res.metrics
    assert m["dataset"] == "arrays" and set(m["test_accuracy"]) == {"1", "half", "all"}
    combos = pd.read_csv(tmp_path / "run" / "combinations.csv")
    assert m["test_accuracy"]["all"] == pytest.approx(combos[combos.k == 3].accuracy.mean())
    cm = pd.read_csv(tmp_path / "run" / "confusion.csv", index_col=0)
    n_test = m["windows"]["test"]  # the complete protocol kept the windows with every view
    assert n_test + m["removed_windows"]["test"] == len(data.test)
    assert list(cm.columns) == ["run", "sit", "walk"] and cm.to_numpy().sum() == n_test
    assert np.trace(cm.to_numpy()) / n_test == pytest.approx(combos[combos.k == 3].accuracy.iloc[0])
    with pytest.raises(ValueError, match=r"fewer than one batch \(params.yaml train.cls_batch = 100"):
        run_experiment(replace(params, train=replace(params.train, cls_batch=100)), tmp_path / "big",
                       progress=False, data=data)
    assert not (tmp_path / "big").exists()


def test_prewindowed_views_covering_different_durations_are_refused(tmp_path):
    from ralis.config import DataConfig, Params
    from ralis.data.prepare import prepare_windows
    from tests.user_fixtures import write_ts_pair

    write_ts_pair(tmp_path / "ts", n=(12, 6), length=40)
    (tmp_path / "ts/manifest.yaml").write_text(
        "name: t\nformat: ts\nfiles: {train: BasicMotions_TRAIN.ts, test: BasicMotions_TEST.ts}\nviews:\n"
        "  acc: {modality: accelerometer, dimensions: [0, 1, 2], rate_hz: 10}\n"
        "  gyro: {modality: gyroscope, dimensions: [3, 4, 5], rate_hz: 20}\n")
    params = Params(data=DataConfig(dataset="user", user_dir=str(tmp_path / "ts"), windows_dir=str(tmp_path / "w")))
    with pytest.raises(ValueError, match=r"inconsistent rates: view 'gyro' has windows of 40 samples at 20.0 Hz = 2 s"):
        prepare_windows(params, progress=False)
    assert not (tmp_path / "w").exists()  # nothing half-written
