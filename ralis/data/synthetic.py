"""Synthetic multiview HAR: a small physical simulation, the offline default dataset of the pipeline.

A stick figure (ralis.data.body) performs one of ten activities per recording. Five accelerometers
(wrists, waist, ankles; 50 Hz) measure specific force in their own frame, rotated by a per-subject
mounting; a camera reports 3D positions of nine trunk/thigh joints (20 Hz, 27 channels).
The catalogue spreads information unevenly over the views (CLASS_VIEWS): waving is seen only by the
wrists (left vs both arms only by the right wrist and vice versa), marching vs straight-leg raising only
by the ankles, and the static postures only through the direction of gravity (waist and pose clearly; the
wrist and ankle units, strapped on within ±30° of their nominal orientation per subject, see the limb's tilt,
which the arm's rest pose blurs). Single views are therefore ambiguous and fusion resolves them.
Each activity's motion is modulated by a smooth random intensity envelope whose lulls make some windows
genuinely ambiguous (this sets the ceiling of the all-view score; docs/notes/data-synthetic.md).
"""

from __future__ import annotations

import numpy as np

from ralis.config import SyntheticConfig
from ralis.data.body import (
    ANGLES,
    Skeleton,
    accelerometer,
    forward_kinematics,
    pose_view,
    random_rotation,
    rot,
)
from ralis.data.session import Session, Stream

__all__ = ["SYNTHETIC_CLASSES", "ACC_VIEWS", "POSE_VIEW", "CLASS_VIEWS", "SIM_HZ", "class_view_info",
           "generate_sessions", "simulate_session", "subject_traits"]

SIM_HZ = 100.0  # internal simulation rate; acc (50 Hz) and pose (20 Hz) are exact sub-grids
ACC_HZ, POSE_HZ = 50.0, 20.0
ACC_VIEWS = {"left_wrist": ("l_wrist", "l_forearm"), "right_wrist": ("r_wrist", "r_forearm"),
             "waist": ("pelvis", "pelvis"), "left_ankle": ("l_ankle", "l_shank"),
             "right_ankle": ("r_ankle", "r_shank")}  # view -> (point, segment frame)
POSE_VIEW = "pose3d"
MAX_SUBJECTS = 12  # the registry split (ralis.data.registry.SYNTHETIC) covers subjects 1..12

# name -> (posture, motion, base frequency Hz of one motion cycle)
ACTIVITIES = {
    "stand": ("upright", "static", 0.0),
    "recline": ("recline", "static", 0.0),
    "lie": ("lie", "static", 0.0),
    "wave_left": ("upright", "wave_l", 1.0),
    "wave_right": ("upright", "wave_r", 1.0),
    "wave_both": ("upright", "wave_lr", 1.0),
    "march": ("upright", "march", 0.8),
    "leg_raise": ("upright", "leg_raise", 0.8),
    "jog": ("upright", "jog", 1.4),
    "squat": ("upright", "squat", 0.35),
}
SYNTHETIC_CLASSES: tuple[str, ...] = tuple(ACTIVITIES)
# posture -> (body-to-world pitch in degrees, pelvis height in m); negative pitch leans backwards
POSTURES = {"upright": (0.0, 0.95), "recline": (-50.0, 0.55), "lie": (-90.0, 0.15)}
# views whose signal separates the class from the classes that look the same elsewhere
CLASS_VIEWS: dict[str, tuple[str, ...]] = {
    "stand": ("waist", "pose3d"),  # posture (gravity direction); motionless everywhere
    "recline": ("waist", "pose3d"),
    "lie": ("waist", "pose3d"),
    "wave_left": ("left_wrist", "right_wrist"),  # left wrist: moving; right wrist: still (vs wave_both)
    "wave_right": ("left_wrist", "right_wrist"),
    "wave_both": ("left_wrist", "right_wrist"),
    "march": ("left_ankle", "right_ankle"),  # same thighs, pelvis and arms as leg_raise; shanks differ
    "leg_raise": ("left_ankle", "right_ankle"),
    "jog": ("left_wrist", "right_wrist", "waist", "left_ankle", "right_ankle", "pose3d"),
    "squat": ("left_wrist", "right_wrist", "waist", "left_ankle", "right_ankle", "pose3d"),
}
# per-subject variation (uniform ranges) and noise per view
SPEED, AMPLITUDE, SIZE = (0.85, 1.15), (0.85, 1.15), (0.92, 1.08)
MOUNT_DEG = {"waist": 15.0, "default": 30.0}  # belt clip: roughly aligned; straps: worn as instructed, +-30 deg
ACC_NOISE, POSE_NOISE = (0.3, 0.8), (0.01, 0.03)  # m/s^2 and m, times SyntheticConfig.noise_scale
ENVELOPE_MEAN, ENVELOPE_SD, ENVELOPE_SEC = 0.6, 0.6, 15.0  # intensity pauses (env = 0) make windows ambiguous
KNEE_STYLE = {"march": (1.0, 0.25), "leg_raise": (0.25, 0.25)}  # knee gain ~ N(mean, sd): the classes overlap
POSTURE_SD_DEG = 10.0  # per-recording jitter of the posture pitch


