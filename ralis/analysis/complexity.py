"""Time complexity of the three multiview contrastive losses [P§6.4, Fig. 8; methods.md §4].

    full graph        O(V^2 N^2)          one pair loss per view pair            (CMC-FG, "+full graph")
    COCOA (variant A) O(V^2 N + V N^2)    per-sample VxV and per-view NxN Grams  (ralis.baselines.cocoa)
    adjusted center   O(V N^2)            one pair loss per view vs its center   (Eq. 6, Listing 1)

Each loss is timed in two forms (methods.md §4 note 3): `looped` (a Python loop over pairs / views, the paper's
implementations) and `batched` (one Gram tensor for all pairs / views, used for training). Per batch the
harness times (a) the loss forward and (b) the optimisation step (backward + Adam step on a small linear
layer that produces the embeddings) separately, after a warm-up, with `torch.cuda.synchronize()` around
the timers on CUDA [note 4]. Embeddings are random (the loss cost does not depend on their values), all views
present. Beside the times: analytic MACs (`loss_macs`) and the FLOPs torch counts (`FlopCounterMode`).
Log-log slopes against V (fixed N) and N (fixed V) are the exponents to compare with theory [note 1].

Dimension legend: V views, N batch, D (= C in methods.md) embedding width.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ralis.baselines.cocoa import cocoa_loss_a
from ralis.config import AnalysisConfig, LossConfig
from ralis.model.contrastive import (
    adjusted_center_loss,
    adjusted_center_loss_looped,
    full_graph_loss,
    full_graph_loss_looped,
    loss_macs,
    view_pairs,
)
from ralis.runtime import pick_device

__all__ = [
    "KINDS", "FORMS", "LOSSES", "Timing", "Slope", "ComplexityResult", "cocoa_loss_a_looped", "time_loss",
    "count_flops", "fit_loglog_slope", "fit_slopes", "complexity_sweep", "time_ratio",
]

KINDS = ("full_graph", "cocoa", "adjusted_center")
FORMS = ("looped", "batched")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z [V, N, D], present [N, V]) -> scalar


def cocoa_loss_a_looped(z: torch.Tensor, present: torch.Tensor, tau: float) -> torch.Tensor:
    """COCOA variant A (ralis.baselines.cocoa.cocoa_loss_a) with Python loops: positives per view pair (an N-vector
    of cosines each, V(V-1)/2 of them: O(V^2 N D)), negatives per view (an N x N Gram each: O(V N^2 D))."""
    v, n = z.shape[:2]
    e = F.normalize(torch.where(present.T[..., None], z, torch.zeros_like(z)), dim=-1)  # [V, N, D]
    pos = z.new_zeros(n)  # P_i = sum_{a != b in S_i} exp(s / tau)
    for a, b in view_pairs(v).tolist():
        both = present[:, a] & present[:, b]
        pos = pos + torch.where(both, 2 * torch.exp((e[a] * e[b]).sum(-1) / tau), torch.zeros_like(pos))
    neg = z.new_zeros(n)  # N_i = sum_{v in S_i} mean_{j != i, v in S_j} exp(s / tau)
    not_self = ~torch.eye(n, dtype=torch.bool, device=z.device)
    for a in range(v):
        m = present[:, a]
        mask = m[:, None] & m[None, :] & not_self  # [N, N]
        sim = torch.exp(e[a] @ e[a].T / tau).masked_fill(~mask, 0.0)  # [N, N]
        count = mask.sum(1)
        neg = neg + torch.where(count > 0, sim.sum(1) / count.clamp_min(1), torch.zeros_like(neg))
    valid = present.sum(1) >= 2
    per = torch.where(valid, torch.log1p(neg / pos.clamp_min(torch.finfo(z.dtype).tiny)), torch.zeros_like(pos))
    return per.sum() / valid.sum().clamp_min(1)  # BCE(P / (P + N), 1) = log(1 + N / P)


_TAU, _RED = LossConfig().tau, LossConfig().pair_reduction  # the paper's loss settings (no effect on the timing)
LOSSES: dict[tuple[str, str], LossFn] = {
    ("full_graph", "looped"): lambda z, p: full_graph_loss_looped(z, p, _TAU, _RED).loss,
    ("full_graph", "batched"): lambda z, p: full_graph_loss(z, p, _TAU, _RED).loss,
    ("cocoa", "looped"): lambda z, p: cocoa_loss_a_looped(z, p, _TAU),
    ("cocoa", "batched"): lambda z, p: cocoa_loss_a(z, p, _TAU),
    ("adjusted_center", "looped"): lambda z, p: adjusted_center_loss_looped(z, p, None, _TAU, _RED).loss,
    ("adjusted_center", "batched"): lambda z, p: adjusted_center_loss(z, p, None, _TAU, _RED).loss,
}


class Timing(NamedTuple):
    """Median and std (ms) over the timed batches of the loss forward and of the optimisation step."""

    forward_ms: float
    step_ms: float
    forward_std_ms: float
    step_std_ms: float


class Slope(NamedTuple):
    """Least-squares fit log(y) = slope * log(x) + intercept, with its coefficient of determination."""

    slope: float
    intercept: float
    r2: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _inputs(n_views: int, batch: int, dim: int, device: torch.device, seed: int) -> tuple[torch.Tensor, nn.Linear]:
    """Fixed random inputs x [V, N, D] and the trainable linear layer z = x W^T + b (seeded, no global RNG)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_views, batch, dim, generator=gen)  # [V, N, D]
    proj = nn.Linear(dim, dim)
    with torch.no_grad():
        proj.weight.copy_(torch.randn(dim, dim, generator=gen) / dim ** 0.5)
        proj.bias.zero_()
    return x.to(device), proj.to(device)


