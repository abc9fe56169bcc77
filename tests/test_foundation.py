"""Seeding, device choice, atomic writes, config loading and the multiview contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ralis.config import Params, TrainConfig, from_dict, load_params
from ralis.contract import MultiviewBatch
from ralis.io import atomic_path, read_json, write_json
from ralis.runtime import make_generator, pick_device, seed_everything


def test_seed_everything_repeats_every_rng():
    seed_everything(3)
    a = (np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (np.random.rand(), torch.rand(1).item()) == a
    assert torch.randperm(10, generator=make_generator(1)).tolist() == torch.randperm(
        10, generator=make_generator(1)).tolist()


def test_seed_rejects_negative():
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu9")


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json(target, {"b": np.float32(1.5), "a": np.arange(2)})
    assert read_json(target) == {"a": [0, 1], "b": 1.5}


def test_unknown_param_key_names_file_and_key(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("train:\n  epochz: 3\n")
    with pytest.raises(ValueError, match=r"params.yaml:train: unknown key\(s\) \['epochz'\]"):
        load_params(p)
    with pytest.raises(ValueError, match="unknown"):
        from_dict(TrainConfig, {"nope": 1})


@pytest.mark.parametrize("text,match", [
    ("model:\n  n_experts: 4\n  top_k: 6\n", r"model\.top_k = 6 exceeds model\.n_experts = 4"),
    ("baselines:\n  flexmoe: {top_k: 20}\n", r"baselines\.flexmoe\.top_k = 20 exceeds baselines\.flexmoe\.n_experts"),
    ("baselines:\n  fusemoe: {n_experts: 2}\n", r"baselines\.fusemoe\.top_k = 4 exceeds baselines\.fusemoe\.n_exp"),
    ("analysis:\n  conv_batch: 1\n", r"analysis\.conv_batch = 1: must be >= 2"),
])
def test_values_that_failed_inside_every_run_are_refused_on_loading(tmp_path, text, match):
    """These used to pass the checks and fail at each run's first step (or first epoch, for conv_batch)."""
    from ralis.zoo import check_settings

    p = tmp_path / "params.yaml"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        check_settings(load_params(p))  # the baselines' settings are built by the study's planner


def test_repo_params_load_and_defaults_match_table2():
    params = load_params("params.yaml")
    assert isinstance(params, Params)
    default = Params()
    assert (default.train.lr, default.train.cls_batch, default.train.con_batch) == (1e-3, 16, 16)
    assert (default.loss.w_cls, default.loss.w_contrast, default.loss.w_balance, default.loss.tau) == (1, 1, 1e-2, 0.1)
    assert (default.model.n_experts, default.model.top_k) == (16, 3)


def test_batch_contract_errors():
    views = (torch.zeros(4, 10, 3), torch.zeros(4, 5, 6))
    present = torch.tensor([[1, 0], [0, 1], [1, 1], [1, 0]], dtype=torch.bool)
    batch = MultiviewBatch(views, present, torch.arange(4))
    assert len(batch) == 4 and batch.n_views == 2
    with pytest.raises(ValueError, match="no present view"):
        MultiviewBatch(views, torch.zeros(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="view 1 must have shape"):
        MultiviewBatch((views[0], torch.zeros(3, 5, 6)), present)
    with pytest.raises(ValueError, match="present has 3 view columns"):
        MultiviewBatch(views, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="labels"):
        MultiviewBatch(views, present, torch.zeros(4))
    sub = batch.select_views(torch.tensor([False, True]))
    assert sub.present.tolist() == [[False, True], [False, True]] and sub.labels.tolist() == [1, 2]
