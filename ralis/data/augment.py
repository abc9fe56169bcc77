"""Training-data augmentations [P§5.1.3; Um et al. 2017; spec methods.md §1.9].

Scaling and time warping apply to every view; 3-axis inertial sensors (accelerometer, gyroscope,
magnetometer) also get a random 3D rotation of each xyz triplet (each modality its own angle range,
`acc_rotation_deg` / `gyro_rotation_deg` / `mag_rotation_deg`), 3D poses a rotation about the vertical z
axis of each joint, 2D poses a horizontal flip with probability flip_p; `other` views get scaling and warping.
Views named in `augment.unrotated_views` (a sensor mounted in a fixed orientation) skip the rotation or flip.
The augmenters of one view run in a random order per sample.

Two forms of the same distribution:
- `Augmenter` (the reference): one window, one view at a time, NumPy + SciPy. Kept for tests and benchmarks.
- `BatchAugmenter` (used in training, `ralis.data.augment_batch`): the whole batch of one view at once in torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import CubicSpline

from ralis.config import AugmentConfig
from ralis.contract import ViewSpec
from ralis.data.body import rotation_matrix
from ralis.runtime import derive_seed

__all__ = ["MODALITIES", "TRIPLET_MODALITIES", "check_modalities", "geometry_of", "rotation_deg", "scale", "time_warp",
           "rotation_matrix", "rotate_triplets", "rotate_z", "flip_x", "Augmenter"]

TRIPLET_MODALITIES = ("acc", "gyro", "mag")  # 3-axis inertial sensors: rotate each xyz triplet
MODALITIES = TRIPLET_MODALITIES + ("pose3d", "pose2d", "other")


def check_modalities(view_specs: Sequence[ViewSpec], cfg: AugmentConfig | None = None) -> None:
    """Every view's modality must have augmentation rules (MODALITIES). With `cfg`: `augment.unrotated_views` must
    name views, and a rotated or flipped view must have whole triplets (acc, gyro, mag, pose3d) or (x, y) pairs."""
    for v in view_specs:
        if v.modality not in MODALITIES:
            raise ValueError(f"view '{v.name}': no augmentation defined for modality {v.modality!r}; "
                             f"use one of {list(MODALITIES)}")
    names = [v.name for v in view_specs]
    if cfg is None:
        return
    if unknown := [n for n in cfg.unrotated_views if n not in names]:
        raise ValueError(f"params.yaml augment.unrotated_views names unknown view(s) {unknown}; views are {names}")
    for v in view_specs:  # the geometric augmentation needs whole xyz triplets / (x, y) joints
        group = {"triplets": 3, "z": 3, "flip": 2}.get(geometry_of(v, cfg))
        if group and v.channels % group:
            what = "(x, y) per joint" if group == 2 else "xyz triplets"
            raise ValueError(f"view '{v.name}' ({v.modality}) has {v.channels} channel(s), but its augmentation "
                             f"needs {what}, a multiple of {group}; declare the view's modality as other, or list "
                             "it in params.yaml augment.unrotated_views")


def rotation_deg(modality: str, cfg: AugmentConfig) -> float:
    """The +- angle range of a triplet modality's random 3D rotation."""
    return {"acc": cfg.acc_rotation_deg, "gyro": cfg.gyro_rotation_deg, "mag": cfg.mag_rotation_deg}[modality]


def geometry_of(view: ViewSpec, cfg: AugmentConfig) -> str:
    """The view's geometric augmentation: "triplets" (3D rotation), "z" (pose3d), "flip" (pose2d) or "none"."""
    if view.name in cfg.unrotated_views or view.modality == "other":
        return "none"
    return "triplets" if view.modality in TRIPLET_MODALITIES else {"pose3d": "z", "pose2d": "flip"}[view.modality]


