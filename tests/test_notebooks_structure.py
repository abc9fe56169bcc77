"""Committed notebooks: no outputs, a `parameters` cell, kernelspec python3, no def/class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path: Path):
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec must be python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for c in code:
        assert not c.get("outputs"), f"{path.name}: committed with outputs; clear them (Kernel > Restart & Clear)"
        assert c.get("execution_count") is None, f"{path.name}: committed with execution counts"
        for line in "".join(c["source"]).splitlines():
            assert not line.lstrip().startswith(("def ", "class ")), f"{path.name}: move '{line.strip()}' into ralis/"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', found {len(tagged)}"
