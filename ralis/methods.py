"""The method protocol shared by RALIS and every baseline, and the registry they join (built by `ralis.zoo`).

Every method maps a MultiviewBatch to per-view embeddings z [V, N, D] (`encode`), maps cached embeddings
plus a presence mask to logits (`predict`, the inference path used for all 2^V-1 view combinations), and
computes its training objective from one classification and one contrastive batch (`training_losses`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ralis.config import Params, from_dict
from ralis.contract import MultiviewBatch, ViewSpec

__all__ = ["LossTerms", "MultiviewMethod", "METHODS", "SETTINGS", "register", "method_settings"]


@dataclass
class LossTerms:
    """The training objective of one step: `total` to backpropagate, scalar `terms` to log, diagnostics in `logs`."""

    total: torch.Tensor
    terms: dict[str, float] = field(default_factory=dict)
    logs: dict[str, Any] = field(default_factory=dict)


class MultiviewMethod(nn.Module, ABC):
    """Abstract base: subclasses implement encode / predict / training_losses."""

    # first epochs whose classification stream is unshuffled and sorted by present views (ralis.train.fit;
    # Flex-MoE's warm-up, methods.md §2.3); 0 = always the shuffled stream
    sorted_warmup_epochs: int = 0

    def __init__(self, views: Sequence[ViewSpec], n_classes: int):
        super().__init__()
        if not views:
            raise ValueError("a method needs at least one view")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.view_specs = tuple(views)
        self.view_names = tuple(v.name for v in views)
        self.n_classes = n_classes

    @property
    def n_views(self) -> int:
        return len(self.view_specs)

    @abstractmethod
    def encode(self, batch: MultiviewBatch) -> torch.Tensor:  # -> z [V, N, D]
        ...

    @abstractmethod
    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:  # -> logits [N, n_classes]
        ...

    @abstractmethod
    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        ...

    def forward(self, batch: MultiviewBatch) -> torch.Tensor:
        """Inference on a batch: encode, then predict from the embeddings."""
        return self.predict(self.encode(batch), batch.present)


Builder = Callable[[Sequence[ViewSpec], int, Params], MultiviewMethod]
METHODS: dict[str, Builder] = {}
SETTINGS: dict[str, type] = {}  # method -> its config dataclass, filled from params.yaml `baselines.<method>`


def register(name: str, settings: type | None = None) -> Callable[[Builder], Builder]:
    """Decorator: make a builder available as `train.method: <name>` in params.yaml. `settings` is the method's own
    config dataclass (defined in its file); params.yaml `baselines.<name>` sets its fields (`method_settings`)."""

    def deco(fn: Builder) -> Builder:
        if name in METHODS:
            raise ValueError(f"method '{name}' is registered twice")
        METHODS[name] = fn
        if settings is not None:
            SETTINGS[name] = settings
        return fn

    return deco


def method_settings(name: str, params: Params) -> Any:
    """The config dataclass of method `name`: its defaults, with params.yaml `baselines.<name>` applied and checked
    (unknown keys and bad values raise ValueError naming `baselines.<name>.<key>`); None for a method without one."""
    given = params.baselines.get(name)
    if name not in SETTINGS:
        if given:
            raise ValueError(f"params.yaml baselines.{name}: method {name!r} takes no settings; methods with settings "
                             f"are {sorted(SETTINGS)}")
        return None
    return from_dict(SETTINGS[name], given or {}, f"params.yaml:baselines.{name}")

