"""View-combination evaluation [P§5.1.1, §5.2; methods.md §1.12, A10].

Every test window is encoded ONCE (`encode_split`, per-view embeddings z [V, N, D]); each of the 2^V - 1
non-empty view combinations Q is then scored from those cached embeddings with `method.predict(z, S_i & Q)`.
A sample with availability S_i receives S_i ∩ Q; samples with S_i ∩ Q empty are excluded from that
combination's F1 and counted (A10). A scenario with k views scores the mean of the per-combination
macro-F1 over the C(V, k) combinations; predictions are never pooled across combinations.

Next to macro-F1, each combination reports its accuracy; the confusion matrix (counts, true class x predicted
class) is that of the all-views combination, i.e. every test window with all of its available views.

Macro-F1 is sklearn's `f1_score(average="macro")` on the scored samples of one combination, i.e. over the
union of the classes that occur in their ground truth or predictions (the author's VSF code; see
docs/notes/training.md). A combination with no scored sample has F1 = NaN and is left out of the mean.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from ralis.contract import check_embeddings
from ralis.data.loader import make_eval_loader
from ralis.data.store import WindowedSplit
from ralis.io import atomic_path, write_json
from ralis.methods import MultiviewMethod

__all__ = [
    "EncodedSplit", "Prediction", "FusedScores", "CombinationResults", "encode_split", "predict_encoded", "macro_f1",
    "accuracy", "confusion", "view_combinations", "scenario_size", "evaluate_combinations", "fused_scores", "fused_f1",
    "nan_to_none",
]


class EncodedSplit(NamedTuple):
    z: torch.Tensor  # [V, N, D] float on CPU, zeros where a view is missing
    present: torch.Tensor  # bool [N, V]
    labels: torch.Tensor  # long [N]


class Prediction(NamedTuple):
    rows: np.ndarray  # indices of the scored samples (S_i ∩ Q non-empty)
    y_true: np.ndarray  # [n_scored]
    y_pred: np.ndarray  # [n_scored]
    probs: np.ndarray  # [n_scored, n_classes] softmax of the fused logits


def _method_device(method: MultiviewMethod) -> torch.device:
    p = next(method.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def encode_split(method: MultiviewMethod, split: WindowedSplit, batch_size: int = 256,
                 device: torch.device | str | None = None) -> EncodedSplit:
    """Run the encoders once over every window (eval mode, no augmentation); embeddings kept on CPU."""
    if tuple(split.view_names) != tuple(method.view_names):
        raise ValueError(f"split views {list(split.view_names)} differ from the method's {list(method.view_names)}")
    if batch_size < 1:
        raise ValueError(f"evaluate.batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else _method_device(method)
    method.eval()
    chunks = []
    for batch in make_eval_loader(split, batch_size):
        z = method.encode(batch.to(device))  # [V, n, D]
        check_embeddings(z, batch.present.to(z.device))
        chunks.append(z.float().cpu())
    present = torch.from_numpy(np.asarray(split.present, dtype=bool))
    z = torch.cat(chunks, dim=1)  # [V, N, D]
    z = torch.where(present.T[:, :, None], z, torch.zeros_like(z))  # zeros where missing
    return EncodedSplit(z, present, torch.from_numpy(split.labels).long())


@torch.no_grad()
def predict_encoded(method: MultiviewMethod, encoded: EncodedSplit, keep: torch.Tensor | None = None,
                    batch_size: int = 256, device: torch.device | str | None = None) -> Prediction:
    """Predict from cached embeddings with views S_i ∩ Q (`keep`: bool [V], None = all views).

    Samples left with no view are excluded (A10); embeddings of views outside S_i ∩ Q are zeroed.
    """
    n_views = encoded.z.shape[0]
    keep = torch.ones(n_views, dtype=torch.bool) if keep is None else keep.to(torch.bool).cpu()
    if keep.shape != (n_views,):
        raise ValueError(f"keep must be bool [V={n_views}], got {tuple(keep.shape)}")
    device = torch.device(device) if device is not None else _method_device(method)
    method.eval()
    present = encoded.present & keep[None, :]  # [N, V]
    rows = present.any(dim=1).nonzero().flatten()
    preds, probs = [], []
    for start in range(0, len(rows), batch_size):
        idx = rows[start:start + batch_size]
        pres = present[idx]  # [n, V]
        z = encoded.z[:, idx]  # [V, n, D]
        z = torch.where(pres.T[:, :, None], z, torch.zeros_like(z))  # views outside S_i ∩ Q zeroed
        logits = method.predict(z.to(device), pres.to(device))  # [n, n_classes]
        preds.append(logits.argmax(dim=1).cpu())
        probs.append(torch.softmax(logits.float(), dim=1).cpu())
    y_pred = torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)
    prob = torch.cat(probs).numpy() if probs else np.zeros((0, method.n_classes), dtype=np.float32)
    return Prediction(rows.numpy(), encoded.labels[rows].numpy(), y_pred, prob)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """sklearn macro-F1 over the classes in y_true ∪ y_pred; NaN when there is no sample."""
    if len(y_true) == 0:
        return float("nan")
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of correct predictions; NaN when there is no sample."""
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [n_classes, n_classes]: row = true class, column = predicted class."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (y_true, y_pred), 1)
    return out


