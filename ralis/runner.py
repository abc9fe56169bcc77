"""Train the study's runs in parallel: one DVC stage, `pipeline.jobs` processes, each run an executed notebook.

DVC runs one stage at a time, and a CPU training is fastest on one thread, so the `train` stage executes every
training of the study through papermill in a pool of `pipeline.jobs` processes with one thread each:

    03_train     every method x `pipeline.protocols` (RALIS and mean fusion over `pipeline.seeds`, the other
                 baselines over `pipeline.baseline_seeds`)                         -> outputs/runs/<method>/...
    04_ablation  the Table 5 variants and the Fig. 5 (E, K) grid x `pipeline.ablation_protocols`, seed 0
                 -> outputs/ablations/<variant>/...

A run is kept, not retrained, when its folder is complete and its fingerprint (the run's effective params,
the windows (manifest and array values), the training notebooks and the package source) is unchanged: after
changing one value of params.yaml only the runs that read it train again (the stage's outputs are `persist`ed
for that). Two jobs with the same fingerprint (the ablation "full" is the RALIS run when params.yaml's
`ablation` is the paper's) train once; the second folder is a copy.

    python -m ralis.runner --params params.yaml [--jobs 2] [--dry]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ralis.config import MissingConfig, Params, TrainConfig
from ralis.data.store import SPLITS
from ralis.io import atomic_dir, remove_stale
from ralis.model.encoder import encoder_entry
from ralis.pipeline import (
    RUN_KEYS,
    PipelineConfig,
    ensure_windows,
    run_dir,
    run_params,
    stage_params,
    stage_sections,
    study_runs,
    study_variants,
)
from ralis.runtime import QUIET_ENV
from ralis.zoo import check_settings, method_settings

__all__ = ["Job", "study_jobs", "run_inputs", "fingerprint", "run_jobs", "ensure_runs", "main"]

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = "fingerprint.txt"
# training time relative to a RALIS run, measured in the default study (ShaSpec encodes every view twice)
RELATIVE_COST = {"shaspec": 1.7, "flexmoe": 1.1, "fusemoe": 1.1}
# A kernel that dies before it answers kernel_info has run no cell. Two papermill processes that start kernels at
# the same moment can be handed the same free TCP port by jupyter_client (jupyter/jupyter_client#154,
# nteract/papermill#511), and one kernel then dies at start-up. Such a failure is retried; any other is raised.
KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info", "Kernel didn't respond in")
KERNEL_START_TRIES = 3


@dataclass(frozen=True)
class Job:
    """One training: a notebook executed with papermill into `executed`, writing the run folder `out_dir`."""

    notebook: str  # "03_train" or "04_ablation"
    name: str  # method or variant
    protocol: str
    seed: int
    out_dir: Path
    executed: Path
    params: Params  # the run's effective params (what the notebook trains with)

    @property
    def label(self) -> str:
        return f"{self.name} / {self.protocol} / seed {self.seed}"

    def papermill_args(self, params_file: Path) -> list[str]:
        key = "method" if self.notebook == "03_train" else "variant"
        values = {"params_file": os.path.relpath(params_file, ROOT / "notebooks"), key: self.name,
                  "protocol": self.protocol, "seed": self.seed,
                  "out_dir": os.path.relpath(self.out_dir, ROOT / "notebooks")}
        return [a for k, v in values.items() for a in ("-p", k, str(v))]


def study_jobs(params: Params, pipe: PipelineConfig, outputs: Path) -> list[Job]:
    """Every training of the study, longest-running kinds first (RALIS, then the baselines, then variants)."""
    check_settings(params)  # a typo in `baselines` or `model.encoder` stops the study before its first training
    encoder_entry(params.model)
    jobs = []
    for kind, name, protocol, seed in study_runs(pipe, study_variants(params, pipe)):
        notebook = "03_train" if kind == "runs" else "04_ablation"
        method, variant = (name, "") if kind == "runs" else ("ralis", name)
        jobs.append(Job(notebook, name, protocol, seed, run_dir(outputs / kind, name, protocol, seed),
                        outputs / "notebooks" / notebook / f"{name}-{protocol}-seed{seed}.ipynb",
                        run_params(params, method, protocol, seed, variant)))
    return jobs


# package files that do not reach a training (tables, claims, figures, analyses of finished runs, this runner)
NOT_TRAINING = ("claims.py", "results.py", "figures.py", "paper_tables.py", "runner.py", "study.py", "tracking.py",
                "analysis")


def _source_digest() -> str:
    """Hash of the package source a training runs and the two training notebooks (such an edit retrains every run)."""
    h = hashlib.sha256()
    code = [f for f in sorted((ROOT / "ralis").rglob("*.py")) if f.relative_to(ROOT / "ralis").parts[0] not in
            NOT_TRAINING]
    files = code + [ROOT / "notebooks" / f"{n}.ipynb" for n in ("03_train", "04_ablation")]
    for f in files:
        h.update(f.relative_to(ROOT).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def run_inputs(params: Params) -> dict:
    """The params that reach one run: the sections it reads, without the data-making ones (the windows digest
    stands for them), its own `baselines.<method>` settings (defaults filled in) but no other method's, and (for
    baselines) not RALIS's ablation switches."""
    d = dataclasses.asdict(params)
    for section in ("synthetic", "windowing", "analysis"):
        d.pop(section)
    for key in ("raw_dir", "user_dir", "windows_dir"):  # folders (absolute here): the windows digest stands for them
        d["data"].pop(key)
    method = params.train.method
    settings = method_settings(method, params)  # (ralis.zoo imported: every method's settings are registered)
    d["baselines"] = dataclasses.asdict(settings) if settings is not None else {}
    if method == "ralis":
        d["conv_batch"] = params.analysis.conv_batch  # the §6.2 probe in its log
    else:
        d.pop("ablation")
    return d


