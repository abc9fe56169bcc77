"""The `train` stage's runner: which runs the study trains, what their fingerprint depends on, reuse and copies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ralis import runner
from ralis.api import OUTPUTS
from ralis.pipeline import PipelineConfig, smoke_params

PIPE = PipelineConfig(baselines=["meanfusion", "flexmoe"], protocols=["uniform"], seeds=[0, 1], baseline_seeds=[0],
                      ablations=["no_moe"], ablation_protocols=["uniform"], jobs=2)


def _jobs(tmp_path: Path, params=None, pipe=PIPE) -> list[runner.Job]:
    return runner.study_jobs(params or smoke_params(tmp_path), pipe, tmp_path / "outputs")


def test_study_jobs_cover_methods_seeds_variants_and_the_sensitivity_grid(tmp_path):
    labels = [(j.notebook, j.name, j.seed) for j in _jobs(tmp_path)]
    assert labels[:5] == [("03_train", "ralis", 0), ("03_train", "ralis", 1), ("03_train", "meanfusion", 0),
                          ("03_train", "meanfusion", 1), ("03_train", "flexmoe", 0)]  # reference seeds vs baselines
    variants = [n for nb, n, _ in labels if nb == "04_ablation"]
    # Figs. 6-7's variants are trained though `ablations` omits them; smoke grid E {2, 4} x K {1, 2}, (4, 2) = model
    assert variants == ["full", "no_moe", "no_contrast", "no_sep_load", "E2_K2", "E4_K1"]
    from ralis.analysis import convergence, load_balance
    from ralis.pipeline import FIGURE_VARIANTS

    assert {*convergence.VARIANTS.values(), *load_balance.VARIANTS.values()} == set(FIGURE_VARIANTS)
    job = _jobs(tmp_path)[-1]
    assert (job.params.model.n_experts, job.params.model.top_k) == (4, 1)
    assert job.out_dir == tmp_path / "outputs/ablations/E4_K1/uniform/seed0"


def test_fingerprint_follows_only_what_a_run_reads(tmp_path):
    params = smoke_params(tmp_path)
    source = "code"
    base = {(j.name, j.seed): runner.fingerprint(j, source) for j in _jobs(tmp_path, params)}

    def changed(**sections) -> set:
        p = dataclasses.replace(params, **{k: {**getattr(params, k), **v} if k == "baselines" else
                                           dataclasses.replace(getattr(params, k), **v) for k, v in sections.items()})
        return {(j.name, j.seed) for j in _jobs(tmp_path, p) if runner.fingerprint(j, source) != base[(j.name, j.seed)]}

    assert changed(baselines={"flexmoe": {"top_k": 3}}) == {("flexmoe", 0)}
    assert changed(baselines={"flexmoe": {"top_k": 4}}) == set()  # its default, written out: the same run
    assert changed(ablation={"moe": False}) == {("ralis", 0), ("ralis", 1)}  # variants start from the paper's
    assert changed(analysis={"complexity_repeats": 7}) == set()
    assert len(changed(train={"lr": 0.01})) == len(base)
    assert {j.name for j in _jobs(tmp_path, params)} >= {"full"}
    first = _jobs(tmp_path, params)[0]
    assert runner.fingerprint(first, "other code") != base[("ralis", 0)]
    full = next(j for j in _jobs(tmp_path, params) if j.name == "full")
    assert runner.fingerprint(full, source) == base[("ralis", 0)]  # the Table 5 reference is the RALIS run


def test_fingerprint_follows_the_window_values_not_the_file_bytes(tmp_path):
    """An edited recording changes no count in manifest.json, but must retrain; rewriting the same arrays (new zip
    times) must not. The fingerprint is also independent of the checkout's path."""
    import numpy as np

    params = smoke_params(tmp_path)
    folder = Path(params.data.windows_dir) / params.data.dataset
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"counts": 3}')
    arrays = {"view/acc": np.arange(6.0).reshape(2, 3), "labels": np.array([0, 1])}
    np.savez_compressed(folder / "train.npz", **arrays)
    job = _jobs(tmp_path, params)[0]
    before = runner.fingerprint(job, "code")
    np.savez_compressed(folder / "train.npz", **arrays)  # the same values written again
    assert runner.fingerprint(job, "code") == before
    np.savez_compressed(folder / "train.npz", **{**arrays, "view/acc": arrays["view/acc"] * 10})  # a unit fix
    assert runner.fingerprint(job, "code") != before
    moved = smoke_params(tmp_path / "elsewhere")
    (Path(moved.data.windows_dir) / moved.data.dataset).mkdir(parents=True)
    for f in folder.iterdir():
        (Path(moved.data.windows_dir) / moved.data.dataset / f.name).write_bytes(f.read_bytes())
    assert runner.fingerprint(_jobs(tmp_path / "elsewhere", moved)[0], "code") == runner.fingerprint(job, "code")


