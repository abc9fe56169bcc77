"""Which params.yaml keys a stage reads, recorded while it runs (the check behind dvc.yaml's `params:` lists).

DVC reruns a stage when a key listed under its `params:` changes; a key the stage reads but does not list would
leave a stale result. Rather than a second, hand-written list of what each stage reads, the stage's own run says
it: with `RALIS_PARAMS_TRACE=<file>` in the environment, `ralis.pipeline.stage_params` / `stage_sections` hand
out config objects that append each key read ("train.lr", "pipeline.seeds") to that file, once per process.
Reads made by `dataclasses` itself (`replace`, `asdict`, `fields`) are not counted: copying a section is not using
its values. tests/test_pipeline.py runs every DVC stage with a trace file of its own and checks that each key
read is listed under that stage's `params:` (a whole section covers its keys).

Without the variable nothing changes: the objects are the plain dataclasses.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, TypeVar

__all__ = ["TRACE_ENV", "trace_reads", "covered"]

TRACE_ENV = "RALIS_PARAMS_TRACE"
_SEEN: set[str] = set()
_CLASSES: dict[tuple[type, str], type] = {}
_COPYING = (dataclasses.__file__, "<string>")  # dataclasses' own code and the methods it generates
T = TypeVar("T")


def _record(key: str) -> None:
    path = os.environ.get(TRACE_ENV)
    if path and key not in _SEEN:
        _SEEN.add(key)
        with open(path, "a", encoding="utf-8") as f:  # one short line per write: appends from processes interleave
            f.write(key + "\n")


def _traced_class(cls: type, section: str) -> type:
    """A subclass of the dataclass `cls` whose field reads are recorded as `<section>.<field>` (or `<field>`
    for a section-valued field of the top-level Params, whose own reads are then recorded inside it)."""
    if (cls, section) in _CLASSES:
        return _CLASSES[(cls, section)]
    names = {f.name for f in dataclasses.fields(cls)}

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in names and sys._getframe(1).f_code.co_filename not in _COPYING:
            if section or not dataclasses.is_dataclass(value):  # a section object itself records inside
                _record(f"{section}.{name}" if section else name)
        return value

    def __eq__(self, other: Any) -> bool:  # equal to the plain dataclass with the same values
        if not isinstance(other, cls):
            return NotImplemented
        return all(object.__getattribute__(self, n) == getattr(other, n) for n in names)

    def __reduce__(self) -> tuple:  # pickles (and deep-copies) as the plain dataclass
        return cls, tuple(object.__getattribute__(self, f.name) for f in dataclasses.fields(cls))

    traced = type(cls.__name__, (cls,), {"__getattribute__": __getattribute__, "__eq__": __eq__,
                                         "__hash__": cls.__hash__, "__reduce__": __reduce__,
                                         "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    _CLASSES[(cls, section)] = traced
    return traced


def _instance(cls: type, values: dict[str, Any]) -> Any:
    """An instance of `cls` holding `values`, built without __init__ (whose checks would count as reads)."""
    obj = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


def _retype(obj: Any, section: str) -> Any:
    base = next(c for c in type(obj).__mro__ if "__getattribute__" not in c.__dict__ or c is object)
    return _instance(_traced_class(base, section),
                     {f.name: object.__getattribute__(obj, f.name) for f in dataclasses.fields(base)})


def trace_reads(config: T, section: str = "") -> T:
    """`config` with its reads recorded when RALIS_PARAMS_TRACE is set (else `config` itself). `section` names a
    section object (`stage_sections`' "pipeline" / "results"); "" is the whole Params, whose sections are traced
    under their field names."""
    if not os.environ.get(TRACE_ENV):
        return config
    if section:
        return _retype(config, section)
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    sections = {k: _retype(v, k) if dataclasses.is_dataclass(v) else v for k, v in values.items()}
    return _instance(_traced_class(type(config), ""), sections)


def covered(key: str, tracked: list[str]) -> bool:
    """True when `key` ("train.lr", "baselines") is listed in `tracked`, itself or through its section."""
    return any(key == t or key.startswith(t + ".") for t in tracked)
