"""Stick-figure kinematics and the sensors that observe it (the physics of the synthetic dataset).

Body frame: x forward, y left, z up (standing); the pelvis is the root. Joint angles are in radians and
arrays of shape [T]; every rotation is an array [T, 3, 3]. A limb hanging straight down points along -z.
Forward kinematics turns joint angles into world positions and segment orientations; accelerometers
measure specific force (second derivative of position minus gravity) in their own rotated frame; the pose
camera reports 3D joint positions (z up, centred per frame in x and y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GRAVITY", "ANGLES", "POSE_JOINTS", "Skeleton", "Kinematics", "rot", "rotation_matrix", "random_rotation",
           "forward_kinematics", "accelerometer", "pose_view"]

GRAVITY = 9.81  # m/s^2, along -z in the world frame
ANGLES = ("trunk", "l_sh_flex", "r_sh_flex", "l_sh_abd", "r_sh_abd", "l_elbow", "r_elbow",
          "l_hip", "r_hip", "l_knee", "r_knee")  # flexion angles; abduction moves the arm away from the body
# The camera sees trunk and thighs only (hands and feet cropped): 9 joints x 3 = 27 channels.
POSE_JOINTS = ("head", "neck", "l_shoulder", "r_shoulder", "pelvis", "l_hip", "r_hip", "l_knee", "r_knee")


def rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Right-handed rotation about a coordinate axis, angle [T] -> [T, 3, 3]."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s, o, z = np.cos(angle), np.sin(angle), np.ones_like(angle), np.zeros_like(angle)
    rows = {"x": ((o, z, z), (z, c, -s), (z, s, c)),
            "y": ((c, z, s), (z, o, z), (-s, z, c)),
            "z": ((c, -s, z), (s, c, z), (z, z, o))}[axis]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def rotation_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation [3, 3] about `axis` (normalised here) by `angle` radians (Rodrigues' formula)."""
    axis = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm == 0:
        raise ValueError("rotation axis must be non-zero")
    ux, uy, uz = axis / norm
    k = np.array([[0, -uz, uy], [uz, 0, -ux], [-uy, ux, 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """A rotation [3, 3] about a uniformly random axis by an angle U[-max_deg, max_deg]."""
    return rotation_matrix(rng.normal(size=3), np.deg2rad(rng.uniform(-max_deg, max_deg)))


@dataclass(frozen=True)
class Skeleton:
    """Segment lengths in metres (scaled per subject)."""

    spine: float = 0.50
    neck: float = 0.22
    shoulder_half: float = 0.19
    upper_arm: float = 0.30
    forearm: float = 0.27
    hip_half: float = 0.10
    thigh: float = 0.45
    shank: float = 0.44

    def scaled(self, factor: float) -> Skeleton:
        return Skeleton(**{k: v * factor for k, v in self.__dict__.items()})


@dataclass
class Kinematics:
    """World positions [T, 3] of named points and world orientations [T, 3, 3] of named segments."""

    points: dict[str, np.ndarray]
    frames: dict[str, np.ndarray]


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate a body vector v [3] (or [T, 3]) by r [T, 3, 3] -> [T, 3]."""
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


def forward_kinematics(angles: dict[str, np.ndarray], root: np.ndarray, world: np.ndarray,
                       sk: Skeleton) -> Kinematics:
    """Joint angles [T] -> world kinematics.

    root [T, 3]: pelvis position in the body frame (bounce); world [T, 3, 3] or [3, 3]: body-to-world
    rotation (posture and heading). The pelvis itself does not tilt relative to the body frame.
    """
    t = root.shape[0]
    world = np.broadcast_to(world, (t, 3, 3))
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    trunk = rot("y", angles["trunk"])  # forward flexion tips +z towards +x
    neck = root + _apply(trunk, np.array([0, 0, sk.spine]))
    pts = {"pelvis": root, "neck": neck, "head": neck + _apply(trunk, np.array([0, 0, sk.neck]))}
    frames = {"pelvis": eye}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        shoulder = neck + _apply(trunk, np.array([0, sign * sk.shoulder_half, 0]))
        upper = trunk @ rot("x", sign * angles[f"{side}_sh_abd"]) @ rot("y", -angles[f"{side}_sh_flex"])
        elbow = shoulder + _apply(upper, np.array([0, 0, -sk.upper_arm]))
        fore = upper @ rot("y", -angles[f"{side}_elbow"])  # elbow flexion swings the forearm forward
        hip = root + np.array([0, sign * sk.hip_half, 0])
        thigh = rot("y", -angles[f"{side}_hip"])
        knee = hip + _apply(thigh, np.array([0, 0, -sk.thigh]))
        shank = thigh @ rot("y", angles[f"{side}_knee"])  # knee flexion swings the shank backward
        pts.update({f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_hip": hip, f"{side}_knee": knee,
                    f"{side}_wrist": elbow + _apply(fore, np.array([0, 0, -sk.forearm])),
                    f"{side}_ankle": knee + _apply(shank, np.array([0, 0, -sk.shank]))})
        frames.update({f"{side}_forearm": fore, f"{side}_shank": shank})
    points = {k: _apply(world, p) for k, p in pts.items()}  # [T, 3] world positions
    return Kinematics(points, {k: world @ f for k, f in frames.items()})


def accelerometer(position: np.ndarray, frame: np.ndarray, mount: np.ndarray, dt: float) -> np.ndarray:
    """Specific force in the sensor frame: R^T (d2p/dt2 + g z_hat), R = segment frame x mounting.

    position [T, 3] world metres, frame [T, 3, 3] segment-to-world, mount [3, 3] sensor-to-segment.
    A unit at rest reads |f| = 9.81 m/s^2 pointing "up" in its own frame.
    """
    acc = np.gradient(np.gradient(position, dt, axis=0, edge_order=2), dt, axis=0, edge_order=2)  # [T, 3]
    acc[:, 2] += GRAVITY
    sensor = frame @ mount  # [T, 3, 3] sensor-to-world
    return np.einsum("tji,tj->ti", sensor, acc)  # R^T f


def pose_view(kin: Kinematics, height: float) -> np.ndarray:
    """3D positions of POSE_JOINTS [T, 27] (joint-major xyz), z up (pelvis root at `height` m above the
    floor), x and y centred per frame on the mean of the joints."""
    joints = np.stack([kin.points[j] for j in POSE_JOINTS], axis=1)  # [T, J, 3]
    joints[:, :, :2] -= joints[:, :, :2].mean(axis=1, keepdims=True)
    joints[:, :, 2] += height
    return joints.reshape(joints.shape[0], -1)
