"""Batched augmentation: each transform equals the per-window reference, the whole augmenter matches its
distribution, and it is seeded per view and stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

from ralis.config import AugmentConfig
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.data.augment import Augmenter, flip_x, rotation_matrix, time_warp
from ralis.data.augment_batch import BatchAugmenter, rotate_triplets_batch, rotation_batch, warp_batch

VIEWS = (ViewSpec("wrist", "acc", 3, 50.0), ViewSpec("gyro", "gyro", 3, 50.0), ViewSpec("skel", "pose3d", 9, 20.0),
         ViewSpec("pose2d", "pose2d", 4, 20.0), ViewSpec("emg", "other", 2, 20.0))


class _Fixed:
    """A stand-in RNG whose `normal` returns given values (to drive the reference with the batch's draws)."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def normal(self, loc, scale, size):
        return self.values


def _batch(n: int = 12, seed: int = 0, present: torch.Tensor | None = None) -> MultiviewBatch:
    g = torch.Generator().manual_seed(seed)
    views = tuple(torch.randn(n, 30 if v.rate_hz == 50 else 12, v.channels, generator=g) for v in VIEWS)
    return MultiviewBatch(views, torch.ones(n, len(VIEWS), dtype=torch.bool) if present is None else present)


def test_warp_equals_the_per_window_reference_for_the_same_knots():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 40, 3))
    knots = rng.normal(1.0, 0.3, size=(6, 6))
    out = warp_batch(torch.from_numpy(x), torch.from_numpy(knots)).numpy()
    ref = np.stack([time_warp(x[i], _Fixed(knots[i]), 0.3, 4) for i in range(6)])
    np.testing.assert_allclose(out, ref, atol=1e-10)
    flat = warp_batch(torch.from_numpy(x), torch.ones(6, 6, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(flat, x, atol=1e-10)  # constant speed is the identity


def test_rotations_equal_rodrigues_row_by_row():
    rng = np.random.default_rng(1)
    axes, angles = rng.uniform(-1, 1, (5, 3)), rng.uniform(-3, 3, 5)
    r = rotation_batch(torch.from_numpy(axes), torch.from_numpy(angles)).numpy()
    for i in range(5):
        np.testing.assert_allclose(r[i], rotation_matrix(axes[i], angles[i]), atol=1e-12)
    x = rng.normal(size=(5, 7, 6))
    out = rotate_triplets_batch(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    slow = np.stack([np.concatenate([x[i, :, 3 * j:3 * j + 3] @ r[i].T for j in range(2)], axis=1) for i in range(5)])
    np.testing.assert_allclose(out, slow, atol=1e-12)


def test_geometry_only_preserves_norms_verticals_and_flips():
    aug = BatchAugmenter(VIEWS, AugmentConfig(scale_sigma=0.0, warp_sigma=0.0, flip_p=1.0), seed=0)
    b = _batch()
    y = aug(b).views
    for v in (0, 1):  # inertial triplets keep their length
        torch.testing.assert_close(y[v].norm(dim=2), b.views[v].norm(dim=2), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(y[v], b.views[v])
    torch.testing.assert_close(y[2].view(12, 12, 3, 3)[..., 2], b.views[2].view(12, 12, 3, 3)[..., 2])
    for i in range(12):
        np.testing.assert_allclose(y[3][i].numpy(), flip_x(b.views[3][i].numpy()), atol=1e-6)
    torch.testing.assert_close(y[4], b.views[4])  # `other`: scaling and warping only, both off here


def test_missing_rows_are_untouched_and_views_are_independent():
    present = torch.ones(12, len(VIEWS), dtype=torch.bool)
    present[::2, 0] = False
    b = _batch(present=present)
    a = BatchAugmenter(VIEWS, AugmentConfig(), seed=3)(b)
    assert torch.equal(a.views[0][~present[:, 0]], b.views[0][~present[:, 0]])
    other = _batch(present=torch.ones_like(present))
    c = BatchAugmenter(VIEWS, AugmentConfig(), seed=3)(other)
    torch.testing.assert_close(a.views[1], c.views[1])  # view 1 does not depend on view 0's mask
    assert torch.equal(a.present, b.present)


def test_seeded_streams_repeat_and_differ():
    b = _batch()
    one = BatchAugmenter(VIEWS, AugmentConfig(), seed=5)
    x1, x2 = one(b), one(b)
    assert not torch.allclose(x1.views[0], x2.views[0])  # fresh draws on every call
    y1 = BatchAugmenter(VIEWS, AugmentConfig(), seed=5)(b)
    assert all(torch.equal(u, v) for u, v in zip(x1.views, y1.views))
    f1, f2 = one.fork(1)(b), one.fork(2)(b)
    assert not torch.allclose(f1.views[0], f2.views[0])
    assert BatchAugmenter(VIEWS, AugmentConfig(enabled=False), 0)(b) is b


def test_bad_inputs():
    with pytest.raises(ValueError, match="modality"):
        BatchAugmenter((ViewSpec("eeg", "eeg", 4, 100.0),), AugmentConfig(), 0)
    b = _batch()
    with pytest.raises(ValueError, match="expects 2 views"):
        BatchAugmenter(VIEWS[:2], AugmentConfig(), 0)(b)


def _stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Scalar statistics of augmented copies [M, T, C] of one window: what the two forms must share."""
    return {"norm_mid": np.linalg.norm(x[:, 20, :3], axis=1), "x_mid": x[:, 20, 0], "y_q": x[:, 8, 1],
            "energy": (x ** 2).mean((1, 2)), "cross": (x[:, :-1] * x[:, 1:]).mean((1, 2))}


@pytest.mark.parametrize("view", [0, 2])
def test_batch_form_matches_the_per_window_form_in_distribution(view):
    """2,000 augmented copies of one window from each form: every statistic passes a two-sample KS test."""
    m, spec = 2000, VIEWS[view]
    rng = np.random.default_rng(7)
    t = 40
    window = (np.sin(np.linspace(0, 6, t))[:, None] * rng.normal(1, 0.3, spec.channels)
              + rng.normal(0, 0.3, (t, spec.channels))).astype(np.float32)
    ref = Augmenter((spec,), AugmentConfig(), seed=11)
    slow = np.stack([ref([window], np.ones(1, bool))[0] for _ in range(m)])
    fast = BatchAugmenter((spec,), AugmentConfig(), seed=11)
    batch = MultiviewBatch((torch.from_numpy(np.repeat(window[None], m, 0)),), torch.ones(m, 1, dtype=torch.bool))
    quick = fast(batch).views[0].numpy()
    for name, (a, b) in {k: (_stats(slow)[k], _stats(quick)[k]) for k in _stats(slow)}.items():
        assert ks_2samp(a, b).pvalue > 1e-3, name
    # and the test has power: without the rotation the same statistics differ
    plain = BatchAugmenter((spec,), AugmentConfig(acc_rotation_deg=0.0, pose_z_rotation_deg=0.0), seed=11)(batch)
    assert min(ks_2samp(_stats(slow)[k], _stats(plain.views[0].numpy())[k]).pvalue for k in ("x_mid", "y_q")) < 1e-6


@pytest.mark.parametrize("form", ["batch", "reference"])
def test_each_triplet_modality_has_its_own_angle_and_views_can_stay_unrotated(form):
    """gyro_rotation_deg rotates the gyroscope only; `unrotated_views` keeps a view's geometry (both forms)."""
    cfg = AugmentConfig(scale_sigma=0.0, warp_sigma=0.0, flip_p=1.0, acc_rotation_deg=0.0, gyro_rotation_deg=90.0,
                        unrotated_views=["pose2d"])
    b = _batch()
    if form == "batch":
        y = [v.numpy() for v in BatchAugmenter(VIEWS, cfg, seed=1)(b).views]
    else:
        aug = Augmenter(VIEWS, cfg, seed=1)
        rows = [aug([v[i].numpy() for v in b.views], np.ones(len(VIEWS), bool)) for i in range(len(b))]
        y = [np.stack([r[j] for r in rows]) for j in range(len(VIEWS))]
    np.testing.assert_allclose(y[0], b.views[0].numpy(), atol=1e-5)  # acc: a 0-degree range
    assert not np.allclose(y[1], b.views[1].numpy(), atol=1e-3)  # gyro: rotated ...
    np.testing.assert_allclose(np.linalg.norm(y[1], axis=2), b.views[1].norm(dim=2).numpy(), rtol=1e-4)  # rigidly
    np.testing.assert_allclose(y[3], b.views[3].numpy(), atol=1e-6)  # pose2d: flip_p 1 but unrotated


def test_unrotated_views_must_name_views():
    with pytest.raises(ValueError, match=r"augment.unrotated_views names unknown view\(s\) \['ankle'\]"):
        BatchAugmenter(VIEWS, AugmentConfig(unrotated_views=["ankle"]), 0)
