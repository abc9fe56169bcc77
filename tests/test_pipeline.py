"""End to end: `dvc repro` of the whole pipeline on a copy of the repository with SMOKE params.

Every stage runs (download, windowing, the `train` stage with RALIS, all baselines, the ablation variants and
the Fig. 5 grid in two processes, the analyses, results with the claims) with one epoch of one step on tiny
synthetic data; then the tables, figures, claims and metrics are checked, a second `dvc repro` must be a no-op,
and editing one params.yaml key must mark only the stages that read it as changed and retrain only its runs.
About 2-4 minutes on 2 CPU cores; set RALIS_SKIP_E2E=1 to skip it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ralis.pipeline import RUN_KEYS
from ralis.reads import TRACE_ENV, covered

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(os.environ.get("RALIS_SKIP_E2E") == "1", reason="RALIS_SKIP_E2E=1")

SMOKE = {
    "synthetic": {"sessions_per_class": 1, "session_sec": 8.0},
    "data": {"views": ["left_wrist", "waist", "pose3d"]},
    "model": {"width": 8, "n_blocks": 2, "att_hidden": 8, "n_experts": 4, "top_k": 2, "expert_hidden": 8},
    "train": {"max_epochs": 1, "min_epochs": 1, "max_steps_per_epoch": 1, "cls_batch": 8, "con_batch": 8},
    "pipeline": {"protocols": ["uniform"], "seeds": [0], "baseline_seeds": [0],
                 "ablations": ["no_contrast", "no_sep_load"], "ablation_protocols": ["uniform"], "jobs": 2},
    "analysis": {"complexity_views": [2, 3], "complexity_batch": 8, "complexity_batches": [4, 8],  # §6 stages
                 "complexity_n_views": 3, "complexity_dim": 16, "complexity_warmup": 1, "complexity_repeats": 2,
                 "sens_experts": [2, 4], "sens_top_k": 2, "sens_top_ks": [1, 2], "sens_n_experts": 4},
}


def _env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # the stages set PYTHONPATH=$PWD themselves
    return env


def _run(args: list[str], cwd: Path, timeout: int = 600, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(args, cwd=cwd, env=_env() | (env or {}), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


def _edit_params(repo: Path, changes: dict[str, dict]) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in changes.items():
        params[section].update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _changed_stages(repo: Path) -> set[str]:
    return set(json.loads(_run(["dvc", "status", "--json"], repo).strip().splitlines()[-1] or "{}"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC copy of the working tree (tracked and untracked, not ignored files) with SMOKE params."""
    repo = tmp_path_factory.mktemp("e2e") / "repo"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file() and not f.startswith(("outputs/", "scratch/", "dvc.lock")):
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / f)
    _edit_params(repo, SMOKE)
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-q", "-m", "e2e copy"], repo)
    # stage by stage (dvc.yaml lists them in dependency order), each recording the params.yaml keys it reads
    (repo.parent / "reads").mkdir()
    log = []
    for stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]:
        log.append(_run(["dvc", "repro", "--single-item", stage], repo, timeout=900,
                        env={TRACE_ENV: str(repo.parent / "reads" / f"{stage}.txt")}))
    (repo.parent / "repro.log").write_text("".join(log))
    return repo


