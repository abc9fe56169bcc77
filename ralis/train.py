"""The fit loop: two-stream steps (methods.md §1.8) and the training protocol (§1.11, A11).

One step draws a classification batch and a contrastive batch (16 + 16 [P Table 2]) from two seeded loaders
over the same labelled training set (A4) and makes ONE call to `method.training_losses`, then one Adam step.
An epoch has min(len(cls), len(con)) steps, optionally capped by `train.max_steps_per_epoch`. The budget is
`train.max_epochs`, or `train.max_steps` optimiser steps when set (then the last epoch may be partial); a warning
says when an epoch has fewer than `FEW_STEPS` steps (small datasets: give the budget in steps).
After every epoch the validation macro-F1 of the fused prediction with each sample's available views is
computed (A11); the best checkpoint is the best such F1 among epochs >= `train.min_epochs` ("at least 20
epochs, best checkpoint on validation" [P§5.1.3]). Equal F1 (frequent on small validation sets, where it
saturates at 1.0) is settled by `train.checkpoint_ties`: the lower validation loss (default), the later or the
earlier epoch. Optional early stopping (`train.patience`) counts epochs without improvement and only acts from
`min_epochs` on.

Per-epoch log (drawn by notebooks 03 / 04 with `ralis.figures.training_curves`): `train_log.csv` and
`train_log.jsonl` with columns epoch, steps, total, every `LossTerms.terms` key, valid_f1, valid_acc, valid_loss,
is_best and the flattened `LossTerms.logs` diagnostics averaged over the epoch (att_w_<view>, gate_single_<e>,
gate_fused_<e>, ...). Both files are rewritten atomically per epoch.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ralis.checkpoint import input_record, save_checkpoint
from ralis.config import Params, TrainConfig
from ralis.data.store import WindowedSplit
from ralis.evaluate import EncodedSplit, FusedScores, encode_split, fused_scores
from ralis.io import atomic_path, write_text
from ralis.methods import MultiviewMethod
from ralis.runtime import pick_device, progress_bar

__all__ = ["FitResult", "fit", "lr_factor", "flatten_logs", "epoch_budget", "improves", "CHECKPOINT_NAME", "LOG_CSV",
           "LOG_JSONL", "FEW_STEPS"]

CHECKPOINT_NAME = "checkpoint.pt"
LOG_CSV = "train_log.csv"
LOG_JSONL = "train_log.jsonl"
FEW_STEPS = 10  # an epoch with fewer optimiser steps than this triggers a warning

# LossTerms.logs keys whose vector has one entry per view, and the column prefix used for them
_PER_VIEW_LOGS = {"att_weights": "att_w"}


@dataclass
class FitResult:
    best_epoch: int  # 1-based epoch of the saved checkpoint
    best_valid_f1: float
    epochs_run: int
    stopped_early: bool
    checkpoint_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch, as in train_log


def flatten_logs(logs: dict[str, Any], view_names: Iterable[str]) -> dict[str, float]:
    """Diagnostics to scalar columns: att_weights [V] -> att_w_<view>, gate_fused [E] -> gate_fused_<e>."""
    view_names = list(view_names)
    out: dict[str, float] = {}
    for key, value in logs.items():
        arr = np.asarray(value.detach().float().cpu() if torch.is_tensor(value) else value, dtype=float)
        if arr.ndim == 0:
            out[key] = float(arr)
            continue
        if arr.ndim != 1:
            raise ValueError(f"LossTerms.logs[{key!r}] must be a scalar or a vector, got shape {arr.shape}")
        if key in _PER_VIEW_LOGS:
            if len(arr) != len(view_names):
                raise ValueError(f"LossTerms.logs[{key!r}] has {len(arr)} entries for {len(view_names)} views")
            out.update({f"{_PER_VIEW_LOGS[key]}_{v}": float(a) for v, a in zip(view_names, arr)})
        else:
            out.update({f"{key}_{i}": float(a) for i, a in enumerate(arr)})
    return out


class _Mean:
    """Running means of named scalars (keys may appear in only some steps)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


