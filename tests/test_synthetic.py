"""Synthetic dataset: determinism, layout, physics (gravity) and the designed spread of information."""

from __future__ import annotations

import numpy as np
import pytest

from ralis.config import SyntheticConfig
from ralis.data.body import POSE_JOINTS
from ralis.data.registry import get_dataset
from ralis.data.synthetic import (
    CLASS_VIEWS,
    SYNTHETIC_CLASSES,
    class_view_info,
    generate_sessions,
    simulate_session,
    subject_traits,
)

SPEC = get_dataset("synthetic")
SMALL = SyntheticConfig(n_subjects=2, sessions_per_class=1, session_sec=8.0, seed=3)


def _quiet(subject: int = 1, seed: int = 0) -> dict:
    return subject_traits(subject, seed, noise_scale=0.0)


def _pair(a: str, b: str, traits: dict, seed: int = 5, sec: float = 8.0) -> tuple[dict, dict]:
    """The same recording (same random draws) performed as activity a and as activity b."""
    return (simulate_session(a, traits, np.random.default_rng(seed), sec),
            simulate_session(b, traits, np.random.default_rng(seed), sec))


def test_registry_entry_matches_the_catalogue():
    assert SPEC.classes == SYNTHETIC_CLASSES
    assert set(CLASS_VIEWS) == set(SYNTHETIC_CLASSES)
    assert all(set(v) <= set(SPEC.view_names) for v in CLASS_VIEWS.values())
    assert set(SPEC.view_rates_table6) == set(SPEC.view_names)
    info = class_view_info()
    assert info["march"]["informative_views"] == ["left_ankle", "right_ankle"]


def test_layout_rates_and_labels():
    sessions = generate_sessions(SMALL)
    assert len(sessions) == 2 * len(SYNTHETIC_CLASSES)
    for s in sessions:
        assert set(s.streams) == set(SPEC.view_names)
        for v in SPEC.views:
            st = s.streams[v.name]
            assert st.values.shape == (int(8.0 * v.rate_hz), v.channels)
            assert st.values.dtype == np.float32 and np.isfinite(st.values).all()
            assert np.all(np.diff(st.t_ms) == int(1000 / v.rate_hz))
        assert s.labels.shape == s.label_t_ms.shape == (int(8.0 * 50),)
        assert np.all(s.labels == SYNTHETIC_CLASSES.index(s.meta["activity"]))
        assert s.meta["informative_views"] == list(CLASS_VIEWS[s.meta["activity"]])
    assert len(POSE_JOINTS) * 3 == SPEC.view("pose3d").channels


def test_deterministic_in_the_seed():
    a, b = generate_sessions(SMALL), generate_sessions(SMALL)
    c = generate_sessions(SyntheticConfig(n_subjects=2, sessions_per_class=1, session_sec=8.0, seed=4))
    for sa, sb, sc in zip(a, b, c):
        assert sa.name == sb.name == sc.name
        for v in SPEC.view_names:
            np.testing.assert_array_equal(sa.streams[v].values, sb.streams[v].values)
        assert not np.allclose(sa.streams["waist"].values, sc.streams["waist"].values)


def test_rejects_more_subjects_than_the_split():
    with pytest.raises(ValueError, match="n_subjects"):
        generate_sessions(SyntheticConfig(n_subjects=13))


@pytest.mark.parametrize("activity", ["stand", "recline", "lie"])
def test_static_postures_read_gravity(activity):
    rec = simulate_session(activity, _quiet(), np.random.default_rng(0), 4.0)
    for view in ("left_wrist", "right_wrist", "waist", "left_ankle", "right_ankle"):
        np.testing.assert_allclose(np.linalg.norm(rec[view], axis=1), 9.81, rtol=1e-6)
    noisy = simulate_session(activity, subject_traits(1, 0), np.random.default_rng(0), 4.0)
    assert abs(np.linalg.norm(noisy["waist"].mean(0)) - 9.81) < 0.2


def test_postures_differ_in_gravity_direction_at_the_waist_and_pose():
    traits = _quiet()
    up = {}
    for activity in ("stand", "recline", "lie"):
        rec = simulate_session(activity, traits, np.random.default_rng(1), 4.0)
        up[activity] = rec["waist"].mean(0) / 9.81
        z = rec["pose3d"].reshape(len(rec["pose3d"]), -1, 3)[:, :, 2]
        up[activity + "_height"] = z[:, POSE_JOINTS.index("head")].mean()
    angle = np.degrees(np.arccos(np.clip(up["stand"] @ up["lie"], -1, 1)))
    assert 50 < angle < 130  # nominal 90 deg, +-10 deg jitter per recording
    assert up["stand_height"] > up["recline_height"] > up["lie_height"]


def test_pose_is_centred_in_xy_with_z_up():
    rec = simulate_session("jog", _quiet(), np.random.default_rng(2), 4.0)
    joints = rec["pose3d"].reshape(len(rec["pose3d"]), -1, 3)  # [T, J, 3]
    np.testing.assert_allclose(joints[:, :, :2].mean(1), 0.0, atol=1e-9)
    assert (joints[:, POSE_JOINTS.index("head"), 2] > joints[:, POSE_JOINTS.index("l_knee"), 2]).all()


def _same(a: dict, b: dict) -> set[str]:
    return {v for v in a if np.allclose(a[v], b[v], atol=1e-6)}


def test_arm_only_classes_differ_only_at_the_wrists():
    traits = _quiet()
    stand, wave_left = _pair("stand", "wave_left", traits)
    assert _same(stand, wave_left) == set(SPEC.view_names) - {"left_wrist"}
    wave_left, wave_both = _pair("wave_left", "wave_both", traits)
    assert _same(wave_left, wave_both) == set(SPEC.view_names) - {"right_wrist"}


def test_leg_only_pair_differs_only_at_the_ankles():
    march, raise_ = _pair("march", "leg_raise", _quiet())
    assert _same(march, raise_) == set(SPEC.view_names) - {"left_ankle", "right_ankle"}
    # the leg sensors really move in both, so the ankles are what tells them apart
    assert np.linalg.norm(march["left_ankle"], axis=1).std() > 0.5


def test_static_views_are_motionless_up_to_noise():
    rec = simulate_session("wave_right", subject_traits(2, 0), np.random.default_rng(3), 8.0)
    traits = subject_traits(2, 0)
    for view in ("left_wrist", "waist", "left_ankle", "right_ankle"):
        assert rec[view].std(0).max() < 1.5 * traits["noise"][view]  # only sensor noise
    assert rec["right_wrist"].std(0).max() > 3 * traits["noise"]["right_wrist"]
