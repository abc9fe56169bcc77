"""CMDFall (MICA, gated) user-placed files -> Sessions [DS§4.2-4.3].

`accelerometer/S{setup}P{subject}I{1|155}.txt`: CSV with header `timestamp,x,y,z` (ms, g -> m/s^2);
sensor 1 = wrist, 155 = waist. `skeleton/S{setup}P{subject}K{k}.txt`: CSV `timestamp, frame_index,
person_index, skeleton_data, floor_equation`, skeleton_data = 100 space-separated numbers (20 joints x
X, Y, Z, Xrgb, Yrgb), floor_equation = 4 numbers. `annotation.csv`: `setup_id, kinect_id, action_id,
start_frame, stop_frame` per Kinect. One Session per setup; views wrist, waist, kinect1..kinect5; every
view is put on the session's common timeline later, with gaps > 4 raw intervals becoming missing views.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.data.parsers.rawfile import names_its_file, read_csv
from ralis.data.pose import normalise_pose3d
from ralis.data.session import Session, Stream
from ralis.runtime import progress_bar

__all__ = ["G", "ACC_SENSORS", "KINECTS", "LABEL_HZ", "read_acc", "read_skeleton", "merge_annotations",
           "load_sessions"]

G = 9.80665
ACC_SENSORS = {1: "wrist", 155: "waist"}
KINECTS = (1, 2, 3, 4, 5)  # views; K6/K7 have no floor plane [DS§4.4] but their annotations still vote
LABEL_HZ = 50.0  # dense label track rate
_FILE = re.compile(r"S(\d+)P(\d+)([IK])(\d+)\.txt$")


@names_its_file
def read_acc(path: Path) -> Stream:
    df = read_csv(path, skipinitialspace=True)
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = {"timestamp", "x", "y", "z"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: header lacks column(s) {sorted(missing)}; expected timestamp,x,y,z")
    return Stream(df["timestamp"].to_numpy(np.float64), df[["x", "y", "z"]].to_numpy(np.float64) * G)


@names_its_file
def read_skeleton(path: Path) -> tuple[Stream | None, np.ndarray, np.ndarray]:
    """-> (normalised 3D pose stream [F, 60] or None, frame_index [all rows], timestamp ms [all rows])."""
    df = read_csv(path, skipinitialspace=True, dtype={3: str, 4: str})
    if df.shape[1] < 5:
        raise ValueError(f"{path}: expected columns timestamp, frame_index, person_index, skeleton_data, "
                         f"floor_equation; got {list(df.columns)}")
    df.columns = ["timestamp", "frame_index", "person_index", "skeleton_data", "floor_equation", *df.columns[5:]]
    frames, times = df["frame_index"].to_numpy(np.float64), df["timestamp"].to_numpy(np.float64)
    df = df.sort_values(["frame_index", "person_index"]).drop_duplicates("frame_index")  # first person per frame
    vals = [np.array(str(s).split(), dtype=np.float64) for s in df["skeleton_data"]]
    ok = np.array([v.size == 100 for v in vals], dtype=bool)
    if not ok.any():
        return None, frames, times
    xyz = np.stack([v for v, k in zip(vals, ok) if k]).reshape(-1, 20, 5)[..., :3]  # [F, 20, 3]
    floor = np.stack([np.array(str(s).split(), dtype=np.float64) for s in df["floor_equation"][ok]
                      if len(str(s).split()) == 4] or [np.zeros(4)])
    return Stream(df["timestamp"].to_numpy(np.float64)[ok], normalise_pose3d(xyz, floor)), frames, times


def merge_annotations(per_kinect: dict[int, list[tuple[float, float, int]]]) -> list[tuple[float, float, int]]:
    """Merge per-Kinect [start, stop) ms intervals (labels 1..20) on the union of their boundaries [DS§4.3].

    In each elementary segment: with > 2 annotated Kinects and < 2 votes -> 0; unanimous votes are kept;
    otherwise the most frequent label wins and a tie gives 0. Adjacent equal segments are merged.
    """
    bounds = sorted({b for iv in per_kinect.values() for s, e, _ in iv for b in (s, e)})
    out: list[tuple[float, float, int]] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = (a + b) / 2
        votes = [lab for iv in per_kinect.values() for s, e, lab in iv if s <= mid < e and lab > 0]
        label = 0
        if votes and not (len(per_kinect) > 2 and len(votes) < 2):
            ranked = Counter(votes).most_common()
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                label = ranked[0][0]
        if out and out[-1][2] == label and out[-1][1] == a:
            out[-1] = (out[-1][0], b, label)
        else:
            out.append((a, b, label))
    return [iv for iv in out if iv[2] > 0]


@names_its_file
def _read_annotation(path: Path) -> pd.DataFrame:
    ann = read_csv(path, skipinitialspace=True)
    ann.columns = [str(c).strip() for c in ann.columns]
    need = {"setup_id", "kinect_id", "action_id", "start_frame", "stop_frame"}
    if need - set(ann.columns):
        raise ValueError(f"{path}: missing column(s) {sorted(need - set(ann.columns))}")
    return ann


def load_sessions(root: str | Path, progress: bool = True) -> list[Session]:
    """One Session per setup with the 7 views; labels 1..20 -> 0..19, unannotated time -> -1."""
    root = Path(root)
    ann = _read_annotation(root / "annotation.csv")
    files: dict[tuple[int, int], dict[str, Path]] = defaultdict(dict)
    for p in [*(root / "accelerometer").glob("*.txt"), *(root / "skeleton").glob("*.txt")]:
        if m := _FILE.search(p.name):
            files[(int(m.group(1)), int(m.group(2)))][f"{m.group(3)}{int(m.group(4))}"] = p
    sessions = []
    for (setup, subj), fs in progress_bar(sorted(files.items()), desc="cmdfall setups", show=progress):
        streams, per_kinect = {}, {}
        for sid, view in ACC_SENSORS.items():
            if f"I{sid}" in fs:
                streams[view] = read_acc(fs[f"I{sid}"])
        rows = ann[ann["setup_id"] == setup]
        for k in range(1, 8):
            if f"K{k}" not in fs:
                continue
            pose, frames, times = read_skeleton(fs[f"K{k}"])
            if pose is not None and k in KINECTS:
                streams[f"kinect{k}"] = pose
            rk = rows[rows["kinect_id"] == k]
            if len(rk) and len(frames) > 1:
                order = np.argsort(frames)
                to_ms = lambda f, o=order, fr=frames, ti=times: float(np.interp(f, fr[o], ti[o]))  # noqa: E731
                per_kinect[k] = [(to_ms(r.start_frame), to_ms(r.stop_frame), int(r.action_id))
                                 for r in rk.itertuples()]
        if not streams:
            continue
        start = min(s.t_ms.min() for s in streams.values())
        end = max(s.t_ms.max() for s in streams.values())
        lt = np.arange(start, end + 1e-9, 1000.0 / LABEL_HZ)
        labels = np.full(len(lt), -1, dtype=np.int64)
        for a, b, lab in merge_annotations(per_kinect):
            if 1 <= lab <= 20:
                labels[(lt >= a) & (lt < b)] = lab - 1
        sessions.append(Session(subj, f"S{setup}P{subj}", streams, lt, labels, meta={"setup": setup}))
    if not sessions:
        raise FileNotFoundError(f"no S{{setup}}P{{subject}}I*.txt / K*.txt files under {root}/accelerometer or "
                                f"{root}/skeleton")
    return sessions
