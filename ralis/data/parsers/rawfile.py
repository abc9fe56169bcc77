"""Reading one raw file of a dataset: every failure names the file, and a table without data rows is refused.

`@names_its_file` wraps a parser function whose first argument is the file path: any error it raises (a pandas
`EmptyDataError`, a "zero-size array", a bad number) becomes a ValueError naming that file (`ralis.io.reading`).
`read_csv` is `pandas.read_csv` that also refuses an empty or header-only file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ralis.io import reading

__all__ = ["FIX", "names_its_file", "read_csv"]

FIX = "check or replace this raw file (layouts: docs/notes/data-real.md), then rerun the windowing stage"
R = TypeVar("R")


def names_its_file(fn: Callable[..., R]) -> Callable[..., R]:
    """Decorator: failures of `fn(path, ...)` are re-raised as ValueError naming `path`."""

    @functools.wraps(fn)
    def wrapper(path: Path, *args: Any, **kwargs: Any) -> R:
        with reading(path, FIX):
            return fn(path, *args, **kwargs)

    return wrapper


@names_its_file
def read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """`pandas.read_csv(path, **kwargs)`; a file without data rows (empty or header only) raises ValueError."""
    df = pd.read_csv(path, **kwargs)
    if len(df) == 0:
        raise ValueError(f"{path}: has no data rows (empty or header only); {FIX}")
    return df