def class_view_info() -> dict[str, dict]:
    """Manifest-ready description: per class, its posture, motion, frequency and informative views."""
    return {c: {"posture": p, "motion": m, "freq_hz": f, "informative_views": list(CLASS_VIEWS[c])}
            for c, (p, m, f) in ACTIVITIES.items()}


def subject_traits(subject: int, seed: int, noise_scale: float = 1.0) -> dict:
    """Per-subject speed, amplitude, body size, sensor mountings [3, 3] and noise level per view."""
    rng = np.random.default_rng([seed, subject, 0])
    traits = {"speed": rng.uniform(*SPEED), "amplitude": rng.uniform(*AMPLITUDE), "size": rng.uniform(*SIZE)}
    traits["mount"] = {v: random_rotation(rng, MOUNT_DEG.get(v, MOUNT_DEG["default"])) for v in ACC_VIEWS}
    traits["noise"] = {v: noise_scale * rng.uniform(*ACC_NOISE) for v in ACC_VIEWS}
    traits["noise"][POSE_VIEW] = noise_scale * rng.uniform(*POSE_NOISE)
    return traits


def _smooth(rng: np.random.Generator, t: np.ndarray, period_sec: float, n: int = 4) -> np.ndarray:
    """Zero-mean, unit-variance smooth random curve: n sinusoids with periods around `period_sec`."""
    freqs = rng.uniform(0.5, 1.5, n) / period_sec
    phases = rng.uniform(0, 2 * np.pi, n)
    return np.sqrt(2.0 / n) * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(0)


def _motion(motion: str, ph: np.ndarray, env: np.ndarray, rest: dict, style: dict,
            sk: Skeleton) -> tuple[dict, np.ndarray]:
    """Joint angles (radians, [T] each) and pelvis bounce [T] for one motion at phase ph and intensity env."""
    d = np.deg2rad
    a = {k: np.full_like(ph, rest.get(k, 0.0)) for k in ANGLES}
    bounce = np.zeros_like(ph)
    if motion.startswith("wave"):
        for side in ("l", "r"):
            if side in motion[5:]:
                a[f"{side}_sh_flex"] = a[f"{side}_sh_flex"] + env * d(70 + 45 * np.sin(ph))
                a[f"{side}_elbow"] = a[f"{side}_elbow"] + env * d(55 + 40 * np.sin(ph - 0.8))
                a[f"{side}_sh_abd"] = a[f"{side}_sh_abd"] + env * d(15)
    elif motion in ("march", "leg_raise"):
        for side, off in (("l", 0.0), ("r", np.pi)):
            lift = env * np.clip(np.sin(ph + off), 0, None)  # one leg at a time
            a[f"{side}_hip"] = a[f"{side}_hip"] + d(60) * lift
            # march bends the knee so the shank stays roughly vertical; leg_raise keeps it nearly straight
            a[f"{side}_knee"] = a[f"{side}_knee"] + d(80) * style["knee"] * lift
        bounce = 0.015 * env * np.cos(2 * ph)
    elif motion == "jog":
        for side, off in (("l", 0.0), ("r", np.pi)):
            a[f"{side}_hip"] = a[f"{side}_hip"] + env * d(10 + 30 * np.sin(ph + off))
            a[f"{side}_knee"] = a[f"{side}_knee"] + env * d(45 + 40 * np.sin(ph + off + 1.2))
            a[f"{side}_sh_flex"] = a[f"{side}_sh_flex"] + env * d(35 * np.sin(ph + off + np.pi))
            a[f"{side}_elbow"] = a[f"{side}_elbow"] + env * d(75)
        a["trunk"] = a["trunk"] + env * d(8)
        bounce = 0.04 * env * np.cos(2 * ph)
    elif motion == "squat":
        depth = env * (1 - np.cos(ph)) / 2
        for side in ("l", "r"):
            a[f"{side}_hip"] = a[f"{side}_hip"] + d(95) * depth
            a[f"{side}_knee"] = a[f"{side}_knee"] + d(110) * depth
            a[f"{side}_sh_flex"] = a[f"{side}_sh_flex"] + d(70) * depth
        a["trunk"] = a["trunk"] + d(35) * depth
        # feet stay on the floor: the pelvis drops by the loss of vertical leg length
        reach = sk.thigh * np.cos(a["l_hip"]) + sk.shank * np.cos(a["l_hip"] - a["l_knee"])
        bounce = reach - (sk.thigh * np.cos(rest.get("l_hip", 0.0)) + sk.shank * np.cos(rest.get("l_knee", 0.0)))
    elif motion != "static":
        raise ValueError(f"unknown motion {motion!r}")
    return a, bounce


