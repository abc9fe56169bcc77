"""Contrastive loss and per-class view weights over the epochs, with and without L_AC [P§6.2, Fig. 6].

The paper's claim: as the contrastive loss falls, the attention weights of the views converge toward a similar
level (the loss pulls every view toward the fusion, so the attention module, trained by L_cls only, finds them
harder to tell apart); without the contrastive loss they do not converge, or converge more slowly.

Every RALIS run logs the probe of `ralis.probe` after each epoch (validation L_AC, per-class view weights and their
spread). Fig. 6 compares two runs of the study: the Table 5 reference "full" and the ablation "-contrast"
(`pipeline.ablation_protocols`, seed 0), read from their training logs; no extra training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.pipeline import run_dir
from ralis.probe import weight_column

__all__ = ["ConvergenceResult", "convergence_from_logs", "probe_names", "read_convergence", "VARIANTS"]

VARIANTS = {"ralis": "full", "no_contrast": "no_contrast"}  # Fig. 6 curve -> the study variant it reads


@dataclass
class ConvergenceResult:
    """`curves`: variant, epoch, train_contrast, valid_contrast, att_spread, valid_f1;
    `weights`: variant, epoch, class, view, weight (per-class mean attention on the validation split)."""

    curves: pd.DataFrame
    weights: pd.DataFrame
    class_names: list[str] = field(default_factory=list)
    view_names: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """First / last epoch of the validation L_AC and of the weight spread per variant (metrics JSON)."""
        out = {}
        for variant, g in self.curves.groupby("variant", sort=False):
            g = g.sort_values("epoch")
            out[variant] = {f"{q}_{end}": float(g[q].iloc[i]) for q in ("valid_contrast", "att_spread", "valid_f1")
                            for end, i in (("first", 0), ("last", -1))}
            out[variant]["epochs"] = int(g["epoch"].max())
        return out


def convergence_from_logs(logs: dict[str, pd.DataFrame], class_names: list[str],
                          view_names: list[str]) -> ConvergenceResult:
    """Curves and per-class weights from training logs (one per Fig. 6 variant) that hold the probe's columns."""
    curves, weights = [], []
    for variant, log in logs.items():
        missing = [c for c in ("valid_contrast", "att_spread") if c not in log.columns]
        if missing:
            raise ValueError(f"the training log of {variant!r} has no probe columns {missing}; retrain it with a "
                             f"method that has an attention fusion (RALIS)")
        for row in log.itertuples(index=False):
            r = row._asdict()
            curves.append({"variant": variant, "epoch": r["epoch"], "train_contrast": r.get("contrast", np.nan),
                           "valid_contrast": r["valid_contrast"], "att_spread": r["att_spread"],
                           "valid_f1": r["valid_f1"]})
        cols = {(c, v): weight_column(c, v) for c in class_names for v in view_names}
        for (c, v), col in cols.items():
            weights += [{"variant": variant, "epoch": e, "class": c, "view": v, "weight": float(w)}
                        for e, w in zip(log["epoch"], log[col])]
    return ConvergenceResult(pd.DataFrame(curves), pd.DataFrame(weights), list(class_names), list(view_names))


def probe_names(log: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Class and view names of a training log's probe columns `w/<class>/<view>`, in log order."""
    pairs = [c.split("/")[1:] for c in log.columns if c.startswith("w/")]
    return list(dict.fromkeys(c for c, _ in pairs)), list(dict.fromkeys(v for _, v in pairs))


def read_convergence(ablations_dir: str | Path, protocol: str) -> ConvergenceResult:
    """Fig. 6 from the study's runs: the "full" and "no_contrast" variants' logs under `ablations_dir`."""
    logs = {}
    for curve, variant in VARIANTS.items():
        path = run_dir(ablations_dir, variant, protocol, 0) / "train_log.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; Fig. 6 reads the '{variant}' run: keep it in params.yaml "
                                    f"pipeline.ablations and run `dvc repro train`")
        logs[curve] = pd.read_csv(path)
    return convergence_from_logs(logs, *probe_names(logs["ralis"]))
