"""dvc.yaml against the notebooks, params.yaml and the package (static checks, no DVC run).

* every `-p name` a stage passes exists in that notebook's `parameters` cell, whose defaults are the smoke
  setting (params_file "" and folders under ../scratch);
* the command shape that works with queued experiments (PYTHONPATH=$PWD, -k python3, --cwd notebooks);
* every params.yaml key of a section a stage reads is tracked by that stage (except keys the matrix
  overrides), and nothing tracked is missing from params.yaml;
* every ralis module a stage's notebook imports (transitively, lazy imports included) is a stage dependency,
  so editing code reruns the stages it affects.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_DVC_FILE = yaml.safe_load((ROOT / "dvc.yaml").read_text())
VARS = {k: v for entry in _DVC_FILE.get("vars", []) for k, v in entry.items()}  # dvc.yaml's own template variables
DVC = {name: {**stage, "cmd": re.sub(r"\$\{(\w+)\}", lambda m: VARS.get(m.group(1), m.group(0)), stage["cmd"])}
       for name, stage in _DVC_FILE["stages"].items()}  # commands as DVC runs them
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())

# What each stage reads of params.yaml is not listed here: tests/test_pipeline.py runs every stage with
# ralis.reads recording the keys it reads and checks them against the stage's `params:` in dvc.yaml.
# Modules a stage imports that must NOT be dependencies: display-only helpers and the package's version file.
NOT_DEPS = {
    "download": {"ralis"},
    "windowing": {"ralis.figures", "ralis.paper_tables", "ralis"},
    "results": {"ralis"},
    "convergence": {"ralis"},
    "load_balance": {"ralis"},
    "sensitivity": {"ralis"},
}
RUNNER_NOTEBOOKS = ["notebooks/03_train.ipynb", "notebooks/04_ablation.ipynb"]  # what the train stage executes


def _notebook_and_flags(cmd: str) -> tuple[str, dict[str, str]]:
    argv = shlex.split(cmd.partition(" && ")[2].replace("$PWD", "PWD"))
    nb = next(a for a in argv if a.endswith(".ipynb"))
    flags = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "-p"}
    return nb, flags


def _parameters_cell(nb_path: Path) -> dict[str, object]:
    nb = json.loads(nb_path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    out = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{nb_path.name}: parameters cell holds " \
            f"assignments of literals only, found {ast.dump(node)[:80]}"
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_train_stage_runs_the_runner_on_the_training_notebooks():
    cmd = DVC["train"]["cmd"]
    assert cmd.startswith("PYTHONPATH=$PWD python -m ralis.runner --params params.yaml"), cmd
    assert all(nb in DVC["train"]["deps"] for nb in RUNNER_NOTEBOOKS)
    from ralis.runner import Job

    for nb in RUNNER_NOTEBOOKS:  # every parameter the runner passes exists in the notebook
        declared = _parameters_cell(ROOT / nb)
        key = "method" if "03_" in nb else "variant"
        job = Job(Path(nb).stem, "ralis", "uniform", 0, ROOT / "outputs/runs/x", ROOT / "outputs/notebooks/x", None)
        args = job.papermill_args(ROOT / "params.yaml")
        flags = {args[i + 1] for i in range(0, len(args), 3)}
        assert flags <= set(declared) and key in flags, (nb, sorted(flags - set(declared)))
    outs = [next(iter(o)) for o in DVC["train"]["outs"]]
    assert all(o["persist"] for o in (next(iter(x.values())) for x in DVC["train"]["outs"])), outs


@pytest.mark.parametrize("stage", sorted(set(DVC) - {"train"}))
def test_stage_command_matches_notebook_parameters(stage):
    cmd = DVC[stage]["cmd"]
    mkdir, _, run = cmd.partition(" && ")
    assert run.startswith("RALIS_QUIET=1 PYTHONPATH=$PWD papermill --cwd notebooks -k python3 --log-output "), cmd
    assert "${PWD}" not in cmd
    nb, flags = _notebook_and_flags(cmd)
    executed = shlex.split(run.replace("$PWD", "PWD"))[9]  # RALIS_QUIET=1 PYTHONPATH=.. papermill ... <input> <output>
    assert executed.startswith("outputs/notebooks/") and mkdir == f"mkdir -p {Path(executed).parent}", cmd
    assert nb in DVC[stage]["deps"], f"{stage}: its notebook {nb} must be a dependency"
    declared = _parameters_cell(ROOT / nb)
    missing = sorted(set(flags) - set(declared))
    assert not missing, f"{stage}: -p {missing} not in {nb}'s parameters cell {sorted(declared)}"
    assert flags.get("params_file") == "../params.yaml"


@pytest.mark.parametrize("nb_path", sorted((ROOT / "notebooks").glob("0[1-9]_*.ipynb")), ids=lambda p: p.name)
def test_parameter_defaults_are_the_smoke_setting(nb_path):
    declared = _parameters_cell(nb_path)
    if "params_file" in declared:
        assert declared["params_file"] == "", f"{nb_path.name}: params_file must default to '' (smoke profile)"
    for name, value in declared.items():
        if name.endswith("_dir"):
            assert str(value) == "../scratch" or str(value).startswith("../scratch/"), \
                f"{nb_path.name}: {name} must default under ../scratch/"


def _flatten(section: str) -> set[str]:
    head, _, key = section.partition(".")
    if key:
        return {section}
    value = PARAMS[head]
    return {f"{head}.{k}" for k in value} if isinstance(value, dict) else {head}


def _tracked(stage: str) -> set[str]:
    out = set()
    for p in DVC[stage].get("params", []):
        out |= _flatten(p) if isinstance(p, str) else set()
    return out


@pytest.mark.parametrize("stage", sorted(DVC))
def test_stage_params_name_keys_of_params_yaml(stage):
    for key in _tracked(stage):
        head, _, rest = key.partition(".")
        assert head in PARAMS and (not rest or rest in PARAMS[head]), f"{stage}: {key} is not in params.yaml"


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imports(path: Path, name: str) -> set[str]:
    """ralis modules imported by one file (function-level imports too, except ralis.pipeline's smoke helpers)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if name == "ralis.pipeline" else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] == "ralis" and _module_file(m)}


def _closure(entries: set[str]) -> set[str]:
    seen, todo = set(), list(entries)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages are imported too
        todo += sorted(_imports(_module_file(m), m))
    return seen


def _notebook_imports(nb_path: Path) -> set[str]:
    nb = json.loads(nb_path.read_text())
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    mods = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ralis":
            mods |= {m for m in (node.module, *(f"{node.module}.{a.name}" for a in node.names)) if _module_file(m)}
    return mods


@pytest.mark.parametrize("stage", sorted(DVC))
def test_stage_depends_on_the_code_it_imports(stage):
    notebooks = RUNNER_NOTEBOOKS if stage == "train" else [_notebook_and_flags(DVC[stage]["cmd"])[0]]
    deps = [ROOT / d for d in DVC[stage]["deps"]]
    skip = NOT_DEPS.get(stage, {"ralis"})
    imported = set().union(*(_notebook_imports(ROOT / nb) for nb in notebooks))
    if stage == "train":
        imported |= {"ralis.runner"}
    used = {m for m in _closure(imported)
            if not any(m == s or m.startswith(s + ".") for s in skip - {"ralis"}) and m not in skip
            and _module_file(m).read_text().strip()}  # an empty __init__.py changes nothing
    missing = sorted(m for m in used if not any(_module_file(m).is_relative_to(d) for d in deps))
    assert not missing, f"{stage} imports {missing}; add their files to its deps in dvc.yaml"
    for d in deps:
        assert d.exists() or "${" in str(d) or d.is_relative_to(ROOT / "outputs"), f"{stage}: dep {d} does not exist"


def test_quick_pipeline_lists_are_known():
    import ralis.baselines  # noqa: F401  (registers the baselines)
    from ralis.methods import METHODS
    from ralis.pipeline import PipelineConfig

    PipelineConfig(**PARAMS["pipeline"])  # raises on unknown variants / protocols

    assert not sorted(set(PARAMS["pipeline"]["baselines"]) - set(METHODS)), "unknown baseline in pipeline.baselines"
    assert "ralis" not in PARAMS["pipeline"]["baselines"], "RALIS is always trained; list only the baselines"


def test_results_stage_outputs_are_disjoint_from_run_folders():
    outs = [o if isinstance(o, str) else next(iter(o)) for o in
            DVC["results"]["outs"] + DVC["results"]["metrics"] + DVC["results"]["plots"]]
    assert all(o.startswith(("outputs/results/", "outputs/notebooks/", "outputs/headline")) for o in outs)
    assert re.search(r"outputs/runs\b", " ".join(DVC["results"]["deps"]))


def test_uncached_metrics_can_be_committed():
    """Every `cache: false` metrics file is committable (not git-ignored), so `dvc metrics diff` can compare it with
    HEAD; every other pipeline output stays ignored."""
    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    uncached, cached = [], []
    for stage in DVC.values():
        for entry in stage.get("metrics", []):
            path, opts = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            (uncached if opts.get("cache", True) is False else cached).append(path)
        for o in stage.get("outs", []):  # an uncached out (claims.json) is committable like the metrics
            path, opts = next(iter(o.items())) if isinstance(o, dict) else (o, {})
            (uncached if opts.get("cache", True) is False else cached).append(path)
    assert uncached, "dvc.yaml declares no uncached metrics"
    for path, want_ignored in [(p, False) for p in uncached] + [(p, True) for p in cached]:
        path = re.sub(r"\$\{item\.\w+\}", "x", path)  # matrix values
        path = re.sub(r"\$\{(\w+)\.(\w+)\}", lambda m: str(PARAMS[m[1]][m[2]]), path)  # params.yaml values
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0
        assert ignored == want_ignored, f"{path}: .gitignore should {'' if want_ignored else 'not '}ignore it"


def test_every_dataset_has_its_tracked_raw_folder():
    """The download stage depends on data/raw/<dataset>/, which must exist in a fresh clone (a tracked .gitkeep)."""
    from ralis.config import DATASETS

    tracked = subprocess.run(["git", "ls-files", "data/raw"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "data/raw"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
    assert sorted(f"data/raw/{d}/.gitkeep" for d in DATASETS) == sorted(tracked + untracked)
    assert "${data.raw_dir}/${data.dataset}" in DVC["download"]["deps"]
