"""ralis.predict: inference on any subset of the trained views, identical to the evaluation; input checks; CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from ralis.checkpoint import load_checkpoint
from ralis.contract import ViewSpec
from ralis.evaluate import encode_split, predict_encoded, view_combinations
from ralis.predict import main, predict
from ralis.train import fit
from ralis.zoo import build_method
from tests.train_fixtures import CLASSES, make_split, one_thread, tiny_params

# units and channel names as a user dataset declares them; make_split gives acc T=32, others T=16 (0.64 s, 0.8 s)
VIEWS = (ViewSpec("wrist", "acc", 3, 50.0, ("ax", "ay", "az"), "m/s^2"),
         ViewSpec("gyro", "gyro", 3, 25.0, ("gx", "gy", "gz"), "rad/s"),
         ViewSpec("pose", "pose3d", 6, 20.0))
NAMES = tuple(v.name for v in VIEWS)

_one_thread = pytest.fixture(autouse=True)(one_thread)


def _train(tmp_path_factory, name):
    """A tiny model trained for 2 epochs on windows with missing views: (checkpoint, train split, test split)."""
    torch.set_num_threads(1)
    params = tiny_params(method=name, max_epochs=2, min_epochs=1)
    train = make_split(48, seed=0, drop=0.3, views=VIEWS)
    torch.manual_seed(0)
    method = build_method(name, VIEWS, len(CLASSES), params)
    res = fit(method, train, make_split(24, seed=1, drop=0.3, views=VIEWS), params,
              tmp_path_factory.mktemp(name), progress=False)
    return res.checkpoint_path, train, make_split(40, seed=2, drop=0.4, views=VIEWS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _train(tmp_path_factory, "meanfusion")


@pytest.fixture(scope="module", params=["meanfusion", "ralis"])
def each_method(request, tmp_path_factory, trained):
    return trained if request.param == "meanfusion" else _train(tmp_path_factory, request.param)


def _given(split, names, rows=None):
    """The split's views `names` for `rows`, NaN where a view is missing (the user-side missing marker)."""
    rows = np.arange(len(split)) if rows is None else rows
    out = {}
    for name in names:
        j = NAMES.index(name)
        x = split.views[name][rows].copy()
        x[~split.present[rows, j]] = np.nan
        out[name] = x
    return out


def test_every_view_subset_predicts_exactly_what_the_evaluation_scores(each_method):
    path, _, test = each_method
    ck = load_checkpoint(path)
    encoded = encode_split(ck.method, test)
    excluded = 0
    for combo in view_combinations(len(VIEWS)):
        keep = torch.zeros(len(VIEWS), dtype=torch.bool)
        keep[list(combo)] = True
        ref = predict_encoded(ck.method, encoded, keep)  # S_i ∩ Q; windows left with no view excluded
        names = tuple(NAMES[j] for j in combo)
        out = predict(ck, _given(test, names, ref.rows))
        assert out.views == names and out.class_names == CLASSES
        np.testing.assert_array_equal(out.index, ref.y_pred)
        np.testing.assert_array_equal(out.labels, np.asarray(CLASSES)[ref.y_pred])
        np.testing.assert_allclose(out.probs, ref.probs, rtol=0, atol=1e-6)
        if len(ref.rows) < len(test):  # the excluded windows have no view: predict refuses them, naming them
            excluded += 1
            missing = np.setdiff1d(np.arange(len(test)), ref.rows)
            with pytest.raises(ValueError, match=rf"window\(s\) \[{missing[0]}"):
                predict(ck, _given(test, names))
    assert excluded >= 3  # the single views are missing in some windows
    assert len(set(predict(path, _given(test, NAMES)).labels)) > 1


def test_dtypes_and_torch_input_give_the_same_prediction(trained):
    path, _, test = trained
    ck = load_checkpoint(path)
    x = test.views["wrist"]
    ref = predict(ck, {"wrist": x})
    for same in (x.astype(np.float64), torch.from_numpy(x), torch.from_numpy(x.astype(np.float64))):
        out = predict(ck, {"wrist": same})
        np.testing.assert_array_equal(out.index, ref.index)
        np.testing.assert_allclose(out.probs, ref.probs, atol=1e-6)
    ints = np.rint(x * 2).astype(np.int16)
    as_float = predict(ck, {"wrist": ints.astype(np.float32)})
    np.testing.assert_allclose(predict(ck, {"wrist": ints}).probs, as_float.probs)
    with pytest.raises(ValueError, match="view 'wrist' has dtype bool"):
        predict(ck, {"wrist": x > 0})


