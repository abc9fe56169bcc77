"""Annotation-driven validation of the config dataclasses (standard library only).

Each field's type annotation is its rule, checked by `build` when a section of params.yaml (or a checkpoint's
params) is read:

    int            a YAML integer; 4.5 and true are refused (an integral float like 4.0 too: write 4)
    float          an int or a float, finite; stored as float. A numeric string such as "1e-3" (PyYAML reads
                   exponent numbers without a dot as text) is refused with the spelling that works
    str, bool      exactly that YAML type
    X | None       null or X
    list[X]        a YAML list, each item checked as X
    dict[K, V]     a YAML mapping, keys as K, values as V
    Literal[...]   one of the listed values (an enum); the message names them and the closest match
    Annotated[X, Range(...) | Pattern(...)]   X plus a bound or a full-match regular expression

Errors are ValueError naming `where` (e.g. `params.yaml:train.lr`), the value and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union

__all__ = ["Range", "Pattern", "check_value", "build", "unknown_names"]

T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ge/le inclusive, gt/lt exclusive (None = unbounded)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def problem(self, v: float) -> str | None:
        ok = ((self.ge is None or v >= self.ge) and (self.gt is None or v > self.gt)
              and (self.le is None or v <= self.le) and (self.lt is None or v < self.lt))
        return None if ok else f"must be {self.describe()}"

    def describe(self) -> str:
        parts = [f"{w} {b:g}" for b, w in ((self.ge, ">="), (self.gt, ">"), (self.le, "<="), (self.lt, "<"))
                 if b is not None]
        return " and ".join(parts)


@dataclass(frozen=True)
class Pattern:
    """A string matching `regex` in full; `hint` says what is allowed."""

    regex: str
    hint: str

    def problem(self, v: str) -> str | None:
        return None if re.fullmatch(self.regex, v) else f"must be {self.hint}"


def unknown_names(given: typing.Iterable[str], known: typing.Iterable[str]) -> str:
    """'['trian'] (did you mean 'train'?)' for the names in `given` that are not `known`; '' if none."""
    known = list(known)
    bad = sorted(str(g) for g in set(given) - set(known))
    if not bad:
        return ""
    hints = [f"{m[0]!r} for {b!r}" for b in bad if (m := difflib.get_close_matches(b, known, n=1))]
    return f"{bad}" + (f" (did you mean {', '.join(hints)}?)" if hints else "")


def _numeric_string(value: str) -> str | None:
    """The YAML spelling that makes a numeric string a number, or None if it is not numeric."""
    try:
        number = float(value)
    except ValueError:
        return None
    text = value.strip()
    if "e" in text.lower() and "." not in text:  # PyYAML (YAML 1.1) reads 1e-3 as text: it needs a dot
        mant, _, exp = text.lower().partition("e")
        return f"{number!r} or {mant}.0e{exp} (YAML reads a number like 1e-3 without a dot as text)"
    return f"{text} without quotes"


def _fail(where: str, value: Any, problem: str) -> ValueError:
    return ValueError(f"{where} = {value!r}: {problem}")


def _check_plain(value: Any, tp: type, where: str) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(where, value, "must be true or false")
        return value
    if tp in (int, float):
        if isinstance(value, str) and (spelling := _numeric_string(value)) is not None:
            raise _fail(where, value, f"is text, not a number; write {spelling}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, value, f"must be {'an integer' if tp is int else 'a number'}, "
                                      f"got {type(value).__name__}")
        if tp is int and isinstance(value, float):
            fix = ("" if not math.isfinite(value) else f"; write {int(value)}" if value.is_integer()
                   else f"; write an integer such as {math.floor(value)} or {math.ceil(value)}")
            raise _fail(where, value, f"must be an integer, not a float{fix}")
        if tp is float:
            if not math.isfinite(value):
                raise _fail(where, value, "must be a finite number")
            return float(value)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _fail(where, value, f"must be a string, got {type(value).__name__}; quote it: '{value}'")
        return value
    if tp is Any or tp is object:
        return value
    raise TypeError(f"{where}: annotation {tp!r} is not supported by ralis.schema")


def check_value(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against annotation `tp`; return it normalised (ints for floats become floats, tuples lists)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        value = check_value(value, args[0], where)
        for rule in args[1:]:
            if value is not None and (problem := rule.problem(value)) is not None:
                raise _fail(where, value, problem)
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        errors = []
        for m in members:
            try:
                return check_value(value, m, where)
            except ValueError as e:
                errors.append(str(e))
        if len(members) == 1 and type(None) in args:
            raise ValueError(f"{errors[0]} (or null)")
        raise ValueError("; or ".join(errors))
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
        raise _fail(where, value, f"must be one of {list(args)}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _fail(where, value, f"must be a list, got {type(value).__name__}")
        return [check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, value, f"must be a mapping, got {type(value).__name__}")
        return {check_value(k, args[0], f"{where} key"): check_value(v, args[1], f"{where}.{k}")
                for k, v in value.items()}
    return _check_plain(value, tp, where)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def build(cls: type[T], values: Any, where: str) -> T:
    """Dataclass `cls` from a mapping, every field checked against its annotation; unknown keys refused."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping of key: value, got {type(values).__name__} {values!r}")
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    if bad := unknown_names(values, fields):
        raise ValueError(f"{where}: unknown key(s) {bad}; known keys are {sorted(fields)}")
    hints = _hints(cls)
    return cls(**{k: check_value(v, hints[k], f"{where}.{k}") for k, v in values.items()})
