"""ralis.reads: the params.yaml keys a stage reads are recorded, copies of a section are not, values unchanged."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from ralis import reads
from ralis.config import AblationConfig, Params, TrainConfig
from ralis.pipeline import PipelineConfig, run_params


@pytest.fixture()
def trace(tmp_path, monkeypatch):
    path = tmp_path / "reads.txt"
    monkeypatch.setenv(reads.TRACE_ENV, str(path))
    monkeypatch.setattr(reads, "_SEEN", set())
    return lambda: sorted(set(path.read_text().split())) if path.is_file() else []


def test_untraced_without_the_variable(monkeypatch):
    monkeypatch.delenv(reads.TRACE_ENV, raising=False)
    p = Params()
    assert reads.trace_reads(p) is p


def test_reads_are_recorded_and_copies_are_not(trace):
    p = reads.trace_reads(Params())
    assert trace() == []
    _ = p.train, p.model  # a section object itself is not a read
    assert trace() == []
    q = dataclasses.replace(p, train=dataclasses.replace(p.train, lr=0.5))  # copying reads nothing
    dataclasses.asdict(q)
    assert trace() == []
    assert q.train.lr == 0.5 and p.model.width == Params().model.width and p.baselines == Params().baselines
    assert trace() == ["baselines", "model.width", "train.lr"]


def test_traced_objects_equal_pickle_and_copy_as_the_plain_dataclasses(trace):
    p = reads.trace_reads(Params())
    assert p == Params() and p.ablation == AblationConfig() and AblationConfig() == p.ablation
    assert p.train != TrainConfig(lr=0.5)
    for clone in (pickle.loads(pickle.dumps(p.train)), copy.deepcopy(p.train)):
        assert type(clone) is TrainConfig and clone == TrainConfig()
    assert trace() == []  # comparing and pickling are not reads


def test_sections_and_the_pipeline_helpers_keep_tracing(trace):
    p = run_params(reads.trace_reads(Params()), "ralis", "uniform", 1)
    assert p.train.seed == 1
    pipe = reads.trace_reads(PipelineConfig(baselines=["cmc"]), "pipeline")
    assert pipe.baselines == ["cmc"] and pipe.methods[0] == "ralis"
    assert {"train.seed", "pipeline.baselines"} <= set(trace())


def test_covered_by_the_key_or_its_section():
    assert reads.covered("train.lr", ["train"]) and reads.covered("train.lr", ["train.lr", "model"])
    assert not reads.covered("train.lr", ["train.lr_schedule"]) and not reads.covered("baselines", ["baselines.cmc"])
