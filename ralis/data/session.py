"""A continuous recording before windowing: the common output of every parser and of the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Stream", "Session"]


@dataclass
class Stream:
    """One view's samples: timestamps in ms [T] and values [T, C]; NaN rows mark gaps (missing data)."""

    t_ms: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.t_ms.shape != (self.values.shape[0],):
            raise ValueError(f"Stream needs t_ms [T] and values [T, C], got {self.t_ms.shape} and {self.values.shape}")


@dataclass
class Session:
    """One subject's recording: a stream per view and a label track (label -1 = null / unknown).

    `fixed_label` is set when the whole session is one labelled sample (DailySport segments, UP-Fall
    short activities use it for their shifting windows).
    """

    subject: int
    name: str
    streams: dict[str, Stream]
    label_t_ms: np.ndarray
    labels: np.ndarray
    fixed_label: int | None = None
    meta: dict = field(default_factory=dict)