class FusedScores(NamedTuple):
    """Validation scores of the fused prediction with each sample's available views."""

    f1: float  # macro-F1: the A11 checkpoint criterion
    accuracy: float
    loss: float  # mean cross-entropy of the fused prediction (the checkpoint tie-break, train.checkpoint_ties)


def fused_scores(method: MultiviewMethod, split: WindowedSplit | EncodedSplit, batch_size: int = 256,
                 device: torch.device | str | None = None) -> FusedScores:
    """Macro-F1, accuracy and cross-entropy of the fused prediction with each sample's available views;
    `split` may be already encoded (`encode_split`)."""
    encoded = split if isinstance(split, EncodedSplit) else encode_split(method, split, batch_size, device)
    pred = predict_encoded(method, encoded, None, batch_size, device)
    p_true = pred.probs[np.arange(len(pred.y_true)), pred.y_true] if len(pred.y_true) else np.zeros(0)
    loss = float(-np.log(np.clip(p_true, 1e-12, None)).mean()) if len(p_true) else float("nan")
    return FusedScores(macro_f1(pred.y_true, pred.y_pred), accuracy(pred.y_true, pred.y_pred), loss)


def fused_f1(method: MultiviewMethod, split: WindowedSplit | EncodedSplit, batch_size: int = 256,
             device: torch.device | str | None = None) -> float:
    """Macro-F1 of the fused prediction with each sample's available views (the A11 checkpoint criterion)."""
    return fused_scores(method, split, batch_size, device).f1


def view_combinations(n_views: int) -> list[tuple[int, ...]]:
    """All non-empty combinations of view indices, by size then lexicographically."""
    return [c for k in range(1, n_views + 1) for c in itertools.combinations(range(n_views), k)]


def scenario_size(scenario: str, n_views: int) -> int:
    """Number of views of a scenario: "1", "half" = ceil(V/2) (DailySport 5 -> 3, RealDisp 9 -> 5), "all" = V."""
    if scenario == "all":
        return n_views
    if scenario == "half":
        return math.ceil(n_views / 2)
    if str(scenario).isdigit() and 1 <= int(scenario) <= n_views:
        return int(scenario)
    raise ValueError(f"evaluate.scenarios entry {scenario!r} must be 'half', 'all' or an integer in [1, {n_views}]")


