"""Predict activities for new windows with a trained checkpoint, from any non-empty subset of its views.

Each view is an array [N, T, C] (time first, channels last; numpy or torch, any float or int dtype), with the
window length T and the channels the checkpoint was trained on (`Checkpoint.inputs[view]`: T, rate_hz,
window_sec, channel_names, units). Views you do not pass are missing for every window; a window whose view
holds a NaN counts that view as missing for that window (the datasets' rule). Data stored channels first,
[N, C, T], is transposed first:

    x = x.transpose(0, 2, 1)        # numpy [N, C, T] -> [N, T, C]  (torch: x.permute(0, 2, 1))

Usage:

    from ralis.predict import predict
    out = predict("runs/my_run/checkpoint.pt", {"wrist": wrist, "pose": pose})  # each [N, T, C]
    out.labels          # str [N] predicted class names
    out.probs           # float [N, n_classes] class probabilities, columns in out.class_names order
    # command line:  python -m ralis.predict checkpoint.pt windows.npz --out predictions.csv

The prediction goes through the evaluation's own code (`encode_split` + `predict_encoded`), so it is exactly
what the combination evaluation scores for the same windows and views. A view whose overall magnitude (RMS)
differs from the training data's by more than `SCALE_WARN`x raises a UserWarning (wrong units, e.g. deg/s
instead of rad/s, or g instead of m/s^2); the shape checks raise ValueError naming the view and the fix.
"""

from __future__ import annotations

import argparse
import sys
import types
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from ralis.checkpoint import Checkpoint, load_checkpoint
from ralis.data.store import WindowedSplit
from ralis.evaluate import encode_split, predict_encoded
from ralis.io import atomic_path, reading
from ralis.runtime import pick_device

__all__ = ["Predictions", "predict", "main", "SCALE_WARN"]

SCALE_WARN = 5.0  # warn when a view's RMS differs from the training data's by more than this factor either way


class Predictions(NamedTuple):
    labels: np.ndarray  # str [N] predicted class names
    index: np.ndarray  # int [N] predicted class indices
    probs: np.ndarray  # float [N, n_classes] class probabilities (softmax of the fused logits)
    class_names: tuple[str, ...]
    views: tuple[str, ...]  # the checkpoint's views that were given, in checkpoint order