def scale(x: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Multiply each channel by its own factor s ~ N(1, sigma^2) (one factor per channel, shape [1, C])."""
    return x * rng.normal(1.0, sigma, size=(1, x.shape[1]))


def time_warp(x: np.ndarray, rng: np.random.Generator, sigma: float, knots: int) -> np.ndarray:
    """Um et al. time warping: smooth random speed curve -> warped timestamps -> per-channel interpolation.

    The speed curve is a cubic spline through knots+2 evenly spaced values ~ N(1, sigma^2); its cumulative
    sum is rescaled affinely onto [0, T-1]; new[t] = interp(t, warped, old). Keeps the length T.
    """
    t = x.shape[0]
    if t < 2:
        return x.copy()
    grid = np.arange(t, dtype=np.float64)
    ctrl_x = np.linspace(0, t - 1, knots + 2)
    speed = CubicSpline(ctrl_x, rng.normal(1.0, sigma, size=knots + 2))(grid)
    warped = np.cumsum(np.clip(speed, 1e-2, None))  # strictly increasing timestamps
    warped = (warped - warped[0]) / (warped[-1] - warped[0]) * (t - 1)  # affine onto [0, T-1]
    return np.stack([np.interp(grid, warped, x[:, c]) for c in range(x.shape[1])], axis=1)


def rotate_triplets(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Apply r [3, 3] to every consecutive xyz triplet of x [T, 3k]."""
    if x.shape[1] % 3:
        raise ValueError(f"3D rotation needs a multiple of 3 channels, got {x.shape[1]}")
    trip = x.reshape(x.shape[0], -1, 3)  # [T, k, 3]
    return (trip @ r.T).reshape(x.shape)


def rotate_z(x: np.ndarray, angle: float) -> np.ndarray:
    """Rotate every joint of a 3D pose [T, 3J] about the vertical z axis."""
    return rotate_triplets(x, rotation_matrix(np.array([0.0, 0.0, 1.0]), angle))


def flip_x(x: np.ndarray) -> np.ndarray:
    """Horizontal flip of a 2D pose [T, 2J]: negate the x coordinates (even channels)."""
    if x.shape[1] % 2:
        raise ValueError(f"2D pose needs an even channel count [x, y] per joint, got {x.shape[1]}")
    out = x.copy()
    out[:, 0::2] = -out[:, 0::2]
    return out


class Augmenter:
    """Per-sample, per-view augmentation with an independent RNG per view.

    Call with one sample's per-view arrays (a list in `view_specs` order, or a dict by view name) and its
    presence mask [V]; missing views are returned untouched. Output arrays are float32.
    """

    def __init__(self, view_specs: Sequence[ViewSpec], cfg: AugmentConfig, seed: int):
        self.view_specs = tuple(view_specs)
        self.cfg = cfg
        self.seed = seed
        check_modalities(self.view_specs, cfg)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """One generator per view, derived from `seed` (DataLoader workers call this with their own seed)."""
        seqs = np.random.SeedSequence([seed, len(self.view_specs)]).spawn(len(self.view_specs))
        self.rngs = [np.random.default_rng(s) for s in seqs]

    def fork(self, stream: int) -> Augmenter:
        """An augmenter with the same settings and an independent RNG stream (one per DataLoader)."""
        seed = derive_seed(self.seed, stream)
        return Augmenter(self.view_specs, self.cfg, seed)

    def _ops(self, view: ViewSpec, rng: np.random.Generator) -> list:
        c = self.cfg
        ops = [lambda x: scale(x, rng, c.scale_sigma), lambda x: time_warp(x, rng, c.warp_sigma, c.warp_knots)]
        geometry = geometry_of(view, c)
        if geometry == "triplets":
            deg = rotation_deg(view.modality, c)
            ops.append(lambda x: rotate_triplets(x, rotation_matrix(rng.uniform(-1, 1, 3),
                                                                    np.deg2rad(rng.uniform(-deg, deg)))))
        elif geometry == "z":
            ops.append(lambda x: rotate_z(x, np.deg2rad(rng.uniform(-c.pose_z_rotation_deg, c.pose_z_rotation_deg))))
        elif geometry == "flip":
            ops.append(lambda x: flip_x(x) if rng.random() < c.flip_p else x)
        return ops

    def augment_view(self, index: int, x: np.ndarray) -> np.ndarray:
        """Augment view `index` of one sample, x [T, C]; the augmenters run in a random order."""
        rng = self.rngs[index]
        ops = self._ops(self.view_specs[index], rng)
        for k in rng.permutation(len(ops)):
            x = ops[k](x)
        return np.asarray(x, dtype=np.float32)

    def __call__(self, views: Sequence[np.ndarray] | dict[str, np.ndarray], present: np.ndarray):
        if not self.cfg.enabled:
            return views
        names = [v.name for v in self.view_specs]
        as_dict = isinstance(views, dict)
        arrays = [views[n] for n in names] if as_dict else list(views)
        if len(arrays) != len(names) or len(present) != len(names):
            raise ValueError(f"Augmenter expects {len(names)} views {names}, got {len(arrays)} arrays and "
                             f"a mask of length {len(present)}")
        out = [self.augment_view(i, x) if present[i] else x for i, x in enumerate(arrays)]
        return dict(zip(names, out)) if as_dict else out