_DIGESTS: dict[tuple, str] = {}  # windows digests by (file, mtime, size): one read per runner, fresh after a rewrite


def windows_digest(folder: Path) -> str | None:
    """SHA-256 of a windows folder: its manifest and the values of every array of its split files (not the .npz
    bytes, which carry write times), so a recording edited without changing any count retrains the runs."""
    files = [folder / "manifest.json", *(folder / f"{s}.npz" for s in SPLITS)]
    if not files[0].is_file():
        return None
    key = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())
    if key not in _DIGESTS:
        h = hashlib.sha256(files[0].read_bytes())
        for f in files[1:]:
            if f.is_file():
                with np.load(f, allow_pickle=False) as z:
                    for name in sorted(z.files):
                        a = np.ascontiguousarray(z[name])
                        h.update(f"{f.name}/{name}/{a.dtype.str}/{a.shape}".encode())
                        h.update(a.tobytes())
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def fingerprint(job: Job, source: str) -> str:
    """What the run's result depends on: its params (`run_inputs`), the windows (`windows_digest`) and the source
    digest."""
    p = job.params
    payload = {"params": run_inputs(p), "source": source,
               "windows": windows_digest(Path(p.data.windows_dir) / p.data.dataset)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _done(job: Job, key: str) -> bool:
    from ralis.api import run_complete

    stamp = job.out_dir / FINGERPRINT
    return run_complete(job.out_dir) and stamp.is_file() and stamp.read_text().strip() == key


def _execute(job: Job, key: str, params_file: Path) -> float:
    """Run one job's notebook in its own process with one thread; stamp the run folder on success."""
    job.executed.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT), **{QUIET_ENV: "1"})
    cmd = [sys.executable, "-m", "papermill", "--cwd", str(ROOT / "notebooks"), "-k", "python3",
           str(ROOT / "notebooks" / f"{job.notebook}.ipynb"), str(job.executed), *job.papermill_args(params_file)]
    t0 = time.perf_counter()
    for attempt in range(1, KERNEL_START_TRIES + 1):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            break
        if attempt < KERNEL_START_TRIES and any(m in proc.stderr for m in KERNEL_START_FAILURES):
            print(f"{job.label}: its kernel died at start-up before running a cell (most often two kernels "
                  f"handed the same port); starting it again ({attempt + 1}/{KERNEL_START_TRIES})", flush=True)
            continue
        raise RuntimeError(f"training {job.label} failed; its executed notebook {job.executed} holds the "
                           f"traceback:\n{proc.stderr[-3000:]}")
    (job.out_dir / FINGERPRINT).write_text(key + "\n")
    return time.perf_counter() - t0


