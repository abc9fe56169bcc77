"""Benchmarks of ralis, printed as ratios measured in ONE run (no data files needed; random inputs, seeded).

    python benchmarks/bench.py                  # paper-size model (width 128, E 16, K 3), synthetic dataset views
    python benchmarks/bench.py --threads 1      # pin torch's intra-op threads (shared CPUs: far less noise)

1. loss scaling      t(V=9) / t(V=3) at fixed N for the adjusted-center loss and the full graph, looped and batched
                     (ideal from the MACs: 3 and 12) [P§6.4; methods.md §4]
2. training step     windows/s of a full RALIS training step (encoders, fusion, MoE, losses, backward, Adam) vs the
                     encoders' forward + backward alone on the same rows
3. evaluation        all 2^V - 1 view combinations (encode once, ralis.evaluate) vs one all-view evaluation pass,
                     and vs re-encoding per combination (what the encode-once design avoids)
4. inference         single-window latency with 1 view, half of the views, all views
Timings are wall clock (CUDA synchronised when used); the ratios, not the absolute times, are the result.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ralis.analysis.complexity import LOSSES, time_loss  # noqa: E402
from ralis.config import ModelConfig  # noqa: E402
from ralis.contract import MultiviewBatch  # noqa: E402
from ralis.data.registry import get_dataset  # noqa: E402
from ralis.data.store import WindowedSplit  # noqa: E402
from ralis.evaluate import encode_split, evaluate_combinations, predict_encoded, view_combinations  # noqa: E402
from ralis.model.ralis import RALIS  # noqa: E402
from ralis.runtime import pick_device, seed_everything  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timeit(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median seconds of `fn` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _window_lengths(views, window_sec: float = 4.0) -> list[int]:
    return [int(round(window_sec * v.rate_hz)) for v in views]


def _random_split(views, n: int, n_classes: int, drop: float, rng: np.random.Generator) -> WindowedSplit:
    present = rng.random((n, len(views))) >= drop
    present[~present.any(axis=1), 0] = True
    arrays = {v.name: np.where(present[:, j, None, None], rng.standard_normal((n, t, v.channels)), 0).astype(np.float32)
              for j, (v, t) in enumerate(zip(views, _window_lengths(views), strict=True))}
    labels = rng.integers(0, n_classes, n)
    return WindowedSplit(arrays, present, labels, np.zeros(n, dtype=np.int64), tuple(f"c{i}" for i in range(n_classes)))


def _batch(split: WindowedSplit, rows: np.ndarray, device: torch.device) -> MultiviewBatch:
    views = tuple(torch.from_numpy(split.views[name][rows]).to(device) for name in split.view_names)
    return MultiviewBatch(views, torch.from_numpy(split.present[rows]).to(device),
                          torch.from_numpy(split.labels[rows]).to(device))


def bench_loss_scaling(device: torch.device, batch: int, dim: int, warmup: int, repeats: int) -> None:
    print(f"\n1. loss scaling: t(V=9) / t(V=3) at N = {batch}, D = {dim} (mean of {repeats} batches)")
    print(f"   {'loss':16s} {'form':8s} {'forward':>8s} {'fwd+step':>9s} {'ideal':>6s}")
    for kind, ideal in (("adjusted_center", 3.0), ("full_graph", 12.0)):
        for form in ("looped", "batched"):
            t = {v: time_loss(LOSSES[(kind, form)], v, batch, dim, warmup=warmup, repeats=repeats, device=device)
                 for v in (3, 9)}
            fwd = t[9].forward_ms / t[3].forward_ms
            both = (t[9].forward_ms + t[9].step_ms) / (t[3].forward_ms + t[3].step_ms)
            print(f"   {kind:16s} {form:8s} {fwd:8.2f} {both:9.2f} {ideal:6.1f}")


def bench_training_step(method: RALIS, split: WindowedSplit, device: torch.device, rows: int, warmup: int,
                        repeats: int) -> None:
    method.train()
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    cls, con = _batch(split, np.arange(rows), device), _batch(split, np.arange(rows, 2 * rows), device)
    both = MultiviewBatch(tuple(torch.cat([a, b]) for a, b in zip(cls.views, con.views, strict=True)),
                          torch.cat([cls.present, con.present]))

    def full_step() -> None:
        losses = method.training_losses(cls, con)
        opt.zero_grad(set_to_none=True)
        losses.total.backward()
        opt.step()

    def encoders_only() -> None:
        z = method.encode(both)  # [V, 2 * rows, D]: the same single encoder pass the training step makes
        opt.zero_grad(set_to_none=True)
        z.square().mean().backward()

    t_full = _timeit(full_step, device, warmup, repeats)
    t_enc = _timeit(encoders_only, device, warmup, repeats)
    n = 2 * rows
    print(f"\n2. training step on {rows} + {rows} windows ({len(split.view_names)} views, some missing)")
    print(f"   full RALIS step        {n / t_full:8.1f} windows/s  ({1e3 * t_full:7.1f} ms)")
    print(f"   encoders fwd+bwd only  {n / t_enc:8.1f} windows/s  ({1e3 * t_enc:7.1f} ms)")
    print(f"   ratio full / encoders (time): {t_full / t_enc:.2f}  -> fusion, MoE, losses and Adam add "
          f"{100 * (t_full / t_enc - 1):.0f}%")


def bench_evaluation(method: RALIS, split: WindowedSplit, device: torch.device, batch_size: int, repeats: int) -> None:
    method.eval()
    names = split.view_names
    n_comb = len(view_combinations(len(names)))

    def one_pass() -> None:
        predict_encoded(method, encode_split(method, split, batch_size, device), None, batch_size, device)

    def all_combinations() -> None:
        evaluate_combinations(method, encode_split(method, split, batch_size, device), names, split.class_names,
                              batch_size=batch_size, device=device)

    t_enc = _timeit(lambda: encode_split(method, split, batch_size, device), device, 1, repeats)
    t_one = _timeit(one_pass, device, 1, repeats)
    t_all = _timeit(all_combinations, device, 1, repeats)
    naive = n_comb * t_one  # re-encoding every window for every combination
    print(f"\n3. evaluation of {len(split)} windows, {len(names)} views: {n_comb} combinations")
    print(f"   encoding alone {1e3 * t_enc:8.1f} ms | one all-view pass {1e3 * t_one:8.1f} ms | all combinations "
          f"{1e3 * t_all:8.1f} ms")
    print(f"   ratio all combinations / one pass: {t_all / t_one:.2f}  (re-encoding per combination would be "
          f"~{n_comb:.0f}x: {naive / t_all:.1f}x slower than encode-once)")


@torch.no_grad()
def bench_inference(method: RALIS, split: WindowedSplit, device: torch.device, repeats: int) -> None:
    method.eval()
    n_views = len(split.view_names)
    full = _batch(split, np.arange(1), device)
    print("\n4. single-window inference latency (encode present views + fuse + MoE head)")
    base = None
    for label, k in (("1", 1), ("half", math.ceil(n_views / 2)), ("all", n_views)):
        present = torch.zeros(1, n_views, dtype=torch.bool, device=device)
        present[0, :k] = True
        views = tuple(x if j < k else torch.zeros_like(x) for j, x in enumerate(full.views))
        batch = MultiviewBatch(views, present)
        t = _timeit(lambda b=batch: method.predict(method.encode(b), b.present), device, 3, repeats)
        base = base or t
        print(f"   {label:5s} ({k} view{'s' if k > 1 else ' '}) {1e3 * t:7.2f} ms   ratio to 1 view {t / base:5.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic", help="registry key whose views (channels, rates) are used")
    ap.add_argument("--width", type=int, default=128, help="encoder / attention / expert width (paper: 128)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    ap.add_argument("--repeats", type=int, default=10, help="timed repeats per measurement")
    ap.add_argument("--loss-batch", type=int, default=64, help="N of the loss-scaling benchmark")
    ap.add_argument("--eval-windows", type=int, default=256, help="windows of the evaluation benchmark")
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    seed_everything(0, deterministic=False)
    device = pick_device(args.device)
    spec = get_dataset(args.dataset)
    views = list(spec.views)
    print(f"ralis benchmarks | device {device} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
          f"dataset views: {args.dataset} ({len(views)}) | width {args.width}")
    t0 = time.perf_counter()
    bench_loss_scaling(device, args.loss_batch, args.width, warmup=3, repeats=max(args.repeats, 5))

    rng = np.random.default_rng(0)
    n_classes = len(spec.classes)
    w = args.width
    method = RALIS(views, n_classes, ModelConfig(width=w, att_hidden=w, expert_hidden=w)).to(device)
    p = 1 - 1e-3 ** (1 / len(views))  # the uniform protocol's drop probability (A1)
    bench_training_step(method, _random_split(views, 32, n_classes, p, rng), device, 16, 2, args.repeats)
    bench_evaluation(method, _random_split(views, args.eval_windows, n_classes, p, rng), device, 256,
                     max(args.repeats // 3, 2))
    bench_inference(method, _random_split(views, 1, n_classes, 0.0, rng), device, 5 * args.repeats)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
