"""Per-view 1D-ResNet encoder with 4 residual blocks [P§5.1.3; methods.md §1.2].

Pre-activation ResNet with TF-style SAME padding, 128 filters, kernel 9, stride-4 downsampling in
blocks 1 and 3, then ReLU(BN(.)) and global average pooling over time.
Input [N, T, C] (time first, as the data contract), output u in R^D with D = width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ResNet1D", "same_pad"]


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad the time axis of [N, C, L] like TensorFlow's 'SAME': L_out = ceil(L / stride)."""
    length = x.shape[-1]
    l_out = math.ceil(length / stride)
    total = max(0, (l_out - 1) * stride + kernel - length)
    return F.pad(x, (total // 2, total - total // 2))


class SameConv1d(nn.Conv1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


class ResidualBlock(nn.Module):
    """One pre-activation block; `downsample` strides the first conv and max-pools the identity by 4."""

    def __init__(self, width: int, kernel: int, downsample: bool, first: bool, dropout: float):
        super().__init__()
        self.stride = 4 if downsample else 1
        self.first = first
        self.pre = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.conv1 = SameConv1d(width, width, kernel, stride=self.stride, bias=False)
        self.mid = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.conv2 = SameConv1d(width, width, kernel, stride=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, D, L]
        h = x if self.first else self.pre(x)
        h = self.conv2(self.mid(self.conv1(h)))  # [N, D, ceil(L / stride)]
        identity = x
        if self.stride > 1:
            identity = F.max_pool1d(same_pad(x, self.stride, self.stride), self.stride, self.stride)
        return h + identity


class ResNet1D(nn.Module):
    """Encoder f^(v): [N, T, C_v] -> [N, D]. About 1.2 M parameters at the paper's size."""

    def __init__(self, in_channels: int, width: int = 128, kernel_size: int = 9, n_blocks: int = 4,
                 dropout: float = 0.5):
        super().__init__()
        if in_channels < 1 or width < 1 or n_blocks < 1:
            raise ValueError(f"ResNet1D needs positive sizes, got C={in_channels}, width={width}, blocks={n_blocks}")
        self.in_channels = in_channels
        self.out_dim = width
        self.stem = nn.Sequential(SameConv1d(in_channels, width, kernel_size, bias=True),
                                  nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, kernel_size, downsample=(b % 2 == 1), first=(b == 0), dropout=dropout)
            for b in range(n_blocks)
        ])
        self.head = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(f"ResNet1D expects [N, T, C={self.in_channels}], got {tuple(x.shape)}")
        h = x.transpose(1, 2)  # [N, C, T]
        h = self.head(self.blocks(self.stem(h)))  # [N, D, T/16]
        return h.mean(dim=-1)  # [N, D]
