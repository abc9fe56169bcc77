"""Generated user datasets in the README's formats ("Your own sensors"): smartwatch CSV recordings and a `.ts` pair.

The signals are learnable: each activity moves the watch at its own frequency, the accelerometer also carries a
per-activity gravity direction, so a tiny model separates the classes in a few epochs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

ACTIVITIES = ("walk", "run", "sit")
_FREQ = {"walk": 1.0, "run": 2.5, "sit": 0.0}
_GRAVITY = {"walk": (0.0, 0.0, 9.81), "run": (0.0, 3.0, 9.3), "sit": (9.81, 0.0, 0.0)}


def readme_block(lang: str, index: int = 0, section: str = "## Your own sensors", doc: str = "README.md") -> str:
    """The `index`-th fenced ```lang block of a section of a Markdown file of the repository (default the README;
    the examples the tests execute)."""
    text = (Path(__file__).resolve().parents[1] / doc).read_text()
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", body, flags=re.S)[index]


def session_frame(subject: int, seed: int, rate_hz: float = 50.0, seconds_per_activity: float = 12.0,
                  gyro: bool = True) -> pd.DataFrame:
    """One recording: t (s, jittered), ax..az (m/s^2), gx..gz (rad/s), activity (with a null gap between bouts)."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = 0.0
    for act in rng.permutation(ACTIVITIES):
        n = int(seconds_per_activity * rate_hz)
        t = t0 + np.arange(n) / rate_hz + rng.uniform(0, 0.2 / rate_hz, n)
        phase = 2 * np.pi * _FREQ[act] * t + rng.uniform(0, 2 * np.pi)
        acc = np.array(_GRAVITY[act]) + 2.0 * np.sin(phase)[:, None] * [1.0, 0.5, 0.2] + 0.3 * rng.standard_normal(
            (n, 3))
        gy = 3.0 * np.cos(phase)[:, None] * [0.2, 1.0, 0.4] * (_FREQ[act] > 0) + 0.1 * rng.standard_normal((n, 3))
        labels = np.full(n, act, dtype=object)
        labels[: int(rate_hz)] = ""  # a null second at each bout start
        rows.append(pd.DataFrame({"t": t, "ax": acc[:, 0], "ay": acc[:, 1], "az": acc[:, 2], "gx": gy[:, 0],
                                  "gy": gy[:, 1], "gz": gy[:, 2], "activity": labels}))
        t0 = t[-1] + 1 / rate_hz
    frame = pd.concat(rows, ignore_index=True)
    return frame if gyro else frame.drop(columns=["gx", "gy", "gz"])


def write_recordings(user_dir: Path, subjects: tuple[int, ...] = (1, 2, 3, 4, 5, 6), manifest: str | None = None
                     ) -> Path:
    """`user_dir/recordings/subject<s>_session.csv` (subject 2 wore no gyroscope) and `user_dir/manifest.yaml`
    (default: the README's recordings manifest)."""
    rec = Path(user_dir) / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    for s in subjects:
        session_frame(s, seed=s, gyro=s != 2).to_csv(rec / f"subject{s}_session.csv", index=False)
    (Path(user_dir) / "manifest.yaml").write_text(manifest or readme_block("yaml", 0))
    return Path(user_dir)


def ts_text(x: np.ndarray, labels: list[str], classes: tuple[str, ...], name: str = "WatchMotions") -> str:
    """UEA/UCR multivariate .ts text of x [N, C, T] with class labels."""
    head = [f"@problemName {name}", "@timeStamps false", "@missing false", "@univariate false",
            f"@dimensions {x.shape[1]}", "@equalLength true", f"@seriesLength {x.shape[2]}",
            f"@classLabel true {' '.join(classes)}", "@data"]
    cases = [":".join(",".join(f"{v:.5f}" for v in dim) for dim in case) + f":{lab}" for case, lab in zip(x, labels)]
    return "\n".join(head + cases) + "\n"


def write_ts_pair(folder: Path, stem: str = "BasicMotions", n: tuple[int, int] = (60, 24), length: int = 100,
                  rate_hz: float = 10.0, seed: int = 0) -> Path:
    """`{stem}_TRAIN.ts` and `{stem}_TEST.ts` with 6 dimensions (acc xyz, gyro xyz) at `rate_hz`."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part, size in zip(("TRAIN", "TEST"), n):
        labels = [ACTIVITIES[i % 3] for i in range(size)]
        x = np.zeros((size, 6, length))
        for i, act in enumerate(labels):
            frame = session_frame(0, seed=int(rng.integers(1 << 30)), rate_hz=rate_hz,
                                  seconds_per_activity=length / rate_hz + 1)
            bout = frame[frame.activity == act].iloc[:length]
            x[i] = bout[["ax", "ay", "az", "gx", "gy", "gz"]].to_numpy().T
        (folder / f"{stem}_{part}.ts").write_text(ts_text(x, labels, ACTIVITIES))
    return folder
