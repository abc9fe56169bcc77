"""Whole-step and time-to-F1 benchmarks of RALIS training at params.yaml's profile, printed as ratios of one run.

    python benchmarks/training.py                       # step breakdown (about 1 min)
    python benchmarks/training.py --time-to-f1 0.85     # + train the default profile and the previous quick
                                                        #   settings on seeds 0 and 1 until their mean test F1
                                                        #   reaches 0.85 (about 15 min)

1. whole training step (one thread), alternating the variants step by step, medians:
   data (index gather + batched augmentation) | forward + losses | backward | Adam, at the profile's batch sizes;
   the data part against the per-window reference (Augmenter on each window, then stacking), and the encoder
   bank's grouped call against the per-view loop (forward + backward of the same rows).
2. time to F1 (--time-to-f1): seconds of training (validation included, the probe of the test F1 excluded) until
   the mean over --seeds of the all-view test macro-F1 of the complete protocol, probed after every epoch, first
   reaches the target, for params.yaml's profile (its whole schedule at most) and for the previous quick settings
   (50/20 Hz windows, constant lr 1e-3, at most --previous-epochs epochs), and the ratio. Needs the windowed data
   (`dvc repro windowing`); the 50/20 Hz windows are made under scratch/.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ralis.api import apply_missing, build_model, dataset_info, load_splits  # noqa: E402
from ralis.config import Params, load_params  # noqa: E402
from ralis.contract import MultiviewBatch  # noqa: E402
from ralis.data.augment import Augmenter  # noqa: E402
from ralis.data.augment_batch import BatchAugmenter  # noqa: E402
from ralis.data.loader import make_train_streams  # noqa: E402
from ralis.evaluate import fused_f1  # noqa: E402
from ralis.runtime import seed_everything  # noqa: E402
from ralis.train import fit  # noqa: E402


def _splits(params: Params):
    splits, _ = apply_missing(load_splits(params), params)
    return splits, dataset_info(Path(params.data.windows_dir) / params.data.dataset, splits["train"])


def _per_window_batch(split, rows: np.ndarray, aug: Augmenter) -> MultiviewBatch:
    """The reference data path: augment each window's views one by one, then stack (what a Dataset did)."""
    names = split.view_names
    samples = [aug([split.views[n][i] for n in names], split.present[i]) for i in rows]
    views = tuple(torch.from_numpy(np.stack([s[v] for s in samples]).astype(np.float32)) for v in range(len(names)))
    return MultiviewBatch(views, torch.from_numpy(split.present[rows]), torch.from_numpy(split.labels[rows]))


def bench_step(params: Params, steps: int) -> None:
    splits, info = _splits(params)
    train = splits["train"]
    seed_everything(params.train.seed)
    method = build_model(params, info).train()
    opt = torch.optim.Adam(method.parameters(), lr=params.train.lr)
    t = params.train
    streams = make_train_streams(train, t.cls_batch, t.con_batch, t.seed,
                                 BatchAugmenter(info.views, params.augment, t.seed))
    reference = Augmenter(info.views, params.augment, t.seed)
    bank = method.encoders
    singles = bank.split_encoders()
    parts: dict[str, list[float]] = {k: [] for k in ("data", "data_per_window", "forward", "backward", "adam",
                                                     "bank_grouped", "bank_loop")}
    rng = np.random.default_rng(0)
    it = iter(zip(*streams))
    for step in range(steps + 3):
        t0 = time.perf_counter()
        try:
            cls, con = next(it)
        except StopIteration:
            it = iter(zip(*streams))
            cls, con = next(it)
        t1 = time.perf_counter()
        rows = rng.choice(len(train), t.cls_batch + t.con_batch, replace=False)
        _per_window_batch(train, rows, reference)
        t2 = time.perf_counter()
        losses = method.training_losses(cls, con)
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        losses.total.backward()
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        both = cls.cat(con)
        bank(both.views, both.present).square().mean().backward()
        t6 = time.perf_counter()
        bank.reference_forward(both.views, both.present, singles).square().mean().backward()
        t7 = time.perf_counter()
        if step >= 3:  # warm-up
            for key, a, b in (("data", t0, t1), ("data_per_window", t1, t2), ("forward", t2, t3),
                              ("backward", t3, t4), ("adam", t4, t5), ("bank_grouped", t5, t6), ("bank_loop", t6, t7)):
                parts[key].append(1e3 * (b - a))
    med = {k: statistics.median(v) for k, v in parts.items()}
    step_ms = med["data"] + med["forward"] + med["backward"] + med["adam"]
    print(f"\n1. whole training step: {t.cls_batch} + {t.con_batch} windows, width {params.model.width}, median of "
          f"{steps} steps, {torch.get_num_threads()} thread(s)")
    for key in ("data", "forward", "backward", "adam"):
        print(f"   {key:9s} {med[key]:7.1f} ms  {100 * med[key] / step_ms:5.1f} %")
    print(f"   step      {step_ms:7.1f} ms  ({(t.cls_batch + t.con_batch) / step_ms * 1e3:.0f} windows/s)")
    print(f"   data: per-window reference / batched = {med['data_per_window'] / med['data']:.1f}x "
          f"({med['data_per_window']:.1f} vs {med['data']:.1f} ms); with the reference the data would be "
          f"{100 * med['data_per_window'] / (step_ms - med['data'] + med['data_per_window']):.0f} % of a step")
    print(f"   encoders fwd+bwd: per-view loop / grouped bank = {med['bank_loop'] / med['bank_grouped']:.2f}x "
          f"({med['bank_loop']:.1f} vs {med['bank_grouped']:.1f} ms)")


