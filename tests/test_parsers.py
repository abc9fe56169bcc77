"""Parsers on tiny fixtures written in each dataset's exact raw format (datasets.md §6)."""

from __future__ import annotations

import numpy as np
import pytest

from ralis.data.parsers import cmdfall, dailysport, realdisp, upfall
from ralis.data.pose import floor_rotation, normalise_pose2d, normalise_pose3d, select_main_person
from ralis.data.registry import CMDFALL, DAILYSPORT, REALDISP, UPFALL
from ralis.data.resample import resample_session
from ralis.data.windowing import WindowParams, concat_windows, window_session
from tests.fixtures import (
    dailysport_value,
    openpose_person,
    write_cmdfall,
    write_dailysport,
    write_realdisp,
    write_upfall_trial,
)

G = 9.80665


def _windows(sessions, spec, step=None, window=None, acc_hz=50.0, pose_hz=20.0):
    rates = {v.name: acc_hz if v.modality == "acc" else pose_hz for v in spec.views}
    chans = {v.name: v.channels for v in spec.views}
    wp = WindowParams(window or spec.window_sec, step if step is not None else spec.step_sec)
    parts = [window_session(resample_session(s, chans, rates), wp)[0] for s in sessions]
    return concat_windows(parts)


def test_dailysport_columns_labels_subjects(tmp_path):
    write_dailysport(tmp_path, acts=(1, 19), subjects=(2, 7), segs=(1,))
    sessions = dailysport.load_sessions(tmp_path, progress=False)
    assert len(sessions) == 4
    s = next(x for x in sessions if x.subject == 7 and x.fixed_label == 18)
    assert set(s.streams) == set(DAILYSPORT.view_names)
    rows = np.arange(125)
    for view, col in [("torso", 0), ("right_arm", 9), ("left_arm", 18), ("right_leg", 27), ("left_leg", 36)]:
        want = dailysport_value(np.arange(col, col + 3)[None, :], rows[:, None], 19, 7)
        np.testing.assert_allclose(s.streams[view].values, want, atol=1e-4)
    np.testing.assert_array_equal(s.streams["torso"].t_ms, rows * 40.0)


def test_dailysport_one_sample_per_segment_at_50_and_25_hz(tmp_path):
    write_dailysport(tmp_path, acts=(3,), subjects=(1,), segs=(1, 2))
    sessions = dailysport.load_sessions(tmp_path, progress=False)
    ws = _windows(sessions, DAILYSPORT)  # 50 Hz: one 250-row window per 5-s segment
    assert len(ws) == 2 and ws.views["torso"].shape == (2, 250, 3) and (ws.labels == 2).all()
    raw = sessions[0].streams["torso"].values
    x = ws.views["torso"][0]
    np.testing.assert_allclose(x[0::2], raw, atol=1e-4)  # even rows are the raw samples
    np.testing.assert_allclose(x[1:-1:2], (raw[:-1] + raw[1:]) / 2, atol=1e-4)  # odd rows interpolate
    np.testing.assert_allclose(x[-1], raw[-1], atol=1e-4)  # edge held
    ws25 = _windows(sessions, DAILYSPORT, acc_hz=25.0)
    assert ws25.views["torso"].shape == (2, 125, 3)
    np.testing.assert_allclose(ws25.views["torso"][0], raw, atol=1e-4)


