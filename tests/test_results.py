"""Tables 3-6 analogues (ralis.results), the paper's numbers (ralis.paper_tables), figures and the study presets."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from ralis import figures, results, study
from ralis.config import ModelConfig, Params, TrainConfig, load_params
from ralis.paper_tables import PAPER_TABLES, ROW_LABEL, SCENARIOS, paper_frame, scenario_labels
from ralis.pipeline import ABLATION_VARIANTS, PipelineConfig, ResultsConfig, run_dir

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ["a", "b", "c"]


def _fake_run(root: Path, name: str, protocol: str, seed: int, f1: dict[str, float | None]) -> None:
    out = run_dir(root, name, protocol, seed)
    out.mkdir(parents=True)
    (out / "metrics.json").write_text(json.dumps({"test_f1": f1, "best_epoch": 1, "dataset": "dailysport"}))
    combos = [("a", 1), ("b", 1), ("c", 1), ("a+b", 2), ("a+c", 2), ("b+c", 2), ("a+b+c", 3)]
    pd.DataFrame([{"combination": c, "k": k, "n_scored": 10, "n_excluded": 0, "f1": 0.1 * k + 0.01 * seed}
                  for c, k in combos]).to_csv(out / "combinations.csv", index=False)


@pytest.fixture
def runs(tmp_path) -> tuple[Path, PipelineConfig, dict]:
    """A fake study under tmp_path: RALIS and CMC over three seeds, the ablations at seed 0 (as ralis.runner)."""
    pipe = PipelineConfig(baselines=["cmc"], protocols=["complete", "uniform"], seeds=[0, 1, 2],
                          baseline_seeds=[0, 1, 2], ablations=["no_moe"], ablation_protocols=["uniform"])
    rng = np.random.default_rng(0)
    truth = {}
    for kind, names, protocols, seeds in (("runs", pipe.methods, pipe.protocols, pipe.seeds),
                                          ("ablations", ["full", "no_moe"], pipe.ablation_protocols, [0])):
        for name in names:
            for protocol in protocols:
                for seed in seeds:
                    f1 = {sc: float(rng.uniform(0.2, 0.9)) for sc in SCENARIOS}
                    truth[(kind, name, protocol, seed)] = f1
                    _fake_run(tmp_path / kind, name, protocol, seed, f1)
    return tmp_path, pipe, truth


def test_tables_are_mean_and_sample_std_over_seeds_in_percent(runs):
    outputs, pipe, truth = runs
    tables = results.build_tables(outputs, pipe, "dailysport")
    assert set(tables) == {"table3", "table4", "table5"}  # no per_view runs -> no Table 6
    t4 = tables["table4"].set_index(["row", "scenario"])
    for name in pipe.methods:
        for sc in SCENARIOS:
            vals = [100 * truth[("runs", name, "uniform", s)][sc] for s in pipe.seeds]
            assert t4.loc[(name, sc), "mean"] == pytest.approx(statistics.mean(vals))
            assert t4.loc[(name, sc), "std"] == pytest.approx(statistics.stdev(vals))
    t5 = tables["table5"].set_index(["row", "scenario"])
    assert t5.loc[("no_moe", "1"), "mean"] == pytest.approx(100 * truth[("ablations", "no_moe", "uniform", 0)]["1"])
    assert t5.loc[("no_moe", "1"), "n_seeds"] == 1 and math.isnan(t5.loc[("no_moe", "1"), "std"])


def test_paper_numbers_and_difference_sit_beside_ours(runs):
    outputs, pipe, _ = runs
    t3 = results.build_tables(outputs, pipe, "dailysport")["table3"].set_index(["row", "scenario"])
    assert t3.loc[("ralis", "1"), "paper_mean"] == 80.56 and t3.loc[("cmc", "all"), "paper_std"] == 1.6
    assert t3.loc[("ralis", "half"), "diff"] == pytest.approx(t3.loc[("ralis", "half"), "mean"] - 90.54)
    wide = results.format_table(t3.reset_index(), "table3", "dailysport")
    assert list(wide.index) == ["RALIS", "CMC*"]
    assert "3 paper" in wide.columns and wide.loc["RALIS", "5 paper"] == "93.64 ± 0.40"
    synth = results.build_tables(outputs, pipe, "synthetic")["table3"]
    assert synth["paper_mean"].isna().all() and synth["diff"].isna().all()
    assert not any("paper" in c for c in results.format_table(synth, "table3", "synthetic").columns)


def test_missing_run_names_its_stage(runs):
    outputs, pipe, _ = runs
    bigger = PipelineConfig(baselines=["cmc", "gmu"], protocols=["complete"], seeds=[0], baseline_seeds=[0],
                            ablations=[], ablation_protocols=["uniform"])
    with pytest.raises(FileNotFoundError, match="gmu/complete/seed0/metrics.json"):
        results.build_tables(outputs, bigger, "synthetic")


def test_null_scenario_f1_becomes_nan_and_metrics_stay_in_unit_interval(tmp_path):
    _fake_run(tmp_path, "ralis", "uniform", 0, {"1": 0.5, "half": None, "all": 0.75})
    df = results.collect_runs(tmp_path, ["ralis"], ["uniform"], [0])
    assert math.isnan(df.set_index("scenario").loc["half", "f1"])
    comp = results.compare_with_paper(results.summarize(df), "table4", "synthetic")
    m = results.results_metrics({"table4": comp})
    assert m == {"table4": {"ralis": {"f1_1": 0.5, "f1_half": None, "f1_all": 0.75}}}


def test_written_tables_and_metrics(runs, tmp_path):
    outputs, pipe, _ = runs
    tables = results.build_tables(outputs, pipe, "dailysport")
    written = results.write_tables(tmp_path / "tables", tables, "dailysport")
    header = (tmp_path / "tables" / "table5.md").read_text().splitlines()[0]
    assert header.startswith("| method | 1 ours | 1 paper | 1 diff | <= 3 ours |")
    assert pd.read_csv(written["table4"]).shape == (6, 8)
    metrics = json.loads(results.write_metrics(tmp_path / "metrics.json", tables, {"claims": {}}).read_text())
    assert metrics["claims"] == {}
    assert set(metrics["table5"]) == {"full", "no_moe"} and set(metrics["table3"]["cmc"]) == {"f1_1", "f1_half",
                                                                                              "f1_all"}


def test_heatmap_protocol_must_have_runs(runs):
    _, pipe, _ = runs
    ResultsConfig(heatmap_protocol="uniform").check(pipe)
    with pytest.raises(ValueError, match="results.heatmap_protocol = 'per_view' has no runs"):
        ResultsConfig(heatmap_protocol="per_view").check(pipe)


def test_combination_heatmap_has_every_combination(runs):
    outputs, pipe, _ = runs
    comb = results.study_combinations(outputs, pipe, "uniform")
    assert len(comb) == len(pipe.methods) * len(pipe.seeds) * 7
    fig = figures.combination_heatmap(comb, "t")
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (2, 7)
    assert grid[0, 6] == pytest.approx(100 * np.mean([0.3 + 0.01 * s for s in pipe.seeds]))  # a+b+c, mean over seeds
    plt.close(fig)


def test_paper_tables_are_complete():
    for table, per_ds in PAPER_TABLES.items():
        assert set(per_ds) == ({"cmdfall", "dailysport", "realdisp", "upfall"} - ({"cmdfall"} if table == "table6"
                                                                                  else set()))
        for rows in per_ds.values():
            assert all(r in ROW_LABEL for r in rows) and all(len(c) == 3 for c in rows.values())
            for cells in rows.values():
                assert all(0 <= m <= 100 and 0 <= s < 10 for m, s in cells)
    assert set(PAPER_TABLES["table5"]["upfall"]) == set(ABLATION_VARIANTS)
    assert PAPER_TABLES["table6"]["realdisp"]["ralis"] == PAPER_TABLES["table6"]["realdisp"]["full"]
    assert PAPER_TABLES["table4"]["realdisp"]["ralis"][2] == (93.33, 0.1)  # methods.md §1.16
    assert scenario_labels("cmdfall", "table3") == ("1", "2", "3")
    assert scenario_labels("cmdfall", "table4") == ("1", "<= 4", "<= 7")
    assert paper_frame("table6", "cmdfall").empty


def test_study_presets_set_existing_keys_to_the_paper_values():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, preset in study.PRESETS.items():
        over = study.overrides(preset)
        for key in over:
            head, _, rest = key.partition(".")
            assert head in params and rest in params[head], f"{name}: {key} is not a params.yaml key"
        assert over["model.width"] == ModelConfig().width == 128
        assert over["train.min_epochs"] == TrainConfig().min_epochs == 20
        assert over["pipeline.seeds"] == [0, 1, 2] and over["train.max_steps_per_epoch"] is None
        PipelineConfig(**{k.split(".")[1]: v for k, v in over.items() if k.startswith("pipeline.")})
        cmd = study.dvc_command(name)
        parsed = {a.split("=", 1)[0]: yaml.safe_load(a.split("=", 1)[1]) for a in cmd[cmd.index("-S"):] if a != "-S"}
        assert parsed == over
    assert "per_view" not in study.overrides(study.PRESETS["paper-cmdfall"])["pipeline.protocols"]
    with pytest.raises(ValueError, match="unknown preset"):
        study.dvc_command("paper-nope")


def test_study_presets_restore_every_value_the_cpu_profile_changed():
    """A CPU-profile value of params.yaml that a preset leaves alone would leak into the paper's protocol."""
    repo, paper = load_params(ROOT / "params.yaml"), Params()
    own = {"train.max_epochs", "train.patience", "train.max_steps_per_epoch"}  # the presets' own protocol values
    sections = ("windowing", "missing", "augment", "model", "ablation", "loss", "train", "evaluate", "analysis")
    changed = {f"{section}.{k}": v for section in sections
               for k, v in dataclasses.asdict(getattr(paper, section)).items()
               if getattr(getattr(repo, section), k) != v and f"{section}.{k}" not in own}
    assert changed, "params.yaml is expected to hold a CPU profile"
    for name, preset in study.PRESETS.items():
        over = study.overrides(preset)
        missing = {k: v for k, v in changed.items() if k not in over or over[k] != v}
        assert not missing, f"{name} leaves CPU-profile values in place: {missing}"