def test_bad_inputs_are_refused_naming_the_view_and_the_fix(trained):
    path, _, test = trained
    ck = load_checkpoint(path)
    x, g = test.views["wrist"], test.views["gyro"]  # [40, 32, 3], [40, 16, 3]
    cases = [
        ({"wrist": x.transpose(0, 2, 1)},
         r"view 'wrist' has shape \(40, 3, 32\), i.e. \[N, C, T\].*x\.transpose\(0, 2, 1\)"),
        ({"wrist": torch.from_numpy(x).permute(0, 2, 1)}, r"'wrist'.*x\.permute\(0, 2, 1\)"),
        ({"wrist": x[0]}, r"view 'wrist' must have 3 dimensions.*x\.transpose\(0, 2, 1\)"),
        ({"nose": x}, r"unknown view 'nose'; the checkpoint's views are \['wrist', 'gyro', 'pose'\]"),
        ({"gyro": g[..., :2]}, r"view 'gyro' has 2 channels, the model was trained on 3 \(gx, gy, gz\)"),
        ({"pose": test.views["pose"][..., :4]}, r"view 'pose' has 4 channels, the model was trained on 6;"),
        ({"wrist": x[:, :25]}, r"view 'wrist' has windows of 25 samples.*32 samples = 0\.64 s at 50 Hz; resample"),
        ({}, r"no view given.*\['wrist', 'gyro', 'pose'\]"),
        ({"wrist": x, "gyro": g[:39]}, r"view 'gyro' has 39 windows but view 'wrist' has 40"),
        ({"wrist": np.where(np.arange(40)[:, None, None] == 3, np.inf, x)}, r"view 'wrist' has infinite values.*\[3\]"),
        ({"wrist": x[:0]}, r"view 'wrist' holds no window"),
    ]
    for views, match in cases:
        with pytest.raises(ValueError, match=match):
            predict(ck, views)
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        predict(ck, {"wrist": x}, batch_size=0)
    nan = x.copy()
    nan[[3, 7], 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"window\(s\) \[3, 7\] \(2 in all\) have no usable view.*\(wrist\)"):
        predict(ck, {"wrist": nan})
    gyro = g.copy()
    gyro[[3, 7]] = g[np.flatnonzero(test.present[:, 1])[:2]]  # windows 3 and 7 are predicted from the gyroscope
    out = predict(ck, {"wrist": nan, "gyro": gyro})
    np.testing.assert_allclose(out.probs[[3, 7]], predict(ck, {"gyro": gyro[[3, 7]]}).probs, atol=1e-6)


