"""Reliability: bad inputs and faults are refused early, with a message naming the file or params key and the
fix, and leave no partial or stale output; the same seed gives byte-identical metrics (issue 14)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from ralis import study
from ralis.config import Params, load_params
from ralis.pipeline import PipelineConfig, stage_params, stage_sections

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
    ("train:\n  method: RALIS\n", ["params.yaml:train.method", "registered name"]),  # a known name: run_experiment
    ("data:\n  dataset: dailysports\n", ["params.yaml:data.dataset", "'dailysport'", "realdisp"]),
    ("loss:\n  pair_reduction: avg\n", ["params.yaml:loss.pair_reduction", "'sum'", "'mean'"]),
    ("baselines:\n  flexmoe_top_k: 3\n", ["params.yaml:baselines.flexmoe_top_k", "mapping"]),  # the old flat form
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


@pytest.mark.parametrize("text,needles", [
    ("baselines:\n  cocoa: {variant: C}\n", ["params.yaml:baselines.cocoa.variant", "'A'", "'B'"]),
    ("baselines:\n  fusemoe: {gating: topk}\n", ["params.yaml:baselines.fusemoe.gating", "laplace", "softmax"]),
    ("baselines:\n  flexmoe: {topk: 3}\n", ["params.yaml:baselines.flexmoe", "unknown key", "top_k"]),
    ("baselines:\n  flexmo: {top_k: 3}\n", ["params.yaml baselines.flexmo", "flexmoe"]),
])
def test_bad_baseline_settings_are_refused_before_the_study_or_a_run_starts(tmp_path, text, needles):
    """Each baseline's settings are checked against its own config dataclass (ralis.zoo.check_settings), which
    run_experiment and the train stage's planner call before anything trains."""
    from ralis.api import run_experiment
    from ralis.runner import study_jobs

    params = load_params(_params_file(tmp_path, text))
    for start in (lambda: run_experiment(params, tmp_path / "run"),
                  lambda: study_jobs(params, PipelineConfig(), tmp_path / "outputs")):
        with pytest.raises(ValueError) as err:
            start()
        for needle in needles:
            assert needle in str(err.value), (needle, str(err.value))
    assert not (tmp_path / "run").exists() and not (tmp_path / "outputs").exists()


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


def test_dataset_names_match_the_registry():
    from ralis.config import DATASETS
    from ralis.data.registry import REGISTRY
    from ralis.data.user import KEY

    assert sorted(DATASETS) == sorted([*REGISTRY, KEY])  # the built-in datasets and your own


