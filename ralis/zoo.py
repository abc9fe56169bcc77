"""The method zoo: every registered method (RALIS and the baselines), built by name.

`ralis.methods` defines the protocol and the `register` decorator; the packages below register themselves when
imported, which happens here, at the top, so that nothing imports back up a layer:

    contract, config  <-  methods  <-  model, baselines  <-  zoo  <-  train, evaluate, checkpoint, api
"""

from __future__ import annotations

from collections.abc import Sequence

import ralis.baselines  # noqa: F401  (registers every baseline)
import ralis.model  # noqa: F401  (registers RALIS)
from ralis.config import Params
from ralis.contract import ViewSpec
from ralis.methods import METHODS, MultiviewMethod, method_settings

__all__ = ["build_method", "check_method", "check_settings", "method_settings", "method_names", "baseline_names"]


def method_names() -> tuple[str, ...]:
    """Every method `train.method` can name: RALIS, then the baselines in registration order."""
    return ("ralis", *baseline_names())


def baseline_names() -> tuple[str, ...]:
    """The methods compared with RALIS: every registered method but RALIS itself."""
    return tuple(m for m in METHODS if m != "ralis")


def check_method(name: str) -> None:
    """Raise ValueError naming `train.method` and the registered methods unless `name` is one of them."""
    if name not in METHODS:
        raise ValueError(f"params.yaml train.method = {name!r} is unknown; choose one of {sorted(METHODS)} "
                         "(docs/recipes.md: add a baseline)")


def check_settings(params: Params) -> None:
    """Check params.yaml `baselines`: every entry names a registered method and sets fields of its config dataclass
    (raises ValueError naming `baselines.<method>.<key>`), so a typo stops a study before its first training."""
    for name in params.baselines:
        if name not in METHODS:
            raise ValueError(f"params.yaml baselines.{name}: no method {name!r} is registered; choose among "
                             f"{sorted(METHODS)}")
        method_settings(name, params)


def build_method(name: str, views: Sequence[ViewSpec], n_classes: int, params: Params) -> MultiviewMethod:
    """Build the method selected by `train.method` in params.yaml."""
    check_method(name)
    method_settings(name, params)  # its `baselines.<name>` entry is checked even if the builder ignores it
    return METHODS[name](views, n_classes, params)
