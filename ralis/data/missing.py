"""Missing-view protocols: complete (§5.2.1), uniform drop (§5.2.2) and per-view drop rates (§5.4).

Masks are fixed per run and per split: the RNG is derived from (MissingConfig.seed, run seed, split name)
through numpy's SeedSequence (the split name enters through a CRC32, not Python's salted `hash`).
Drops apply to train, valid and test alike (at test time the scenario's view counts become upper
bounds). Views that are already missing stay missing; windows left with no view are removed and
counted (A5); the mask is never redrawn, so the drop statistics stay exact.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ralis.config import PROTOCOLS, MissingConfig
from ralis.data.registry import REGISTRY

__all__ = ["PROTOCOLS", "NATURAL_MISSING", "MaskResult", "uniform_drop_prob", "drop_rates", "mask_rng",
           "apply_protocol", "mask_counts", "protocol_counts"]

# §5.2.2: "Except for CMDFall, we use all 7 views without dropping data": its natural gaps are the missingness
NATURAL_MISSING = frozenset({"cmdfall"})


class MaskResult(NamedTuple):
    present: np.ndarray  # bool [len(keep), V]: the new presence mask of the kept windows
    keep: np.ndarray  # int64 [N']: indices (into the input rows) of windows with >= 1 view left
    n_removed: int  # windows removed (no view left, or incomplete under the complete protocol)


def uniform_drop_prob(n_views: int, all_dropped_prob: float) -> float:
    """p = all_dropped_prob^(1/V), so that P(all V views dropped) = p^V = all_dropped_prob [P§5.2.2, A1]."""
    if n_views < 1 or not 0.0 < all_dropped_prob < 1.0:
        raise ValueError(f"need V >= 1 and 0 < missing.all_dropped_prob < 1, got V={n_views}, {all_dropped_prob}")
    return float(all_dropped_prob ** (1.0 / n_views))


def drop_rates(protocol: str, view_names: Sequence[str], cfg: MissingConfig, dataset_key: str) -> np.ndarray:
    """Per-view drop probabilities [V] of a protocol (zeros for complete and for naturally missing data)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"params.yaml missing.protocol = {protocol!r} is unknown; choose one of {PROTOCOLS}")
    v = len(view_names)
    if protocol == "complete" or (protocol == "uniform" and dataset_key in NATURAL_MISSING):
        return np.zeros(v)
    if protocol == "uniform":
        return np.full(v, uniform_drop_prob(v, cfg.all_dropped_prob))
    if dataset_key in NATURAL_MISSING:
        raise ValueError(f"missing.protocol = per_view is not defined for {dataset_key!r} (its missingness is "
                         "natural, §5.4); use complete or uniform")
    known = REGISTRY[dataset_key].view_rates_table6 if dataset_key in REGISTRY else {}  # user datasets: none
    table = cfg.per_view_rates.get(dataset_key) or known
    own = [v.name for v in REGISTRY[dataset_key].views] if dataset_key in REGISTRY else list(table)
    if extra := sorted(set(table) - set(own)):
        raise ValueError(f"params.yaml missing.per_view_rates.{dataset_key} names view(s) {extra} that "
                         f"{dataset_key!r} does not have; its views are {own}")
    absent = [n for n in view_names if n not in table]
    if absent:
        raise ValueError(f"no per-view drop rate for view(s) {absent} of {dataset_key!r}; add them to params.yaml "
                         f"missing.per_view_rates.{dataset_key} (known: {sorted(table)})")
    rates = np.array([float(table[n]) for n in view_names])
    if ((rates < 0) | (rates > 1)).any():
        raise ValueError(f"per-view drop rates of {dataset_key!r} must lie in [0, 1], "
                         f"got {dict(zip(view_names, rates))}")
    return rates


def mask_rng(cfg_seed: int, run_seed: int, split: str) -> np.random.Generator:
    """Generator fixed by (missing seed, run seed, split); stable across processes and Python versions."""
    return np.random.default_rng(np.random.SeedSequence([cfg_seed, run_seed, zlib.crc32(split.encode())]))


def apply_protocol(present: np.ndarray, protocol: str, *, view_names: Sequence[str], split: str, seed: int,
                   cfg: MissingConfig, dataset_key: str) -> MaskResult:
    """Apply a missing-view protocol to a split's presence mask [N, V].

    complete: no drop; only windows with every view present are kept (§5.2.1; CMDFall keeps only its
    complete 3-view samples). uniform: each view dropped independently with p = 10^(-3/V) (none for
    CMDFall). per_view: view v dropped with its Table 6 rate (params override, else the registry).
    """
    present = np.asarray(present)
    if present.dtype != np.bool_ or present.ndim != 2 or present.shape[1] != len(view_names):
        raise ValueError(f"present must be bool [N, V={len(view_names)}], got {present.dtype} {present.shape}")
    rates = drop_rates(protocol, view_names, cfg, dataset_key)
    if protocol == "complete":
        new = present.copy()
        ok = new.all(axis=1)
    else:
        drop = mask_rng(cfg.seed, seed, split).random(present.shape) < rates[None, :]  # [N, V]
        new = present & ~drop
        ok = new.any(axis=1)
    keep = np.flatnonzero(ok).astype(np.int64)
    return MaskResult(new[keep], keep, int(len(present) - len(keep)))


def mask_counts(result: MaskResult, view_names: Sequence[str], n_before: int | None = None) -> dict:
    """Manifest-ready counts of one masked split: windows kept/removed, present windows per view,
    mean views per window and how many windows have each number of views."""
    n_views = result.present.sum(axis=1)
    counts = {"windows": int(len(result.keep)), "removed": int(result.n_removed),
              "present_per_view": {n: int(c) for n, c in zip(view_names, result.present.sum(axis=0))},
              "mean_views": float(n_views.mean()) if len(n_views) else 0.0,
              "windows_by_n_views": {str(k): int((n_views == k).sum()) for k in range(1, len(view_names) + 1)}}
    if n_before is not None:
        counts["windows_before"] = int(n_before)
    return counts


def protocol_counts(presents: Mapping[str, np.ndarray], *, view_names: Sequence[str], seed: int,
                    cfg: MissingConfig, dataset_key: str, protocols: Sequence[str] = PROTOCOLS) -> dict:
    """{protocol: {split: mask_counts}} for the manifest; protocols undefined for the dataset are skipped
    (CMDFall has no per_view) and reported as {"undefined": reason}."""
    out: dict[str, dict] = {}
    for protocol in protocols:
        try:
            out[protocol] = {split: mask_counts(apply_protocol(p, protocol, view_names=view_names, split=split,
                                                               seed=seed, cfg=cfg, dataset_key=dataset_key),
                                                view_names, n_before=len(p))
                             for split, p in presents.items()}
        except ValueError as err:
            if protocol == "per_view" and dataset_key in NATURAL_MISSING:
                out[protocol] = {"undefined": str(err)}
            else:
                raise
    return out
