"""What DVC tracks of the results stage: a few headline metrics and the training curves of every run.

`dvc metrics show` prints one row per metrics file and one column per key, and `dvc exp show` names a column
`<file>:<key>` when files share a key, so the headline is a few small files with the same few keys rather than one
file with hundreds: both tables fit a screen.

    outputs/headline/<table>/<method>.json   {"f1_1", "f1_half", "f1_all"}: mean test macro-F1 over seeds
                                              (fraction) of each method in Tables 3, 4 and 6 (when trained)
    outputs/headline/claims.json             {"holds", "does_not_hold", "not_measured"}: how many claims of
                                              `ralis.claims` got each verdict (each verdict with its margin and
                                              spread: outputs/results/claims.json / claims.md)

Everything else (Table 5, accuracies, the analyses' slopes and ratios) stays in `outputs/results/metrics.json`
and `outputs/analyses/*/metrics.json`, which are plain outputs, not DVC metrics.

The training curves are long CSV files for DVC's top-level `plots:` (dvc.yaml), drawn with the templates in
`.dvc/plots/` (one line per run) and rendered offline through `.dvc/plots/offline.html` (the Vega scripts
inlined, see `.dvc/plots/README.md`):

    outputs/results/curves/valid_f1.csv      epoch, run, valid_f1
    outputs/results/curves/losses.csv        epoch, run, term, value   (term: total, cls, contrast, balance)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ralis.claims import Verdict, claims_metrics
from ralis.io import atomic_dir, write_json, write_text
from ralis.paper_tables import SCENARIOS
from ralis.pipeline import PipelineConfig, run_dir, study_runs

__all__ = ["HEADLINE_TABLES", "LOSS_TERMS", "headline_metrics", "write_headline", "training_curves", "write_curves"]

HEADLINE_TABLES = ("table3", "table4", "table6")  # the method tables; Table 5's variants stay in metrics.json
LOSS_TERMS = ("total", "cls", "contrast", "balance")  # train_log.csv columns drawn where a method logs them


def headline_metrics(tables: dict[str, pd.DataFrame], methods: list[str], verdicts: list[Verdict]
                     ) -> dict[str, dict]:
    """{relative path: metrics}: each method's scenario means per method table, and the claims' verdict counts."""
    out: dict[str, dict] = {}
    for table in HEADLINE_TABLES:
        if table not in tables:
            continue
        comp = tables[table].set_index(["row", "scenario"])["mean"]
        for m in methods:
            if (m, SCENARIOS[0]) in comp.index:
                out[f"{table}/{m}.json"] = {f"f1_{sc}": None if np.isnan(comp[(m, sc)]) else
                                            round(float(comp[(m, sc)]) / 100, 4) for sc in SCENARIOS}
    if verdicts:
        out["claims.json"] = claims_metrics(verdicts)["counts"]  # holds / does_not_hold / not_measured
    return out


def write_headline(folder: str | Path, metrics: dict[str, dict]) -> Path:
    """Write `headline_metrics` as a fresh folder (renamed into place: no file of an earlier run survives)."""
    if not metrics:
        raise ValueError("no headline metrics to write: no method table and no claim")
    with atomic_dir(folder) as tmp:
        for rel, values in metrics.items():
            write_json(tmp / rel, values)
    return Path(folder)


def training_curves(outputs_dir: str | Path, pipe: PipelineConfig, variants: list[str]
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation F1 [epoch, run, valid_f1] and losses [epoch, run, term, value] of every run of the study
    (`ralis.pipeline.study_runs`), long form; a run is labelled method/protocol/seed<k> or variant/protocol."""
    f1, losses = [], []
    for kind, name, protocol, seed in study_runs(pipe, variants):
        label = f"{name}/{protocol}/seed{seed}" if kind == "runs" else f"{name}/{protocol}"
        path = run_dir(Path(outputs_dir) / kind, name, protocol, seed) / "train_log.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run the `train` stage first (`dvc repro train`)")
        log = pd.read_csv(path)
        f1.append(log[["epoch", "valid_f1"]].assign(run=label))
        terms = [t for t in LOSS_TERMS if t in log.columns]
        losses.append(log.melt(id_vars="epoch", value_vars=terms, var_name="term").assign(run=label))
    return (pd.concat(f1, ignore_index=True)[["epoch", "run", "valid_f1"]],
            pd.concat(losses, ignore_index=True)[["epoch", "run", "term", "value"]])


def write_curves(folder: str | Path, curves: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Path]:
    """`valid_f1.csv` and `losses.csv` of `training_curves` under `folder`."""
    f1, losses = curves
    return {"valid_f1": write_text(Path(folder) / "valid_f1.csv", f1.round(6).to_csv(index=False)),
            "losses": write_text(Path(folder) / "losses.csv", losses.round(6).to_csv(index=False))}
