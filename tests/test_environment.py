"""The three install descriptions (pyproject, lock, environment.yml) must agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        assert m, f"requirements.txt: '{line}' is not an exact 'name==version' pin"
        pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def _project_deps() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        deps += extra
    return deps


def test_torch_is_pinned_exactly_to_the_cpu_wheel_on_disk():
    assert _lock().get("torch") == "2.13.0", "requirements.txt must pin torch==2.13.0 (no local +cpu tag)"


def test_every_runtime_dependency_is_locked():
    """The lock installs the library and the extras the two README commands need (pipeline, dev)."""
    lock = _lock()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    for dep in [*meta["dependencies"], *extras["pipeline"], *extras["dev"]]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0]).lower()
        assert name in lock, f"pyproject dependency '{dep}' is missing from requirements.txt; run scripts/lock.sh"


def test_lock_satisfies_pyproject_lower_bounds():
    lock = _lock()

    def vtuple(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", v.split("+")[0])[:3])

    for dep in _project_deps():
        m = re.match(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9.]+)", dep)
        if not m:
            continue
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
        if name in lock:
            assert vtuple(lock[name]) >= vtuple(m.group(2)), f"{name}=={lock[name]} violates '{dep}'"


def test_environment_yml_wraps_the_lock_and_the_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps, "environment.yml must pin python=3.11 like pyproject's requires-python"
    pip_block = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.txt" in pip_block and "-e ." in pip_block
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def _env_pins(deps: list) -> dict[str, str]:
    """Every package environment.yml names besides python/pip and the two pip lines, as {name: version}."""
    pins = {}
    for d in deps:
        entries = d["pip"] if isinstance(d, dict) else [d]
        for e in entries:
            if e in ("pip", "-r requirements.txt", "-e .") or str(e).startswith("python="):
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*={1,2}\s*([^\s=]+)", str(e))
            assert m, f"environment.yml: '{e}' must be pinned like the lock (name==version)"
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def test_environment_yml_adds_nothing_that_disagrees_with_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    lock = _lock()
    for name, version in _env_pins(env["dependencies"]).items():
        assert lock.get(name) == version, (
            f"environment.yml pins {name}={version} but requirements.txt has {lock.get(name)}")


def test_env_pin_check_catches_drift():
    lock = _lock()
    assert _env_pins(["python=3.11", "pip", {"pip": ["-r requirements.txt", "-e ."]}]) == {}
    drifted = _env_pins(["numpy=0.0.1"])
    assert drifted["numpy"] != lock["numpy"]


def test_ruff_lints_every_python_file_of_the_project():
    """scripts/test.sh runs `ruff check .`; an exclude pattern like "data" would also drop ralis/data/ silently."""
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    shown = subprocess.run([ruff, "check", "--show-files", "."], cwd=ROOT, capture_output=True, text=True, check=True)
    linted = {Path(line).resolve() for line in shown.stdout.splitlines() if line.strip()}
    ours = {p.resolve() for d in ("ralis", "tests", "benchmarks", "scripts", "notebooks")
            for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts}
    assert not sorted(ours - linted), f"ruff skips {sorted(str(p.relative_to(ROOT)) for p in ours - linted)[:10]}; " \
        "anchor the pyproject.toml [tool.ruff] extend-exclude patterns (./data, not data)"
