"""The encoder bank: every view's encoder f^(v) [P§4, §5.1.3], for RALIS, mean fusion and every baseline.

views (V tensors [N, T_v, C_v]) + present [N, V] -> embeddings [V, N, D], exactly zero where a view is missing.

- One encoder per view (A14). Views with the same channel count and rate (hence the same window shape) run
  through ONE grouped `ResNet1D` call: a grouped convolution holds each view's weights, and BatchNorm takes
  each view's statistics from the rows where that view is present. This equals the per-view loop
  (`reference_forward`, kept for the tests) to float rounding, and took 0.87x its time on one CPU thread
  (`benchmarks/training.py`).
- `model.shared_encoder`: one encoder per (modality, channel count), called once per view on its present rows.
- `magnorm`: Eq. (13) on each present embedding (RALIS, mean fusion and its contrastive variants).
- `model.encoder` picks the encoder (`ralis.model.encoder.ENCODERS`); one that cannot group views gets one module
  per view.
Missing rows are zeroed before the encoder, so arbitrary (even NaN) values there never reach an output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ralis.config import ModelConfig
from ralis.contract import ViewSpec
from ralis.model.encoder import ResNet1D, encoder_entry
from ralis.model.magnorm import magnorm

__all__ = ["EncoderBank", "bank_groups"]


def bank_groups(views: Sequence[ViewSpec], shared: bool, groupable: bool) -> dict[str, list[int]]:
    """Encoder key -> the view indices it encodes: by (channels, rate) for grouped per-view encoders, by
    (modality, channels) for shared encoders, one view each for an encoder that cannot group. Keys are valid
    module names."""
    groups: dict[str, list[int]] = {}
    for i, v in enumerate(views):
        if shared:
            key = f"{v.modality}_{v.channels}"
        elif groupable:
            key = f"c{v.channels}_{v.rate_hz:g}hz".replace(".", "p")
        else:
            key = f"view{i}"
        groups.setdefault(key, []).append(i)
    return groups


class EncoderBank(nn.Module):
    """f^(v) for every view, as few batched calls as the views' shapes allow."""

    def __init__(self, views: Sequence[ViewSpec], cfg: ModelConfig, magnorm: bool):
        super().__init__()
        self.views, self.width, self.magnorm = tuple(views), cfg.width, magnorm
        entry = encoder_entry(cfg)
        self.per_view = cfg.shared_encoder or not entry.groupable  # one module call per view, on its present rows
        self.groups = bank_groups(self.views, cfg.shared_encoder, entry.groupable)
        self.encoders = nn.ModuleDict({
            key: entry.build(self.views[members[0]].channels, cfg, 1 if cfg.shared_encoder else len(members))
            for key, members in self.groups.items()})

    def _finish(self, u: torch.Tensor) -> torch.Tensor:
        return magnorm(u) if self.magnorm else u

    def forward(self, views: Sequence[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        if len(views) != len(self.views):
            raise ValueError(f"batch has {len(views)} views, the encoders were built for {len(self.views)} "
                             f"({[v.name for v in self.views]})")
        z: list[torch.Tensor | None] = [None] * len(views)
        for key, members in self.groups.items():
            encoder = self.encoders[key]
            if self.per_view:
                for v in members:
                    z[v] = self._encode_rows(encoder, views[v], present[:, v])
                continue
            mask = present[:, members]  # [N, G]
            lengths = {views[v].shape[1] for v in members}
            if len(lengths) > 1:
                raise ValueError(f"views {[self.views[v].name for v in members]} share a rate but have window "
                                 f"lengths {sorted(lengths)}; rerun the windowing stage")
            x = torch.cat([torch.where(mask[:, j, None, None], views[v], 0.0)
                           for j, v in enumerate(members)], dim=2)  # [N, T, G*C]
            u = self._finish(encoder(x, mask).view(len(mask), len(members), self.width))  # [N, G, D]
            u = torch.where(mask[:, :, None], u, 0.0)
            for j, v in enumerate(members):
                z[v] = u[:, j]  # [N, D]
        return torch.stack(z)  # [V, N, D]

    def _encode_rows(self, encoder: nn.Module, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """One encoder on the present rows of one view: x [N, T, C], rows [N] -> [N, D], zeros elsewhere."""
        idx = rows.nonzero().flatten()
        out = x.new_zeros(len(rows), self.width)  # [N, D]
        if len(idx) == 0:
            return out
        return out.index_copy(0, idx, self._finish(encoder(x[idx])))

    def reference_forward(self, views: Sequence[torch.Tensor], present: torch.Tensor,
                          singles: dict[int, ResNet1D]) -> torch.Tensor:
        """The obviously correct loop the grouped form must equal: view v's own encoder `singles[v]` on its
        present rows only. Used by the tests (`singles` from `split_encoders`)."""
        return torch.stack([self._encode_rows(singles[v], x, present[:, v]) for v, x in enumerate(views)])

    def split_encoders(self) -> dict[int, ResNet1D]:
        """Per-view ResNet1D copies of the grouped weights (view index -> encoder), for `reference_forward`."""
        out = {}
        for key, members in self.groups.items():
            grouped = self.encoders[key]
            for j, v in enumerate(members):
                if self.per_view:  # already one module per view (or per modality)
                    out[v] = grouped
                    continue
                single = ResNet1D(grouped.in_channels, self.width, grouped.stem.conv.kernel_size[0],
                                  len(grouped.blocks), grouped.blocks[0].drop.p)
                single = single.to(next(grouped.parameters()))  # the grouped encoder's device and dtype
                # grouped tensors stack the views' weights on axis 0 ([G*D, ...]); view j owns block j
                single.load_state_dict({name: t.clone() if t.dim() == 0 else t.chunk(len(members))[j].clone()
                                        for name, t in grouped.state_dict().items()})
                out[v] = single.train(grouped.training)
        return out
