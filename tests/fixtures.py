"""Writers of tiny raw-data fixtures in each dataset's exact raw format (datasets.md §6), built in tmp_path."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

T0 = datetime(2018, 7, 4, 12, 0, 0, tzinfo=UTC)


def dailysport_value(col: int, row: int, act: int, subj: int) -> float:
    """Cell value of a DailySport fixture: identifies column, row and file."""
    return col + 0.01 * row + 100 * act + 1000 * subj


def write_dailysport(root: Path, acts=(1, 2), subjects=range(1, 9), segs=(1, 2)) -> Path:
    """`root/data/aAA/pP/sSS.txt`, 125 lines x 45 comma-separated floats."""
    rows, cols = np.meshgrid(np.arange(125), np.arange(45), indexing="ij")
    for a in acts:
        for p in subjects:
            for s in segs:
                d = root / "data" / f"a{a:02d}" / f"p{p}"
                d.mkdir(parents=True, exist_ok=True)
                np.savetxt(d / f"s{s:02d}.txt", dailysport_value(cols, rows, a, p), delimiter=",", fmt="%.5f")
    return root


def zip_dailysport(src: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((src / "data").rglob("*.txt")):
            zf.write(f, f.relative_to(src).as_posix())
    return archive


def realdisp_rows(t_sec: np.ndarray, label: np.ndarray) -> np.ndarray:
    """[T, 120]: sec, usec, 117 sensor values (acc x of sensor s = 10*s + t), label."""
    x = np.zeros((len(t_sec), 120))
    x[:, 0] = np.floor(t_sec)
    x[:, 1] = np.round((t_sec - np.floor(t_sec)) * 1e6)
    for s in range(9):
        x[:, 2 + 13 * s] = 10 * s + t_sec
        x[:, 3 + 13 * s] = -s
        x[:, 4 + 13 * s] = 9.81
    x[:, 119] = label
    return x


def write_realdisp(root: Path, subject: int = 1, scenario: str = "ideal") -> Path:
    """A log with: 12 s of label 3 (then null), a backward jump, a 6 s piece, a 0.8 s gap, a 2 s piece."""
    t1 = np.arange(0, 12, 0.02)
    lab1 = np.where(t1 < 9, 3, 0)
    t2 = np.arange(1, 7, 0.02)  # backwards in time -> new session
    t3 = 7.8 + np.arange(0, 2, 0.02)  # gap 0.8 s > 500 ms -> new piece, shorter than 5 s -> dropped
    x = np.concatenate([realdisp_rows(t1, lab1), realdisp_rows(t2, np.full(len(t2), 33)),
                        realdisp_rows(t3, np.full(len(t3), 5))])
    x[5, 7] = np.nan  # a non-finite row is dropped
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"subject{subject}_{scenario}.log"
    np.savetxt(path, x, delimiter="\t", fmt="%.6f")
    return path


def openpose_person(x0: float, y0: float, conf: float = 0.9) -> list[float]:
    """75 numbers: 25 BODY_25 joints at (x0 + 10 j, y0 + 5 j)."""
    return [v for j in range(25) for v in (x0 + 10 * j, y0 + 5 * j, conf)]


def write_upfall_trial(root: Path, s: int, a: int, t: int, tags: np.ndarray, hz: float = 18.0,
                       pose: bool = True, pose_gap: tuple[float, float] | None = None) -> Path:
    """Per-trial CSV (2 header lines, 47 columns; acc in g) and skeleton.zip of OpenPose JSON frames."""
    d = root / f"Subject{s}" / f"Activity{a}" / f"Trial{t}"
    d.mkdir(parents=True, exist_ok=True)
    n = len(tags)
    times = [T0 + timedelta(seconds=i / hz) for i in range(n)]
    lines = ["TimeStamps,AnkleAccelerometer,,,,,,," + "," * 38, "Time,x,y,z" + "," * 43]
    for i, ts in enumerate(times):
        vals = np.zeros(47, dtype=object)
        vals[0] = ts.strftime("%Y-%m-%dT%H:%M:%S.%f")
        vals[1:36] = 0.5  # every sensor column = 0.5 g
        vals[15] = 1.0  # belt acc x = 1 g
        vals[43], vals[44], vals[45], vals[46] = s, a, t, int(tags[i])
        lines.append(",".join(str(v) for v in vals))
    (d / f"Subject{s}Activity{a}Trial{t}.csv").write_text("\n".join(lines) + "\n")
    if pose:
        with zipfile.ZipFile(d / "skeleton.zip", "w") as zf:
            for i in range(0, n, 2):  # camera ~ half the sensor rate
                sec = i / hz
                if pose_gap and pose_gap[0] <= sec < pose_gap[1]:
                    continue
                ts = (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H_%M_%S.%f")
                people = [{"pose_keypoints_2d": openpose_person(300, 300)},  # the main person
                          {"pose_keypoints_2d": openpose_person(520, 300)},  # left-most x > 510: dropped
                          {"pose_keypoints_2d": openpose_person(10, 10, conf=1.0)}]  # in the corridor: dropped
                zf.writestr(f"{ts}_keypoints.json", json.dumps({"version": 1.3, "people": people}))
    return d


def write_cmdfall(root: Path, setup: int = 1, subject: int = 1, acc_gap: tuple[float, float] = (10.0, 20.0)) -> Path:
    """accelerometer/, skeleton/ (K1..K3), annotation.csv for one 30-s setup; the wrist acc has a gap."""
    (root / "accelerometer").mkdir(parents=True, exist_ok=True)
    (root / "skeleton").mkdir(parents=True, exist_ok=True)
    base = 1_500_000_000_000.0
    t = base + np.arange(0, 30_000, 20.0)
    for sid in (1, 155):
        gap = (t - base >= acc_gap[0] * 1e3) & (t - base < acc_gap[1] * 1e3)
        keep = np.ones(len(t), bool) if sid == 155 else ~gap
        rows = ["timestamp,x,y,z"] + [f"{int(ti)},0.0,1.0,0.0" for ti in t[keep]]
        (root / "accelerometer" / f"S{setup}P{subject}I{sid}.txt").write_text("\n".join(rows) + "\n")
    tk = base + np.arange(0, 30_000, 50.0)
    for k in (1, 2, 3):
        rows = ["timestamp,frame_index,person_index,skeleton_data,floor_equation"]
        for f, ti in enumerate(tk):
            joints = [v for j in range(20) for v in (0.1 * j, 1.0 + 0.05 * j, 2.0 + 0.01 * j, 100.0, 200.0)]
            skel = " ".join(f"{v:.3f}" for v in joints) if not (k == 2 and f == 3) else "1 2 3"  # one bad frame
            rows.append(f"{int(ti)},{f},0,{skel},0.0 1.0 0.0 1.2")
        (root / "skeleton" / f"S{setup}P{subject}K{k}.txt").write_text("\n".join(rows) + "\n")
    # frames at 20 fps: frame f <-> f*50 ms. Label 8 on K1-K3 for 4-12 s; 1 on K1,K2 / 2 on K3 for 14-26 s.
    ann = ["setup_id,kinect_id,action_id,start_frame,stop_frame"]
    for k in (1, 2, 3):
        ann.append(f"{setup},{k},8,80,240")
        ann.append(f"{setup},{k},{1 if k < 3 else 2},280,520")
    (root / "annotation.csv").write_text("\n".join(ann) + "\n")
    return root
