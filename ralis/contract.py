"""The one input contract for multiview data, checked at every public boundary.

Dimension legend used across the package:
    V  number of views          N  batch size (windows)
    T  time steps of one view   C  channels of one view
    D  embedding width          E  number of experts      K  experts kept per token

A multiview batch is
    views    tuple of V float tensors, view v of shape [N, T_v, C_v] (time first, channels last;
             T_v and C_v may differ between views, e.g. accelerometer 200x3 vs pose 80x18)
    present  bool tensor [N, V]; present[i, v] is False when view v of window i is missing.
             The values of a missing view are arbitrary (zeros on disk) and must never reach the output.
    labels   long tensor [N] of class indices in [0, n_classes), or None for unlabelled windows
Every window has at least one present view.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ViewSpec", "MultiviewBatch", "check_views", "check_embeddings"]


@dataclass(frozen=True)
class ViewSpec:
    """What the model knows of one view: its name, modality, channel count and rate (windows: [N, T, C])."""

    name: str  # e.g. "torso", "kinect3"
    modality: str  # "acc" | "gyro" | "mag" | "pose3d" | "pose2d" | "other" (ralis.data.augment.MODALITIES)
    channels: int  # C_v after parsing (3 for accelerometers)
    rate_hz: float  # sampling rate after resampling (acc 50 Hz, pose 20 Hz)
    channel_names: tuple[str, ...] = ()  # user datasets: the source columns / dimensions, in channel order
    units: str = ""  # physical units as declared (user datasets), e.g. "m/s^2", "rad/s"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_names", tuple(self.channel_names))  # lists from JSON / checkpoints
        if self.channel_names and len(self.channel_names) != self.channels:
            raise ValueError(f"view '{self.name}': {len(self.channel_names)} channel names for {self.channels} "
                             "channels")


@dataclass(frozen=True)
class MultiviewBatch:
    """A batch of windows with per-view tensors, a presence mask and (optionally) labels."""

    views: tuple[torch.Tensor, ...]
    present: torch.Tensor
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "views", tuple(self.views))
        check_views(self.views, self.present)
        if self.labels is not None:
            if self.labels.dtype != torch.long or self.labels.shape != (self.present.shape[0],):
                raise ValueError(
                    f"labels must be a long tensor of shape [N]={self.present.shape[0]}, "
                    f"got {self.labels.dtype} {tuple(self.labels.shape)}"
                )

    @property
    def n_views(self) -> int:
        return len(self.views)

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def to(self, device: torch.device | str) -> MultiviewBatch:
        return MultiviewBatch(
            tuple(v.to(device, non_blocking=True) for v in self.views),
            self.present.to(device),
            None if self.labels is None else self.labels.to(device),
        )

    def cat(self, other: MultiviewBatch) -> MultiviewBatch:
        """This batch's rows, then `other`'s: the two training streams in one encoder pass (methods.md §1.8).

        The result is unlabelled (the contrastive stream's labels are never used); slice `[:len(self)]`.
        """
        if other.n_views != self.n_views:
            raise ValueError(f"cannot join a batch of {self.n_views} views with one of {other.n_views}")
        return MultiviewBatch(tuple(torch.cat([a, b]) for a, b in zip(self.views, other.views)),  # [N1+N2, T_v, C_v]
                              torch.cat([self.present, other.present]))  # [N1+N2, V]

    def select_views(self, keep: torch.Tensor) -> MultiviewBatch:
        """Restrict to a view combination (`keep`: bool [V]); other views become missing.

        Windows left with no view are dropped, as the evaluation protocol excludes them (A10).
        """
        present = self.present & keep.to(self.present.device)[None, :]
        rows = present.any(dim=1)
        return MultiviewBatch(
            tuple(x[rows] for x in self.views), present[rows], None if self.labels is None else self.labels[rows]
        )


def check_views(views: tuple[torch.Tensor, ...], present: torch.Tensor, allow_empty_rows: bool = False) -> None:
    """Raise ValueError unless (views, present) follow the module contract above."""
    if len(views) == 0:
        raise ValueError("views must hold at least one tensor, got an empty sequence")
    if present.dtype != torch.bool or present.dim() != 2:
        raise ValueError(f"present must be a bool tensor [N, V], got {present.dtype} {tuple(present.shape)}")
    n, v = present.shape
    if v != len(views):
        raise ValueError(f"present has {v} view columns but {len(views)} view tensors were given")
    for idx, x in enumerate(views):
        if x.dim() != 3 or x.shape[0] != n:
            raise ValueError(f"view {idx} must have shape [N={n}, T, C], got {tuple(x.shape)}")
        if not torch.is_floating_point(x):
            raise ValueError(f"view {idx} must be floating point, got {x.dtype}")
    if not allow_empty_rows and n > 0 and not bool(present.any(dim=1).all()):
        bad = (~present.any(dim=1)).nonzero().flatten()[:5].tolist()
        raise ValueError(f"windows {bad} have no present view; drop them before batching (A5)")


def check_embeddings(z: torch.Tensor, present: torch.Tensor) -> None:
    """Raise ValueError unless z is [V, N, D] and present is bool [N, V] with matching sizes."""
    if z.dim() != 3:
        raise ValueError(f"embeddings must have shape [V, N, D], got {tuple(z.shape)}")
    if present.dtype != torch.bool or tuple(present.shape) != (z.shape[1], z.shape[0]):
        raise ValueError(
            f"present must be bool [N={z.shape[1]}, V={z.shape[0]}], got {present.dtype} {tuple(present.shape)}"
        )
