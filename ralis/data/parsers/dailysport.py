"""Daily and Sports Activities (UCI 256) raw files -> Sessions [DS§1.2-1.3].

Layout: `data/aAA/pP/sSS.txt` (activity AA = 01..19, subject P = 1..8, segment SS = 01..60); each file is
125 rows (5 s at 25 Hz) x 45 comma-separated floats, 9 columns per Xsens unit (acc xyz, gyro xyz, mag xyz)
in the unit order torso, right arm, left arm, right leg, left leg. Accelerometers are already m/s^2.
Each segment is one session (one sample, label = activity - 1).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ralis.data.parsers.rawfile import names_its_file
from ralis.data.session import Session, Stream
from ralis.runtime import progress_bar

__all__ = ["RAW_HZ", "ACC_COLUMNS", "find_data_dir", "read_segment", "load_sessions"]

RAW_HZ = 25.0
ACC_COLUMNS = {"torso": 0, "right_arm": 9, "left_arm": 18, "right_leg": 27, "left_leg": 36}  # first of 3 columns
_NAME = re.compile(r"a(\d{2})/p(\d+)/s(\d{2})\.txt$")


def find_data_dir(root: str | Path) -> Path:
    """The folder holding a01..a19: `root/data` (as in the UCI zip) or `root` itself."""
    root = Path(root)
    for cand in (root / "data", root):
        if any(p.is_dir() for p in cand.glob("a[0-9][0-9]")):
            return cand
    raise FileNotFoundError(f"no DailySport 'aAA/' folder under {root} or {root / 'data'}; expected the extracted "
                            "UCI archive layout data/aAA/pP/sSS.txt (run the data stage: fetch_dataset)")


@names_its_file
def read_segment(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": refused below, naming the file
        x = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if x.shape[0] == 0:
        raise ValueError(f"{path}: has no data rows (empty file)")
    if x.shape[1] != 45:
        raise ValueError(f"{path}: expected 45 comma-separated columns, got {x.shape[1]}")
    return x


def load_sessions(root: str | Path, progress: bool = True) -> list[Session]:
    """One Session per 5-s segment with the 5 accelerometer views; fixed_label = activity index 0..18."""
    data = find_data_dir(root)
    files = sorted(data.glob("a*/p*/s*.txt"))
    sessions = []
    for path in progress_bar(files, desc="dailysport files", show=progress):
        m = _NAME.search(path.relative_to(data).as_posix())
        if m is None:
            continue
        act, subj, seg = (int(g) for g in m.groups())
        x = read_segment(path)
        t = np.round(np.arange(len(x)) * 1000.0 / RAW_HZ)  # synthesised timestamps, ms
        streams = {name: Stream(t, x[:, c:c + 3]) for name, c in ACC_COLUMNS.items()}
        sessions.append(Session(subj, f"sub{subj}_cls{act - 1}_seg{seg}", streams, t[:1], np.array([act - 1]),
                                fixed_label=act - 1))
    if not sessions:
        raise FileNotFoundError(f"no aAA/pP/sSS.txt files under {data}")
    return sessions
