"""Difficulty check of the synthetic dataset with a quick stand-in classifier (not RALIS).

Windows every recording (4 s, step 2 s, subject split of the registry), computes simple per-window
statistics per view and fits a random forest on the training subjects: once per single view and once on all
views concatenated. Prints test macro-F1 per setting. Usage:

    python scripts/calibrate_synthetic.py [--noise-scale 1.0] [--seed 0] [--rotation-invariant]
    python scripts/calibrate_synthetic.py --cnn [--epochs 8] [--no-augment]

`--rotation-invariant` keeps only features that survive a random 3D rotation of each accelerometer
(what the ±180° rotation augmentation leaves a model to learn from). `--cnn` trains instead a small
mean-fused per-view ResNet1D (width 32; CE on the fusion and on every single view, as RALIS's eq. 11)
through ralis.data.loader with the default augmentations, and evaluates single views and all views.
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


def _cnn(by_split: dict, spec, epochs: int, augment: bool, seed: int) -> dict[str, float]:
    """Train a mean-fused per-view ResNet1D stand-in and return test macro-F1 per single view and 'all'."""
    import torch
    from torch import nn

    from ralis.config import AugmentConfig
    from ralis.data.augment import Augmenter
    from ralis.data.loader import make_eval_loader, make_train_streams
    from ralis.data.store import WindowedSplit
    from ralis.model.encoder import ResNet1D
    from ralis.runtime import seed_everything

    seed_everything(seed)
    torch.set_num_threads(1)  # a shared 2-core machine thrashes with more threads
    splits = {}
    for name, rows in by_split.items():
        views = {v.name: np.stack(rows[v.name]).astype(np.float32) for v in spec.views}
        n = len(rows["y"])
        splits[name] = WindowedSplit(views, np.ones((n, len(views)), bool), np.array(rows["y"]), np.zeros(n, np.int64),
                                     spec.classes)
    encoders = nn.ModuleList(ResNet1D(v.channels, width=32, dropout=0.2) for v in spec.views)
    head = nn.Linear(32, spec.n_classes)
    opt = torch.optim.Adam([*encoders.parameters(), *head.parameters()], lr=1e-3)
    aug = Augmenter(spec.views, AugmentConfig(), seed) if augment else None

    def logits(batch):
        z = torch.stack([enc(x) for enc, x in zip(encoders, batch.views)])  # [V, N, D]
        m = batch.present.T[..., None].float()  # [V, N, 1]
        fused = (z * m).sum(0) / m.sum(0)  # [N, D]
        return head(fused), head(z)  # [N, K], [V, N, K]

    streams = make_train_streams(splits["train"], 32, 32, seed=seed, augmenter=aug)
    for _ in range(epochs):
        encoders.train(), head.train()
        for batch in streams.cls_loader:
            fused, single = logits(batch)
            loss = nn.functional.cross_entropy(fused, batch.labels) + nn.functional.cross_entropy(
                single.flatten(0, 1), batch.labels.repeat(len(spec.views)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoders.eval(), head.eval()
    scores = {}
    with torch.no_grad():
        for name in [*spec.view_names, "all"]:
            keep = torch.tensor([name in ("all", v) for v in spec.view_names])
            pred, true = [], []
            for batch in make_eval_loader(splits["test"], 256):
                pred.append(logits(batch.select_views(keep))[0].argmax(1))
                true.append(batch.labels)
            scores[name] = f1_score(torch.cat(true).numpy(), torch.cat(pred).numpy(), average="macro")
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rotation-invariant", action="store_true")
    ap.add_argument("--cnn", action="store_true")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--no-augment", action="store_true")
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
    if args.cnn:
        t0 = time.time()
        scores = _cnn(by_split, spec, args.epochs, not args.no_augment, args.seed)
        for name, f1 in scores.items():
            print(f"{name:12s} test macro-F1 {f1:.3f}")
        print(f"mean single view {np.mean([scores[v] for v in spec.view_names]):.3f}; all views "
              f"{scores['all']:.3f} (CNN, {args.epochs} epochs, {time.time() - t0:.0f} s)")
        return
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