def test_realdisp_sessions_split_at_backwards_and_gaps(tmp_path):
    write_realdisp(tmp_path, subject=4)
    write_realdisp(tmp_path, subject=4, scenario="self")  # other scenario: ignored by default
    sessions = realdisp.load_sessions(tmp_path, progress=False)
    assert len(sessions) == 2  # 12-s piece, 6-s piece after the backward jump; the 2-s piece after the gap is dropped
    a, b = sessions
    assert a.subject == b.subject == 4
    assert set(a.streams) == set(REALDISP.view_names)
    t = a.streams["RUA"].t_ms
    np.testing.assert_allclose(a.streams["RUA"].values[:, 0], 10 + t / 1000, atol=1e-3)  # RUA acc x = column 15
    np.testing.assert_allclose(a.streams["LC"].values[:, 0], 80 + t / 1000, atol=1e-3)
    assert len(t) == 599  # the row with a NaN was dropped
    assert set(np.unique(a.labels)) == {-1, 2} and set(np.unique(b.labels)) == {32}
    ws = _windows(sessions, REALDISP)
    # piece 1 (12 s): windows at 0, 2, 4, 6 s are label 2; the window at 8 s is mostly null -> dropped
    assert ws.labels.tolist() == [2, 2, 2, 2, 32, 32]
    assert ws.present.all() and ws.views["RLA"].shape[1:] == (200, 3)


def test_upfall_views_units_labels_and_pose(tmp_path):
    tags = np.r_[np.full(200, 6), np.full(70, 20)]  # 15 s walking then unknown
    write_upfall_trial(tmp_path, 3, 6, 1, tags)
    write_upfall_trial(tmp_path, 3, 7, 1, np.full(100, 7), pose=False)
    sessions = upfall.load_sessions(tmp_path, progress=False)
    assert [s.name for s in sessions] == ["Subject3Activity6Trial1", "Subject3Activity7Trial1"]
    s = sessions[0]
    assert set(s.streams) == set(UPFALL.view_names)
    np.testing.assert_allclose(s.streams["belt"].values[:, 0], G)  # 1 g -> m/s^2
    np.testing.assert_allclose(s.streams["ankle"].values, 0.5 * G)
    assert set(np.unique(s.labels)) == {-1, 5}
    assert s.streams["pose2d"].values.shape == (135, 18)
    # expected pose: the main person (x0 = 300); kept joints Neck, RElbow, LElbow, RWrist, LWrist, RKnee, ...
    kept = np.array([1, 3, 6, 4, 7, 10, 13, 11, 14])
    xy = np.stack([300 + 10 * kept, 300 + 5 * kept], axis=1).astype(float)
    size = np.hypot(*(np.percentile(xy, 75, axis=0) - np.percentile(xy, 25, axis=0))) + 1e-3
    want = ((xy - [380, 340]) / size).reshape(-1)
    np.testing.assert_allclose(s.streams["pose2d"].values[0], want, atol=1e-6)
    assert "pose2d" not in sessions[1].streams
    ws = _windows(sessions, UPFALL)
    assert ws.present[ws.labels == 6][:, 4].sum() == 0  # standing trial without skeleton.zip: pose missing
    assert ws.present[ws.labels == 5].all()
    assert (ws.views["pose2d"][~ws.present[:, 4]] == 0).all()


def test_upfall_short_activity_shifting_windows(tmp_path):
    hz = 18.0
    t = np.arange(int(12 * hz)) / hz
    tags = np.where((t >= 5) & (t < 7), 1, 20)  # a 2-s fall in a 12-s trial
    write_upfall_trial(tmp_path, 1, 1, 2, tags, hz=hz)
    sessions = upfall.load_sessions(tmp_path, progress=False)
    assert sessions[0].meta["shift_label"] == 0
    ws = _windows(sessions, UPFALL)
    assert len(ws) == 5 and (ws.labels == 0).all()  # max 5 windows, all labelled with the activity


def test_upfall_pose_gap_becomes_missing_view(tmp_path):
    write_upfall_trial(tmp_path, 2, 8, 1, np.full(int(16 * 18), 8), pose_gap=(6.0, 9.0))
    ws = _windows(upfall.load_sessions(tmp_path, progress=False), UPFALL)
    pose_present = ws.present[:, 4]
    assert ws.present[:, :4].all() and pose_present[0] and not pose_present.all()


def test_select_main_person_rules():
    people = [np.array(openpose_person(520, 300), float).reshape(25, 3),
              np.array(openpose_person(300, 300, conf=0.5), float).reshape(25, 3),
              np.array(openpose_person(310, 300, conf=0.9), float).reshape(25, 3)]
    np.testing.assert_array_equal(select_main_person(people), people[2])  # most confident of the kept two
    assert np.isnan(select_main_person(people[:1])).all()