@dataclass
class CombinationResults:
    """Per-combination table and the per-scenario mean F1."""

    rows: list[dict]  # combination ('+'-joined view names), k, n_scored, n_excluded, f1, accuracy
    summary: dict[str, float]  # scenario -> mean F1 over its C(V, k) combinations
    scenario_k: dict[str, int] = field(default_factory=dict)
    n_combinations: dict[str, int] = field(default_factory=dict)  # combinations with a finite F1
    accuracy: dict[str, float] = field(default_factory=dict)  # scenario -> mean accuracy over its combinations
    confusion: np.ndarray | None = None  # [n_classes, n_classes] counts of the all-views combination
    class_names: tuple[str, ...] = ()

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["combination", "k", "n_scored", "n_excluded", "f1", "accuracy"])

    def confusion_frame(self) -> pd.DataFrame:
        """The all-views confusion matrix with class names (index = true, columns = predicted)."""
        if self.confusion is None:
            raise ValueError("these results hold no confusion matrix")
        names = list(self.class_names)
        return pd.DataFrame(self.confusion, index=pd.Index(names, name="true"), columns=names)

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write combinations.csv, combinations.json and confusion.csv under `out_dir` (atomic)."""
        out_dir = Path(out_dir)
        csv = out_dir / "combinations.csv"
        with atomic_path(csv) as tmp:
            self.frame().to_csv(tmp, index=False)
        js = write_json(out_dir / "combinations.json", nan_to_none({
            "combinations": self.rows, "summary": self.summary, "accuracy": self.accuracy,
            "scenario_k": self.scenario_k, "n_combinations": self.n_combinations}))
        paths = {"csv": csv, "json": js}
        if self.confusion is not None:
            paths["confusion"] = out_dir / "confusion.csv"
            with atomic_path(paths["confusion"]) as tmp:
                self.confusion_frame().to_csv(tmp)
        return paths


def nan_to_none(obj: object) -> object:
    """JSON has no NaN: write null instead."""
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_to_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def evaluate_combinations(method: MultiviewMethod, encoded: EncodedSplit, view_names: Sequence[str],
                          class_names: Sequence[str], scenarios: Sequence[str] = ("1", "half", "all"),
                          batch_size: int = 256, device: torch.device | str | None = None) -> CombinationResults:
    """Score every non-empty view combination from cached embeddings; never re-runs the encoders."""
    n_views = encoded.z.shape[0]
    if len(view_names) != n_views:
        raise ValueError(f"{len(view_names)} view names for embeddings of {n_views} views")
    if len(encoded.labels) and int(encoded.labels.max()) >= len(class_names):
        raise ValueError(f"label {int(encoded.labels.max())} out of range for {len(class_names)} classes")
    rows, matrix = [], None
    for combo in view_combinations(n_views):
        keep = torch.zeros(n_views, dtype=torch.bool)
        keep[list(combo)] = True
        pred = predict_encoded(method, encoded, keep, batch_size, device)
        rows.append({"combination": "+".join(view_names[i] for i in combo), "k": len(combo),
                     "n_scored": len(pred.rows), "n_excluded": len(encoded.labels) - len(pred.rows),
                     "f1": macro_f1(pred.y_true, pred.y_pred), "accuracy": accuracy(pred.y_true, pred.y_pred)})
        if len(combo) == n_views:
            matrix = confusion(pred.y_true, pred.y_pred, len(class_names))
    summary, acc, sizes, counts = {}, {}, {}, {}
    for sc in scenarios:
        k = scenario_size(sc, n_views)
        for key, out in (("f1", summary), ("accuracy", acc)):
            values = np.array([r[key] for r in rows if r["k"] == k], dtype=float)
            finite = values[np.isfinite(values)]
            out[sc] = float(finite.mean()) if len(finite) else float("nan")
        sizes[sc] = k
        counts[sc] = int(np.isfinite([r["f1"] for r in rows if r["k"] == k]).sum())
    return CombinationResults(rows, summary, sizes, counts, acc, matrix, tuple(class_names))
