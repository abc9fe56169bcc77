"""Reliability: bad inputs and faults are refused early, with a message naming the file or params key and the
fix, and leave no partial or stale output; the same seed gives byte-identical metrics (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ralis import study
from ralis.config import DATASETS, METHOD_NAMES, Params, load_params
from ralis.pipeline import stage_params, stage_sections

ROOT = Path(__file__).resolve().parents[1]


def _params_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


# ------------------------------------------------------------------ params.yaml (defects 4, 5)
BAD_PARAMS = [  # (yaml text, what the message must contain)
    ("model:\n  width: abc\n", ["params.yaml:model.width", "integer"]),
    ("train:\n  lr: 1e-3\n", ["params.yaml:train.lr", "0.001", "1.0e-3"]),
    ("missing:\n  protocol: unifrom\n", ["params.yaml:missing.protocol", "'uniform'", "per_view"]),
    ("train:\n  max_epochs: 4.5\n", ["params.yaml:train.max_epochs", "integer"]),
    ("trian:\n  max_epochs: 50\n", ["params.yaml: unknown section", "'trian'", "'train'", "pipeline"]),
    ("train:\n  epochz: 3\n", ["params.yaml:train: unknown key", "'epochz'", "max_epochs"]),
    ("train:\n  device: gpu\n", ["params.yaml:train.device", "'cuda:N'"]),
    ("train:\n  method: ralys\n", ["params.yaml:train.method", "'ralis'", "meanfusion"]),
    ("data:\n  dataset: dailysports\n", ["params.yaml:data.dataset", "'dailysport'", "realdisp"]),
    ("loss:\n  pair_reduction: avg\n", ["params.yaml:loss.pair_reduction", "'sum'", "'mean'"]),
    ("baselines:\n  cocoa_variant: C\n", ["params.yaml:baselines.cocoa_variant", "'A'", "'B'"]),
    ("baselines:\n  fuse_gating: topk\n", ["params.yaml:baselines.fuse_gating", "laplace", "softmax"]),
    ("evaluate:\n  scenarios: [\"1\", halve]\n", ["params.yaml:evaluate.scenarios[1]", "'half'", "'all'"]),
    ("evaluate:\n  scenarios: [1, half]\n", ["params.yaml:evaluate.scenarios[0]", "quote"]),
    ("train:\n  patience: 0\n", ["params.yaml:train.patience", ">= 1", "null"]),
    ("model:\n  dropout: 1.0\n", ["params.yaml:model.dropout", "< 1"]),
    ("train:\n  balanced_sampling: 1\n", ["params.yaml:train.balanced_sampling", "true or false"]),
    ("missing:\n  per_view_rates: {synthetic: {waist: 1.5}}\n",
     ["params.yaml:missing.per_view_rates.synthetic.waist", "<= 1"]),
    ("train: 5\n", ["params.yaml:train", "mapping"]),
    ("train:\n  lr: .nan\n", ["params.yaml:train.lr", "finite"]),
    ("data:\n  views: waist\n", ["params.yaml:data.views", "list"]),
    ("analysis:\n  complexity_forms: [looped, fused]\n", ["params.yaml:analysis.complexity_forms[1]", "batched"]),
    ("train:\n  lr: -0.1\n", ["params.yaml:train.lr", "> 0"]),
    ("model:\n  width: '16'\n", ["params.yaml:model.width", "16 without quotes"]),
]


@pytest.mark.parametrize("text, needles", BAD_PARAMS, ids=[t.split("\n")[0] + t.split("\n")[1] for t, _ in BAD_PARAMS])
def test_bad_params_are_refused_naming_the_key_and_the_allowed_values(tmp_path, text, needles):
    with pytest.raises(ValueError) as err:
        load_params(_params_file(tmp_path, text))
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_an_int_is_a_float_but_a_float_is_not_an_int(tmp_path):
    p = load_params(_params_file(tmp_path, "train:\n  lr: 1\n  weight_decay: 0\n"))
    assert p.train.lr == 1.0 and isinstance(p.train.lr, float) and isinstance(p.train.weight_decay, float)
    with pytest.raises(ValueError, match=r"train.max_epochs = 4.0: must be an integer, not a float; write 4"):
        load_params(_params_file(tmp_path, "train:\n  max_epochs: 4.0\n"))


def test_stage_sections_are_checked_by_the_stage_reader(tmp_path):
    p = _params_file(tmp_path, "pipeline:\n  seeds: [0, 1.5]\n")
    load_params(p)  # the model sections are fine; `pipeline` is the stage's business
    with pytest.raises(ValueError, match=r"params.yaml:pipeline.seeds\[1\] = 1.5: must be an integer"):
        stage_sections(str(p))
    with pytest.raises(ValueError, match=r"params.yaml:results.heatmap_protocol = 'unifrom'.*'uniform'"):
        stage_sections(str(_params_file(tmp_path, "results:\n  heatmap_protocol: unifrom\n")))


def test_repo_params_and_every_study_preset_load(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert isinstance(load_params(ROOT / "params.yaml"), Params)
    assert stage_params(str(ROOT / "params.yaml")).model == load_params(ROOT / "params.yaml").model
    for name, preset in study.PRESETS.items():
        over = yaml.safe_load(yaml.safe_dump(raw))
        for key, value in study.overrides(preset).items():
            section, _, field = key.partition(".")
            over[section][field] = value
        p = _params_file(tmp_path, yaml.safe_dump(over))
        params = load_params(p)
        assert params.data.dataset == preset.dataset and params.model == type(params.model)(), name
        pipe, res = stage_sections(str(p))
        res.check(pipe)


def test_enum_lists_match_the_registries():
    import ralis.baselines  # noqa: F401  (registers the baselines)
    import ralis.model  # noqa: F401  (registers RALIS)
    from ralis.data.registry import REGISTRY
    from ralis.methods import METHODS

    assert sorted(DATASETS) == sorted(REGISTRY)
    assert sorted(METHOD_NAMES) == sorted(METHODS)