def test_each_stage_tracks_every_params_key_it_reads(repo):
    """The keys each stage read while it ran (ralis.reads) are all under its `params:` in dvc.yaml, so changing
    any of them reruns it; this replaces a hand-written list of what each stage reads."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    untracked = {}
    for stage, spec in stages.items():
        path = repo.parent / "reads" / f"{stage}.txt"
        reads = sorted(set(path.read_text().split())) if path.is_file() else []
        assert reads, f"{stage}: recorded no params.yaml read (is RALIS_PARAMS_TRACE passed on?)"
        tracked = [p for p in spec.get("params", []) if isinstance(p, str)] + list(RUN_KEYS)  # each run sets these
        untracked[stage] = [k for k in reads if not covered(k, tracked)]
    assert not any(untracked.values()), f"keys read but not under the stage's params: in dvc.yaml: {untracked}"


def test_every_stage_ran_and_wrote_its_outputs(repo):
    methods = ["ralis", *yaml.safe_load((repo / "params.yaml").read_text())["pipeline"]["baselines"]]
    assert len(methods) == 9
    for m in methods:
        metrics = json.loads((repo / "outputs/runs" / m / "uniform/seed0/metrics.json").read_text())
        assert metrics["method"] == m and metrics["protocol"] == "uniform"
        assert len((repo / "outputs/runs" / m / "uniform/seed0/combinations.csv").read_text().splitlines()) == 1 + 7
    for v in ("full", "no_contrast", "no_sep_load", "E2_K2", "E4_K1"):  # Table 5 and the Fig. 5 grid (E4_K2 = full)
        assert (repo / "outputs/ablations" / v / "uniform/seed0/train_log.csv").is_file()
        assert (repo / "outputs/notebooks/04_ablation" / f"{v}-uniform-seed0.ipynb").is_file()
    log = (repo / "outputs/ablations/full/uniform/seed0/train_log.csv").read_text().splitlines()[0].split(",")
    assert "valid_contrast" in log and any(c.startswith("w/") for c in log)  # the §6.2 probe of every RALIS run
    for nb in ("01_download", "02_windowing", "05_results", "06_complexity", "07_convergence", "08_load_balance",
               "09_sensitivity"):
        assert (repo / "outputs/notebooks" / f"{nb}.ipynb").is_file()
    assert (repo / "data/raw/synthetic.json").is_file() and (repo / "data/windows/synthetic/manifest.json").is_file()


def test_results_tables_figures_and_metrics(repo):
    res = repo / "outputs/results"
    for table in ("table4", "table5"):
        assert (res / "tables" / f"{table}.csv").is_file() and (res / "tables" / f"{table}.md").is_file()
        assert (res / "figures" / f"{table}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (res / "tables" / "table3.csv").exists()  # no complete-protocol runs in this pipeline
    assert (res / "figures" / "combinations_heatmap.png").stat().st_size > 1000
    metrics = json.loads((res / "metrics.json").read_text())
    assert set(metrics) == {"table4", "table5", "claims", "counts", "accuracy"}
    assert set(metrics["accuracy"]) == set(metrics["table4"]) and (res / "figures" / "confusion_ralis.png").is_file()
    assert len(metrics["table4"]) == 9 and set(metrics["table5"]) == {"full", "no_contrast", "no_sep_load"}
    assert sum(metrics["counts"].values()) == len(metrics["claims"]) > 10
    claims = json.loads((res / "claims.json").read_text())
    assert all(c["verdict"] in ("holds", "does not hold", "not measured") for c in claims)
    assert "| claim |" in (res / "claims.md").read_text().lower() or "claim" in (res / "claims.md").read_text()
    values = [v for t in ("table4", "table5") for row in metrics[t].values() for v in row.values()]
    assert values and all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values)


def test_executed_notebooks_hold_no_progress_bars(repo):
    """Under DVC (RALIS_QUIET=1) a training prints one line per epoch and nothing on stderr (no tqdm bars, no
    TqdmWarning); no executed notebook carries a progress bar."""
    console = (repo.parent / "repro.log").read_text()  # the kernels' log is quiet (scripts/setup.sh)
    assert "Running stage 'results'" in console and "without encryption" not in console
    notebooks = sorted((repo / "outputs/notebooks").rglob("*.ipynb"))
    assert len([p for p in notebooks if p.parent.name in ("03_train", "04_ablation")]) == 9 + 5
    for path in notebooks:
        outputs = [o for c in json.loads(path.read_text())["cells"] for o in c.get("outputs", [])]
        stderr = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stderr")
        assert not re.search(r"\d+%\|", stderr) and "TqdmWarning" not in stderr, f"{path}: {stderr[:500]}"
        if path.parent.name in ("03_train", "04_ablation"):
            assert not stderr, f"{path}: {stderr[:500]}"
            stdout = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stdout")
            assert "epoch 1: loss" in stdout, path


def test_dvc_views_fit_a_terminal_and_render_offline(repo, tmp_path):
    """`dvc metrics show` is the headline only, at most 160 columns wide; `dvc plots show` draws the training
    curves of every run on a page that loads nothing from the network."""
    shown = _run(["dvc", "metrics", "show"], repo)
    assert "outputs/headline/table4/ralis.json" in shown and "outputs/headline/claims.json" in shown
    assert "outputs/analyses" not in shown and "outputs/results/metrics.json" not in shown
    assert max(map(len, shown.splitlines())) <= 160, shown
    runs = set(pd.read_csv(repo / "outputs/results/curves/valid_f1.csv")["run"])
    assert len(runs) == 9 + 5 and "ralis/uniform/seed0" in runs and "no_contrast/uniform" in runs
    _run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], repo)
    page = (tmp_path / "plots" / "index.html").read_text()
    assert page.count("vegaEmbed('#") == 2 and "Validation macro-F1 of every run" in page
    assert "cdn.jsdelivr" not in page and not re.search(r"<script[^>]+src=", page)


def test_second_repro_is_a_no_op(repo):
    out = _run(["dvc", "repro"], repo)
    assert "Running stage" not in out, out
    assert _changed_stages(repo) == set()


def test_a_placed_raw_file_reruns_the_download_stage(repo):
    placed = repo / "data/raw/synthetic/placed_by_hand.csv"
    placed.write_text("t,x\n0,1\n")
    try:
        assert "download" in _changed_stages(repo)  # data/raw/<dataset>/ is a dependency (issue 14, defect 9)
    finally:
        placed.unlink()
    assert _changed_stages(repo) == set()


def _dry_train(repo: Path) -> str:
    return _run(["python", "-m", "ralis.runner", "--dry"], repo).strip().splitlines()[-1]


def test_one_value_retrains_only_the_runs_that_read_it(repo):
    original = (repo / "params.yaml").read_text()
    try:
        _edit_params(repo, {"ablation": {"moe": False}})  # params.yaml's RALIS runs only (variants use the paper's)
        assert _changed_stages(repo) == {"train"}
        assert "1 to train" in _dry_train(repo)
        (repo / "params.yaml").write_text(original)
        _edit_params(repo, {"baselines": {"flexmoe": {"top_k": 3}}})  # only Flex-MoE reads it
        assert _changed_stages(repo) == {"train"}
        assert "1 to train" in _dry_train(repo)
        (repo / "params.yaml").write_text(original)
        _edit_params(repo, {"results": {"decimals": 1}})
        assert _changed_stages(repo) == {"results"}
    finally:
        (repo / "params.yaml").write_text(original)
    assert _changed_stages(repo) == set()
    assert "0 to train" in _dry_train(repo)


def test_your_own_recordings_go_in_by_editing_params_only(repo):
    """README "Your own sensors": CSV recordings + the README's manifest in data/user, `data.dataset: user` in
    params.yaml, `dvc repro` -> the results notebook; then `python -m ralis.predict` on one view."""
    from tests.user_fixtures import write_recordings

    write_recordings(repo / "data/user")
    original = (repo / "params.yaml").read_text()
    try:
        _edit_params(repo, {"data": {"dataset": "user", "views": None},
                            "pipeline": {"baselines": ["meanfusion"], "ablations": ["no_contrast", "no_sep_load"]}})
        _run(["dvc", "repro"], repo, timeout=900)
        manifest = json.loads((repo / "data/windows/user/manifest.json").read_text())
        assert [v["name"] for v in manifest["views"]] == ["watch_acc", "watch_gyro"]
        assert manifest["splits"]["test"]["subjects"] == [5, 6]
        metrics = json.loads((repo / "outputs/runs/ralis/uniform/seed0/metrics.json").read_text())
        assert metrics["dataset"] == "user" and set(metrics["test_accuracy"]) == {"1", "half", "all"}
        results = json.loads((repo / "outputs/results/metrics.json").read_text())
        assert set(results["table4"]) == {"ralis", "meanfusion"} and "ralis" in results["accuracy"]
        receipt = json.loads((repo / "data/raw/user.json").read_text())
        hashed = {f["path"] for f in receipt["files"]}
        assert receipt["dataset"] == "user" and {"manifest.yaml", "recordings/subject6_session.csv"} <= hashed
        assert _changed_stages(repo) == set()
        # a new recording reruns download and windowing: the user's folder is a dependency
        (repo / "data/user/recordings/subject6_session.csv").write_text(
            (repo / "data/user/recordings/subject5_session.csv").read_text())
        assert {"download", "windowing"} <= _changed_stages(repo)
        import numpy as np
        test = np.load(repo / "data/windows/user/test.npz")
        np.savez(repo / "gyro.npz", watch_gyro=test["view__watch_gyro"][test["present"][:, 1]])
        out = _run(["python", "-m", "ralis.predict", "outputs/runs/ralis/uniform/seed0/checkpoint.pt", "gyro.npz",
                    "--out", "pred.csv"], repo)
        assert "warning" not in out and len((repo / "pred.csv").read_text().splitlines()) == 1 + int(
            test["present"][:, 1].sum())
    finally:
        (repo / "params.yaml").write_text(original)


def test_a_killed_train_stage_leaves_complete_runs_and_resumes(repo):
    """SIGKILL to the whole `dvc repro` process group mid-training (a crash, not a Ctrl-C): every run folder is
    complete or absent, and the next `dvc repro` trains only what is missing and removes the unfinished folders.
    Last in this module: it leaves the copy on changed params."""
    import signal
    import time

    from ralis.api import run_complete
    from ralis.runner import FINGERPRINT

    _edit_params(repo, {"data": {"dataset": "synthetic", "views": ["left_wrist", "waist", "pose3d"]},
                        "loss": {"tau": 0.2}})  # every RALIS-family run (RALIS, Table 5 variants, Fig. 5 grid)
    todo = int(_dry_train(repo).split(",")[1].split()[0])
    assert todo >= 6
    started = time.time()
    proc = subprocess.Popen(["dvc", "repro", "train"], cwd=repo, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    fresh = []
    while time.time() - started < 300 and proc.poll() is None and len(fresh) < 2:
        time.sleep(0.5)
        fresh = [m for m in (repo / "outputs").glob(f"*/*/uniform/seed0/{FINGERPRINT}") if m.stat().st_mtime > started]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and len(fresh) >= 2  # killed with some runs stamped done, others not
    for kind in ("runs", "ablations"):
        for run in (repo / "outputs" / kind).glob("*/*/seed*"):
            assert run_complete(run), f"{run} is incomplete after the kill"
    left = int(_dry_train(repo).split(",")[1].split()[0])
    assert 0 < left <= todo - 2  # what finished before the kill is kept
    out = _run(["dvc", "repro"], repo, timeout=900)
    assert f"{left} to train" in out
    assert not list((repo / "outputs").glob("*/*/*/.*.tmp-*"))  # nothing unfinished remains
    assert _changed_stages(repo) == set() and "0 to train" in _dry_train(repo)