def test_scale_warning_names_the_view_and_units(trained):
    path, _, test = trained
    ck = load_checkpoint(path)
    gyro = test.views["gyro"][test.present[:, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at the training scale
        predict(ck, {"gyro": gyro})
    with pytest.warns(UserWarning, match=r"view 'gyro': the given data's RMS magnitude .* 5\d(\.\d)?x .*rad/s"):
        out = predict(ck, {"gyro": gyro * 57.3})  # deg/s instead of rad/s
    assert len(out.labels) == len(gyro)  # a warning, never an error
    with pytest.warns(UserWarning, match=r"view 'wrist'.*0\.1\d*x .*m/s\^2"):
        predict(ck, {"wrist": test.views["wrist"][test.present[:, 0]] / 9.81})  # g instead of m/s^2


def test_the_checkpoint_records_its_inputs(trained):
    path, train, _ = trained
    inputs = load_checkpoint(path).inputs
    assert list(inputs) == list(NAMES)
    assert {k: inputs["gyro"][k] for k in ("modality", "channels", "channel_names", "T", "rate_hz", "window_sec",
                                           "units")} == {
        "modality": "gyro", "channels": 3, "channel_names": ["gx", "gy", "gz"], "T": 16, "rate_hz": 25.0,
        "window_sec": 0.64, "units": "rad/s"}
    assert (inputs["pose"]["T"], inputs["pose"]["window_sec"], inputs["pose"]["channel_names"],
            inputs["pose"]["units"]) == (16, 0.8, [], "")
    for j, name in enumerate(NAMES):
        x = train.views[name][train.present[:, j]].astype(np.float64)  # present windows only
        assert 0 < len(x) < len(train)
        np.testing.assert_allclose(inputs[name]["mean"], x.mean(axis=(0, 1)), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(inputs[name]["std"], x.std(axis=(0, 1)), rtol=1e-9)


def test_a_v1_checkpoint_is_refused(trained, tmp_path):
    path, _, test = trained
    payload = torch.load(path, weights_only=True)
    payload["format"] = "ralis-checkpoint-v1"
    del payload["inputs"]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(ValueError, match=r"old\.pt is a ralis-checkpoint-v1 file.*retrain"):
        predict(old, {"wrist": test.views["wrist"]})


def test_the_command_line_writes_a_csv_and_reports_errors_in_one_line(trained, tmp_path, capsys):
    path, _, test = trained
    views = _given(test, NAMES)
    np.savez(tmp_path / "windows.npz", wrist=views["wrist"], pose=views["pose"], labels=test.labels,
             subject=np.arange(40))  # a windows file as the README saves it: per-window arrays are not views
    np.save(tmp_path / "gyro.npy", views["gyro"])
    out_csv = tmp_path / "out" / "predictions.csv"
    assert main([str(path), str(tmp_path / "windows.npz"), f"gyro={tmp_path / 'gyro.npy'}", "--out",
                 str(out_csv), "--batch-size", "7", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    printed = captured.out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("40 windows from views wrist, gyro, pose ->")
    assert captured.err == "note: windows.npz: left out ['labels', 'subject'], one value per window (labels, " \
                           "subjects), not views\n"
    table = pd.read_csv(out_csv)
    assert list(table.columns) == ["window", "label"] + [f"p_{c}" for c in CLASSES]
    ref = predict(path, views)
    assert table.window.tolist() == list(range(40)) and table.label.tolist() == ref.labels.tolist()
    np.testing.assert_allclose(table[[f"p_{c}" for c in CLASSES]].to_numpy(), ref.probs, atol=1e-6)

    np.save(tmp_path / "deg.npy", test.views["gyro"][test.present[:, 1]] * 57.3)  # deg/s instead of rad/s
    assert main([str(path), f"gyro={tmp_path / 'deg.npy'}", "--out", str(tmp_path / "deg.csv")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: view 'gyro'") and err.count("\n") == 1 and "rad/s" in err, err

    np.save(tmp_path / "nose.npy", views["wrist"])
    np.save(tmp_path / "flipped.npy", views["gyro"].transpose(0, 2, 1))
    for bad, match in ((f"nose={tmp_path / 'nose.npy'}", "unknown view 'nose'"),
                       (f"gyro={tmp_path / 'flipped.npy'}", "transpose"),
                       (f"gyro={tmp_path / 'absent.npy'}", "absent.npy not found"),
                       (str(tmp_path / "gyro.npy"), "neither an .npz file nor VIEW=path.npy")):
        assert main([str(path), bad, "--out", str(tmp_path / "bad.csv")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and match in err, err
    assert not (tmp_path / "bad.csv").exists()



def test_checkpoints_with_the_flat_baselines_section_still_load():
    from ralis.checkpoint import params_from_dict
    from ralis.config import Params
    from ralis.zoo import baseline_names, method_settings

    flat = {"ind_view_ce": True, "cmc_core_view": None, "cmc_detach_others": False, "cocoa_variant": "B",
            "cocoa_scale": 0.03125, "cocoa_lambda": 0.0039, "flex_n_experts": 16, "flex_top_k": 3, "flex_heads": 4,
            "flex_dropout": 0.5, "flex_gate_weight": 0.01, "flex_warmup_epochs": 5, "fuse_n_experts": 16,
            "fuse_top_k": 4, "fuse_heads": 4, "fuse_dropout": 0.1, "fuse_gating": "laplace", "fuse_balance": 0.01,
            "shaspec_alpha": 0.1, "shaspec_beta": 0.02, "shaspec_random_subset": False, "gmu_renorm": False,
            "gmu_random_subset": False, "confu_lambda": 0.25, "confu_triplets": 4}  # as checkpoints stored it
    old, new = params_from_dict({"baselines": flat}), Params()
    changed = {m for m in baseline_names() if method_settings(m, old) != method_settings(m, new)}
    assert changed == {"cmc", "cocoa", "confu", "flexmoe"}  # ind_view_ce, variant B, lam 0.25, top_k 3
    assert method_settings("flexmoe", old).top_k == 3 and method_settings("confu", old).lam == 0.25
    assert method_settings("cocoa", old).variant == "B" and method_settings("cmc", old).ind_view_ce
    with pytest.raises(ValueError, match="baselines.foo: not a setting of any baseline"):
        params_from_dict({"baselines": {"flex_top_k": 3, "foo": 1}})