def time_loss(loss_fn: LossFn, n_views: int, batch: int, dim: int, *, warmup: int, repeats: int,
              device: torch.device | str | None = None, seed: int = 0) -> Timing:
    """Time `loss_fn` on V x N embeddings of width D: forward, then backward + Adam step, per batch [P§6.4].

    The times are medians over the repeats (one slow repeat on a shared machine cannot dominate), with the std."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"params.yaml analysis.complexity_repeats must be >= 1 and complexity_warmup >= 0, "
                         f"got {repeats}, {warmup}")
    device = pick_device("auto") if device is None else torch.device(device)
    x, proj = _inputs(n_views, batch, dim, device, seed)
    present = torch.ones(batch, n_views, dtype=torch.bool, device=device)  # [N, V]
    opt = torch.optim.Adam(proj.parameters(), lr=1e-3)
    fwd, step = [], []
    for i in range(warmup + repeats):
        z = proj(x)  # [V, N, D]
        _sync(device)
        t0 = time.perf_counter()
        loss = loss_fn(z, present)
        _sync(device)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        t2 = time.perf_counter()
        if i >= warmup:
            fwd.append(t1 - t0)
            step.append(t2 - t1)
    f, s = np.array(fwd) * 1e3, np.array(step) * 1e3
    return Timing(float(np.median(f)), float(np.median(s)), float(f.std()), float(s.std()))


def count_flops(loss_fn: LossFn, n_views: int, batch: int, dim: int) -> tuple[int, int]:
    """FLOPs torch counts (matmul-type ops; 2 per MAC) for one loss forward and for its backward, on CPU."""
    x, proj = _inputs(n_views, batch, dim, torch.device("cpu"), 0)
    z = proj(x).detach().requires_grad_(True)
    present = torch.ones(batch, n_views, dtype=torch.bool)
    with FlopCounterMode(display=False) as fwd:
        loss = loss_fn(z, present)
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    return int(fwd.get_total_flops()), int(bwd.get_total_flops())


def fit_loglog_slope(x: Sequence[float], y: Sequence[float]) -> Slope:
    """Exponent p of y ~ x^p by least squares on log-log axes (methods.md §4 note 1)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two equal-length 1-D sequences with >= 2 points, got shapes {x.shape}, {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or len(np.unique(x)) < 2:
        raise ValueError("log-log fit needs positive values and >= 2 distinct x")
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1.0 - float((resid ** 2).sum() / total) if total > 0 else 1.0
    return Slope(float(slope), float(intercept), r2)


QUANTITIES = ("forward_ms", "step_ms", "macs", "flops_forward")


def fit_slopes(timings: pd.DataFrame) -> pd.DataFrame:
    """Slopes of every quantity against V (sweep "V") or N (sweep "N") per loss and form."""
    rows = []
    for (sweep, kind, form), g in timings.groupby(["sweep", "loss", "form"], sort=False):
        for q in QUANTITIES:
            fit = fit_loglog_slope(g[sweep], g[q])
            rows.append({"sweep": sweep, "loss": kind, "form": form, "quantity": q, "slope": fit.slope, "r2": fit.r2})
    return pd.DataFrame(rows, columns=["sweep", "loss", "form", "quantity", "slope", "r2"])


def time_ratio(timings: pd.DataFrame, sweep: str, kind: str, form: str, hi: int, lo: int,
               quantity: str = "forward_ms") -> float:
    """t(x = hi) / t(x = lo) within one sweep, e.g. t(V=9) / t(V=3) (ideal: 3 for AC, 12 for the full graph)."""
    g = timings[(timings["sweep"] == sweep) & (timings["loss"] == kind) & (timings["form"] == form)].set_index(sweep)
    missing = [x for x in (hi, lo) if x not in g.index]
    if missing:
        raise ValueError(f"{sweep} = {missing} not in the {sweep} sweep of {kind}/{form}; add them to params.yaml "
                         f"analysis.complexity_{'views' if sweep == 'V' else 'batches'}")
    return float(g.loc[hi, quantity] / g.loc[lo, quantity])


@dataclass
class ComplexityResult:
    """`timings`: one row per (sweep, loss, form, V, N); `slopes`: fitted log-log exponents; `device` used."""

    timings: pd.DataFrame
    slopes: pd.DataFrame
    device: str

    def summary(self) -> dict:
        """Nested slopes {vs_V|vs_N: {loss: {form: {quantity: slope}}}}, the device, and the ratios
        t(V = max) / t(V = 3) (or the smallest V) of forward time, step time and MACs, for the metrics JSON."""
        out: dict = {"device": self.device, "slopes": {}, "ratios": {}}
        for r in self.slopes.itertuples():
            out["slopes"].setdefault(f"vs_{r.sweep}", {}).setdefault(r.loss, {}).setdefault(r.form, {})[
                r.quantity] = round(r.slope, 3)
        views = sorted(self.timings.loc[self.timings["sweep"] == "V", "V"].unique())
        if len(views) >= 2:
            hi, lo = int(views[-1]), (3 if 3 in views[:-1] else int(views[0]))
            for (kind, form), _ in self.timings[self.timings["sweep"] == "V"].groupby(["loss", "form"], sort=False):
                out["ratios"].setdefault(f"V{hi}_over_V{lo}", {}).setdefault(kind, {})[form] = {
                    q: round(time_ratio(self.timings, "V", kind, form, hi, lo, q), 3)
                    for q in ("forward_ms", "step_ms", "macs")}
        return out


def complexity_sweep(cfg: AnalysisConfig, device: torch.device | str | None = None,
                     kinds: Sequence[str] = KINDS, forms: Sequence[str] | None = None,
                     progress: bool = False) -> ComplexityResult:
    """Fig. 8: V in cfg.complexity_views at N = cfg.complexity_batch, and N in cfg.complexity_batches at
    V = cfg.complexity_n_views, for every loss and form."""
    forms = list(cfg.complexity_forms if forms is None else forms)
    bad = [k for k in kinds if k not in KINDS] + [f for f in forms if f not in FORMS]
    if bad:
        raise ValueError(f"unknown loss kinds / forms {bad}; kinds are {KINDS}, forms (analysis.complexity_forms) "
                         f"are {FORMS}")
    if min(cfg.complexity_views) < 2 or cfg.complexity_n_views < 2 or min(cfg.complexity_batches) < 2:
        raise ValueError("analysis.complexity_views / complexity_n_views / complexity_batches need V >= 2, N >= 2")
    device = pick_device("auto") if device is None else torch.device(device)
    grid = [("V", v, cfg.complexity_batch) for v in cfg.complexity_views]
    grid += [("N", cfg.complexity_n_views, n) for n in cfg.complexity_batches]
    rows, dim = [], cfg.complexity_dim
    for sweep, v, n in grid:
        for kind in kinds:
            for form in forms:
                fn = LOSSES[(kind, form)]
                t = time_loss(fn, v, n, dim, warmup=cfg.complexity_warmup, repeats=cfg.complexity_repeats,
                              device=device)
                fl_f, fl_b = count_flops(fn, v, n, dim)
                rows.append({"sweep": sweep, "loss": kind, "form": form, "V": v, "N": n, "D": dim, **t._asdict(),
                             "macs": loss_macs(kind, v, n, dim), "flops_forward": fl_f, "flops_backward": fl_b})
                if progress:
                    print(f"{sweep}-sweep V={v} N={n} {kind:16s} {form:8s} forward {t.forward_ms:8.3f} ms  "
                          f"step {t.step_ms:8.3f} ms")
    timings = pd.DataFrame(rows)
    return ComplexityResult(timings, fit_slopes(timings), str(device))
