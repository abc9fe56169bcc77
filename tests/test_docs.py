"""The README and docs/ point at things that exist: every `ralis.<module>.<name>` they cite imports and resolves,
and every relative link names a file or folder of the repository (the README maps the paper to these names)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "data").glob("*/README.md"))]
NAME = re.compile(r"`(ralis(?:\.\w+)+)")  # a dotted name at the start of a code span
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_names_and_links_exist(doc):
    text = doc.read_text()
    names = sorted({m.group(1) for m in NAME.finditer(text)})
    missing = [n for n in names if not _resolves(n)]
    assert not missing, f"{doc.relative_to(ROOT)} cites {missing}, which do not exist; correct the name"
    links = {m.group(1) for m in LINK.finditer(text) if not m.group(1).startswith(("http:", "https:", "mailto:"))}
    broken = sorted(t for t in links if not (doc.parent / t).exists())
    assert not broken, f"{doc.relative_to(ROOT)} links to {broken}, which do not exist"


def test_the_check_can_fail():
    assert _resolves("ralis.pipeline.PipelineConfig.method_seeds")
    assert not _resolves("ralis.results.method_seeds") and not _resolves("ralis.nonexistent")
