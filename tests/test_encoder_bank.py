"""The encoder bank: the grouped (batched) form equals the per-view loop, masked views never leak, and every
method encodes through it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ralis.config import ModelConfig, Params
from ralis.contract import ViewSpec
from ralis.model.bank import EncoderBank
from ralis.zoo import build_method, method_names

VIEWS = (ViewSpec("lw", "acc", 3, 50.0), ViewSpec("rw", "acc", 3, 50.0), ViewSpec("pose", "pose3d", 6, 20.0),
         ViewSpec("waist", "acc", 3, 50.0))
CFG = ModelConfig(width=8, kernel_size=3, n_blocks=4, dropout=0.0, att_hidden=8, n_experts=4, top_k=2,
                  expert_hidden=8)


def _inputs(n: int = 10, seed: int = 0, all_present: bool = False):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(n, 20 if v.rate_hz == 50 else 8, v.channels, generator=g) for v in VIEWS]
    present = torch.rand(n, len(VIEWS), generator=g) < 0.6
    present[:, 1] = False if not all_present else True
    present[0, 1] = True  # view 1 present in a single row only
    present[~present.any(1), 0] = True
    return views, torch.ones_like(present) if all_present else present


def _bank(magnorm: bool = True, cfg: ModelConfig = CFG) -> EncoderBank:
    torch.manual_seed(0)
    bank = EncoderBank(VIEWS, cfg, magnorm=magnorm)
    for p in bank.parameters():  # BatchNorm starts at (1, 0): perturb it so a wrong block would show
        p.data.add_(0.1 * torch.randn_like(p))
    return bank


def test_groups_same_shaped_views_into_one_call():
    bank = _bank()
    assert bank.groups == {"c3_50hz": [0, 1, 3], "c6_20hz": [2]}
    assert bank.encoders["c3_50hz"].groups == 3


@pytest.mark.parametrize("magnorm", [True, False])
@pytest.mark.parametrize("all_present", [True, False])
def test_grouped_equals_the_per_view_loop_in_outputs_gradients_and_running_stats(magnorm, all_present):
    bank = _bank(magnorm).train().double()  # float64, so that 1e-5 tests the algebra, not float32 rounding
    singles = bank.split_encoders()
    views, present = _inputs(all_present=all_present)
    views = [x.double() for x in views]
    xs = [x.clone().requires_grad_() for x in views]
    xr = [x.clone().requires_grad_() for x in views]
    weight = torch.randn(len(VIEWS), len(present), CFG.width, dtype=torch.float64)
    out, ref = bank(xs, present), bank.reference_forward(xr, present, singles)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    (out * weight).sum().backward()
    (ref * weight).sum().backward()
    for a, b in zip(xs, xr):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-5)
    for key, members in bank.groups.items():  # parameter gradients and BatchNorm running statistics per view
        grouped = dict(bank.encoders[key].named_parameters()) | dict(bank.encoders[key].named_buffers())
        for j, v in enumerate(members):
            for name, t in list(singles[v].named_parameters()) + list(singles[v].named_buffers()):
                if name.endswith("num_batches_tracked"):
                    continue
                mine = grouped[name].grad if t.requires_grad else grouped[name]
                theirs = t.grad if t.requires_grad else t
                if mine is None and theirs is None:  # the first block's unused pre-activation BatchNorm
                    continue
                torch.testing.assert_close(mine.chunk(len(members))[j], theirs, atol=1e-5, rtol=1e-4,
                                           msg=f"{key} view {v} {name}")
    bank.eval()
    for single in singles.values():
        single.eval()
    torch.testing.assert_close(bank(views, present), bank.reference_forward(views, present, singles),
                               atol=1e-5, rtol=1e-5)


def test_missing_views_never_leak_and_give_no_nan():
    bank = _bank().train()
    views, present = _inputs(seed=3)
    poisoned = [torch.where(present[:, v, None, None], x, torch.full_like(x, float("nan")))
                for v, x in enumerate(views)]
    xs = [x.clone().requires_grad_() for x in poisoned]
    out = bank(xs, present)
    torch.testing.assert_close(out, bank(views, present), atol=1e-6, rtol=1e-6)
    assert torch.isfinite(out).all() and (out[~present.T] == 0).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in bank.parameters() if p.grad is not None)
    for v, x in enumerate(xs):
        assert (x.grad[~present[:, v]] == 0).all()


def test_batch_statistics_come_from_present_rows_only():
    bank = _bank().train()
    views, present = _inputs(seed=4)
    a = bank(views, present)
    other = [torch.where(present[:, v, None, None], x, 100 * torch.randn_like(x)) for v, x in enumerate(views)]
    torch.testing.assert_close(bank(other, present), a, atol=1e-5, rtol=1e-5)  # huge missing rows change nothing


def test_shared_encoder_calls_one_encoder_per_modality():
    bank = _bank(cfg=dataclasses.replace(CFG, shared_encoder=True)).train()
    assert bank.groups == {"acc_3": [0, 1, 3], "pose3d_6": [2]}
    views, present = _inputs(seed=5)
    torch.testing.assert_close(bank(views, present), bank.reference_forward(views, present, bank.split_encoders()))


def test_unequal_window_lengths_in_a_group_are_an_error():
    views, present = _inputs()
    views[1] = views[1][:, :15]
    with pytest.raises(ValueError, match="window lengths"):
        _bank()(views, present)


@pytest.mark.parametrize("name", method_names())
def test_every_method_encodes_through_the_bank(name):
    params = Params(model=CFG)
    method = build_method(name, VIEWS, 3, params)
    assert any(isinstance(m, EncoderBank) for m in method.modules()), name


@pytest.mark.parametrize("length", [200, 80, 50, 13])
def test_downsampling_skip_path_is_vsf_max_pool(length):
    """methods.md §1.2: the identity of a downsampling block is MaxPool1d(4, 4) after 3 zeros (1 left, 2 right),
    VSF's MyMaxPool1dPadSame; written out here window by window. With both convolutions zeroed the block is its
    skip path."""
    from ralis.model.encoder import ResidualBlock

    block = ResidualBlock(width=4, kernel=3, downsample=True, first=True, dropout=0.0, groups=1).eval()
    for p in (block.conv1.weight, block.conv2.weight, block.conv2.bias):
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 4, length, generator=torch.Generator().manual_seed(length)) - 0.5  # negatives: pads show
    padded = torch.cat([torch.zeros(2, 4, 1), x, torch.zeros(2, 4, 2)], dim=2)
    n_out = -(-length // 4)
    slow = torch.stack([padded[:, :, 4 * i:4 * i + 4].amax(dim=2) for i in range(n_out)], dim=2)
    with torch.no_grad():
        assert torch.equal(block(x, None), slow)