def _as_float32(name: str, x: np.ndarray | torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of one view; other than float or int dtypes raise ValueError."""
    if torch.is_tensor(x):
        if x.dtype == torch.bool or x.is_complex() or x.is_quantized:
            raise ValueError(f"view '{name}' has dtype {x.dtype}; give float or int values")
        return x.detach().to("cpu", torch.float32).numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"view '{name}' has dtype {arr.dtype}; give float or int values")
    return arr.astype(np.float32)


def _check_shape(name: str, x: np.ndarray, spec: dict, torch_input: bool) -> None:
    """Raise ValueError naming the view and the fix unless x is [N, T, C] as recorded in `spec`."""
    t, c = spec["T"], spec["channels"]
    flip = "x.permute(0, 2, 1)" if torch_input else "x.transpose(0, 2, 1)"
    expect = f"[N, T={t}, C={c}] ({_duration(spec)}, {c} channels)"
    if x.ndim != 3:
        raise ValueError(f"view '{name}' must have 3 dimensions {expect}, got shape {tuple(x.shape)}; add a window "
                         f"axis for a single window (x[None]), and transpose channels-first data [N, C, T] with "
                         f"{flip}")
    if (x.shape[1], x.shape[2]) == (c, t) and c != t:
        raise ValueError(f"view '{name}' has shape {tuple(x.shape)}, i.e. [N, C, T]; the model expects {expect}: "
                         f"transpose it with {flip}")
    if x.shape[2] != c:
        names = f" ({', '.join(spec['channel_names'])})" if spec["channel_names"] else ""
        raise ValueError(f"view '{name}' has {x.shape[2]} channels, the model was trained on {c}{names}; give "
                         f"[N, T={t}, C={c}] with the channels in that order")
    if x.shape[1] != t:
        fix = (f"resample to {spec['rate_hz']:g} Hz and re-window to {spec['window_sec']:g}-s windows"
               if spec["window_sec"] else f"re-window to {t} samples at the training data's rate")
        raise ValueError(f"view '{name}' has windows of {x.shape[1]} samples, the model was trained on "
                         f"{_duration(spec)}; {fix}")


def _duration(spec: dict) -> str:
    """"200 samples = 4 s at 50 Hz", or "200 samples (rate not declared)" for data given without rate_hz."""
    t = spec["T"]
    if not spec["window_sec"]:
        return f"{t} samples (rate not declared)"
    return f"{t} samples = {spec['window_sec']:g} s at {spec['rate_hz']:g} Hz"


def _check_scale(name: str, x: np.ndarray, present: np.ndarray, spec: dict) -> None:
    """UserWarning when the RMS of the present windows differs from the training data's by more than SCALE_WARN."""
    mean, std = np.asarray(spec["mean"], dtype=np.float64), np.asarray(spec["std"], dtype=np.float64)
    trained = float(np.sqrt(np.mean(mean ** 2 + std ** 2)))  # RMS over all channels and samples
    if not present.any() or not np.isfinite(trained) or trained == 0:
        return
    given = float(np.sqrt(np.mean(np.square(x[present], dtype=np.float64))))
    if given > SCALE_WARN * trained or given * SCALE_WARN < trained:
        units = f"recorded units: {spec['units']}" if spec["units"] else "no units recorded"
        warnings.warn(f"view '{name}': the given data's RMS magnitude {given:.4g} is {given / trained:.3g}x that of "
                      f"the training data ({trained:.4g}, {units}); check the units and scaling (e.g. deg/s vs "
                      f"rad/s, g vs m/s^2)", UserWarning, stacklevel=4)  # the caller of predict


def _input_split(ck: Checkpoint, views: Mapping[str, np.ndarray | torch.Tensor]) -> tuple[WindowedSplit,
                                                                                             tuple[str, ...]]:
    """The given views as an unlabelled WindowedSplit in the checkpoint's view order (zeros where missing)."""
    order = [v.name for v in ck.views]
    if not views:
        raise ValueError(f"no view given; pass at least one of the checkpoint's views {order} as name -> [N, T, C]")
    unknown = [k for k in views if k not in order]
    if unknown:
        raise ValueError(f"unknown view '{unknown[0]}'; the checkpoint's views are {order}")
    given = tuple(k for k in order if k in views)
    arrays: dict[str, np.ndarray] = {}
    for name in given:
        x = _as_float32(name, views[name])
        _check_shape(name, x, ck.inputs[name], torch.is_tensor(views[name]))
        arrays[name] = x
    n = len(arrays[given[0]])
    for name in given[1:]:
        if len(arrays[name]) != n:
            raise ValueError(f"view '{name}' has {len(arrays[name])} windows but view '{given[0]}' has {n}; give "
                             "every view the same windows in the same order")
    if n == 0:
        raise ValueError(f"view '{given[0]}' holds no window (N = 0)")
    present = np.zeros((n, len(order)), dtype=bool)
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(order):
        spec = ck.inputs[name]
        if name not in arrays:
            out[name] = np.zeros((n, spec["T"], spec["channels"]), dtype=np.float32)
            continue
        x = arrays[name]
        present[:, j] = ~np.isnan(x).any(axis=(1, 2))
        bad = np.flatnonzero(present[:, j] & ~np.isfinite(x).all(axis=(1, 2)))
        if len(bad):
            raise ValueError(f"view '{name}' has infinite values in window(s) {bad[:5].tolist()}; use NaN to mark a "
                             "missing view, or fix the data")
        _check_scale(name, x, present[:, j], spec)
        out[name] = np.where(present[:, j, None, None], x, np.float32(0))
    empty = np.flatnonzero(~present.any(axis=1))
    if len(empty):
        raise ValueError(f"window(s) {empty[:10].tolist()}{' ...' if len(empty) > 10 else ''} ({len(empty)} in all) "
                         f"have no usable view: every given view ({', '.join(given)}) is NaN there; drop them")
    split = WindowedSplit(out, present, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), ck.class_names)
    return split, given


def _device(choice: str) -> torch.device:
    try:
        return pick_device(choice)
    except ValueError:
        raise ValueError(f"device {choice!r} cannot be used here; use 'cpu', 'auto', or 'cuda[:N]' on a machine "
                         "with CUDA") from None


