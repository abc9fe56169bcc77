"""Pose views: UP-Fall 2D OpenPose skeletons [DS§3.3] and CMDFall 3D Kinect skeletons [DS§4.3].

2D (UP-Fall Camera2, OpenPose BODY_25): per frame the main person is selected, 9 joints kept
(18 channels, interleaved x,y), confidences < 0.05 -> NaN, gaps interpolated over time, then each frame
is centred on MidHip and divided by its skeleton size sqrt(IQR_x^2 + IQR_y^2) + 1e-3.
3D (CMDFall Kinect v1, 20 joints x 3 = 60 channels): swap Y/Z (z vertical), rotate so that the mean
floor-plane normal of the file points along +z, subtract the per-frame mean (x, y), subtract the
session's 10th-percentile z.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ralis.data.session import Stream
from ralis.io import reading

__all__ = ["BODY25_KEPT", "BODY25_MIDHIP", "frame_time_ms", "select_main_person", "read_openpose_zip",
           "normalise_pose2d", "floor_rotation", "normalise_pose3d"]

# BODY_25 indices: Neck 1, RElbow 3, RWrist 4, LElbow 6, LWrist 7, MidHip 8, RKnee 10, RAnkle 11, LKnee 13, LAnkle 14
BODY25_KEPT = (1, 3, 6, 4, 7, 10, 13, 11, 14)  # Neck, RElbow, LElbow, RWrist, LWrist, RKnee, LKnee, RAnkle, LAnkle
BODY25_MIDHIP = 8
MIN_CONF = 0.05


def frame_time_ms(member: str) -> float:
    """UTC ms from an OpenPose file name `%Y-%m-%dT%H_%M_%S.%f_keypoints.json`."""
    stem = Path(member).name.removesuffix("_keypoints.json")
    try:
        dt = datetime.strptime(stem, "%Y-%m-%dT%H_%M_%S.%f").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"OpenPose frame {member!r}: expected '<%Y-%m-%dT%H_%M_%S.%f>_keypoints.json'") from None
    return dt.timestamp() * 1000.0


def select_main_person(people: list[np.ndarray]) -> np.ndarray:
    """Camera2 main-person rule [DS§3.3]; each person is [25, 3] (x, y, conf) with low-conf joints NaN.

    Drops people whose left-most joint x > 510, whose lowest joint y < 255, or who lie entirely in the
    upper-left corridor (120x + 203y - 57449 <= 0); keeps the remaining one or the most confident.
    Returns [25, 3], all NaN when nobody is left.
    """
    kept = []
    for p in people:
        x, y = p[:, 0], p[:, 1]
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            continue
        if x[ok].min() > 510 or y[ok].max() < 255 or np.all(120 * x[ok] + 203 * y[ok] - 57449 <= 0):
            continue
        kept.append(p)
    if not kept:
        return np.full((25, 3), np.nan)
    return max(kept, key=lambda p: float(np.nansum(p[:, 2])))


def _frame_people(doc: dict) -> list[np.ndarray]:
    people = []
    for person in doc.get("people", []):
        kp = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float64)
        if kp.size != 75:
            continue
        kp = kp.reshape(25, 3)
        kp[kp[:, 2] < MIN_CONF, :2] = np.nan
        people.append(kp)
    return people


def read_openpose_zip(path: Path) -> Stream | None:
    """One UP-Fall trial's `skeleton.zip` -> normalised 2D pose stream [F, 18]; None if nobody is ever found."""
    with reading(path, "re-create this zip of the trial's OpenPose JSON files"), zipfile.ZipFile(path) as zf:
        members = sorted(m for m in zf.namelist() if m.endswith("_keypoints.json"))
        frames = [(frame_time_ms(m), select_main_person(_frame_people(json.loads(zf.read(m))))) for m in members]
    if not frames:
        raise ValueError(f"{path}: contains no '*_keypoints.json' OpenPose files")
    frames.sort(key=lambda f: f[0])
    t = np.array([f[0] for f in frames])
    joints = np.stack([f[1][list(BODY25_KEPT) + [BODY25_MIDHIP], :2] for f in frames])  # [F, 10, 2]
    if not np.isfinite(joints).any():
        return None
    return Stream(t, normalise_pose2d(t, joints))


def _interp_nan(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of every column, edges held (interpolate + back-fill)."""
    out = x.copy()
    for c in range(x.shape[1]):
        ok = np.isfinite(x[:, c])
        if ok.any() and not ok.all():
            out[:, c] = np.interp(t, t[ok], x[ok, c])
    return out


def normalise_pose2d(t_ms: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """[F, 10, 2] (9 kept joints + MidHip last) -> [F, 18] interleaved x,y, MidHip-centred, size-scaled."""
    f = joints.shape[0]
    flat = _interp_nan(t_ms, joints.reshape(f, -1)).reshape(f, -1, 2)  # [F, 10, 2]
    kept, mid = flat[:, :-1], flat[:, -1:]  # [F, 9, 2], [F, 1, 2]
    centred = kept - mid
    with np.errstate(all="ignore"):
        q75, q25 = np.nanpercentile(kept, [75, 25], axis=1)  # each [F, 2]
        size = np.sqrt(((q75 - q25) ** 2).sum(axis=1)) + 1e-3  # [F]
    out = centred / size[:, None, None]
    return np.nan_to_num(out.reshape(f, -1), nan=0.0)  # [F, 18]


def floor_rotation(floor_eq: np.ndarray) -> np.ndarray:
    """Rotation [3, 3] taking the (Y/Z-swapped) mean floor normal to +z; identity if no valid plane.

    The author hard-coded one matrix per Kinect (K1-K5) from the mean floor plane; those matrices are not
    public, so we derive the rotation (Rodrigues, smallest angle) from the file's mean plane (a, b, c, d).
    """
    eq = np.asarray(floor_eq, dtype=np.float64).reshape(-1, 4)
    eq = eq[np.isfinite(eq).all(axis=1) & (np.linalg.norm(eq[:, :3], axis=1) > 1e-6)]
    if len(eq) == 0:
        return np.eye(3)
    a, b, c = eq[:, :3].mean(axis=0)
    n = np.array([a, c, b])  # the same Y/Z swap as the points
    n /= np.linalg.norm(n)
    if n[2] < 0:
        n = -n
    v, cos = np.cross(n, [0.0, 0.0, 1.0]), n[2]
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + cos)


def normalise_pose3d(xyz: np.ndarray, floor_eq: np.ndarray) -> np.ndarray:
    """[F, 20, 3] Kinect (X, Y, Z) metres -> [F, 60] joint-major x,y,z, floor-aligned and centred."""
    p = xyz[..., [0, 2, 1]]  # swap Y/Z: z becomes vertical
    p = p @ floor_rotation(floor_eq).T  # [F, 20, 3]
    p[..., :2] -= p[..., :2].mean(axis=1, keepdims=True)  # per-frame mean (x, y) over joints
    if np.isfinite(p[..., 2]).any():
        p[..., 2] -= np.nanpercentile(p[..., 2], 10)  # session 10th-percentile height
    return p.reshape(len(p), -1)
