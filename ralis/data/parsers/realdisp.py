"""REALDISP (UCI 305) raw logs -> Sessions [DS§2.2-2.3].

`subject{N}_{scenario}.log`: tab-separated, no header, 120 columns: seconds, microseconds, 9 sensors x 13
values (acc xyz m/s^2, gyro xyz, mag xyz, quaternion wxyz) in the order RLA, RUA, BACK, LUA, LLA, RC, RT,
LT, LC, then the label (0 = null, 1..33). As in vahar: rows with a non-finite value are dropped, a file is
split where the timestamp goes backwards and at gaps > 500 ms, pieces shorter than 5 s are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ralis.data.parsers.rawfile import names_its_file, read_csv
from ralis.data.session import Session, Stream
from ralis.runtime import progress_bar

__all__ = ["SENSORS", "MAX_GAP_MS", "MIN_PIECE_SEC", "read_log", "split_pieces", "load_sessions"]

SENSORS = ("RLA", "RUA", "back", "LUA", "LLA", "RC", "RT", "LT", "LC")  # acc of sensor s: columns 2+13s..4+13s
MAX_GAP_MS = 500.0  # vahar max_interval
MIN_PIECE_SEC = 5.0  # vahar min_length_segment
_NAME = re.compile(r"subject0*(\d+)_([a-z]+\d*)\.log$")


@names_its_file
def read_log(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """-> (t_ms [T], table [T, 120]) with non-finite rows removed."""
    df = read_csv(path, sep="\t", header=None, dtype=np.float64)
    if df.shape[1] != 120:
        raise ValueError(f"{path}: expected 120 tab-separated columns, got {df.shape[1]}")
    x = df.to_numpy()
    x = x[np.isfinite(x).all(axis=1)]
    t = np.floor(x[:, 0] * 1e3 + x[:, 1] / 1e3)
    return t, x


def split_pieces(t_ms: np.ndarray) -> list[slice]:
    """Row ranges between backward jumps and gaps > MAX_GAP_MS, keeping those lasting >= MIN_PIECE_SEC."""
    d = np.diff(t_ms)
    cuts = np.flatnonzero((d < 0) | (d > MAX_GAP_MS)) + 1
    bounds = np.r_[0, cuts, len(t_ms)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])
            if b > a and t_ms[b - 1] - t_ms[a] >= MIN_PIECE_SEC * 1000.0]


def load_sessions(root: str | Path, scenarios: tuple[str, ...] = ("ideal",), progress: bool = True) -> list[Session]:
    """Sessions (pieces) of the chosen placement scenarios; labels 1..33 -> 0..32, null 0 -> -1."""
    root = Path(root)
    files = sorted(p for p in root.rglob("subject*.log")
                   if (m := _NAME.search(p.name)) and m.group(2).rstrip("0123456789") in scenarios)
    if not files:
        raise FileNotFoundError(f"no subject*_{{{','.join(scenarios)}}}.log files under {root}; expected the "
                                "extracted UCI RealDisp archive (run the data stage: fetch_dataset)")
    sessions = []
    for path in progress_bar(files, desc="realdisp files", show=progress):
        subj = int(_NAME.search(path.name).group(1))
        t, x = read_log(path)
        label = x[:, 119].astype(np.int64)
        label = np.where((label >= 1) & (label <= 33), label - 1, -1)
        for i, sl in enumerate(split_pieces(t)):
            streams = {s: Stream(t[sl], x[sl, 2 + 13 * k:5 + 13 * k].copy()) for k, s in enumerate(SENSORS)}
            sessions.append(Session(subj, f"{path.stem}_{i}", streams, t[sl], label[sl].copy(),
                                    meta={"max_gap_ms": MAX_GAP_MS}))
    return sessions
