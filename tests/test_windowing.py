"""Resampling and windowing edge cases: short sessions, NaN runs, label changes, trailing remainder."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ralis.data.resample import make_grid, nearest_labels, resample_session, resample_stream
from ralis.data.session import Session, Stream
from ralis.data.windowing import (
    WindowParams,
    WindowSet,
    majority_label,
    shift_starts,
    split_by_subject,
    window_session,
)

CH = {"a": 3, "p": 2}
RATES = {"a": 50.0, "p": 20.0}


def _session(sec: float, labels=None, nan_rows=(), subject=1, meta=None, fixed=None) -> Session:
    """Views a (50 Hz, value = time in s) and p (20 Hz); labels per 20-ms step (default all 0)."""
    ta = np.arange(0, sec * 1000, 20.0)
    tp = np.arange(0, sec * 1000, 50.0)
    a = np.repeat(ta[:, None] / 1000, 3, axis=1)
    a[list(nan_rows)] = np.nan
    p = np.repeat(tp[:, None] / 1000, 2, axis=1)
    y = np.zeros(len(ta), np.int64) if labels is None else np.asarray(labels)
    return Session(subject, f"s{subject}", {"a": Stream(ta, a), "p": Stream(tp, p)}, ta, y, fixed, meta or {})


def _win(sess, window=4.0, step=2.0, **kw):
    return window_session(resample_session(sess, CH, RATES), WindowParams(window, step, **kw))


def test_resample_is_linear_interpolation_with_gaps_as_nan():
    t = np.array([0.0, 100.0, 200.0, 900.0, 1000.0])
    x = np.array([[0.0], [1.0], [2.0], [9.0], [10.0]])
    grid = make_grid(0, 1100, 20.0)  # 0, 50, ..., 1050
    out = resample_stream(Stream(t, x), grid, max_gap_ms=400)
    for g, v in zip(grid, out[:, 0]):  # slow reference
        if 200 < g < 900 or g > 1000 + 400:
            assert np.isnan(v)
        else:
            i = min(max(np.searchsorted(t, g) - 1, 0), len(t) - 2)
            want = x[-1, 0] if g >= t[-1] else x[i, 0] + (x[i + 1, 0] - x[i, 0]) * (g - t[i]) / (t[i + 1] - t[i])
            assert v == pytest.approx(want)


def test_nearest_labels():
    np.testing.assert_array_equal(nearest_labels(np.array([0.0, 100, 200]), np.array([1, 2, 3]),
                                                 np.array([-50.0, 40, 60, 149, 151, 500])), [1, 1, 2, 2, 3, 3])


def test_majority_label_matches_scipy_mode():
    rng = np.random.default_rng(0)
    for _ in range(200):
        y = rng.integers(-1, 4, size=rng.integers(1, 12))
        assert majority_label(y) == int(stats.mode(y, keepdims=False).mode)


def test_session_shorter_than_window_gives_no_window():
    ws, st = _win(_session(3.0))
    assert len(ws) == 0 and st.short_sessions == 1
    assert ws.views["a"].shape == (0, 200, 3) and ws.views["p"].shape == (0, 80, 2)


def test_trailing_remainder_dropped_and_views_aligned():
    ws, st = _win(_session(11.0))
    assert len(ws) == 4 and st.short_sessions == 0  # starts 0, 2, 4, 6 s; 8-12 s exceeds 11 s
    for i, start in enumerate([0, 2, 4, 6]):
        assert ws.views["a"][i, 0, 0] == pytest.approx(start)
        assert ws.views["p"][i, 0, 0] == pytest.approx(start)  # same time in both views
        assert ws.views["a"][i, -1, 0] == pytest.approx(start + 4 - 0.02)


def test_nan_run_makes_view_missing_and_zero():
    ws, _ = _win(_session(12.0, nan_rows=range(260, 280)))  # 5.2-5.6 s
    # windows [2,6), [4,8) contain the run; [0,4), [6,10), [8,12) do not
    np.testing.assert_array_equal(ws.present[:, 0], [True, False, False, True, True])
    assert ws.present[:, 1].all()
    assert (ws.views["a"][~ws.present[:, 0]] == 0).all()
    assert np.isfinite(ws.views["a"]).all()


def test_label_change_majority_and_null_windows():
    y = np.zeros(600, np.int64)  # 12 s at 50 Hz
    y[250:] = 2  # change at 5 s
    y[500:] = -1  # null from 10 s
    ws, st = _win(_session(12.0, labels=y))
    # [0,4) 0; [2,6) 3 s of 0 vs 1 s of 2 -> 0; [4,8) 2; [6,10) 2; [8,12) 2 s of 2 vs 2 s null: tie -> null, dropped
    assert ws.labels.tolist() == [0, 0, 2, 2] and st.null_windows == 1


def test_window_without_any_view_is_dropped():
    s = _session(8.0, nan_rows=range(0, 400))
    s.streams["p"] = Stream(s.streams["p"].t_ms, np.full_like(s.streams["p"].values, np.nan))
    ws, st = _win(s)
    assert len(ws) == 0 and st.empty_windows == 3


def test_one_window_per_segment_uses_fixed_label():
    ws, _ = _win(_session(5.0, labels=np.full(250, -1), fixed=4), window=5.0, step=None)
    assert ws.labels.tolist() == [4] and ws.views["a"].shape == (1, 250, 3)


def test_shift_starts_reference():
    target = np.zeros(600, bool)
    target[250:350] = True  # run 5-7 s, window 200 rows
    starts = shift_starts(target, 200, max_windows=5, min_step=25)
    assert starts == [150, 175, 200, 225, 250]  # linspace(first=350-200, last=250), all contain the run
    assert all(s <= 250 and s + 200 >= 350 for s in starts)
    assert shift_starts(target, 200, max_windows=5, min_step=100) == [150, 250]  # min step limits the count
    long = np.zeros(600, bool)
    long[50:550] = True  # run longer than the window: windows lie inside it
    assert shift_starts(long, 200, 3, 25) == [50, 200, 350]
    assert shift_starts(np.ones(100, bool), 200, 5, 25) == []


def test_shifting_windows_in_session():
    y = np.full(600, -1)
    y[250:350] = 0
    ws, _ = _win(_session(12.0, labels=y, meta={"shift_label": 0}), shift_max_windows=5, shift_min_step_sec=0.5)
    assert len(ws) == 5 and (ws.labels == 0).all()
    np.testing.assert_allclose(ws.views["a"][:, 0, 0], [3.0, 3.5, 4.0, 4.5, 5.0], atol=1e-6)


def test_split_by_subject_is_disjoint():
    ws = WindowSet({"a": np.zeros((6, 2, 1), np.float32)}, np.ones((6, 1), bool), np.zeros(6, np.int64),
                   np.array([1, 2, 3, 1, 2, 9]))
    out = split_by_subject(ws, {"train": (1,), "valid": (2,), "test": (3,)})
    assert [len(out[k]) for k in ("train", "valid", "test")] == [2, 2, 1]
    with pytest.raises(ValueError, match="shares subjects"):
        split_by_subject(ws, {"train": (1, 2), "valid": (2,)})


def test_only_poses_resample_at_pose_hz():
    """A gyroscope or magnetometer view is an inertial signal: acc_hz, not pose_hz (issue 15 found it at pose_hz)."""
    import dataclasses

    from ralis.config import load_params
    from ralis.contract import ViewSpec
    from ralis.data.prepare import view_rates
    from ralis.data.registry import get_dataset

    params = load_params("params.yaml")
    w = params.windowing
    spec = dataclasses.replace(get_dataset("synthetic"), views=(
        ViewSpec("a", "acc", 3, 50.0), ViewSpec("g", "gyro", 3, 50.0), ViewSpec("m", "mag", 3, 50.0),
        ViewSpec("o", "other", 1, 50.0), ViewSpec("p3", "pose3d", 6, 20.0), ViewSpec("p2", "pose2d", 4, 20.0)))
    assert view_rates(spec, params) == {"a": w.acc_hz, "g": w.acc_hz, "m": w.acc_hz, "o": w.acc_hz,
                                        "p3": w.pose_hz, "p2": w.pose_hz}
