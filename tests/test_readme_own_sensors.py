"""README "Your own sensors": its `.ts` manifest and its Python example run as written (tiny training profile),
and data/user/manifest.example.yaml is a valid manifest. The CSV + `dvc repro` path: tests/test_pipeline.py."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from ralis.api import load_data, run_experiment
from ralis.config import DataConfig, ModelConfig, Params, TrainConfig
from ralis.data.manifest import load_user_manifest
from ralis.data.prepare import prepare_windows
from tests.train_fixtures import one_thread
from tests.user_fixtures import readme_block, session_frame, write_recordings, write_ts_pair

_one_thread = pytest.fixture(autouse=True)(one_thread)
ROOT = Path(__file__).resolve().parents[1]
TINY = Params(model=ModelConfig(width=8, n_blocks=2, att_hidden=8, n_experts=4, top_k=2, expert_hidden=8),
              train=TrainConfig(max_epochs=2, min_epochs=1, cls_batch=8, con_batch=8, device="cpu"))


def test_the_readme_ts_manifest_windows_and_trains(tmp_path):
    write_ts_pair(tmp_path / "ts")
    (tmp_path / "ts/manifest.yaml").write_text(readme_block("yaml", 1))
    params = dataclasses.replace(TINY, data=DataConfig(dataset="user", user_dir=str(tmp_path / "ts"),
                                                       windows_dir=str(tmp_path / "windows")))
    manifest = prepare_windows(params, progress=False)
    assert manifest["format"] == "ts" and manifest["splits"]["test"]["n"] == 24  # the TEST file is the test split
    assert [(v["name"], v["modality"], v["T"], v["rate_hz"]) for v in manifest["views"]] == [
        ("acc", "acc", 100, 10.0), ("gyro", "gyro", 100, 10.0)]
    res = run_experiment(params, tmp_path / "run", progress=False)
    assert res.metrics["dataset"] == "user" and res.metrics["windows"]["test"] == 24
    data = load_data(params)
    assert data.info.views[1].channel_names == ("dim3", "dim4", "dim5")


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    frames = [session_frame(s, seed=s, rate_hz=20.0) for s in range(1, 7)]
    acc, gyro, labels, subject = [], [], [], []
    for s, f in enumerate(frames, start=1):
        f = f[f.activity != ""]
        for start in range(0, len(f) - 80, 40):  # 4-s windows, 2-s step, one label per window
            w = f.iloc[start:start + 80]
            if w.activity.nunique() == 1:
                acc.append(w[["ax", "ay", "az"]].to_numpy())
                gyro.append(w[["gx", "gy", "gz"]].to_numpy())
                labels.append(w.activity.iloc[0])
                subject.append(s)
    np.savez(tmp_path / "my_windows.npz", acc=np.array(acc), gyro=np.array(gyro), labels=np.array(labels),
             subject=np.array(subject))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(dataclasses.asdict(TINY)))
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(readme_block("python"), "README.md", "exec"), {})  # noqa: S102 (the README's own example)
    text = printed.getvalue()
    scores, _, predicted = text.partition("'all'")[2].partition("\n")  # the metrics line, then the predictions
    assert scores and (tmp_path / "outputs/my_run/checkpoint.pt").is_file()
    assert sum(predicted.count(f"'{c}'") for c in ("walk", "run", "sit")) == 8  # 8 gyroscope-only windows


def test_the_example_manifest_is_valid_and_matches_the_readme(tmp_path):
    write_recordings(tmp_path / "user", manifest=(ROOT / "data/user/manifest.example.yaml").read_text())
    m = load_user_manifest(tmp_path / "user")
    readme = yaml.safe_load(readme_block("yaml", 0))
    example = yaml.safe_load((ROOT / "data/user/manifest.example.yaml").read_text())
    assert example == readme  # the commented example and the README's manifest say the same
    assert m.format == "recordings" and [v.modality for v in m.views] == ["acc", "gyro"]
    assert os.path.basename(m.recordings.path) == "recordings"
