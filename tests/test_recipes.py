"""docs/recipes.md followed once: its GRU encoder, its late-fusion baseline and its manifest dataset, each run as
written and trained through `run_experiment` (what every `dvc repro` stage trains with)."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ralis.api import run_experiment
from ralis.config import ModelConfig, params_from_sections
from ralis.contract import MultiviewBatch
from ralis.data.arrays import DatasetSplits, from_arrays
from ralis.data.user import load_user_data
from ralis.methods import METHODS, SETTINGS
from ralis.model.encoder import ENCODERS
from ralis.pipeline import PipelineConfig
from ralis.zoo import baseline_names, build_method, method_names
from tests.train_fixtures import VIEWS, make_split, one_thread, tiny_params
from tests.user_fixtures import readme_block, write_recordings

_one_thread = pytest.fixture(autouse=True)(one_thread)
DOC = "docs/recipes.md"


def _block(section: str, lang: str = "python", index: int = 0) -> str:
    return readme_block(lang, index, section=f"## {section}", doc=DOC)


def _load(name: str, source: str) -> types.ModuleType:
    """Run a recipe's code block as module `name` (as if it were the file the recipe creates)."""
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses and type hints look their module up
    exec(compile(source, f"{DOC} ({name})", "exec"), module.__dict__)
    return module


@pytest.fixture
def gru_encoder():
    """The recipe's encoder, registered for one test."""
    _load("recipe_encoder", _block("Swap the encoder"))
    yield ENCODERS["gru"]
    del ENCODERS["gru"], sys.modules["recipe_encoder"]


@pytest.fixture
def late_fusion():
    """The recipe's baseline, registered for one test."""
    _load("recipe_baseline", _block("Add a baseline"))
    yield METHODS["latefusion"]
    del METHODS["latefusion"], SETTINGS["latefusion"], sys.modules["recipe_baseline"]


def _batch(n: int = 12, seed: int = 0) -> MultiviewBatch:
    ws = make_split(n, seed, drop=0.3)
    return MultiviewBatch([torch.from_numpy(v) for v in ws.views.values()], torch.from_numpy(ws.present),
                          torch.from_numpy(ws.labels))


def arrays_dataset(n: int = 96) -> DatasetSplits:
    """The tiny three-view windows of tests/train_fixtures.py, 20 % of views missing, split by class."""
    ws = make_split(n, 0, drop=0.2)
    views = {k: np.where(ws.present[:, j, None, None], v, np.nan) for j, (k, v) in enumerate(ws.views.items())}
    return from_arrays(views, np.array(["walk", "run", "sit"])[ws.labels],
                       modalities={"wrist": "acc", "ankle": "acc", "pose": "pose3d"}, rate_hz=50)


def test_the_table_names_the_files_each_recipe_touches():
    text = (Path(__file__).resolve().parents[1] / DOC).read_text()
    for row in ("| swap the encoder | `ralis/model/encoder.py`", "| add a baseline | `ralis/baselines/<name>.py`",
                "| add a dataset | none"):
        assert row in text


def test_swap_the_encoder_one_name_in_params(gru_encoder):
    params = params_from_sections(yaml.safe_load(_block("Swap the encoder", "yaml")), "recipe")
    assert params.model.encoder == "gru" and not gru_encoder.groupable
    cfg = replace(tiny_params().model, encoder="gru")
    for name in method_names():
        p = replace(tiny_params(), model=cfg)
        if name == "shaspec":  # its shared trunk is made of ResNet1D parts
            with pytest.raises(ValueError, match="model.encoder = 'gru'"):
                build_method(name, VIEWS, 3, p)
            continue
        torch.manual_seed(0)
        method = build_method(name, VIEWS, 3, p).train()
        assert any(isinstance(m, torch.nn.GRU) for m in method.modules()), name
        assert not any(type(m).__name__ == "ResNet1D" for m in method.modules()), name
        batch = _batch()
        terms = method.training_losses(batch, _batch(seed=1))
        terms.total.backward()
        assert torch.isfinite(terms.total), name
        z = method.eval().encode(batch)  # [V, N, D]
        assert torch.all(z[~batch.present.T] == 0), name  # a missing view never reaches the encoder


def test_the_gru_encoder_trains_ralis_end_to_end(gru_encoder, tmp_path):
    params = tiny_params(method="ralis", max_epochs=2)
    params = replace(params, model=replace(params.model, encoder="gru"))
    res = run_experiment(params, tmp_path / "run", progress=False, data=arrays_dataset())
    assert res.metrics["epochs_run"] == 2 and np.isfinite(res.metrics["test_f1"]["all"])


def test_an_unknown_encoder_names_the_key_and_the_known_ones():
    with pytest.raises(ValueError, match=r"model.encoder = 'grux' is unknown; choose one of \['resnet1d'\]"):
        build_method("ralis", VIEWS, 3, replace(tiny_params(), model=ModelConfig(encoder="grux")))


def test_add_a_baseline_one_file_and_one_import(late_fusion, tmp_path):
    assert "latefusion" in baseline_names() and "latefusion" in method_names()
    study = yaml.safe_load(_block("Add a baseline", "yaml"))
    assert PipelineConfig(baselines=study["pipeline"]["baselines"]).methods[-1] == "latefusion"  # accepted
    settings = replace(tiny_params(), baselines=study["baselines"])
    assert build_method("latefusion", VIEWS, 3, settings).heads[0][0].p == 0.2  # its own settings reach it
    with pytest.raises(ValueError, match=r"baselines.latefusion.head_dropout = 1.5"):
        build_method("latefusion", VIEWS, 3, replace(settings, baselines={"latefusion": {"head_dropout": 1.5}}))
    method = build_method("latefusion", VIEWS, 3, tiny_params())
    batch = _batch()
    z = method.eval().encode(batch)
    only_first = batch.present & torch.tensor([True, False, False])
    keep = only_first.any(1)
    logits = method.predict(z[:, keep], only_first[keep])
    torch.testing.assert_close(logits, method.heads[0](z[0, keep]))  # one view: that view's classifier
    res = run_experiment(tiny_params(method="latefusion", max_epochs=2), tmp_path / "run", progress=False,
                         data=arrays_dataset())
    assert res.metrics["method"] == "latefusion" and np.isfinite(res.metrics["test_f1"]["1"])


def test_a_removed_baseline_is_refused_by_the_study():
    with pytest.raises(ValueError, match=r"pipeline: unknown entries \['latefusion'\]"):
        PipelineConfig(baselines=["meanfusion", "latefusion"])


def test_add_a_dataset_with_a_manifest_and_no_code(tmp_path):
    manifest = _block("Add a dataset", "yaml")
    user_dir = write_recordings(tmp_path / "user", manifest=manifest)
    for f in (user_dir / "recordings").glob("*.csv"):  # the recipe's files hold the accelerometer only
        f.with_name(f.name.replace("_session", "_morning")).write_text(f.read_text())
        f.unlink()
    params = params_from_sections({"data": {"dataset": "user", "user_dir": str(user_dir)}}, "recipe")
    params = replace(tiny_params(max_epochs=2), data=params.data)
    data, extra = load_user_data(params, progress=False)
    assert [v.name for v in data.info.views] == ["wrist"] and extra["title"] == "wrist accelerometer study"
    res = run_experiment(params, tmp_path / "run", progress=False, data=data)
    assert res.metrics["dataset"] == "user" and res.metrics["windows"]["test"] > 0