def test_pose2d_interpolates_gaps():
    t = np.arange(5) * 50.0
    joints = np.tile(np.arange(20, dtype=float).reshape(1, 10, 2), (5, 1, 1))
    joints[2] = np.nan
    out = normalise_pose2d(t, joints)
    np.testing.assert_allclose(out[2], out[1])
    assert np.isfinite(out).all()


def test_cmdfall_labels_views_and_gaps(tmp_path):
    write_cmdfall(tmp_path)
    (sess,) = cmdfall.load_sessions(tmp_path, progress=False)
    assert sess.subject == 1 and set(sess.streams) == {"wrist", "waist", "kinect1", "kinect2", "kinect3"}
    np.testing.assert_allclose(sess.streams["waist"].values[0], [0, G, 0])
    assert len(sess.streams["kinect2"].t_ms) == 599  # the frame without 100 values is dropped
    k1 = sess.streams["kinect1"].values.reshape(-1, 20, 3)
    np.testing.assert_allclose(k1[..., :2].mean(axis=1), 0, atol=1e-9)  # per-frame xy centred
    assert np.percentile(k1[..., 2], 10) == pytest.approx(0, abs=1e-9)  # 10th-percentile height at 0
    # Y/Z swap: raw Y = 1 + 0.05 j is the height, identity rotation for the floor (0, 1, 0, d)
    np.testing.assert_allclose(np.diff(k1[0, :, 2]), 0.05, atol=1e-9)
    t = (sess.label_t_ms - sess.label_t_ms[0]) / 1000
    lab = sess.labels
    assert (lab[(t >= 4) & (t < 12)] == 7).all() and (lab[(t >= 14) & (t < 26)] == 0).all()
    assert (lab[(t < 4) | ((t >= 12) & (t < 14)) | (t >= 26)] == -1).all()
    ws = _windows([sess], CMDFALL)
    names = CMDFALL.view_names
    assert ws.views["kinect1"].shape[1:] == (80, 60) and ws.views["wrist"].shape[1:] == (200, 3)
    assert not ws.present[:, names.index("kinect4")].any() and ws.present[:, names.index("waist")].all()
    wrist = ws.present[:, names.index("wrist")]
    assert wrist.any() and not wrist.all()  # windows overlapping the 10-20 s gap lose the wrist view
    assert set(np.unique(ws.labels)) == {0, 7}


def test_cmdfall_annotation_merge_rules():
    three = {1: [(0, 10, 5)], 2: [(0, 10, 6)], 3: [(0, 5, 5)]}
    assert cmdfall.merge_annotations(three) == [(0, 5, 5)]  # 5-10: one vote of 5 and one of 6: tie -> 0
    assert cmdfall.merge_annotations({1: [(0, 4, 3)], 2: [(0, 4, 3)], 3: []}) == [(0, 4, 3)]
    assert cmdfall.merge_annotations({1: [(0, 4, 3)], 2: [], 3: []}) == []  # > 2 Kinects, < 2 votes -> 0
    assert cmdfall.merge_annotations({1: [(0, 4, 3)], 2: [(2, 6, 3)]}) == [(0, 6, 3)]  # merged neighbours


def test_floor_rotation_aligns_normal_with_z():
    rng = np.random.default_rng(0)
    n = rng.normal(size=3)
    n[1] = abs(n[1]) + 1
    r = floor_rotation(np.r_[n, 1.0])
    swapped = n[[0, 2, 1]] / np.linalg.norm(n)
    np.testing.assert_allclose(r @ swapped, [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
    np.testing.assert_array_equal(floor_rotation(np.zeros(4)), np.eye(3))  # no valid plane (K6/K7)
    out = normalise_pose3d(rng.normal(size=(7, 20, 3)), np.r_[n, 1.0])
    assert out.shape == (7, 60)
