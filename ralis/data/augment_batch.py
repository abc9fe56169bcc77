"""Batched training augmentation: `ralis.data.augment.Augmenter`'s distribution, one torch call per view and batch.

The reference `Augmenter` runs scaling, time warping and the view's geometric map (triplet rotation, z
rotation or flip) in a random order per window. Time warping commutes with the other two: interpolation
along time is linear, and they act on each time step alone. So only the order of scaling vs the geometric
map matters, and each window draws it with probability 1/2, as a uniformly random permutation of the three
augmenters does. Everything else is drawn per window exactly as in the reference (same laws, same knots).

Each view has its own seeded torch generator, so a view's augmentations do not depend on the other views,
and a stream (`fork`) is reproducible from its seed alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from ralis.config import AugmentConfig
from ralis.contract import MultiviewBatch, ViewSpec
from ralis.data.augment import check_modalities, geometry_of, rotation_deg
from ralis.runtime import derive_seed

__all__ = ["BatchAugmenter", "warp_basis", "warp_batch", "rotation_batch", "rotate_triplets_batch"]


@lru_cache(maxsize=64)
def _warp_basis(length: int, knots: int) -> torch.Tensor:
    ctrl_x = np.linspace(0, length - 1, knots + 2)
    basis = CubicSpline(ctrl_x, np.eye(knots + 2))(np.arange(length, dtype=np.float64))  # [T, knots + 2]
    return torch.from_numpy(basis)


def warp_basis(length: int, knots: int) -> torch.Tensor:
    """[T, knots+2] float64: the reference's cubic spline is linear in its knot values, speed = values @ basis.T."""
    return _warp_basis(length, knots)


def warp_batch(x: torch.Tensor, knot_values: torch.Tensor) -> torch.Tensor:
    """Um et al. time warping of a batch, as `augment.time_warp` row by row: x [N, T, C], knot_values [N, K+2].

    speed [N, T] = spline through the knot values; warped = cumsum(clip(speed, 1e-2)) mapped affinely onto
    [0, T-1]; new[t] = linear interpolation of x at the time where warped = t.
    """
    n, length, c = x.shape
    if length < 2:
        return x.clone()
    speed = knot_values.double() @ warp_basis(length, knot_values.shape[1] - 2).T  # [N, T]
    warped = torch.cumsum(speed.clamp_min(1e-2), dim=1)
    warped = (warped - warped[:, :1]) / (warped[:, -1:] - warped[:, :1]) * (length - 1)  # [N, T] onto [0, T-1]
    grid = torch.arange(length, dtype=torch.float64).expand(n, length).contiguous()  # [N, T]
    left = (torch.searchsorted(warped, grid, right=True) - 1).clamp(0, length - 2)  # warped[left] <= t
    w0, w1 = warped.gather(1, left), warped.gather(1, left + 1)
    frac = ((grid - w0) / (w1 - w0)).clamp(0.0, 1.0).to(x.dtype)[:, :, None]  # [N, T, 1]
    idx = left[:, :, None].expand(n, length, c)  # [N, T, C]
    x0, x1 = x.gather(1, idx), x.gather(1, idx + 1)
    return x0 + frac * (x1 - x0)