class _Stop(Exception):
    """Raised by the per-epoch probe once the seed-mean target is reached: the rest of the schedule is not timed."""


class Reach(NamedTuple):
    epoch: int | None  # first epoch at which the mean over seeds of the all-view test F1 is >= the target
    seconds: float | None  # mean over seeds of the training seconds up to that epoch
    best_mean: float  # the highest seed-mean test F1 of any epoch
    epochs: int  # epochs probed on every seed


def _seed_curve(params: Params, splits, info, label: str, stop) -> list[tuple[float, float]]:
    """[(seconds trained, all-view test F1)] after each epoch of one seed's training, until `stop(epoch, curve)`."""
    seed = params.train.seed
    seed_everything(seed)
    method = build_model(params, info)
    aug = BatchAugmenter(info.views, params.augment, seed) if params.augment.enabled else None
    curve: list[tuple[float, float]] = []
    state = {"t0": time.perf_counter(), "probe": 0.0}

    def probe(epoch, m, encoded_valid):
        t = time.perf_counter()
        trained = t - state["t0"] - state["probe"]  # training and validation so far, test probes excluded
        f1 = fused_f1(m, splits["test"], params.evaluate.batch_size)
        curve.append((trained, f1))
        state["probe"] += time.perf_counter() - t
        print(f"   {label} seed {seed} epoch {epoch}: test F1 (all views) {f1:.4f} after {trained:.0f} s", flush=True)
        if stop(epoch, curve):
            raise _Stop
        return {"test_f1_all": f1}

    try:
        fit(method, splits["train"], splits["valid"], params, Path("scratch/bench_time_to_f1") / label / f"seed{seed}",
            augmenter=aug, progress=False, on_epoch_end=probe)
    except _Stop:
        pass
    return curve


def time_to_f1(params: Params, target: float, label: str, seeds: list[int], max_epochs: int) -> Reach:
    """Seconds of complete-protocol training until the mean over `seeds` of the all-view test F1 after an epoch
    first reaches `target`. One seed's test F1 swings by a few points from epoch to epoch and from seed to seed,
    so a single seed's first touch is not a stable measure. Seeds train one after another, each for at most
    `max_epochs` epochs of its schedule; the last seed stops at the epoch where the mean reaches the target."""
    params = dataclasses.replace(params, missing=dataclasses.replace(params.missing, protocol="complete"))
    splits, info = _splits(params)
    curves: dict[int, list[tuple[float, float]]] = {}
    for i, seed in enumerate(seeds):
        earlier = [curves[s] for s in seeds[:i]]
        last = i == len(seeds) - 1

        def stop(epoch: int, curve: list[tuple[float, float]], earlier=earlier, last=last) -> bool:
            if epoch >= max_epochs:
                return True
            f1s = [c[epoch - 1][1] for c in earlier if len(c) >= epoch] + [curve[-1][1]]
            return last and len(f1s) == len(seeds) and statistics.fmean(f1s) >= target

        p = dataclasses.replace(params, train=dataclasses.replace(params.train, seed=seed))
        curves[seed] = _seed_curve(p, splits, info, label, stop)
    n = min(len(c) for c in curves.values())
    means = [statistics.fmean(curves[s][e][1] for s in seeds) for e in range(n)]
    hit = next((e for e, f in enumerate(means) if f >= target), None)
    seconds = None if hit is None else statistics.fmean(curves[s][hit][0] for s in seeds)
    return Reach(None if hit is None else hit + 1, seconds, max(means), n)


def previous_quick(params: Params) -> Params:
    """The quick settings before this profile (README, issue 4): 50/20 Hz, constant lr 1e-3, 40 epochs from 20."""
    from ralis.data.prepare import prepare_windows

    p = dataclasses.replace(params, data=dataclasses.replace(params.data, windows_dir="scratch/bench_windows_50hz"),
                            windowing=dataclasses.replace(params.windowing, acc_hz=50.0, pose_hz=20.0),
                            train=dataclasses.replace(params.train, lr=1e-3, lr_schedule="constant", warmup_epochs=0.0,
                                                      max_epochs=40, min_epochs=20))
    if not (Path(p.data.windows_dir) / p.data.dataset / "manifest.json").is_file():
        prepare_windows(p, progress=False)
    return p


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, default=20, help="timed steps of the step breakdown")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time-to-f1", type=float, default=None, metavar="F1", help="also train to this test F1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds whose mean test F1 is timed")
    ap.add_argument("--previous-epochs", type=int, default=15,
                    help="epochs the previous quick settings train at most per seed (constant lr: a cap, not a "
                         "shorter schedule)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    params = load_params(a.params)
    params = dataclasses.replace(params, train=dataclasses.replace(params.train, device="cpu"))
    bench_step(params, a.steps)
    if a.time_to_f1 is None:
        return
    print(f"\n2. time to a mean all-view test F1 of {a.time_to_f1} over seeds {a.seeds} (complete protocol, one "
          "thread)")
    new = time_to_f1(params, a.time_to_f1, "profile", a.seeds, params.train.max_epochs)
    old = time_to_f1(previous_quick(params), a.time_to_f1, "previous", a.seeds, a.previous_epochs)
    for label, r in (("params.yaml profile", new), ("previous quick settings", old)):
        when = (f"epoch {r.epoch}, {r.seconds:.0f} s" if r.epoch is not None
                else f"not reached in {r.epochs} epochs")
        print(f"   {label:24s} {when:>22s}  (best seed-mean F1 {r.best_mean:.4f})")
    if new.seconds is not None and old.seconds is not None:
        print(f"   ratio previous / profile: {old.seconds / new.seconds:.1f}x")


if __name__ == "__main__":
    main()