def predict(checkpoint: str | Path | Checkpoint, views: Mapping[str, np.ndarray | torch.Tensor], *,
            batch_size: int | None = None, device: str | None = None) -> Predictions:
    """Class predictions for N windows from the given views (a non-empty subset of the checkpoint's views).

    `views` maps view names to arrays [N, T, C]; see the module docstring for the rules. `batch_size` defaults to
    the checkpoint's `evaluate.batch_size`; `device` (e.g. 'cpu', 'cuda', 'auto') defaults to where the method is
    (CPU for a loaded checkpoint); a given Checkpoint's method is moved back afterwards.
    """
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    split, given = _input_split(ck, views)
    batch_size = ck.params.evaluate.batch_size if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    method = ck.method
    home = next(method.parameters()).device
    target = home if device is None else _device(device)
    try:
        method.to(target)
        encoded = encode_split(method, split, batch_size, target)
        pred = predict_encoded(method, encoded, None, batch_size, target)
    finally:
        method.to(home)
    if len(pred.rows) != len(split):  # cannot happen: every window has a view
        raise RuntimeError(f"{len(split) - len(pred.rows)} windows were not scored")
    index = pred.y_pred.astype(np.int64)
    return Predictions(np.asarray(ck.class_names)[index], index, pred.probs, ck.class_names, given)


# ---------------------------------------------------------------- command line
def _read_inputs(items: Sequence[str]) -> dict[str, np.ndarray]:
    """INPUT arguments -> {view: array}: `file.npz` (arrays named after views) or `VIEW=file.npy`. An .npz file's
    one-dimensional arrays are per-window values (labels, subjects: a windows file as the README saves it), not
    views: they are left out, with a printed note."""
    views: dict[str, np.ndarray] = {}
    fix = "give an .npz file whose arrays are named after views, or VIEW=path.npy"
    for item in items:
        if item.endswith(".npz") and "=" not in Path(item).name:
            path = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"input {path} not found")
            with reading(path, fix), np.load(path, allow_pickle=False) as z:
                found = {k: z[k] for k in z.files}
            if per_window := [k for k, a in found.items() if a.ndim == 1]:
                print(f"note: {path.name}: left out {per_window}, one value per window (labels, subjects), "
                      "not views", file=sys.stderr)
                found = {k: a for k, a in found.items() if a.ndim != 1}
        elif "=" in item:
            name, _, where = item.partition("=")
            path = Path(where)
            if not name:
                raise ValueError(f"input {item!r} has no view name; {fix}")
            if not path.is_file():
                raise FileNotFoundError(f"input {item!r}: {path} not found")
            with reading(path, fix):
                found = {name: np.load(path, allow_pickle=False)}
        else:
            raise ValueError(f"input {item!r} is neither an .npz file nor VIEW=path.npy; {fix}")
        twice = sorted(set(found) & set(views))
        if twice:
            raise ValueError(f"view '{twice[0]}' is given twice (input {item!r})")
        views.update(found)
    return views


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ralis.predict CHECKPOINT INPUT... --out predictions.csv`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m ralis.predict", description=(
        "Predict activities with a trained checkpoint. Each view is [N, T, C] (time first); views not given are "
        "missing; NaN marks a view missing in one window."))
    parser.add_argument("checkpoint", help="checkpoint.pt written by training")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="windows.npz (arrays named after views) or VIEW=path.npy")
    parser.add_argument("--out", required=True, help="output CSV: window, label, p_<class>...")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the checkpoint's evaluate.batch_size")
    parser.add_argument("--device", default=None, help="cpu (default), cuda[:N] or auto")
    args = parser.parse_args(argv)
    try:
        views = _read_inputs(args.inputs)
        with warnings.catch_warnings(record=True) as caught:  # printed below as one line each
            warnings.simplefilter("always", UserWarning)
            out = predict(args.checkpoint, views, batch_size=args.batch_size, device=args.device)
        for w in caught:
            print("warning: " + " ".join(str(w.message).split()), file=sys.stderr)
        table = pd.DataFrame({"window": np.arange(len(out.labels)), "label": out.labels})
        for k, name in enumerate(out.class_names):
            table[f"p_{name}"] = out.probs[:, k]
        with atomic_path(args.out, suffix=".csv") as tmp:
            table.to_csv(tmp, index=False)
    except (ValueError, FileNotFoundError) as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    counts = pd.Series(out.labels).value_counts()
    top = ", ".join(f"{name} {n}" for name, n in counts.head(5).items())
    print(f"{len(out.labels)} windows from views {', '.join(out.views)} -> {args.out} ({top}"
          f"{', ...' if len(counts) > 5 else ''})")
    return 0


class _CallableModule(types.ModuleType):
    """`ralis.predict` is this module (`python -m ralis.predict`) and, when called, the function `predict`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Predictions:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule  # a documented ModuleType customisation (data model §3.3.2.1)


if __name__ == "__main__":
    sys.exit(main())

