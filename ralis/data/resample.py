"""Resample a Session onto one common timeline, a regular grid per view (acc 50 Hz, pose 20 Hz).

Follows the author's `resample_numeric_df` [DS§0.1]: a grid `start + k/f`, every channel linearly
interpolated with `np.interp`, edge values held just past the ends. Two additions make missing data
explicit (CMDFall's common timeline, [DS§4.3]): a grid point whose bracketing raw samples are further
apart than `max_gap_ms`, or that lies more than `max_gap_ms` outside the stream, is NaN; a NaN raw sample
makes its neighbouring grid points NaN. Labels are attached by the nearest label sample (`join_asof
nearest` in vahar) on a label grid at the fastest view rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ralis.data.session import Session, Stream

__all__ = ["GAP_FACTOR", "ResampledSession", "target_rate", "make_grid", "median_interval_ms", "resample_stream",
           "nearest_labels", "resample_session"]

GAP_FACTOR = 4.0  # default max gap = 4 x the raw sampling interval (CMDFall tolerance [DS§4.3])


@dataclass
class ResampledSession:
    """A session on regular grids that share `start_ms`. views[name] is [T_v, C_v] with NaN = missing."""

    subject: int
    name: str
    start_ms: float
    views: dict[str, np.ndarray]
    rates: dict[str, float]
    label_rate: float
    labels: np.ndarray  # [T_label] int, -1 = null, on the grid start + k*1000/label_rate
    fixed_label: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def duration_sec(self) -> float:
        return len(self.labels) / self.label_rate


def target_rate(modality: str, acc_hz: float, pose_hz: float) -> float:
    """The rate a view is resampled to when nothing declares one: params `windowing.pose_hz` for poses, else
    `windowing.acc_hz` (inertial sensors and any other signal) [datasets.md "Resampling"]."""
    return pose_hz if modality.startswith("pose") else acc_hz


def make_grid(start_ms: float, end_ms: float, rate_hz: float) -> np.ndarray:
    """Times start + k*1000/f (ms) for k = 0, 1, ... strictly before end_ms."""
    n = max(int(np.ceil((end_ms - start_ms) * rate_hz / 1000.0 - 1e-9)), 0)
    return start_ms + np.arange(n) * (1000.0 / rate_hz)


def median_interval_ms(t_ms: np.ndarray) -> float:
    """Median raw sampling interval; 0 for a single sample."""
    return float(np.median(np.diff(t_ms))) if len(t_ms) > 1 else 0.0


def resample_stream(stream: Stream, grid_ms: np.ndarray, max_gap_ms: float) -> np.ndarray:
    """Linear interpolation of every channel onto `grid_ms`; NaN across gaps > max_gap_ms. Returns [T, C]."""
    t, x = np.asarray(stream.t_ms, dtype=np.float64), np.asarray(stream.values, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    out = np.full((len(grid_ms), x.shape[1]), np.nan)
    if len(t) == 0 or len(grid_ms) == 0:
        return out
    for c in range(x.shape[1]):
        out[:, c] = np.interp(grid_ms, t, x[:, c])
    # NaN raw samples poison the grid points interpolated from them (np.interp may skip them at exact hits)
    bad = ~np.isfinite(x).all(axis=1)
    right = np.clip(np.searchsorted(t, grid_ms, side="right"), 1, len(t) - 1) if len(t) > 1 else None
    if right is not None:
        left = right - 1
        on_l, on_r = grid_ms == t[left], grid_ms == t[right]  # a grid point on a raw sample needs no neighbour
        gap = ((t[right] - t[left]) > max_gap_ms) & ~(on_l | on_r)
        inside = (grid_ms >= t[0]) & (grid_ms <= t[-1])
        poisoned = np.where(on_l, bad[left], np.where(on_r, bad[right], bad[left] | bad[right]))
        out[inside & (gap | poisoned)] = np.nan
    edge = (grid_ms < t[0]) & (t[0] - grid_ms > max_gap_ms) | (grid_ms > t[-1]) & (grid_ms - t[-1] > max_gap_ms)
    out[edge] = np.nan
    out[(grid_ms < t[0]) & bad[0]] = np.nan
    out[(grid_ms > t[-1]) & bad[-1]] = np.nan
    return out


def nearest_labels(label_t_ms: np.ndarray, labels: np.ndarray, grid_ms: np.ndarray) -> np.ndarray:
    """Label of the nearest label sample for every grid time (ties take the earlier sample)."""
    if len(labels) == 0:
        return np.full(len(grid_ms), -1, dtype=np.int64)
    order = np.argsort(label_t_ms, kind="stable")
    t, y = np.asarray(label_t_ms, dtype=np.float64)[order], np.asarray(labels, dtype=np.int64)[order]
    right = np.clip(np.searchsorted(t, grid_ms, side="left"), 0, len(t) - 1)
    left = np.clip(right - 1, 0, len(t) - 1)
    take_left = np.abs(grid_ms - t[left]) <= np.abs(t[right] - grid_ms)
    return np.where(take_left, y[left], y[right])


def resample_session(session: Session, view_channels: dict[str, int], rates: dict[str, float],
                     gap_factor: float = GAP_FACTOR) -> ResampledSession:
    """Resample the views named in `view_channels` (absent streams become all-NaN) onto one timeline.

    The timeline runs from the earliest stream sample to the latest sample plus one raw interval (so a
    DailySport 125-row 25 Hz segment gives 250 rows at 50 Hz, as in vahar). `session.meta["max_gap_ms"]`
    overrides the per-stream default of `gap_factor` x the median raw interval.
    """
    streams = {k: s for k, s in session.streams.items() if k in view_channels and len(s.t_ms)}
    if not streams:
        raise ValueError(f"session {session.name!r} has none of the views {sorted(view_channels)}")
    start = min(float(np.min(s.t_ms)) for s in streams.values())
    end = max(float(np.max(s.t_ms)) + median_interval_ms(s.t_ms) for s in streams.values())
    override = session.meta.get("max_gap_ms")
    views = {}
    for name, ch in view_channels.items():
        grid = make_grid(start, end, rates[name])
        s = streams.get(name)
        if s is None:
            views[name] = np.full((len(grid), ch), np.nan)
            continue
        if s.values.shape[1] != ch:
            raise ValueError(f"session {session.name!r} view {name!r} has {s.values.shape[1]} channels, "
                             f"the registry expects {ch}")
        max_gap = override if override is not None else gap_factor * median_interval_ms(s.t_ms)
        views[name] = resample_stream(s, grid, max_gap)
    label_rate = max(rates[k] for k in view_channels)
    label_grid = make_grid(start, end, label_rate)
    labels = nearest_labels(session.label_t_ms, session.labels, label_grid)
    return ResampledSession(session.subject, session.name, start, views, {k: rates[k] for k in view_channels},
                            label_rate, labels, session.fixed_label, dict(session.meta))