def _complete(folder: Path, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS.values():
        (folder / name).write_text("x")
    (folder / runner.FINGERPRINT).write_text(key + "\n")


def test_run_jobs_keeps_done_runs_trains_the_rest_and_copies_twins(tmp_path, monkeypatch):
    jobs = _jobs(tmp_path)
    trained = []

    def fake(job, key, params_file):
        trained.append(job.name + str(job.seed))
        _complete(job.out_dir, key)
        return 0.0

    monkeypatch.setattr(runner, "_execute", fake)
    monkeypatch.setattr(runner, "_source_digest", lambda: "code")
    _complete(jobs[1].out_dir, runner.fingerprint(jobs[1], "code"))  # ralis seed 1 is up to date
    done = runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=2)
    assert "ralis1" not in trained and "full0" not in trained and len(trained) == len(jobs) - 2
    assert done["copy"] == ["full / uniform / seed 0"] and done["kept"] == ["ralis / uniform / seed 1"]
    full = next(j for j in jobs if j.name == "full")
    assert (full.out_dir / "metrics.json").is_file()  # copied from the RALIS run
    trained.clear()
    assert runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=1)["train"] == [] and trained == []
    (jobs[0].out_dir / OUTPUTS["checkpoint"]).unlink()  # an incomplete folder trains again
    assert runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=1)["train"] == ["ralis / uniform / seed 0"]
    with pytest.raises(ValueError, match="pipeline.jobs"):
        runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=0)


def test_a_failed_run_names_its_notebook(tmp_path, monkeypatch):
    job = _jobs(tmp_path)[0]
    monkeypatch.setattr(runner.subprocess, "run", lambda *a, **k: type("R", (), {"returncode": 1, "stderr": "boom"}))
    with pytest.raises(RuntimeError, match="executed notebook .*ralis-uniform-seed0.ipynb"):
        runner._execute(job, "k", tmp_path / "params.yaml")
    assert not (job.out_dir / runner.FINGERPRINT).exists()


def test_a_kernel_that_dies_at_start_up_is_started_again_and_other_failures_are_not(tmp_path, monkeypatch, capsys):
    """Two kernels started at once can be handed the same port (jupyter_client#154): that start-up death is retried,
    with a printed line; a failure inside the notebook is raised at once; a kernel that never starts is raised."""
    job = _jobs(tmp_path)[0]
    job.out_dir.mkdir(parents=True)  # what the notebook makes
    died = "RuntimeError: Kernel died before replying to kernel_info"
    calls = []

    def fake_run(outcomes):
        def run(*a, **k):
            code, err = outcomes[min(len(calls), len(outcomes) - 1)]
            calls.append(code)
            return type("R", (), {"returncode": code, "stderr": err})
        return run

    monkeypatch.setattr(runner.subprocess, "run", fake_run([(1, died), (0, "")]))
    runner._execute(job, "k", tmp_path / "params.yaml")
    assert calls == [1, 0] and (job.out_dir / runner.FINGERPRINT).read_text() == "k\n"
    assert "died at start-up" in capsys.readouterr().out
    (job.out_dir / runner.FINGERPRINT).unlink()
    calls.clear()
    monkeypatch.setattr(runner.subprocess, "run", fake_run([(1, "ValueError: params.yaml train.lr")]))
    with pytest.raises(RuntimeError, match="train.lr"):
        runner._execute(job, "k", tmp_path / "params.yaml")
    assert calls == [1]
    calls.clear()
    monkeypatch.setattr(runner.subprocess, "run", fake_run([(1, died)]))
    with pytest.raises(RuntimeError, match="kernel_info"):
        runner._execute(job, "k", tmp_path / "params.yaml")
    assert len(calls) == runner.KERNEL_START_TRIES and not (job.out_dir / runner.FINGERPRINT).exists()


def test_an_interrupted_study_trains_only_what_is_missing_when_rerun(tmp_path, monkeypatch):
    """A `train` stage killed after some runs: the rerun keeps the finished runs and trains the rest."""
    jobs = _jobs(tmp_path)
    monkeypatch.setattr(runner, "_source_digest", lambda: "code")
    trained = []

    stop_after = [2]

    def train(job, key, params_file):
        if len(trained) == stop_after[0]:
            raise KeyboardInterrupt  # the process is stopped mid-study
        trained.append(job.label)
        _complete(job.out_dir, key)
        return 0.0

    monkeypatch.setattr(runner, "_execute", train)
    with pytest.raises(KeyboardInterrupt):
        runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=1)
    first = list(trained)
    stop_after[0] = -1  # no interruption this time
    again = runner.run_jobs(jobs, tmp_path / "params.yaml", n_jobs=1)
    assert sorted(again["kept"]) == sorted(first) and not set(again["train"]) & set(first)
    assert len(again["train"]) + len(first) + len(again["copy"]) == len(jobs)


@pytest.mark.parametrize("change,match", [
    ({"seeds": [0, 0]}, r"pipeline\.seeds lists \['0'\] more than once"),  # would report a std of 0 over one run
    ({"baselines": ["cmc", "cmc"]}, r"pipeline\.baselines lists \['cmc'\] more than once"),
    ({"seeds": []}, r"pipeline\.seeds is empty"),  # crashed the results stage after every training
    ({"ablation_protocols": []}, r"pipeline\.ablation_protocols is empty"),  # crashed notebooks 07-09
])
def test_pipeline_lists_refuse_repeats_and_emptiness(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(PIPE, **change)
    assert dataclasses.replace(PIPE, baselines=[], baseline_seeds=[]).methods == ["ralis"]  # RALIS alone is fine


def test_the_runner_names_single_run_keys_that_the_study_overrides(capsys):
    """train.method / train.seed / missing.protocol are set per run: a changed value there changes no run."""
    from ralis.config import load_params

    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert runner.unused_run_keys(params) == []
    changed = dataclasses.replace(params, train=dataclasses.replace(params.train, method="cmc", seed=7),
                                  missing=dataclasses.replace(params.missing, protocol="per_view"))
    assert runner.unused_run_keys(changed) == ["train.method = 'cmc'", "train.seed = 7",
                                               "missing.protocol = 'per_view'"]