def _write_logs(out_dir: Path, history: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    with atomic_path(out_dir / LOG_CSV) as tmp:
        pd.DataFrame(history, columns=columns).to_csv(tmp, index=False)
    write_text(out_dir / LOG_JSONL, "".join(json.dumps(r, sort_keys=False) + "\n" for r in history))


def _check_protocol(params: Params) -> None:
    t = params.train
    if t.max_epochs < 1:
        raise ValueError(f"params.yaml train.max_epochs must be >= 1, got {t.max_epochs}")
    if t.max_steps is None and not 1 <= t.min_epochs <= t.max_epochs:
        raise ValueError(f"params.yaml train.min_epochs = {t.min_epochs} must lie in [1, train.max_epochs = "
                         f"{t.max_epochs}]; lower min_epochs or raise max_epochs (quick profiles: e.g. 3 / 10)")
    if t.patience is not None and t.patience < 1:
        raise ValueError(f"params.yaml train.patience must be null or >= 1, got {t.patience}")
    if t.max_steps_per_epoch is not None and t.max_steps_per_epoch < 1:
        raise ValueError(f"params.yaml train.max_steps_per_epoch must be null or >= 1, got {t.max_steps_per_epoch}")


def epoch_budget(t: TrainConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(epochs, total optimiser steps): `max_epochs` full epochs, or `max_steps` steps in ceil(max_steps /
    steps_per_epoch) epochs. Raises ValueError when that leaves fewer epochs than `min_epochs`."""
    if t.max_steps is None:
        return t.max_epochs, t.max_epochs * steps_per_epoch
    epochs = math.ceil(t.max_steps / steps_per_epoch)
    if epochs < t.min_epochs:
        raise ValueError(f"params.yaml train.max_steps = {t.max_steps} gives {epochs} epoch(s) at {steps_per_epoch} "
                         f"steps per epoch, fewer than train.min_epochs = {t.min_epochs}; lower min_epochs or raise "
                         "max_steps")
    return epochs, t.max_steps


def improves(t: TrainConfig, scores: FusedScores, best: FusedScores | None) -> bool:
    """Whether this epoch's validation scores beat the best so far: higher F1, or equal F1 settled by
    `train.checkpoint_ties` (lower validation loss, the later epoch, or the earlier epoch)."""
    if best is None or scores.f1 > best.f1:
        return True
    if scores.f1 < best.f1:
        return False
    return {"valid_loss": scores.loss < best.loss, "later": True, "earlier": False}[t.checkpoint_ties]


def lr_factor(t: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """Learning-rate multiplier of optimiser step s (0-based): 1 for `constant` [P Table 2]; for `cosine`, a linear
    warm-up over `warmup_epochs`, then a cosine decay that reaches 0 at the end of the budget (`epoch_budget`)."""
    total = epoch_budget(t, steps_per_epoch)[1]
    warm = min(round(t.warmup_epochs * steps_per_epoch), total - 1)
    if t.lr_schedule == "constant":
        return lambda s: 1.0
    if t.lr_schedule != "cosine":
        raise ValueError(f"params.yaml train.lr_schedule = {t.lr_schedule!r}; use 'constant' or 'cosine'")

    def cosine(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / max(1, total - warm))))
    return cosine


def fit(method: MultiviewMethod, train_split: WindowedSplit, valid_split: WindowedSplit, params: Params,
        out_dir: str | Path, *, augmenter: Any = None, method_name: str | None = None,
        progress: bool = True,
        on_epoch_end: Callable[[int, MultiviewMethod, EncodedSplit], dict[str, float] | None] | None = None
        ) -> FitResult:
    """Train `method` in place; on return it holds the best checkpoint's weights (eval mode).

    `augmenter` (training data only [P§5.1.3]) is passed to the training streams; the validation split is
    never augmented. The best checkpoint is written to `out_dir/checkpoint.pt`.
    `on_epoch_end(epoch, method, encoded)` (optional; e.g. the §6.2 probe) runs after each epoch's validation, with
    the method in eval mode and the validation split's encoding of that epoch; the scalars it returns are added to
    that epoch's log row.
    A method with `sorted_warmup_epochs` > 0 (Flex-MoE) draws its classification batches in those first epochs
    from `make_sorted_loader` (unshuffled, windows with the most views first; log column `sorted_warmup`).
    The batch order and augmentation follow `train.seed`; dropout and gate noise draw from torch's global generator,
    which the caller seeds (`run_experiment` seeds once per run, before building the method).
    """
    from ralis.data.loader import make_sorted_loader, make_train_streams

    _check_protocol(params)
    if len(valid_split) == 0:
        raise ValueError("the validation split is empty; the checkpoint criterion (A11) needs validation windows")
    t = params.train
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    method_name = method_name or t.method
    device = pick_device(t.device)
    method.to(device)
    streams = make_train_streams(train_split, t.cls_batch, t.con_batch, t.seed, augmenter,
                                 balanced=t.balanced_sampling)
    cls_loader, con_loader = streams
    warmup = method.sorted_warmup_epochs  # Flex-MoE: sorted, unshuffled classification batches first
    sorted_loader = make_sorted_loader(train_split, t.cls_batch, t.seed, augmenter) if warmup > 0 else None
    n_steps = full_steps = min(len(cls_loader), len(con_loader))
    if t.max_steps_per_epoch is not None:
        n_steps = min(n_steps, t.max_steps_per_epoch)
    if n_steps == 0:
        raise ValueError(f"the training split has {len(train_split)} windows, fewer than one batch of "
                         f"train.cls_batch={t.cls_batch} / train.con_batch={t.con_batch}; lower the batch sizes")
    n_epochs, budget = epoch_budget(t, n_steps)
    if full_steps < FEW_STEPS and t.max_steps is None:  # a deliberate cap (max_steps_per_epoch) is not warned about
        warnings.warn(f"an epoch has only {full_steps} optimiser step(s) ({len(train_split)} training windows, "
                      f"batches of train.cls_batch={t.cls_batch} / con_batch={t.con_batch}); {n_epochs} epochs are "
                      f"{budget} steps in all. On a small dataset give the budget in steps (train.max_steps) or lower "
                      "the batch sizes", stacklevel=2)
    optimizer = torch.optim.Adam(method.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(t, n_steps))

    inputs = input_record(train_split, method.view_specs)  # what the checkpoint expects as input (ralis.predict)
    history: list[dict[str, Any]] = []
    best_epoch, best, best_state, stale, stopped, done = 0, None, None, 0, False, 0
    for epoch in range(1, n_epochs + 1):
        epoch_steps = min(n_steps, budget - done)  # the last epoch of a step budget may be partial
        method.train()
        terms, diags = _Mean(), _Mean()
        epoch_lr = optimizer.param_groups[0]["lr"]  # at the epoch's first step (logged)
        cls_stream = sorted_loader if epoch <= warmup else cls_loader
        bar = progress_bar(zip(cls_stream, con_loader), total=epoch_steps, desc=f"epoch {epoch}/{n_epochs}",
                           show=progress, leave=False)  # no bars in executed notebooks (RALIS_QUIET)
        for step, (cls, con) in enumerate(bar):
            if step >= epoch_steps:
                break
            losses = method.training_losses(cls.to(device), con.to(device))
            if not torch.isfinite(losses.total):
                raise FloatingPointError(f"non-finite loss {losses.total.item()} at epoch {epoch}, step {step}; "
                                         f"terms {losses.terms}")
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            optimizer.step()
            scheduler.step()
            terms.add({"total": float(losses.total.detach()), **losses.terms})
            diags.add(flatten_logs(losses.logs, method.view_names))
            bar.set_postfix(loss=f"{float(losses.total.detach()):.3f}")
        bar.close()
        done += epoch_steps

        encoded = encode_split(method, valid_split, params.evaluate.batch_size, device)  # once, for both uses
        scores = fused_scores(method, encoded, params.evaluate.batch_size, device)
        extra = dict(on_epoch_end(epoch, method, encoded) or {}) if on_epoch_end is not None else {}
        improved = epoch >= t.min_epochs and improves(t, scores, best)
        if improved:
            best_epoch, best, stale = epoch, scores, 0
            best_state = {k: v.detach().cpu().clone() for k, v in method.state_dict().items()}
            save_checkpoint(out_dir / CHECKPOINT_NAME, method, method_name=method_name, params=params,
                            class_names=train_split.class_names, epoch=epoch, valid_f1=scores.f1, inputs=inputs)
        elif epoch >= t.min_epochs:
            stale += 1
        valid_f1 = scores.f1
        history.append({"epoch": epoch, "steps": epoch_steps, "lr": epoch_lr, **terms.means(), "valid_f1": valid_f1,
                        "valid_acc": scores.accuracy, "valid_loss": scores.loss, "is_best": int(improved),
                        **diags.means(), **extra}
                       | ({"sorted_warmup": int(epoch <= warmup)} if warmup > 0 else {}))
        _write_logs(out_dir, history)
        if progress:  # one line per epoch (also where bars are off)
            bar.write(f"epoch {epoch}: loss {history[-1]['total']:.4f}  valid macro-F1 {valid_f1:.4f}"
                       + ("  (best)" if improved else ""))
        if t.patience is not None and stale >= t.patience:
            stopped = True
            break

    if best_state is None or best is None:  # cannot happen: min_epochs <= the epochs run
        raise RuntimeError("no epoch reached train.min_epochs; no checkpoint was saved")
    method.load_state_dict(best_state)
    method.eval()
    return FitResult(best_epoch, best.f1, len(history), stopped, out_dir / CHECKPOINT_NAME, history)