def rotation_batch(axes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula per row, as `augment.rotation_matrix`.

    axes [N, 3] (normalised here), angles [N] -> [N, 3, 3]."""
    u = axes / axes.norm(dim=1, keepdim=True)
    zero = torch.zeros_like(u[:, 0])
    k = torch.stack([torch.stack([zero, -u[:, 2], u[:, 1]], 1), torch.stack([u[:, 2], zero, -u[:, 0]], 1),
                     torch.stack([-u[:, 1], u[:, 0], zero], 1)], 1)  # [N, 3, 3] cross-product matrices
    s, c = torch.sin(angles)[:, None, None], torch.cos(angles)[:, None, None]
    return torch.eye(3, dtype=axes.dtype) + s * k + (1 - c) * (k @ k)


def rotate_triplets_batch(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Apply r[n] [3, 3] to every xyz triplet of row n: x [N, T, 3k] -> [N, T, 3k]."""
    n, length, c = x.shape
    if c % 3:
        raise ValueError(f"3D rotation needs a multiple of 3 channels, got {c}")
    trip = x.reshape(n, length, c // 3, 3)  # [N, T, k, 3]
    return torch.einsum("ntkj,nij->ntki", trip, r.to(x.dtype)).reshape(n, length, c)


class BatchAugmenter:
    """Augments a whole MultiviewBatch, view by view; missing views are returned untouched."""

    def __init__(self, view_specs: Sequence[ViewSpec], cfg: AugmentConfig, seed: int):
        self.view_specs = tuple(view_specs)
        check_modalities(self.view_specs, cfg)
        self.cfg = cfg
        self.seed = seed
        seqs = np.random.SeedSequence([seed, len(self.view_specs)]).spawn(len(self.view_specs))
        self.generators = [torch.Generator().manual_seed(int(s.generate_state(1, np.uint64)[0] % 2**63))
                           for s in seqs]

    def fork(self, stream: int) -> BatchAugmenter:
        """An augmenter with the same settings and an independent RNG stream (one per training stream)."""
        return BatchAugmenter(self.view_specs, self.cfg, derive_seed(self.seed, stream))

    def _uniform(self, g: torch.Generator, size: tuple[int, ...], bound: float) -> torch.Tensor:
        return (torch.rand(size, generator=g, dtype=torch.float64) * 2 - 1) * bound

    def _geometry(self, view: ViewSpec, g: torch.Generator, n: int):
        """The view's geometric map for n windows, as a function of x [N, T, C] (identity for `other` and
        `augment.unrotated_views`)."""
        c = self.cfg
        geometry = geometry_of(view, c)
        if geometry in ("triplets", "z"):
            if geometry == "z":  # rotation about the vertical axis of every joint
                axes = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64).expand(n, 3)
                angles = self._uniform(g, (n,), math.radians(c.pose_z_rotation_deg))
            else:
                axes = self._uniform(g, (n, 3), 1.0)
                angles = self._uniform(g, (n,), math.radians(rotation_deg(view.modality, c)))
            r = rotation_batch(axes, angles)  # [N, 3, 3]
            return lambda x: rotate_triplets_batch(x, r)
        if geometry == "flip":
            flip = torch.rand(n, generator=g, dtype=torch.float64) < c.flip_p  # [N]
            return lambda x: _flip_rows(x, flip)
        return lambda x: x

    def augment_view(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Augment every row of view `index`, x [N, T, C] float."""
        g, cfg = self.generators[index], self.cfg
        n, _, c = x.shape
        factors = (1 + cfg.scale_sigma * torch.randn(n, 1, c, generator=g, dtype=torch.float64)).to(x.dtype)
        geometry = self._geometry(self.view_specs[index], g, n)
        scale_first = (torch.rand(n, generator=g) < 0.5)[:, None, None]  # [N, 1, 1]
        y = torch.where(scale_first, geometry(x * factors), geometry(x) * factors)
        knots = 1 + cfg.warp_sigma * torch.randn(n, cfg.warp_knots + 2, generator=g, dtype=torch.float64)
        return warp_batch(y, knots)

    def __call__(self, batch: MultiviewBatch) -> MultiviewBatch:
        if not self.cfg.enabled:
            return batch
        if batch.n_views != len(self.view_specs):
            raise ValueError(f"BatchAugmenter expects {len(self.view_specs)} views "
                             f"{[v.name for v in self.view_specs]}, got {batch.n_views}")
        views = tuple(torch.where(batch.present[:, v, None, None], self.augment_view(v, x), x)
                      for v, x in enumerate(batch.views))
        return MultiviewBatch(views, batch.present, batch.labels)


def _flip_rows(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Negate the x coordinates (even channels) of a 2D pose in the rows where `flip` [N] is True."""
    if x.shape[2] % 2:
        raise ValueError(f"2D pose needs an even channel count [x, y] per joint, got {x.shape[2]}")
    sign = torch.ones(x.shape[0], 1, x.shape[2], dtype=x.dtype)
    sign[:, :, 0::2] = torch.where(flip, -1.0, 1.0).to(x.dtype)[:, None, None]
    return x * sign
