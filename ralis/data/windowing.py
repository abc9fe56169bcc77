"""Cut resampled sessions into fixed-length multiview windows [DS§0.1; P§5.1.1].

Window i of a session starts `i * step` seconds after the session start; view v takes rows
`round(start * f_v)` .. `+ round(window * f_v)` of its grid, so all views of a window cover the same time.
  * label: majority of the per-row labels (ties -> smallest value, as scipy.stats.mode); the null label
    is -1, so a window whose vote is null (including a null/class tie) is dropped;
  * presence: a view is missing in a window when any of its values there is NaN (absent stream, gap);
    missing views are stored as zeros; a window with no present view is dropped;
  * the trailing remainder shorter than a window is dropped; a session shorter than one window gives
    no window (project decision: no zero-padding, which would invent data; counted in the manifest);
  * `step_sec=None`: one window per session (DailySport: each 5-s segment is one sample);
  * sessions with `meta["shift_label"]` (UP-Fall short activities) get shifting windows around each run
    of that label, labelled with it (vahar `shifting_window`, VSF: at most 5 windows, >= 0.5 s apart).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ralis.data.resample import ResampledSession

__all__ = ["WindowParams", "WindowSet", "WindowStats", "majority_label", "shift_starts", "window_session",
           "concat_windows", "split_by_subject"]


@dataclass(frozen=True)
class WindowParams:
    window_sec: float  # [P§5.1.1]: 4 s (DailySport 5 s)
    step_sec: float | None  # None = one window per session
    shift_max_windows: int = 5  # UP-Fall short activities [VSF 3_vsf.py]
    shift_min_step_sec: float = 0.5  # [VSF]


@dataclass
class WindowSet:
    """Windows of one or more sessions: views[name] [N, T_v, C_v] float32 (zeros where missing)."""

    views: dict[str, np.ndarray]
    present: np.ndarray  # bool [N, V]
    labels: np.ndarray  # int64 [N]
    subjects: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> WindowSet:
        return WindowSet({k: v[index] for k, v in self.views.items()}, self.present[index], self.labels[index],
                         self.subjects[index])


@dataclass
class WindowStats:
    """What windowing dropped, for the manifest."""

    sessions: int = 0
    short_sessions: int = 0  # shorter than one window
    null_windows: int = 0  # majority label null
    empty_windows: int = 0  # no view present

    def add(self, other: WindowStats) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def majority_label(labels: np.ndarray) -> int:
    """Most frequent value; ties -> the smallest (scipy.stats.mode), so a null(-1)/class tie is null."""
    counts = Counter(int(v) for v in labels)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def shift_starts(is_target: np.ndarray, win: int, max_windows: int, min_step: int) -> list[int]:
    """Start rows of shifting windows that contain each run of True in `is_target` (vahar semantics)."""
    n = len(is_target)
    if n < win or not is_target.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[0, is_target.astype(np.int8), 0]))
    starts: list[int] = []
    for a, b in zip(edges[::2], edges[1::2]):  # run [a, b)
        first = max(min(b - win, a), 0)
        last = min(max(b - win, a), n - win)
        if first >= last:
            starts.append(first)
            continue
        k = min(max_windows, int(np.ceil((last - first + 1) / max(min_step, 1))))
        starts.extend(int(s) for s in np.linspace(first, last, num=k).astype(int))
    return starts


def _n_rows(sec: float, rate: float) -> int:
    return int(round(sec * rate))


def window_session(rs: ResampledSession, wp: WindowParams) -> tuple[WindowSet, WindowStats]:
    """All windows of one resampled session (see module docstring for the rules)."""
    names = list(rs.views)
    stats = WindowStats(sessions=1)
    lengths = {k: _n_rows(wp.window_sec, rs.rates[k]) for k in names}
    fits = all(len(rs.views[k]) >= lengths[k] for k in names) and len(rs.labels) >= _n_rows(wp.window_sec,
                                                                                          rs.label_rate)
    if not fits:
        stats.short_sessions = 1
        return _empty(rs, lengths), stats
    win_l = _n_rows(wp.window_sec, rs.label_rate)
    shift_label = rs.meta.get("shift_label")
    if shift_label is not None:
        rows = shift_starts(rs.labels == shift_label, win_l, wp.shift_max_windows,
                            _n_rows(wp.shift_min_step_sec, rs.label_rate))
        starts = [r / rs.label_rate for r in rows]
    elif wp.step_sec is None:
        starts = [0.0]
    else:
        n = int(np.floor((rs.duration_sec - wp.window_sec) / wp.step_sec + 1e-9)) + 1
        starts = [i * wp.step_sec for i in range(max(n, 0))]
    starts = [s for s in starts if all(_n_rows(s, rs.rates[k]) + lengths[k] <= len(rs.views[k]) for k in names)]
    views = {k: [] for k in names}
    present, labels = [], []
    for s in starts:
        if shift_label is not None:
            y = int(shift_label)
        elif wp.step_sec is None and rs.fixed_label is not None:
            y = int(rs.fixed_label)
        else:
            i0 = _n_rows(s, rs.label_rate)
            y = majority_label(rs.labels[i0:i0 + win_l])
        if y < 0:
            stats.null_windows += 1
            continue
        chunks = {k: rs.views[k][_n_rows(s, rs.rates[k]):_n_rows(s, rs.rates[k]) + lengths[k]] for k in names}
        pres = np.array([np.isfinite(chunks[k]).all() for k in names])
        if not pres.any():
            stats.empty_windows += 1
            continue
        for j, k in enumerate(names):
            views[k].append(chunks[k] if pres[j] else np.zeros_like(chunks[k]))
        present.append(pres)
        labels.append(y)
    if not labels:
        return _empty(rs, lengths), stats
    ws = WindowSet({k: np.stack(v).astype(np.float32) for k, v in views.items()}, np.stack(present),
                   np.asarray(labels, dtype=np.int64), np.full(len(labels), rs.subject, dtype=np.int64))
    return ws, stats


def _empty(rs: ResampledSession, lengths: dict[str, int]) -> WindowSet:
    return WindowSet({k: np.zeros((0, lengths[k], v.shape[1]), np.float32) for k, v in rs.views.items()},
                     np.zeros((0, len(rs.views)), bool), np.zeros(0, np.int64), np.zeros(0, np.int64))


def concat_windows(parts: list[WindowSet]) -> WindowSet:
    """Stack window sets that share the same views (in the same order)."""
    if not parts:
        raise ValueError("no windows to concatenate")
    names = list(parts[0].views)
    return WindowSet({k: np.concatenate([p.views[k] for p in parts]) for k in names},
                     np.concatenate([p.present for p in parts]), np.concatenate([p.labels for p in parts]),
                     np.concatenate([p.subjects for p in parts]))


def split_by_subject(ws: WindowSet, split: dict[str, tuple[int, ...]]) -> dict[str, WindowSet]:
    """Subject-disjoint train / valid / test sets from the registry split."""
    seen: set[int] = set()
    for name, subjects in split.items():
        if seen & set(subjects):
            raise ValueError(f"split '{name}' shares subjects {sorted(seen & set(subjects))} with another split")
        seen |= set(subjects)
    return {name: ws.take(np.flatnonzero(np.isin(ws.subjects, subjects))) for name, subjects in split.items()}
