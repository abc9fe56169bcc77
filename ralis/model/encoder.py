"""Per-view 1D-ResNet encoder with 4 residual blocks [P§5.1.3; methods.md §1.2].

Pre-activation ResNet with TF-style SAME padding, 128 filters, kernel 9, stride-4 downsampling in
blocks 1 and 3, then ReLU(BN(.)) and global average pooling over time.
Input [N, T, C] (time first, as the data contract), output u in R^D with D = width.

`groups` = G runs G independent encoders of the same shape as one module: every convolution is a grouped
convolution (group g = view g's weights) and every BatchNorm normalises each view's channels with that view's
statistics. With a presence mask [N, G], each view's batch statistics come from its present rows only, so a
grouped encoder equals G separate encoders applied to their present rows (tests/test_encoder_bank.py).

`model.encoder` names the encoder every method uses (`ENCODERS`; docs/recipes.md "Swap the encoder"): a builder
`(in_channels, cfg: ModelConfig, groups) -> module`. A `groupable` module maps [N, T, G*C] and a presence mask
[N, G] (or None) to [N, G, D]; any other is built with groups = 1, one per view, and maps the present rows
[n, T, C] of its view to [n, D].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ralis.config import ModelConfig

__all__ = ["ResNet1D", "Stem", "MaskedBatchNorm1d", "same_pad", "EncoderEntry", "ENCODERS", "register_encoder",
           "encoder_entry"]


class EncoderEntry(NamedTuple):
    build: Callable[[int, ModelConfig, int], nn.Module]  # (in_channels, model config, groups) -> encoder
    groupable: bool  # True: one module can encode G same-shaped views at once (grouped weights)


ENCODERS: dict[str, EncoderEntry] = {}


def register_encoder(name: str, groupable: bool = False) -> Callable:
    """Decorator: make an encoder builder available as `model.encoder: <name>` in params.yaml."""

    def deco(build: Callable[[int, ModelConfig, int], nn.Module]) -> Callable[[int, ModelConfig, int], nn.Module]:
        if name in ENCODERS:
            raise ValueError(f"encoder '{name}' is registered twice")
        ENCODERS[name] = EncoderEntry(build, groupable)
        return build

    return deco


def encoder_entry(cfg: ModelConfig) -> EncoderEntry:
    """The registered encoder `model.encoder` names; an unknown name raises ValueError listing the known ones."""
    if cfg.encoder not in ENCODERS:
        raise ValueError(f"params.yaml model.encoder = {cfg.encoder!r} is unknown; choose one of {sorted(ENCODERS)} "
                         "(docs/recipes.md: swap the encoder)")
    return ENCODERS[cfg.encoder]


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad the time axis of [N, C, L] like TensorFlow's 'SAME': L_out = ceil(L / stride)."""
    length = x.shape[-1]
    l_out = math.ceil(length / stride)
    total = max(0, (l_out - 1) * stride + kernel - length)
    return F.pad(x, (total // 2, total - total // 2))


class SameConv1d(nn.Conv1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if s == 1 and k % 2 == 1:  # symmetric SAME padding: let the convolution pad (one op less)
            return F.conv1d(x, self.weight, self.bias, 1, k // 2, 1, self.groups)
        return super().forward(same_pad(x, k, s))


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d over [N, G*D, L] whose channel block g takes its training statistics from the rows with
    mask[:, g] only (running statistics likewise; a block with no row is left alone). Without a mask or in eval
    mode it is plain BatchNorm1d."""

    def __init__(self, num_features: int, groups: int = 1):
        super().__init__(num_features)
        self.groups = groups

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or not self.training:
            return super().forward(x)
        n, ch, length = x.shape
        m = mask.to(x.dtype).repeat_interleave(ch // self.groups, dim=1)[:, :, None]  # [N, G*D, 1]
        count = m.sum(0).squeeze(1) * length  # [G*D] values per channel
        denom = count.clamp_min(1.0)
        mean = (x * m).sum((0, 2)) / denom  # [G*D]
        var = (((x - mean[:, None]) * m) ** 2).sum((0, 2)) / denom  # biased, as BatchNorm normalises
        with torch.no_grad():
            seen = count > 1
            unbiased = var * count / (count - 1).clamp_min(1.0)
            mom = self.momentum
            self.running_mean.copy_(torch.where(seen, (1 - mom) * self.running_mean + mom * mean, self.running_mean))
            self.running_var.copy_(torch.where(seen, (1 - mom) * self.running_var + mom * unbiased, self.running_var))
            self.num_batches_tracked += 1
        scale = self.weight * torch.rsqrt(var + self.eps)  # [G*D]
        return x * scale[:, None] + (self.bias - mean * scale)[:, None]


class Stem(nn.Module):
    """Input convolution, BatchNorm and ReLU: [N, G*C, T] -> [N, G*D, T]."""

    def __init__(self, in_channels: int, width: int, kernel_size: int, groups: int = 1):
        super().__init__()
        self.conv = SameConv1d(in_channels * groups, width * groups, kernel_size, bias=True, groups=groups)
        self.bn = MaskedBatchNorm1d(width * groups, groups)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x), mask))


class ResidualBlock(nn.Module):
    """One pre-activation block; `downsample` strides the first conv and max-pools the identity by 4."""

    def __init__(self, width: int, kernel: int, downsample: bool, first: bool, dropout: float, groups: int):
        super().__init__()
        ch = width * groups
        self.stride = 4 if downsample else 1
        self.first = first
        self.bn1, self.bn2 = MaskedBatchNorm1d(ch, groups), MaskedBatchNorm1d(ch, groups)
        self.drop = nn.Dropout(dropout)
        self.conv1 = SameConv1d(ch, ch, kernel, stride=self.stride, bias=False, groups=groups)
        self.conv2 = SameConv1d(ch, ch, kernel, stride=1, bias=True, groups=groups)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:  # x: [N, G*D, L]
        h = x if self.first else self.drop(F.relu(self.bn1(x, mask)))
        h = self.conv2(self.drop(F.relu(self.bn2(self.conv1(h), mask))))  # [N, G*D, ceil(L / stride)]
        identity = x
        if self.stride > 1:  # MaxPool1d(4, 4) after kernel - 1 = 3 zeros (1 left, 2 right), as VSF [methods.md §1.2]
            p = self.stride - 1
            identity = F.max_pool1d(F.pad(x, (p // 2, p - p // 2)), self.stride, self.stride)  # [N, G*D, ceil(L / 4)]
        return h + identity


class ResNet1D(nn.Module):
    """Encoder f^(v): [N, T, C_v] -> [N, D]; with `groups` = G: [N, T, G*C_v] -> [N, G, D] (G encoders in one).
    About 1.2 M parameters per encoder at the paper's size."""

    def __init__(self, in_channels: int, width: int, kernel_size: int, n_blocks: int, dropout: float,
                 groups: int = 1):
        super().__init__()
        if in_channels < 1 or width < 1 or n_blocks < 1 or groups < 1:
            raise ValueError(f"ResNet1D needs positive sizes, got C={in_channels}, width={width}, "
                             f"blocks={n_blocks}, groups={groups}")
        self.in_channels, self.out_dim, self.groups = in_channels, width, groups
        self.stem = Stem(in_channels, width, kernel_size, groups)
        self.blocks = nn.ModuleList(
            ResidualBlock(width, kernel_size, downsample=(b % 2 == 1), first=(b == 0), dropout=dropout,
                          groups=groups) for b in range(n_blocks))
        self.head_bn = MaskedBatchNorm1d(width * groups, groups)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [N, T, G*C] (G views side by side on the channel axis), mask [N, G] bool or None (all present)."""
        g, c = self.groups, self.in_channels
        if x.dim() != 3 or x.shape[-1] != g * c:
            raise ValueError(f"ResNet1D expects [N, T, G*C={g}*{c}], got {tuple(x.shape)}")
        if mask is not None and bool(mask.all()):
            mask = None  # every row present: plain BatchNorm in every layer (one check, not one per layer)
        h = self.body(self.stem(x.transpose(1, 2), mask), mask)  # [N, G*D]
        return h if g == 1 else h.view(len(h), g, self.out_dim)  # [N, D] or [N, G, D]

    def body(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Residual blocks, ReLU(BN(.)) and average pooling over time: [N, G*D, T] -> [N, G*D]."""
        for block in self.blocks:
            h = block(h, mask)  # [N, G*D, T / 16 after the blocks]
        return F.relu(self.head_bn(h, mask)).mean(dim=-1)


@register_encoder("resnet1d", groupable=True)
def build_resnet1d(in_channels: int, cfg: ModelConfig, groups: int) -> ResNet1D:
    """The paper's encoder [P§5.1.3]: `model.width` filters, `kernel_size`, `n_blocks`, `dropout`."""
    return ResNet1D(in_channels, cfg.width, cfg.kernel_size, cfg.n_blocks, cfg.dropout, groups)
