"""UP-Fall (HAR-UP) user-placed trials -> Sessions [DS§3.2-3.4].

Layout under `{raw_dir}/upfall`: `Subject{s}/Activity{a}/Trial{t}/Subject{s}Activity{a}Trial{t}.csv` (the
per-trial sensor CSV: 2 header lines, 47 columns) and, beside it, `skeleton.zip` holding one OpenPose
BODY_25 JSON per Camera2 frame (see ralis.data.pose). Accelerometers (ankle, belt, neck, wrist; the pocket
sensor is dropped) are converted from g to m/s^2. Tag 1..11 -> class 0..10; 20 (unknown) and 0 -> null.
Trials of the short activities (falls 1-5, picking up 9) get shifting windows labelled with the activity.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.data.parsers.rawfile import names_its_file, read_csv
from ralis.data.pose import read_openpose_zip
from ralis.data.session import Session, Stream
from ralis.runtime import progress_bar

__all__ = ["G", "ACC_COLUMNS", "SHORT_ACTIVITIES", "MAX_GAP_MS", "trial_csv", "read_trial_csv", "load_sessions"]

G = 9.80665  # m/s^2 per g
ACC_COLUMNS = {"ankle": 1, "belt": 15, "neck": 22, "wrist": 29}  # first of the x,y,z acc columns (0-based)
TAG_COLUMN = 46
SHORT_ACTIVITIES = (1, 2, 3, 4, 5, 9)  # vahar SHORT_ACTIVITIES
MAX_GAP_MS = 1000.0  # irregular ~18 Hz sensors: vahar interpolates without limit; we cap gaps at 1 s (decision)
_TRIAL = re.compile(r"Subject(\d+)/Activity(\d+)/Trial(\d+)$")


def trial_csv(trial_dir: Path) -> Path:
    s, a, t = (int(g) for g in _TRIAL.search(trial_dir.as_posix()).groups())
    return trial_dir / f"Subject{s}Activity{a}Trial{t}.csv"


@names_its_file
def read_trial_csv(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """-> (t_ms [T], {view: acc m/s^2 [T, 3]}, labels [T] with -1 = null)."""
    df = read_csv(path, skiprows=2, header=None)
    if df.shape[1] != 47:
        raise ValueError(f"{path}: expected 47 columns after the 2 header lines, got {df.shape[1]}")
    try:
        ts = pd.to_datetime(df[0].astype(str).str.strip(), format="ISO8601", utc=True)
    except ValueError as e:
        raise ValueError(f"{path}: column 0 must hold ISO timestamps like 2018-07-04T12:04:17.738369 ({e})") from e
    t = ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(milliseconds=1)).to_numpy(np.float64)  # ms since epoch
    acc = {v: df.iloc[:, c:c + 3].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64) * G
           for v, c in ACC_COLUMNS.items()}
    tag = pd.to_numeric(df[TAG_COLUMN], errors="coerce").fillna(0).to_numpy().astype(np.int64)
    labels = np.where((tag >= 1) & (tag <= 11), tag - 1, -1)
    return t, acc, labels


def load_sessions(root: str | Path, progress: bool = True) -> list[Session]:
    """One Session per trial: 4 accelerometer views plus `pose2d` when the trial has skeleton.zip."""
    root = Path(root)
    trials = sorted((p for p in root.glob("Subject*/Activity*/Trial*") if p.is_dir() and _TRIAL.search(p.as_posix())),
                    key=lambda p: tuple(int(g) for g in _TRIAL.search(p.as_posix()).groups()))
    sessions = []
    for trial in progress_bar(trials, desc="upfall trials", show=progress):
        s, a, tr = (int(g) for g in _TRIAL.search(trial.as_posix()).groups())
        csv = trial_csv(trial)
        if not csv.is_file():
            continue  # reported by ralis.data.download.check_upfall
        t, acc, labels = read_trial_csv(csv)
        streams = {v: Stream(t, x) for v, x in acc.items()}
        skel = trial / "skeleton.zip"
        if skel.is_file() and (pose := read_openpose_zip(skel)) is not None:
            streams["pose2d"] = pose
        meta = {"max_gap_ms": MAX_GAP_MS, "activity": a, "trial": tr}
        fixed = None
        if a in SHORT_ACTIVITIES:
            meta["shift_label"] = fixed = a - 1
        sessions.append(Session(s, f"Subject{s}Activity{a}Trial{tr}", streams, t, labels, fixed, meta))
    if not sessions:
        raise FileNotFoundError(f"no Subject{{s}}/Activity{{a}}/Trial{{t}}/Subject{{s}}Activity{{a}}Trial{{t}}.csv "
                                f"under {root} (see docs/notes/data-real.md for the layout)")
    return sessions