def unused_run_keys(params: Params) -> list[str]:
    """The `RUN_KEYS` whose params.yaml value is not the default, as "key = value": the study sets them per run
    (from `pipeline`), so there they change nothing; they choose a single run (`ralis train`, notebook 03)."""
    defaults = {"train": TrainConfig(), "missing": MissingConfig()}
    out = []
    for key in RUN_KEYS:
        section, name = key.split(".")
        if (value := getattr(getattr(params, section), name)) != getattr(defaults[section], name):
            out.append(f"{key} = {value!r}")
    return out


def run_jobs(jobs: list[Job], params_file: Path, n_jobs: int, dry: bool = False) -> dict[str, list[str]]:
    """Train the jobs that are not done, `n_jobs` at a time; print one line per job. Returns what was done."""
    if n_jobs < 1:
        raise ValueError(f"params.yaml pipeline.jobs must be >= 1, got {n_jobs}")
    source = _source_digest()
    keyed = [(fingerprint(job, source), job) for job in jobs]
    key_of = {id(job): key for key, job in keyed}
    first: dict[str, Job] = {}  # fingerprint -> the job that makes (or made) that run
    todo, copies, kept = [], [], []
    for key, job in keyed:
        if _done(job, key):
            kept.append(job)
        elif key in first:
            copies.append(job)
            continue
        else:
            todo.append(job)
        first.setdefault(key, job)
    print(f"train: {len(jobs)} runs: {len(kept)} up to date, {len(todo)} to train with {n_jobs} processes, "
          f"{len(copies)} identical to another run", flush=True)
    done = {"kept": [j.label for j in kept], "train": [j.label for j in todo], "copy": [j.label for j in copies]}
    if dry:
        return done
    if stale := remove_stale({job.out_dir.parent for job in jobs}):  # left by a killed stage (DVC persists them)
        print(f"train: removed {len(stale)} unfinished run folder(s) of an interrupted run: "
              f"{[p.name for p in stale][:4]}", flush=True)
    t0, count = time.perf_counter(), [0]

    def one(job: Job) -> None:
        secs = _execute(job, key_of[id(job)], params_file)
        count[0] += 1
        print(f"[{count[0]}/{len(todo)}] {job.label}: {secs:.0f} s (elapsed {time.perf_counter() - t0:.0f} s)",
              flush=True)

    todo.sort(key=lambda j: -RELATIVE_COST.get(j.name, 1.0))  # longest first: no long run left alone at the end
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        for _ in pool.map(one, todo):  # re-raises the first failure
            pass
    for job in copies:  # same fingerprint as a trained run: copy its folder (and executed notebook)
        src = first[key_of[id(job)]]
        with atomic_dir(job.out_dir) as tmp:
            shutil.copytree(src.out_dir, tmp, dirs_exist_ok=True)
        job.executed.parent.mkdir(parents=True, exist_ok=True)
        if src.executed.is_file():
            shutil.copyfile(src.executed, job.executed)
        print(f"{job.label}: same run as {src.label} (copied)", flush=True)
    return done


def ensure_runs(params: Params, pipe: PipelineConfig, outputs: str | Path) -> list[Path]:
    """Train, in this process, the runs of `study_jobs` that are missing or incomplete under `outputs` (the smoke
    profile of the results and analysis notebooks); returns the new run folders. A run folder counts only when it
    holds every file of `ralis.api.OUTPUTS`."""
    from ralis.api import run_complete, run_experiment

    ensure_windows(params, create=True)
    made = []
    for job in study_jobs(params, pipe, Path(outputs)):
        if not run_complete(job.out_dir):
            run_experiment(job.params, job.out_dir, progress=False)
            made.append(job.out_dir)
    return made


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--outputs", default="outputs")
    ap.add_argument("--jobs", type=int, default=None, help="parallel processes (default: params pipeline.jobs)")
    ap.add_argument("--dry", action="store_true", help="list what would train, train nothing")
    a = ap.parse_args(argv)
    params_file = Path(a.params).resolve()
    params = stage_params(str(params_file))
    pipe, _ = stage_sections(str(params_file))
    if unused := unused_run_keys(params):
        print(f"train: params.yaml sets {', '.join(unused)}; the study sets these per run (pipeline.baselines, "
              "pipeline.protocols, pipeline.seeds), so they change nothing here. They choose a single run "
              "(ralis train, notebook 03).", flush=True)
    ensure_windows(params, create=False)
    jobs = study_jobs(params, pipe, Path(a.outputs).resolve())
    run_jobs(jobs, params_file, a.jobs or pipe.jobs, a.dry)


if __name__ == "__main__":
    main()
