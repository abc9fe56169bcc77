"""What DVC tracks: the headline metrics (one small file per method and measured claim) and the training curves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ralis import tracking
from ralis.claims import FAILS, HOLDS, NOT_MEASURED, Verdict
from ralis.pipeline import PipelineConfig, run_dir
from ralis.results import compare_with_paper, summarize

ROOT = Path(__file__).resolve().parents[1]


def _table(rows: dict[str, list[list[float]]], table: str) -> pd.DataFrame:
    """A comparison frame from per-row, per-seed F1 fractions [seed][scenario 1 / half / all]."""
    recs = [{"row": r, "seed": s, "scenario": sc, "f1": f1} for r, seeds in rows.items()
            for s, values in enumerate(seeds) for sc, f1 in zip(("1", "half", "all"), values)]
    return compare_with_paper(summarize(pd.DataFrame(recs)), table, "synthetic")


def test_headline_holds_each_method_mean_and_the_verdict_counts():
    tables = {"table4": _table({"ralis": [[0.30, 0.50, 0.70], [0.40, 0.60, 0.80]], "cmc": [[0.2, 0.4, np.nan]]},
                               "table4"),
              "table5": _table({"full": [[0.3, 0.5, 0.7]], "no_moe": [[0.1, 0.2, 0.3]]}, "table5")}
    verdicts = [Verdict("a", "c", "Table 4", HOLDS, 0.12345), Verdict("b", "c", "Table 5", FAILS, -0.02),
                Verdict("c", "c", "Fig. 5", NOT_MEASURED)]
    head = tracking.headline_metrics(tables, ["ralis", "cmc", "gmu"], verdicts)
    assert set(head) == {"table4/ralis.json", "table4/cmc.json", "claims.json"}
    assert head["table4/ralis.json"] == {"f1_1": 0.35, "f1_half": 0.55, "f1_all": 0.75}  # mean over the seeds
    assert head["table4/cmc.json"]["f1_all"] is None  # NaN is written as null, not a number
    assert head["claims.json"] == {"holds": 1, "does_not_hold": 1, "not_measured": 1}


def test_headline_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "headline"
    tracking.write_headline(folder, {"table4/old_method.json": {"f1_1": 0.1}, "claims.json": {"holds": 1}})
    tracking.write_headline(folder, {"table4/ralis.json": {"f1_1": 0.2}})
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json")) == ["table4/ralis.json"]
    assert json.loads((folder / "table4/ralis.json").read_text()) == {"f1_1": 0.2}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    with pytest.raises(ValueError, match="no headline metrics"):
        tracking.write_headline(folder, {})


def _log(path: Path, epochs: int, terms: tuple[str, ...]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"epoch": range(1, epochs + 1), "steps": 5, "lr": 0.001,
                          **{t: np.linspace(2, 1, epochs) for t in terms}, "valid_f1": np.linspace(0.1, 0.8, epochs),
                          "is_best": [False] * (epochs - 1) + [True], "gate_fused_0": 0.5})
    frame.to_csv(path / "train_log.csv", index=False)


def test_training_curves_cover_every_run_in_long_form(tmp_path):
    pipe = PipelineConfig(baselines=["cmc"], protocols=["uniform"], seeds=[0, 1], baseline_seeds=[0],
                          ablations=["no_moe"], ablation_protocols=["uniform"])
    for seed in (0, 1):
        _log(run_dir(tmp_path / "runs", "ralis", "uniform", seed), 3, ("total", "cls", "contrast", "balance"))
    _log(run_dir(tmp_path / "runs", "cmc", "uniform", 0), 3, ("total", "cls"))
    _log(run_dir(tmp_path / "ablations", "no_moe", "uniform", 0), 2, ("total", "cls", "contrast"))
    f1, losses = tracking.training_curves(tmp_path, pipe, ["no_moe"])
    assert list(f1.columns) == ["epoch", "run", "valid_f1"]
    assert list(losses.columns) == ["epoch", "run", "term", "value"]
    assert sorted(f1["run"].unique()) == ["cmc/uniform/seed0", "no_moe/uniform", "ralis/uniform/seed0",
                                          "ralis/uniform/seed1"]
    assert len(f1) == 3 + 3 + 3 + 2
    per_run = losses.groupby("run")["term"].unique().map(sorted).to_dict()
    assert per_run["cmc/uniform/seed0"] == ["cls", "total"]  # only the terms a method logs
    assert per_run["ralis/uniform/seed0"] == ["balance", "cls", "contrast", "total"]
    written = tracking.write_curves(tmp_path / "curves", (f1, losses))
    assert pd.read_csv(written["valid_f1"]).shape == f1.shape
    (run_dir(tmp_path / "runs", "cmc", "uniform", 0) / "train_log.csv").unlink()
    with pytest.raises(FileNotFoundError, match="cmc/uniform/seed0/train_log.csv is missing"):
        tracking.training_curves(tmp_path, pipe, ["no_moe"])


def test_dvc_declares_the_headline_as_its_only_metrics_and_the_curves_as_plots():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    metrics = [next(iter(m)) if isinstance(m, dict) else m
               for stage in dvc["stages"].values() for m in stage.get("metrics", [])]
    assert metrics == ["outputs/headline"]
    plots = {next(iter(p)): p[next(iter(p))] for p in dvc["plots"]}
    assert set(plots) == {"outputs/results/curves/valid_f1.csv", "outputs/results/curves/losses.csv"}
    for props in plots.values():
        template = json.loads((ROOT / ".dvc/plots" / f"{props['template']}.json").read_text())
        text = json.dumps(template)
        assert all(f"<DVC_METRIC_{a}>" in text for a in ("DATA", "X", "Y")) and '"run"' in text


def test_the_offline_page_has_dvc_placeholders_and_no_network_script():
    config = (ROOT / ".dvc/config").read_text()
    assert re.search(r"html_template\s*=\s*plots/offline.html", config)
    page = (ROOT / ".dvc/plots/offline.html").read_text()
    assert "{plot_divs}" in page and "{scripts}" not in page  # DVC's CDN scripts must not be added back
    assert not re.search(r"<script[^>]+src=", page)
    assert page.count("<script>") == 3 and "vegaEmbed" in page and "vegaLite" in page
