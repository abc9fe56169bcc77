"""Atomic writes and file-naming reads.

Every output file is written to a temporary file in the same folder, then renamed; a folder of outputs
(`atomic_dir`) is built as a temporary sibling folder, then swapped in. Outputs get the modes a plain
`open()` / `mkdir()` would give (0644 / 0755 under the usual umask 022), not mkstemp's private 0600 / 0700.
`reading(path, fix)` turns any failure while parsing a file into a ValueError naming that file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "atomic_dir", "remove_stale", "reading", "write_json", "read_json", "write_npz", "write_text"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(path: Path, directory: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode a plain open()/mkdir() would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _publish(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it replaces `path` (and all it held), on error
    it is deleted and `path` is left as it was. So `path` is always absent or complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    old = path.parent / f".{path.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
    try:
        yield tmp
        _publish(tmp, directory=True)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def remove_stale(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Delete the temporary folders an `atomic_dir` killed mid-way (SIGKILL, power loss) left in `folders`:
    hidden `.<name>.tmp-*` / `.<name>.old-*` siblings. Call it only while nothing writes there. Returns them."""
    stale = sorted({p for f in map(Path, folders) if f.is_dir() for pattern in (".*.tmp-*", ".*.old-*")
                    for p in f.glob(pattern) if p.is_dir()})
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


@contextlib.contextmanager
def reading(path: str | os.PathLike, fix: str) -> Iterator[None]:
    """Re-raise a failure while reading `path` as ValueError naming the file and `fix` (a truncated archive,
    an empty CSV, a missing key...). FileNotFoundError, PermissionError and errors naming the file pass as they are."""
    try:
        yield
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure, re-raised with the file name
        if str(path) in str(e):
            raise
        raise ValueError(f"{path}: cannot be read ({type(e).__name__}: {e}); {fix}") from e


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented, key-sorted JSON (stable bytes for DVC metrics)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run the stage that writes it first (see dvc.yaml)")
    with reading(path, "rerun the stage that writes it (see dvc.yaml)"):
        return json.loads(path.read_text())


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Compressed .npz written atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return Path(path)
