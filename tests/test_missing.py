"""Missing-view protocols: drop statistics, seeding per split/run, per-view rates, removal of empty windows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ralis.config import MissingConfig
from ralis.data.missing import (
    MaskResult,
    apply_protocol,
    drop_rates,
    mask_counts,
    mask_rng,
    protocol_counts,
    uniform_drop_prob,
)
from ralis.data.registry import get_dataset

CFG = MissingConfig()
DS = get_dataset("dailysport")
NAMES = DS.view_names


def _full(n: int, v: int = 5) -> np.ndarray:
    return np.ones((n, v), dtype=bool)


def _apply(present, protocol="uniform", split="train", seed=0, cfg=CFG, key="dailysport", names=NAMES) -> MaskResult:
    return apply_protocol(present, protocol, view_names=names, split=split, seed=seed, cfg=cfg, dataset_key=key)


def _slow_mask(present, rates, rng_values):
    """Obviously-correct loop version of one protocol application, given the uniform draws [N, V]."""
    rows, keep = [], []
    for i in range(present.shape[0]):
        row = [bool(present[i, v]) and not rng_values[i, v] < rates[v] for v in range(present.shape[1])]
        if any(row):
            rows.append(row)
            keep.append(i)
    return np.array(rows, dtype=bool), np.array(keep)


def test_uniform_probability_is_the_vth_root():
    paper = MissingConfig().all_dropped_prob  # 1e-3 [P§5.2.2]
    assert uniform_drop_prob(3, paper) == pytest.approx(0.1)
    assert uniform_drop_prob(5, paper) == pytest.approx(10 ** -0.6)
    assert uniform_drop_prob(9, paper) ** 9 == pytest.approx(1e-3)


def test_uniform_drop_statistics():
    n = 200_000
    res = _apply(_full(n))
    p = uniform_drop_prob(5, MissingConfig().all_dropped_prob)
    # undo the removal to see the raw drop rate: removed rows had all 5 views dropped
    dropped = (~res.present).sum() + 5 * res.n_removed
    assert abs(dropped / (5 * n) - p) < 0.005
    assert 0.0007 < res.n_removed / n < 0.0013  # P(all dropped) = 1e-3 before removal
    assert res.present.any(axis=1).all() and len(res.keep) + res.n_removed == n


def test_matches_a_slow_loop():
    present = np.random.default_rng(0).random((500, 5)) < 0.8
    res = _apply(present, split="valid", seed=2)
    slow_present, slow_keep = _slow_mask(present, drop_rates("uniform", NAMES, CFG, "dailysport"),
                                         mask_rng(CFG.seed, 2, "valid").random(present.shape))
    np.testing.assert_array_equal(res.present, slow_present)
    np.testing.assert_array_equal(res.keep, slow_keep)


def test_seeding_per_split_and_run():
    full = _full(2000)
    a, b = _apply(full, split="test"), _apply(full, split="test")
    np.testing.assert_array_equal(a.present, b.present)
    np.testing.assert_array_equal(a.keep, b.keep)
    assert not np.array_equal(_apply(full, split="valid").present[:1500], a.present[:1500])
    assert not np.array_equal(_apply(full, split="test", seed=1).present[:1500], a.present[:1500])
    cfg1 = MissingConfig(seed=1)
    assert not np.array_equal(_apply(full, split="test", cfg=cfg1).present[:1500], a.present[:1500])


def test_mask_is_stable_across_processes():
    code = ("import numpy as np; from ralis.config import MissingConfig; from ralis.data.missing import apply_protocol;"
            "r = apply_protocol(np.ones((300, 5), bool), 'uniform', view_names=list('abcde'), split='test', seed=1,"
            " cfg=MissingConfig(), dataset_key='dailysport'); print(r.present.sum(), r.present[:50].sum(axis=0))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2")}
    assert len(outs) == 1


def test_per_view_rates_respected():
    n = 100_000
    res = _apply(_full(n), "per_view")
    rates = np.array([DS.view_rates_table6[v] for v in NAMES])
    kept_all = res.present.sum(axis=0) / n  # removed rows had every view dropped
    np.testing.assert_allclose(kept_all, 1 - rates, atol=0.01)
    override = MissingConfig(per_view_rates={"dailysport": dict.fromkeys(NAMES, 0.0) | {"torso": 1.0}})
    res = _apply(_full(1000), "per_view", cfg=override)
    assert not res.present[:, 0].any() and res.present[:, 1:].all() and res.n_removed == 0


def test_missing_views_stay_missing_and_empty_rows_are_removed():
    present = np.random.default_rng(1).random((3000, 5)) < 0.5
    for protocol in ("uniform", "per_view"):
        res = _apply(present, protocol)
        assert not (res.present & ~present[res.keep]).any()
        assert res.present.any(axis=1).all()
        assert res.n_removed == len(present) - len(res.keep) >= (~present.any(axis=1)).sum()


def test_complete_keeps_only_complete_windows():
    present = _full(10)
    present[[2, 7], 1] = False
    res = _apply(present, "complete")
    assert res.n_removed == 2 and list(res.keep) == [0, 1, 3, 4, 5, 6, 8, 9] and res.present.all()


def test_cmdfall_has_natural_missingness_only():
    names = get_dataset("cmdfall").view_names
    present = np.random.default_rng(2).random((400, len(names))) < 0.6
    res = _apply(present, "uniform", key="cmdfall", names=names)
    np.testing.assert_array_equal(res.present, present[res.keep])
    with pytest.raises(ValueError, match="per_view"):
        _apply(present, "per_view", key="cmdfall", names=names)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown"):
        _apply(_full(4), "random")
    with pytest.raises(ValueError, match="no per-view drop rate"):
        _apply(_full(4, 2), "per_view", names=("torso", "nose"))
    with pytest.raises(ValueError, match="bool"):
        _apply(np.ones((4, 5)), "uniform")
    typo = MissingConfig(per_view_rates={"dailysport": dict.fromkeys(NAMES, 0.5) | {"torsoo": 0.9}})
    with pytest.raises(ValueError, match=r"per_view_rates\.dailysport names view\(s\) \['torsoo'\] that 'dailysport' "
                                         "does not have"):  # was ignored: the rate of 'torso' came from Table 6
        _apply(_full(4), "per_view", cfg=typo)


def test_per_view_rates_refuse_an_unknown_dataset(tmp_path):
    import yaml

    from ralis.config import load_params

    d = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "params.yaml"))
    d["missing"]["per_view_rates"] = {"dailysprot": {"torso": 0.9}}  # was ignored: Table 6's rates were used
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ValueError, match=r"missing\.per_view_rates key = 'dailysprot': must be one of .*did you mean "
                                         r"'dailysport'"):
        load_params(tmp_path / "p.yaml")


def test_counts_for_the_manifest():
    presents = {"train": _full(1000), "test": _full(500)}
    out = protocol_counts(presents, view_names=NAMES, seed=0, cfg=CFG, dataset_key="dailysport")
    assert set(out) == {"complete", "uniform", "per_view"}
    assert out["complete"]["train"]["windows"] == 1000 and out["complete"]["test"]["mean_views"] == 5.0
    c = out["uniform"]["test"]
    assert c["windows"] + c["removed"] == c["windows_before"] == 500
    assert sum(c["windows_by_n_views"].values()) == c["windows"]
    res = _apply(_full(50))
    assert mask_counts(res, NAMES)["present_per_view"]["torso"] == int(res.present[:, 0].sum())
    cmd = protocol_counts({"test": np.ones((5, 7), bool)}, view_names=get_dataset("cmdfall").view_names, seed=0,
                          cfg=CFG, dataset_key="cmdfall")
    assert "undefined" in cmd["per_view"]