def test_an_unknown_method_is_refused_before_any_data_is_read(tmp_path):
    from ralis.api import run_experiment
    from ralis.config import params_from_sections

    where = {"windows_dir": str(tmp_path / "nowhere")}
    params = params_from_sections({"train": {"method": "ralsi"}, "data": where}, "test")
    with pytest.raises(ValueError, match=r"train.method = 'ralsi' is unknown.*ralis"):
        run_experiment(params, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    params = params_from_sections({"model": {"encoder": "grux"}, "data": where}, "test")
    with pytest.raises(ValueError, match=r"model.encoder = 'grux' is unknown.*resnet1d"):
        run_experiment(params, tmp_path / "run")


# ------------------------------------------------------------------ run folders (defect 8)
from tests.train_fixtures import make_split, one_thread, tiny_params  # noqa: E402

_one_thread = pytest.fixture(autouse=True)(one_thread)
RUN_VIEWS = ["waist", "pose3d"]  # 2 of the synthetic views: 3 combinations, a run takes about a second


@pytest.fixture(scope="module")
def windows(tmp_path_factory) -> Path:
    from tests.train_fixtures import write_windows

    root = tmp_path_factory.mktemp("windows")
    write_windows(root, (32, 16, 16))
    return root


def _run_params(windows_root: Path, **train):
    from ralis.config import DataConfig

    p = tiny_params(**{"max_epochs": 1, "min_epochs": 1, "max_steps_per_epoch": 2, **train})
    return dataclasses.replace(p, data=DataConfig(dataset="synthetic", windows_dir=str(windows_root),
                                                  views=RUN_VIEWS))


def _siblings(out: Path) -> list[str]:
    """Hidden temporary folders left beside a run folder."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith("."))


def test_same_seed_twice_gives_byte_identical_metrics(windows, tmp_path):
    import torch

    from ralis.api import run_experiment

    params = _run_params(windows, seed=3)
    for name, disturb in (("a", 0), ("b", 5)):
        torch.rand(disturb)  # whatever ran before: the run seeds itself
        run_experiment(params, tmp_path / name, progress=False)
    for f in ("metrics.json", "combinations.json", "train_log.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_a_run_is_seeded_in_one_place():
    calls = {p.relative_to(ROOT).as_posix(): p.read_text().count("seed_everything(")
             for p in sorted((ROOT / "ralis").rglob("*.py"))}
    assert {k: v for k, v in calls.items() if v} == {"ralis/api.py": 1, "ralis/runtime.py": 1}  # the call; the def
    for nb in ("03_train", "04_ablation"):
        assert "seed_everything" not in (ROOT / "notebooks" / f"{nb}.ipynb").read_text()


def test_a_failed_run_leaves_no_folder_and_keeps_a_previous_complete_one(windows, tmp_path, monkeypatch):
    import ralis.api as api

    params, out = _run_params(windows), tmp_path / "runs" / "seed0"

    def boom(*args, **kwargs):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(api, "evaluate", boom)  # fails after fit wrote the checkpoint and the logs
    with pytest.raises(RuntimeError, match="evaluation failed"):
        api.run_experiment(params, out, progress=False)
    assert not out.exists() and _siblings(out) == []
    monkeypatch.undo()
    api.run_experiment(params, out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(api, "evaluate", boom)
    with pytest.raises(RuntimeError):
        api.run_experiment(dataclasses.replace(params, train=dataclasses.replace(params.train, seed=1)), out,
                           progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and _siblings(out) == []


def test_a_rerun_replaces_the_whole_folder(windows, tmp_path):
    from ralis.api import OUTPUTS, run_experiment

    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"stale": true}\n')
    (out / "old_notes.txt").write_text("from an earlier run")
    run_experiment(_run_params(windows), out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS.values()) and _siblings(out) == []
    assert "stale" not in (out / "metrics.json").read_text()


def test_a_bad_scenario_is_refused_before_training(windows, tmp_path, monkeypatch):
    import ralis.api as api
    from ralis.config import EvalConfig

    monkeypatch.setattr(api, "fit", lambda *a, **k: pytest.fail("trained before checking evaluate.scenarios"))
    params = dataclasses.replace(_run_params(windows), evaluate=EvalConfig(scenarios=["1", "3"]))  # only 2 views
    with pytest.raises(ValueError, match=r"evaluate.scenarios entry '3'.*\[1, 2\]"):
        api.run_experiment(params, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_ensure_runs_retrains_an_incomplete_folder(tmp_path, monkeypatch):
    import ralis.api as api
    from ralis import pipeline, runner
    from ralis.api import OUTPUTS

    params = pipeline.smoke_params(tmp_path)
    monkeypatch.setattr(runner, "ensure_windows", lambda params, create: {})
    made = []
    monkeypatch.setattr(api, "run_experiment", lambda params, out, progress: made.append(Path(out)))
    pipe = pipeline.PipelineConfig(baselines=[], protocols=["complete"], seeds=[0], ablations=[],
                                   ablation_protocols=["complete"])
    done = pipeline.run_dir(tmp_path / "runs", "ralis", "complete", 0)
    done.mkdir(parents=True)
    for name in OUTPUTS.values():
        (done / name).write_text("x")
    variants = runner.ensure_runs(params, pipe, tmp_path)  # the fake training writes nothing: all but `done`
    assert done not in variants and variants == made and all("ablations" in str(v) for v in variants)
    (done / OUTPUTS["checkpoint"]).unlink()  # metrics.json is there, the checkpoint is not
    assert runner.ensure_runs(params, pipe, tmp_path) == [done, *variants]


def test_outputs_are_readable_by_others(windows, tmp_path):
    import os

    from ralis.api import run_experiment
    from ralis.io import write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        run_experiment(_run_params(windows), tmp_path / "run", progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir()} == {
        p.name: 0o644 for p in (tmp_path / "run").iterdir()}


# ------------------------------------------------------------------ windows on disk (defects 3, 6)
def _copy_windows(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src / "synthetic", dst / "synthetic")
    return dst


@pytest.mark.parametrize("split", ["test", "train"])
def test_nan_in_a_present_view_is_refused_at_load(windows, tmp_path, split):
    import numpy as np

    from ralis.api import run_experiment
    from ralis.data.store import load_split, save_split

    root = _copy_windows(windows, tmp_path / "w")
    ws = load_split(root / "synthetic", split)
    j = ws.view_names.index("waist")
    row = int(np.flatnonzero(ws.present[:, j])[2])
    ws.views["waist"][row, 5, 1] = np.nan
    save_split(root / "synthetic", split, ws)
    with pytest.raises(ValueError, match=rf"{split}.npz \(split '{split}'\): view 'waist' has NaN.*\[{row}\]"):
        run_experiment(_run_params(root), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_nan_in_a_missing_view_is_allowed(windows, tmp_path):
    import numpy as np

    from ralis.data.store import load_split, save_split

    root = _copy_windows(windows, tmp_path / "w")
    ws = load_split(root / "synthetic", "valid")
    j = ws.view_names.index("waist")
    ws.present[0, j] = False
    ws.views["waist"][0] = np.nan  # the data contract: values of a missing view are arbitrary
    save_split(root / "synthetic", "valid", ws)
    assert not load_split(root / "synthetic", "valid").present[0, j]


@pytest.mark.parametrize("damage", ["truncate", "drop_key", "manifest"])
def test_a_damaged_windows_file_is_named(windows, tmp_path, damage):
    import numpy as np

    from ralis.data.store import load_manifest, load_split, write_manifest

    root = _copy_windows(windows, tmp_path / "w") / "synthetic"
    path = root / "valid.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "drop_key":
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if k != "label"}
        np.savez(path, **arrays)
    else:
        write_manifest(root, {"dataset": "synthetic"})
        path = root / "manifest.json"
        path.write_text(path.read_text()[:10])
    with pytest.raises(ValueError, match=rf"{path}: .*windowing|{path}: .*rerun"):
        load_manifest(root) if damage == "manifest" else load_split(root, "valid")


# ------------------------------------------------------------------ raw files (defect 6)
def _upfall_csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "Subject1" / "Activity1" / "Trial1" / "Subject1Activity1Trial1.csv"
    p.parent.mkdir(parents=True)
    p.write_text(text)
    return p


RAW_FILES = {  # case -> (parser, file name, content)
    "upfall_empty": ("upfall.read_trial_csv", "Subject1Activity1Trial1.csv", ""),
    "upfall_header_only": ("upfall.read_trial_csv", "Subject1Activity1Trial1.csv", "TimeStamps,Ankle\n,x\n"),
    "cmdfall_acc_empty": ("cmdfall.read_acc", "S1P1I1.txt", ""),
    "cmdfall_acc_header_only": ("cmdfall.read_acc", "S1P1I1.txt", "timestamp,x,y,z\n"),
    "cmdfall_acc_text": ("cmdfall.read_acc", "S1P1I1.txt", "timestamp,x,y,z\n10,a,b,c\n"),
    "cmdfall_skeleton_header_only": ("cmdfall.read_skeleton", "S1P1K1.txt",
                                     "timestamp,frame_index,person_index,skeleton_data,floor_equation\n"),
    "cmdfall_annotation_header_only": ("cmdfall._read_annotation", "annotation.csv",
                                       "setup_id,kinect_id,action_id,start_frame,stop_frame\n"),
    "dailysport_empty": ("dailysport.read_segment", "s01.txt", ""),
    "realdisp_empty": ("realdisp.read_log", "subject1_ideal.log", ""),
    "realdisp_text": ("realdisp.read_log", "subject1_ideal.log", "a\tb\tc\n"),
    "openpose_zip_truncated": ("pose.read_openpose_zip", "skeleton.zip", "PK\x03\x04 not a zip"),
}


@pytest.mark.parametrize("case", sorted(RAW_FILES))
def test_every_parser_names_its_file(tmp_path, case):
    import importlib

    func, name, text = RAW_FILES[case]
    module, _, attr = func.rpartition(".")
    mod = importlib.import_module(f"ralis.data.{module}" if module == "pose" else f"ralis.data.parsers.{module}")
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        getattr(mod, attr)(path)


def test_a_header_only_file_stops_cmdfall_naming_it(tmp_path):
    from ralis.data.parsers.cmdfall import load_sessions
    from tests.fixtures import write_cmdfall

    root = write_cmdfall(tmp_path / "cmdfall")
    bad = root / "accelerometer" / "S1P1I155.txt"
    bad.write_text("timestamp,x,y,z\n")
    with pytest.raises(ValueError, match=rf"{bad}: has no data rows"):
        load_sessions(root, progress=False)


# ------------------------------------------------------------------ checkpoints (defects 6, 7)
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import torch

    from ralis.checkpoint import input_record, save_checkpoint
    from ralis.zoo import build_method
    from tests.train_fixtures import CLASSES, VIEWS

    params = tiny_params()
    torch.manual_seed(0)
    method = build_method("meanfusion", VIEWS, len(CLASSES), params)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "checkpoint.pt", method, method_name="meanfusion",
                           params=params, class_names=CLASSES, epoch=1, valid_f1=0.5,
                           inputs=input_record(make_split(8, seed=0), VIEWS))


@pytest.mark.parametrize("damage", ["truncated", "a list", "no format", "no views", "bad params"])
def test_a_damaged_checkpoint_is_named(checkpoint, tmp_path, damage):
    import torch

    from ralis.checkpoint import load_checkpoint

    path = tmp_path / "checkpoint.pt"
    payload = torch.load(checkpoint, weights_only=True)
    if damage == "truncated":
        path.write_bytes(checkpoint.read_bytes()[:1000])
    elif damage == "a list":
        torch.save([1, 2, 3], path)
    elif damage == "no format":
        torch.save({k: v for k, v in payload.items() if k != "format"}, path)
    elif damage == "no views":
        torch.save({k: v for k, v in payload.items() if k != "views"}, path)
    else:
        payload["params"]["train"]["max_epochs"] = 2.5
        torch.save(payload, path)
    with pytest.raises(ValueError, match=str(path)) as err:
        load_checkpoint(path)
    if damage == "a list":
        assert "found a list" in str(err.value)
    if damage == "bad params":
        assert f"{path}:train.max_epochs = 2.5" in str(err.value)
    assert load_checkpoint(checkpoint).epoch == 1  # the good file still loads


# ------------------------------------------------------------------ downloads (defect 2)
def test_a_bad_archive_without_published_hash_records_nothing(tmp_path):
    from ralis.data.download import archive_path, fetch_dataset
    from ralis.data.registry import REALDISP
    from tests.fixtures import write_dailysport, zip_dailysport

    spec = dataclasses.replace(REALDISP, url="http://127.0.0.1:9/realdisp.zip", sha256=None, size_bytes=None)
    archive = archive_path(spec, tmp_path / "raw")
    archive.parent.mkdir(parents=True)
    good = zip_dailysport(write_dailysport(tmp_path / "src", acts=(1,), subjects=(1,), segs=(1,)), tmp_path / "g.zip")
    archive.write_bytes(good.read_bytes()[:-40])  # truncated: its central directory is cut
    with pytest.raises(ValueError, match=rf"{archive}: not a readable zip"):
        fetch_dataset(spec, tmp_path / "raw")
    assert sorted(p.name for p in archive.parent.iterdir()) == []  # no archive, no .sha256, no extraction
    archive.write_bytes(good.read_bytes())  # a good copy is then accepted and its hash recorded
    dest = fetch_dataset(spec, tmp_path / "raw")
    assert dest.is_dir() and archive.with_name(archive.name + ".sha256").is_file()


# ------------------------------------------------------------------ numerical hazards
def test_leave_one_out_centre_is_exact_with_a_dominant_view():
    import torch

    from ralis.model import contrastive

    torch.manual_seed(0)
    z = torch.randn(5, 16, 8)
    w = torch.full((5, 16), 1e-6 / 4)
    w[0] = 1 - 1e-6  # one attention weight >= 1 - 1e-6
    wz = z * w[..., None]
    centre = contrastive.leave_one_out(wz).double()  # "full sum minus this view's share" was off by 24%
    wz64 = z.double() * w.double()[..., None]
    ref = torch.stack([wz64[[v for v in range(5) if v != a]].sum(0) for a in range(5)])  # obviously correct
    rel = ((centre - ref).norm(dim=-1) / ref.norm(dim=-1)).max().item()
    assert rel < 1e-5, rel
    a = contrastive.adjusted_center_loss(z, torch.ones(16, 5, dtype=torch.bool), w, 0.1, "sum")
    b = contrastive.adjusted_center_loss_looped(z, torch.ones(16, 5, dtype=torch.bool), w, 0.1, "sum")
    torch.testing.assert_close(a.per_sample, b.per_sample)


@pytest.mark.parametrize("loss", ["full_graph", "core_view"])
def test_nan_in_a_missing_slot_gives_finite_gradients(loss):
    import torch

    from ralis.baselines.cmc import core_view_loss
    from ralis.model.contrastive import full_graph_loss

    torch.manual_seed(0)
    present = torch.ones(6, 3, dtype=torch.bool)
    present[0, 1] = present[3, 2] = False
    base = torch.randn(3, 6, 4)
    base[1, 0], base[2, 3] = float("nan"), float("inf")  # missing slots hold arbitrary values (data contract)
    z = base.clone().requires_grad_(True)
    value = (full_graph_loss(z, present, 0.1, "sum").loss if loss == "full_graph"
             else core_view_loss(z, present, 0, 0.1, "sum"))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad.permute(1, 0, 2)[present]).all()


# ------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_in_study_waits_for_dvc_to_stop_the_stage(tmp_path, monkeypatch):
    import os
    import signal
    import sys
    import threading

    marker = tmp_path / "dvc-finished"  # dvc ignores SIGINT while its stage runs, then cleans up and exits
    fake_dvc = (f"import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(1.5); "
                f"open({str(marker)!r}, 'w').close()")
    monkeypatch.setattr(study, "dvc_command", lambda name, queue=False: [sys.executable, "-c", fake_dvc])
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # the terminal's Ctrl-C
    try:
        study.main(["paper-synthetic"])
    except KeyboardInterrupt:
        pytest.fail("study.main gave up on dvc after Ctrl-C instead of waiting for it")
    assert marker.exists(), "dvc was killed before it could stop the stage and release its locks"
