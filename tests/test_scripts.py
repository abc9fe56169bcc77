"""Command-line helpers in scripts/: the run summary behind the README's issue-4 table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, method: str, seed: int, f1: tuple[float, float, float]) -> Path:
    folder.mkdir(parents=True)
    m = {"method": method, "seed": seed, "best_epoch": 7, "best_valid_f1": 0.5,
         "test_f1": dict(zip(("1", "half", "all"), f1))}
    (folder / "metrics.json").write_text(json.dumps(m))
    return folder


def test_summarize_runs_lists_each_run_and_the_mean_per_method(tmp_path, capsys):
    s = _script("summarize_runs")
    runs = [_run(tmp_path / "a", "ralis", 0, (0.4, 0.6, 0.8)), _run(tmp_path / "b", "meanfusion", 0, (0.2, 0.5, 0.9)),
            _run(tmp_path / "c", "ralis", 1, (0.5, 0.7, 0.9))]
    assert s.main([str(r) for r in runs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| ralis, seed 0 | 0.400 | 0.600 | 0.800 | 7 (0.500) |"
    assert lines[-2] == "| ralis, mean of seeds 0, 1 | 0.450 | 0.650 | 0.850 | |"
    assert lines[-1] == "| meanfusion, mean of seeds 0 | 0.200 | 0.500 | 0.900 | |"


def test_summarize_runs_names_the_bad_folder(tmp_path):
    s = _script("summarize_runs")
    with pytest.raises(FileNotFoundError, match="nothere"):
        s.load_run(tmp_path / "nothere")
    bad = _run(tmp_path / "bad", "ralis", 0, (0.1, 0.2, 0.3))
    m = json.loads((bad / "metrics.json").read_text())
    del m["test_f1"]["half"]
    (bad / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"bad.*test_f1\.half"):
        s.load_run(bad)
