"""Difficulty check of the synthetic dataset with a quick stand-in classifier (not RALIS).

Windows every recording (4 s, step 2 s, subject split of the registry), computes simple per-window
statistics per view and fits a random forest on the training subjects: once per single view and once on all
views concatenated. Prints test macro-F1 per setting. Usage:

    python scripts/calibrate_synthetic.py [--noise-scale 1.0] [--seed 0] [--rotation-invariant]

`--rotation-invariant` keeps only features that survive a random 3D rotation of each accelerometer
(what the ±180° rotation augmentation leaves a model to learn from).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score

from ralis.config import SyntheticConfig
from ralis.data.registry import get_dataset
from ralis.data.synthetic import generate_sessions


def _features(x: np.ndarray, modality: str, invariant: bool) -> np.ndarray:
    """Per-window statistics of one view, x [N, T, C] -> [N, F]."""
    feats = []
    if modality == "acc":
        mag = np.linalg.norm(x, axis=2)  # [N, T]
        spec = np.abs(np.fft.rfft(mag - mag.mean(1, keepdims=True), axis=1)) ** 2
        bands = np.array_split(spec[:, 1:41], 8, axis=1)  # 0.25-10 Hz in 8 bands
        feats += [mag.mean(1), mag.std(1), mag.min(1), mag.max(1), *[b.sum(1) for b in bands]]
        mean = x.mean(1)  # [N, 3]
        # angle between the mean (gravity) and the instantaneous vector: rotation invariant
        cos = np.einsum("ntc,nc->nt", x, mean) / (mag * np.linalg.norm(mean, axis=1, keepdims=True) + 1e-9)
        feats += [cos.mean(1), cos.std(1), cos.min(1)]
        if not invariant:
            feats += [*mean.T, *x.std(1).T]
    else:
        feats += [*x.mean(1).T, *x.std(1).T, *(x.max(1) - x.min(1)).T]
    return np.stack(feats, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rotation-invariant", action="store_true")
    args = ap.parse_args()
    spec = get_dataset("synthetic")
    t0 = time.time()
    sessions = generate_sessions(SyntheticConfig(seed=args.seed, noise_scale=args.noise_scale))
    t_gen = time.time() - t0
    by_split = {s: {v.name: [] for v in spec.views} | {"y": []} for s in spec.split}
    split_of = {subj: s for s, subjects in spec.split.items() for subj in subjects}
    for sess in sessions:
        rows = by_split[split_of[sess.subject]]
        for v in spec.views:
            x = sess.streams[v.name].values
            w, step = int(spec.window_sec * v.rate_hz), int(spec.step_sec * v.rate_hz)
            starts = range(0, len(x) - w + 1, step)
            rows[v.name] += [x[s:s + w] for s in starts]
        rows["y"] += [int(sess.labels[0])] * len(starts)
    feats = {s: {v.name: _features(np.stack(r[v.name]), v.modality, args.rotation_invariant) for v in spec.views}
             for s, r in by_split.items()}
    y = {s: np.array(r["y"]) for s, r in by_split.items()}
    print(f"generated {len(sessions)} sessions in {t_gen:.1f} s; windows " +
          ", ".join(f"{s}={len(y[s])}" for s in y))
    scores = {}
    for name in [*spec.view_names, "all"]:
        views = spec.view_names if name == "all" else (name,)
        xtr = np.concatenate([feats["train"][v] for v in views], axis=1)
        xte = np.concatenate([feats["test"][v] for v in views], axis=1)
        clf = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(xtr, y["train"])
        scores[name] = f1_score(y["test"], clf.predict(xte), average="macro")
        print(f"{name:12s} test macro-F1 {scores[name]:.3f}")
    single = np.mean([scores[v] for v in spec.view_names])
    print(f"mean single view {single:.3f}; all views {scores['all']:.3f}")


if __name__ == "__main__":
    main()
