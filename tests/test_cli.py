"""The `ralis` console script (pyproject [project.scripts]) and its subcommands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ralis.cli import main


def test_info_names_the_versions_the_device_and_the_registries(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("ralis", "torch", "cuda usable", "device (train.device: auto)", "methods", "encoders"):
        assert any(line.startswith(key) for line in out.splitlines()), key
    assert "ralis, meanfusion" in out.replace("ralis ", "", 1) and "resnet1d" in out


def test_subcommands_are_the_modules_own_command_lines(capsys):
    for command, prog in (("predict", "python -m ralis.predict"), ("study", "python -m ralis.study")):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0 and prog in capsys.readouterr().out
    assert main(["study", "--list"]) == 0 and "paper-dailysport" in capsys.readouterr().out


def test_an_unknown_command_is_refused_with_the_usage(capsys):
    assert main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err
    assert main([]) == 0 and "usage: ralis" in capsys.readouterr().out


def test_the_console_script_is_installed_beside_python():
    script = Path(sys.executable).parent / "ralis"
    assert script.exists(), f"{script} is missing: run bash scripts/setup.sh (it installs the package's scripts)"
    out = subprocess.run([str(script), "info"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.startswith("ralis ")
