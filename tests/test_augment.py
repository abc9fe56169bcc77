"""Augmentations: invariants of each transform and the per-view, seeded behaviour of Augmenter."""

from __future__ import annotations

import numpy as np
import pytest

from ralis.config import AugmentConfig
from ralis.contract import ViewSpec
from ralis.data.augment import Augmenter, flip_x, rotate_triplets, rotate_z, rotation_matrix, scale, time_warp

RNG = np.random.default_rng(0)
VIEWS = (ViewSpec("wrist", "acc", 6, 50.0), ViewSpec("skel", "pose3d", 9, 20.0), ViewSpec("pose2d", "pose2d", 4, 20.0))
ONLY_GEOMETRY = AugmentConfig(scale_sigma=0.0, warp_sigma=0.0)


def _sample(seed: int = 0) -> list[np.ndarray]:
    r = np.random.default_rng(seed)
    return [r.normal(size=(50, 6)).astype(np.float32), r.normal(size=(20, 9)).astype(np.float32),
            r.normal(size=(20, 4)).astype(np.float32)]


def _triplet_norms(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x.reshape(x.shape[0], -1, 3), axis=2)


def test_rotation_matrix_is_a_proper_rotation_and_matches_a_loop():
    r = rotation_matrix(RNG.uniform(-1, 1, 3), 1.234)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    x = RNG.normal(size=(7, 9))
    slow = np.stack([np.concatenate([r @ x[t, 3 * j:3 * j + 3] for j in range(3)]) for t in range(7)])
    np.testing.assert_allclose(rotate_triplets(x, r), slow, atol=1e-12)
    np.testing.assert_allclose(rotation_matrix(np.array([0, 0, 2.0]), np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_rotations_preserve_vector_norms():
    x = RNG.normal(size=(40, 6))
    y = rotate_triplets(x, rotation_matrix(RNG.uniform(-1, 1, 3), 2.0))
    np.testing.assert_allclose(_triplet_norms(y), _triplet_norms(x), rtol=1e-10)
    pose = RNG.normal(size=(40, 9))
    z = rotate_z(pose, 0.7).reshape(40, 3, 3)
    p = pose.reshape(40, 3, 3)
    np.testing.assert_allclose(z[..., 2], p[..., 2])  # the vertical stays vertical
    np.testing.assert_allclose(np.linalg.norm(z[..., :2], axis=2), np.linalg.norm(p[..., :2], axis=2))


def test_flip_twice_is_identity():
    x = RNG.normal(size=(10, 6))
    np.testing.assert_array_equal(flip_x(flip_x(x)), x)
    np.testing.assert_array_equal(flip_x(x)[:, 1::2], x[:, 1::2])
    np.testing.assert_array_equal(flip_x(x)[:, 0::2], -x[:, 0::2])


def test_time_warp_keeps_length_and_is_identity_without_noise():
    x = RNG.normal(size=(200, 3))
    np.testing.assert_allclose(time_warp(x, np.random.default_rng(1), sigma=0.0, knots=4), x, atol=1e-9)
    y = time_warp(x, np.random.default_rng(1), sigma=0.2, knots=4)
    assert y.shape == x.shape
    np.testing.assert_allclose(y[[0, -1]], x[[0, -1]], atol=1e-9)  # endpoints map onto themselves
    assert (y.min(0) >= x.min(0) - 1e-9).all() and (y.max(0) <= x.max(0) + 1e-9).all()  # interpolation only
    ramp = np.linspace(0, 1, 200)[:, None]
    assert (np.diff(time_warp(ramp, np.random.default_rng(2), 0.5, 4)[:, 0]) >= 0).all()  # time keeps its order
    assert not np.allclose(y, x)


def test_scale_is_one_factor_per_channel():
    y = scale(np.ones((30, 4)), np.random.default_rng(3), 0.1)
    assert np.allclose(y, y[:1]) and len(np.unique(y[0])) == 4


def test_augmenter_geometry_only_preserves_norms_and_flips():
    aug = Augmenter(VIEWS, AugmentConfig(scale_sigma=0.0, warp_sigma=0.0, flip_p=1.0), seed=0)
    x = _sample()
    y = aug(x, np.array([True, True, True]))
    np.testing.assert_allclose(_triplet_norms(y[0]), _triplet_norms(x[0]), rtol=1e-5)
    np.testing.assert_allclose(y[1].reshape(20, 3, 3)[..., 2], x[1].reshape(20, 3, 3)[..., 2], rtol=1e-5)
    np.testing.assert_allclose(y[2], flip_x(x[2]), rtol=1e-6)
    assert not np.allclose(y[0], x[0]) and all(v.dtype == np.float32 for v in y)


def test_augmenter_is_seeded_per_view_and_skips_missing_views():
    x = _sample()
    a = Augmenter(VIEWS, AugmentConfig(), seed=7)(x, np.array([True, True, True]))
    b = Augmenter(VIEWS, AugmentConfig(), seed=7)(x, np.array([True, False, True]))
    c = Augmenter(VIEWS, AugmentConfig(), seed=8)(x, np.array([True, True, True]))
    np.testing.assert_array_equal(a[0], b[0])  # view 0's RNG does not depend on the other views
    np.testing.assert_array_equal(a[2], b[2])
    assert b[1] is x[1]  # a missing view is left alone
    assert not np.allclose(a[0], c[0])
    d = Augmenter(VIEWS, AugmentConfig(), seed=7)(dict(zip(["wrist", "skel", "pose2d"], x)), np.ones(3, bool))
    np.testing.assert_array_equal(d["skel"], a[1])


def test_augmenter_draws_fresh_values_and_forks_are_independent():
    aug = Augmenter(VIEWS[:1], AugmentConfig(), seed=0)
    x = _sample()[:1]
    assert not np.allclose(aug(x, np.ones(1, bool))[0], aug(x, np.ones(1, bool))[0])
    assert not np.allclose(aug.fork(1)(x, np.ones(1, bool))[0], aug.fork(2)(x, np.ones(1, bool))[0])


def test_disabled_and_bad_inputs():
    x = _sample()
    assert Augmenter(VIEWS, AugmentConfig(enabled=False), 0)(x, np.ones(3, bool)) is x
    with pytest.raises(ValueError, match="modality"):
        Augmenter((ViewSpec("eeg", "eeg", 4, 100.0),), AugmentConfig(), 0)
    with pytest.raises(ValueError, match="expects 3 views"):
        Augmenter(VIEWS, AugmentConfig(), 0)(x[:2], np.ones(2, bool))
    with pytest.raises(ValueError, match="multiple of 3"):
        rotate_triplets(np.ones((5, 4)), np.eye(3))
