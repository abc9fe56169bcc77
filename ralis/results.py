"""Tables 3-6 analogues from the pipeline's runs: mean ± std over seeds, beside the paper's numbers.

A run folder (`ralis.pipeline.run_dir`) holds `metrics.json` (test F1 per scenario "1" / "half" / "all", in
[0, 1]) and `combinations.csv` (test F1 of each of the 2^V-1 view combinations). Tables are in % like the
paper. Which runs feed which table [P§5.2-5.4]:

    table3  methods    x protocol complete   (training set with complete views)
    table4  methods    x protocol uniform    (every view dropped with p = 10^(-3/V), A1)
    table5  ablations  x protocol uniform    (Table 5 variants; "full" is the RALIS row)
    table6  methods + ablations x per_view   (per-view drop rates of §5.4)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.io import write_json, write_text
from ralis.paper_tables import (
    ROW_LABEL,
    SCENARIO_WORDS,
    SCENARIOS,
    TABLE_PROTOCOL,
    TABLE_TITLE,
    paper_frame,
    scenario_labels,
)
from ralis.pipeline import PipelineConfig, run_dir

__all__ = ["collect_runs", "collect_combinations", "study_combinations", "table_sources", "summarize",
           "compare_with_paper", "format_table", "build_tables", "collect_study", "load_analyses",
           "accuracy_table", "accuracy_metrics", "study_confusion", "results_metrics", "write_metrics", "to_markdown",
           "write_tables"]


def _read_metrics(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run its training stage first (`dvc repro`), or remove the "
                                f"run from params.yaml `pipeline`")
    return json.loads(path.read_text())


def collect_runs(root: str | Path, names: list[str], protocols: list[str], seeds: list[int]) -> pd.DataFrame:
    """Long frame of test F1 (fraction): row (method or variant), protocol, seed, scenario, f1, best_epoch."""
    recs = []
    for name in names:
        for protocol in protocols:
            for seed in seeds:
                m = _read_metrics(run_dir(root, name, protocol, seed) / "metrics.json")
                for sc in SCENARIOS:
                    f1 = m["test_f1"].get(sc)
                    recs.append({"row": name, "protocol": protocol, "seed": int(seed), "scenario": sc,
                                 "f1": np.nan if f1 is None else float(f1), "best_epoch": m.get("best_epoch"),
                                 "dataset": m.get("dataset")})
    return pd.DataFrame(recs, columns=["row", "protocol", "seed", "scenario", "f1", "best_epoch", "dataset"])


def collect_combinations(root: str | Path, names: list[str], protocol: str, seeds: list[int]) -> pd.DataFrame:
    """Per-combination test F1 (fraction) of each run: row, seed, combination, k, f1."""
    frames = []
    for name in names:
        for seed in seeds:
            path = run_dir(root, name, protocol, seed) / "combinations.csv"
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing; run its training stage first (`dvc repro`)")
            df = pd.read_csv(path)
            frames.append(df.assign(row=name, seed=int(seed))[["row", "seed", "combination", "k", "f1"]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["row", "seed", "combination", "k", "f1"])


def study_combinations(outputs_dir: str | Path, pipe: PipelineConfig, protocol: str) -> pd.DataFrame:
    """`collect_combinations` of every method of the study under `protocol`, each with its own seeds."""
    return pd.concat([collect_combinations(Path(outputs_dir) / "runs", [m], protocol, pipe.method_seeds(m))
                      for m in pipe.methods], ignore_index=True)


def accuracy_table(outputs_dir: str | Path, pipe: PipelineConfig, protocol: str, decimals: int = 2) -> pd.DataFrame:
    """Test accuracy (%) per method (rows) and scenario (columns) under `protocol`, "mean ± std" over seeds."""
    recs = []
    for m in pipe.methods:
        for seed in pipe.method_seeds(m):
            acc = _read_metrics(run_dir(Path(outputs_dir) / "runs", m, protocol, seed) / "metrics.json")
            for sc in SCENARIOS:
                value = acc.get("test_accuracy", {}).get(sc)
                recs.append({"row": m, "scenario": sc, "f1": np.nan if value is None else float(value)})
    summary = summarize(pd.DataFrame(recs, columns=["row", "scenario", "f1"]))
    wide = summary.assign(cell=[_pm(m, s, decimals) for m, s in zip(summary["mean"], summary["std"])])
    out = wide.pivot(index="row", columns="scenario", values="cell").reindex(index=pipe.methods, columns=SCENARIOS)
    out.index.name = f"accuracy (%), {protocol}"
    return out


def accuracy_metrics(outputs_dir: str | Path, pipe: PipelineConfig, protocol: str) -> dict:
    """DVC metrics: {"accuracy": {method: {acc_<scenario>: mean test accuracy over seeds (fraction)}}}."""
    out: dict[str, dict] = {}
    for m in pipe.methods:
        runs = [_read_metrics(run_dir(Path(outputs_dir) / "runs", m, protocol, s) / "metrics.json")
                for s in pipe.method_seeds(m)]
        for sc in SCENARIOS:
            values = [r["test_accuracy"][sc] for r in runs if r.get("test_accuracy", {}).get(sc) is not None]
            out.setdefault(m, {})[f"acc_{sc}"] = round(float(np.mean(values)), 6) if values else None
    return {"accuracy": out}


def study_confusion(outputs_dir: str | Path, method: str, protocol: str, seeds: list[int]) -> pd.DataFrame:
    """The all-views test confusion matrix of `method` (counts summed over seeds; index true, columns predicted)."""
    frames = []
    for seed in seeds:
        path = run_dir(Path(outputs_dir) / "runs", method, protocol, seed) / "confusion.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run its training stage first (`dvc repro`)")
        frames.append(pd.read_csv(path, index_col=0))
    return sum(frames[1:], frames[0])


def table_sources(pipe: PipelineConfig) -> dict[str, list[tuple[str, str]]]:
    """For each table: the (kind, protocol) sources present in this pipeline; kind is "runs" or "ablations"."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, protocol in TABLE_PROTOCOL.items():
        src = []
        if table != "table5" and protocol in pipe.protocols:
            src.append(("runs", protocol))
        if table in ("table5", "table6") and protocol in pipe.ablation_protocols and pipe.ablations:
            src.append(("ablations", protocol))
        if src:
            out[table] = src
    return out


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds in %, one line per (row, scenario); std uses ddof=1 (NaN with one seed)."""
    g = runs.groupby(["row", "scenario"], sort=False)["f1"]
    out = pd.DataFrame({"mean": g.mean() * 100, "std": g.std(ddof=1) * 100, "n_seeds": g.count()}).reset_index()
    return out


def compare_with_paper(summary: pd.DataFrame, table: str, dataset: str) -> pd.DataFrame:
    """`summary` joined with the paper's numbers for the same table and dataset; diff = ours - paper (pp).

    For a dataset the paper does not report (e.g. synthetic) the paper columns are NaN.
    """
    paper = paper_frame(table, dataset)
    out = summary.merge(paper, on=["row", "scenario"], how="left")
    out["diff"] = out["mean"] - out["paper_mean"]
    return out


def format_table(comp: pd.DataFrame, table: str, dataset: str, decimals: int = 2) -> pd.DataFrame:
    """Paper-style wide table: one line per row, "mean ± std" per scenario, paper value and diff beside it."""
    labels = scenario_labels(dataset, table)
    order = list(dict.fromkeys(comp["row"]))
    has_paper = comp["paper_mean"].notna().any()
    cols = {}
    for sc, lab in zip(SCENARIOS, labels):
        part = comp[comp["scenario"] == sc].set_index("row").reindex(order)
        ours = f"{lab} ours" if has_paper else SCENARIO_WORDS.get(lab, f"{lab} views")
        cols[ours] = [_pm(m, s, decimals) for m, s in zip(part["mean"], part["std"])]
        if has_paper:
            cols[f"{lab} paper"] = [_pm(m, s, decimals) for m, s in zip(part["paper_mean"], part["paper_std"])]
            cols[f"{lab} diff"] = [("" if np.isnan(d) else f"{d:+.{decimals}f}") for d in part["diff"]]
    return pd.DataFrame(cols, index=pd.Index([ROW_LABEL.get(r, r) for r in order], name="method"))


def _pm(m: float, s: float, decimals: int) -> str:
    if m is None or np.isnan(m):
        return ""
    return f"{m:.{decimals}f}" if s is None or np.isnan(s) else f"{m:.{decimals}f} ± {s:.{decimals}f}"


def collect_study(outputs_dir: str | Path, pipe: PipelineConfig, kind: str, protocols: list[str]) -> pd.DataFrame:
    """`collect_runs` over the study's methods (kind "runs", each with its seeds) or its Table 5 variants
    (kind "ablations": "full" and `pipeline.ablations`, seed 0), as `ralis.runner.study_jobs` trains them."""
    root = Path(outputs_dir) / kind
    if kind == "runs":
        parts = [collect_runs(root, [m], protocols, pipe.method_seeds(m)) for m in pipe.methods]
    else:
        parts = [collect_runs(root, pipe.table5_variants, protocols, [0])]
    return pd.concat(parts, ignore_index=True)


def build_tables(outputs_dir: str | Path, pipe: PipelineConfig, dataset: str) -> dict[str, pd.DataFrame]:
    """Every table this pipeline can fill, as long comparison frames (see `compare_with_paper`)."""
    tables = {}
    for table, sources in table_sources(pipe).items():
        parts = [collect_study(outputs_dir, pipe, kind, [protocol]) for kind, protocol in sources]
        tables[table] = compare_with_paper(summarize(pd.concat(parts, ignore_index=True)), table, dataset)
    return tables


def load_analyses(analyses_dir: str | Path) -> dict:
    """What the claims check reads of the §6 analyses (None where an analysis has not run): complexity,
    convergence and load-balance summaries (their metrics.json) and the sensitivity table."""
    root = Path(analyses_dir)

    def read(name: str) -> dict | None:
        path = root / name / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else None

    sens = root / "sensitivity" / "data" / "sensitivity.csv"
    return {"complexity": read("complexity"), "convergence": read("convergence"),
            "load_balance": read("load_balance"), "sensitivity": pd.read_csv(sens) if sens.is_file() else None}


def write_metrics(path: str | Path, tables: dict[str, pd.DataFrame], extra: dict | None = None) -> Path:
    """The results stage's DVC metrics file: `results_metrics(tables)` plus `extra` (e.g. the claims' verdicts)."""
    return write_json(path, {**results_metrics(tables), **(extra or {})})


def results_metrics(tables: dict[str, pd.DataFrame]) -> dict:
    """DVC metrics: {table: {row: {f1_<scenario>: mean F1 fraction}}} (`dvc metrics show / diff`)."""
    out: dict[str, dict] = {}
    for table, comp in tables.items():
        for r in comp.itertuples():
            val = None if np.isnan(r.mean) else round(float(r.mean) / 100, 6)
            out.setdefault(table, {}).setdefault(r.row, {})[f"f1_{r.scenario}"] = val
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub markdown table of `df` (index included), without extra dependencies."""
    head = [df.index.name or ""] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in row]) + " |" for i, row in zip(df.index, df.values)]
    return "\n".join(lines) + "\n"


def write_tables(out_dir: str | Path, tables: dict[str, pd.DataFrame], dataset: str, decimals: int = 2
                 ) -> dict[str, Path]:
    """Write `<table>.csv` (long, with the paper columns), `<table>.md` (paper-style) and all in `tables.md`."""
    out_dir = Path(out_dir)
    written = {}
    md = []
    for table, comp in tables.items():
        path = out_dir / f"{table}.csv"
        write_text(path, comp.round(4).to_csv(index=False))
        wide = format_table(comp, table, dataset, decimals)
        write_text(out_dir / f"{table}.md", to_markdown(wide))
        md.append(f"## {TABLE_TITLE[table]}\n\n{to_markdown(wide)}")
        written[table] = path
    written["all"] = write_text(out_dir / "tables.md", "\n".join(md))
    return written