def simulate_session(activity: str, traits: dict, rng: np.random.Generator, duration_sec: float) -> dict:
    """One recording: {view: values} with acc views [T50, 3] and pose [T20, 27] (noise included)."""
    if activity not in ACTIVITIES:
        raise ValueError(f"unknown synthetic activity {activity!r}; known: {SYNTHETIC_CLASSES}")
    posture, motion, freq = ACTIVITIES[activity]
    n = int(round(duration_sec * SIM_HZ))
    t = np.arange(n) / SIM_HZ
    sk = Skeleton().scaled(traits["size"])
    # per recording: rest pose of the arms, heading, phase, slowly drifting speed, intensity envelope
    rest = {"l_sh_abd": np.deg2rad(8 + rng.normal(0, 4)), "r_sh_abd": np.deg2rad(8 + rng.normal(0, 4)),
            "l_sh_flex": np.deg2rad(rng.normal(0, 8)), "r_sh_flex": np.deg2rad(rng.normal(0, 8)),
            "l_elbow": np.deg2rad(15 + rng.normal(0, 8)), "r_elbow": np.deg2rad(15 + rng.normal(0, 8)),
            "l_knee": np.deg2rad(4), "r_knee": np.deg2rad(4)}
    speed = freq * traits["speed"] * (1 + 0.05 * _smooth(rng, t, 8.0))
    ph = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(speed) / SIM_HZ
    env = traits["amplitude"] * np.clip(ENVELOPE_MEAN + ENVELOPE_SD * _smooth(rng, t, ENVELOPE_SEC), 0.0, 1.0)
    style = {"knee": max(0.0, rng.normal(*KNEE_STYLE[motion])) if motion in KNEE_STYLE else 0.0}
    angles, bounce = _motion(motion, ph, env, rest, style, sk)
    pitch, height = POSTURES[posture]
    pitch = np.deg2rad(pitch + rng.normal(0, POSTURE_SD_DEG))
    world = rot("z", np.array([rng.uniform(0, 2 * np.pi)]))[0] @ rot("y", np.array([pitch]))[0]
    root = np.stack([np.zeros(n), np.zeros(n), bounce], axis=1)  # [T, 3] body frame
    kin = forward_kinematics(angles, root, world, sk)
    out = {}
    for view, (point, frame) in ACC_VIEWS.items():
        f = accelerometer(kin.points[point], kin.frames[frame], traits["mount"][view], 1.0 / SIM_HZ)
        f = f[:: int(SIM_HZ / ACC_HZ)]  # [T50, 3]
        out[view] = f + rng.normal(0, traits["noise"][view], f.shape)
    pose = pose_view(kin, height)[:: int(SIM_HZ / POSE_HZ)]
    out[POSE_VIEW] = pose + rng.normal(0, traits["noise"][POSE_VIEW], pose.shape)
    return out


def generate_sessions(cfg: SyntheticConfig) -> list[Session]:
    """All recordings: subjects 1..n_subjects x SYNTHETIC_CLASSES x sessions_per_class, deterministic in cfg.seed.

    Streams are at the target rates (acc 50 Hz, pose 20 Hz) with integer-ms timestamps; the label track is
    on the 50-Hz grid and constant (one activity per recording).
    """
    if not 1 <= cfg.n_subjects <= MAX_SUBJECTS:
        raise ValueError(f"params.yaml synthetic.n_subjects = {cfg.n_subjects}: must lie in 1..{MAX_SUBJECTS} "
                         "(the subject split in ralis/data/registry.py SYNTHETIC covers subjects 1..12)")
    if cfg.sessions_per_class < 1 or cfg.session_sec < 1.0:
        raise ValueError(f"params.yaml synthetic: sessions_per_class >= 1 and session_sec >= 1 needed, got "
                         f"{cfg.sessions_per_class} and {cfg.session_sec}")
    sessions = []
    for subject in range(1, cfg.n_subjects + 1):
        traits = subject_traits(subject, cfg.seed, cfg.noise_scale)
        for label, activity in enumerate(SYNTHETIC_CLASSES):
            for rep in range(cfg.sessions_per_class):
                rng = np.random.default_rng([cfg.seed, subject, 1 + label, rep])
                values = simulate_session(activity, traits, rng, cfg.session_sec)
                streams = {}
                for view, x in values.items():
                    step_ms = 1000 // (POSE_HZ if view == POSE_VIEW else ACC_HZ)
                    streams[view] = Stream(np.arange(len(x), dtype=np.int64) * int(step_ms), x.astype(np.float32))
                label_t = streams["waist"].t_ms.copy()
                meta = {"activity": activity, "informative_views": list(CLASS_VIEWS[activity]),
                        "posture": ACTIVITIES[activity][0], "speed": float(traits["speed"]),
                        "amplitude": float(traits["amplitude"]),
                        "noise": {k: float(v) for k, v in traits["noise"].items()}}
                sessions.append(Session(subject=subject, name=f"s{subject:02d}_{activity}_{rep}", streams=streams,
                                        label_t_ms=label_t, labels=np.full(len(label_t), label, dtype=np.int64),
                                        meta=meta))
    return sessions

