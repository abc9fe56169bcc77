"""Markdown table of run folders (metrics.json from scripts/quick_train.py or ralis.api.run_experiment).

One row per run (method, seed, test macro-F1 for 1 view / half / all, best epoch and its validation F1), then
one row per method with the mean over its runs. Usage (the README's issue-4 table):

    python scripts/summarize_runs.py scratch/i4/e40-s0 scratch/i4/e40-s1 scratch/i4/e40-s2 \
        scratch/i4/mf-e40-s0 scratch/i4/mf-e40-s1 scratch/i4/mf-e40-s2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ralis.io import read_json

SCENARIOS = ("1", "half", "all")


def load_run(folder: Path) -> dict:
    """metrics.json of one run folder, checked for the keys the table needs."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics.json; pass run folders written by scripts/quick_train.py")
    m = read_json(path)
    missing = [k for k in ("method", "seed", "test_f1", "best_epoch", "best_valid_f1") if k not in m]
    missing += [f"test_f1.{s}" for s in SCENARIOS if s not in m.get("test_f1", {})]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}; rerun the training to rewrite it")
    return m


def table(runs: list[dict]) -> str:
    """Per-run rows, then the mean per method (in order of first appearance)."""
    lines = ["| run | 1 view | half | all | best epoch (valid F1) |", "|---|---|---|---|---|"]
    for m in runs:
        f = m["test_f1"]
        lines.append(f"| {m['method']}, seed {m['seed']} | " + " | ".join(f"{f[s]:.3f}" for s in SCENARIOS)
                     + f" | {m['best_epoch']} ({m['best_valid_f1']:.3f}) |")
    for method in dict.fromkeys(m["method"] for m in runs):
        group = [m for m in runs if m["method"] == method]
        seeds = ", ".join(str(m["seed"]) for m in group)
        means = [np.mean([m["test_f1"][s] for m in group]) for s in SCENARIOS]
        lines.append(f"| {method}, mean of seeds {seeds} | " + " | ".join(f"{x:.3f}" for x in means) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders, each with a metrics.json")
    args = ap.parse_args(argv)
    print(table([load_run(r) for r in args.runs]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
