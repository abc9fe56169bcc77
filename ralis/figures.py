"""Matplotlib figures of the pipeline (PNG files are DVC image plots; Vega plots need a CDN and are blank offline).

    combination_heatmap   test F1 of every one of the 2^V-1 view combinations per method [P§5.2, methods.md §1.12]
    table_bars            a Table 3-6 analogue as grouped bars (ours with std over seeds, paper as markers)
    training_curves       per-epoch losses and validation F1 of one run (train_log.csv)
    validation_curves     validation F1 per epoch of every run of the study (ralis.tracking.training_curves)
    window_example        one multiview window (the input contract of ralis.contract)
    confusion_matrix      a test confusion matrix, each row normalised to the true class's windows
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ralis.paper_tables import ROW_LABEL, SCENARIOS, TABLE_TITLE, scenario_labels

__all__ = ["combination_heatmap", "table_bars", "training_curves", "validation_curves", "window_example",
           "confusion_matrix", "save_figure", "integer_epochs"]


def integer_epochs(*axes) -> None:
    """Epoch axes get whole-number ticks only (no 1.5)."""
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _data_range(values: np.ndarray) -> tuple[float, float]:
    """(low, high) of the finite values; (0, 100) when there are none."""
    v = values[np.isfinite(values)]
    return (float(v.min()), float(v.max())) if v.size else (0.0, 100.0)


def combination_heatmap(comb: pd.DataFrame, title: str = "", view_names: list[str] | None = None) -> Figure:
    """Top: rows = methods, columns = the 2^V-1 view combinations by size k; cell = test F1 (%) (mean over seeds).
    Bottom: which views each column holds (a dot per view).

    `comb` is `ralis.results.collect_combinations` output (row, seed, combination, k, f1); combination names
    are "+"-joined view names (ralis.evaluate); `view_names` defaults to the single-view combinations in order.
    """
    if view_names is None:
        view_names = list(dict.fromkeys(comb.loc[comb["k"] == 1, "combination"]))
    mean = comb.groupby(["row", "combination", "k"], sort=False)["f1"].mean().reset_index()
    cols = mean.drop_duplicates("combination").sort_values(["k"], kind="stable")["combination"].tolist()
    rows = list(dict.fromkeys(mean["row"]))
    grid = mean.pivot(index="row", columns="combination", values="f1").reindex(index=rows, columns=cols) * 100
    member = np.array([[v in c.split("+") for c in cols] for v in view_names])  # [V, n_combinations]
    ks = member.sum(axis=0)
    fig, (ax, bx) = plt.subplots(2, 1, sharex=True, figsize=(min(3 + 0.16 * len(cols), 40), 1.6 + 0.3 * (
        len(rows) + len(view_names))), gridspec_kw={"height_ratios": [max(len(rows), 1), len(view_names)]})
    values = grid.to_numpy(dtype=float)
    low, high = _data_range(values)  # the colour scale spans the data, so small differences stay visible
    im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
    ax.set_yticks(range(len(rows)), [ROW_LABEL.get(r, r) for r in rows], fontsize=8)
    yy, xx = np.nonzero(member)
    bx.scatter(xx, yy, s=max(2.0, 60 / max(1, len(cols) ** 0.5)), color="black")
    bx.set_yticks(range(len(view_names)), view_names, fontsize=7)
    bx.set_ylim(len(view_names) - 0.5, -0.5)
    bx.set_xlabel("view combination, grouped by number of views k")
    for b in np.flatnonzero(np.diff(ks)) + 0.5:  # boundaries between numbers of views
        ax.axvline(b, color="white", lw=1)
        bx.axvline(b, color="grey", lw=0.5)
    starts = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    bx.set_xticks(starts, [f"k={ks[i]}" for i in starts], fontsize=7)
    ax.set_title(title or "Test F1 (%) per view combination", fontsize=9)
    fig.colorbar(im, ax=[ax, bx], label="F1 (%)", fraction=0.02, pad=0.01)
    return fig


def table_bars(comp: pd.DataFrame, table: str, dataset: str) -> Figure:
    """Grouped bars of a table (`ralis.results.compare_with_paper` output): ours ± std over seeds (the legend says
    how many), paper as black ticks. The F1 axis spans the data, not 0-100."""
    rows = list(dict.fromkeys(comp["row"]))
    labels = scenario_labels(dataset, table)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) + 2), 3.6))
    width = 0.8 / len(SCENARIOS)
    x = np.arange(len(rows))
    tops: list[np.ndarray] = []
    for i, (sc, lab) in enumerate(zip(SCENARIOS, labels)):
        part = comp[comp["scenario"] == sc].set_index("row").reindex(rows)
        xs = x + (i - 1) * width
        ax.bar(xs, part["mean"], width, yerr=part["std"].to_numpy(dtype=float), label=_scenario_header(lab),
               capsize=2)  # no error bar where one seed gives no std
        tops.append((part["mean"] + part["std"].fillna(0)).to_numpy(dtype=float))
        tops.append(part["paper_mean"].to_numpy(dtype=float))
        if part["paper_mean"].notna().any():
            ax.scatter(xs, part["paper_mean"], marker="_", color="black", s=120, zorder=3,
                       label="paper" if i == 0 else None)
    ax.set_xticks(x, [ROW_LABEL.get(r, r) for r in rows], rotation=30, ha="right")
    seeds = sorted({int(n) for n in comp["n_seeds"].dropna()}) if "n_seeds" in comp else []
    ax.set_ylabel("test macro F1 (%)" + (f", ± std over {'/'.join(map(str, seeds))} seeds" if seeds else ""))
    low = np.nanmin(comp["mean"].to_numpy(dtype=float)) if comp["mean"].notna().any() else 0.0
    high = _data_range(np.concatenate(tops))[1]
    ax.set_ylim(max(0.0, 10 * np.floor((low - 5) / 10)), min(100.0, high + 0.22 * max(high - low, 10)))
    ax.set_title(f"{TABLE_TITLE.get(table, table)} [{dataset}]", fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="upper center", frameon=False)
    fig.tight_layout()
    return fig


def _scenario_header(label: str) -> str:
    return {"1": "1 view", "half": "half of the views", "all": "all views"}.get(label, f"{label} views")


def training_curves(log: pd.DataFrame, title: str = "") -> Figure:
    """Loss terms (left) and validation F1 (right) per epoch from a run's train_log.csv."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    cols = list(log.columns)  # fit() writes epoch, steps, lr, the loss terms, then valid_f1 and the diagnostics
    terms = [c for c in cols[cols.index("lr") + 1:cols.index("valid_f1")] if pd.api.types.is_numeric_dtype(log[c])]
    for c in terms:
        a.plot(log["epoch"], log[c], marker=".", label=c)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (epoch mean)")
    a.legend(fontsize=7)
    b.plot(log["epoch"], log["valid_f1"] * 100, marker=".")
    if "is_best" in log and log["is_best"].astype(bool).any():
        best = log[log["is_best"].astype(bool)].iloc[-1]
        b.axvline(best["epoch"], color="grey", ls="--", lw=1, label=f"best epoch {int(best['epoch'])}")
        b.legend(fontsize=7)
    b.set_xlabel("epoch")
    b.set_ylabel("validation macro F1 (%)")
    integer_epochs(a, b)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def validation_curves(f1: pd.DataFrame, title: str = "") -> Figure:
    """Validation macro-F1 (%) per epoch of every run (`ralis.tracking.training_curves`' first frame): the
    methods' runs on the left, the Table 5 / Fig. 5 variants (labels without a seed) on the right."""
    runs = list(dict.fromkeys(f1["run"]))
    groups = [[r for r in runs if "/seed" in r], [r for r in runs if "/seed" not in r]]
    groups = [g for g in groups if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 3.6), squeeze=False, sharey=True)
    for ax, group, name in zip(axes[0], groups, ("methods", "variants") if len(groups) == 2 else ("runs",)):
        for r in group:
            c = f1[f1["run"] == r]
            ax.plot(c["epoch"], c["valid_f1"] * 100, marker=".", lw=1, label=r)
        ax.set(xlabel="epoch", title=name)
        ax.legend(fontsize=6, ncol=2, frameon=False)
        integer_epochs(ax)
    axes[0, 0].set_ylabel("validation macro F1 (%)")
    fig.suptitle(title or "Validation F1 of every run", fontsize=9)
    fig.tight_layout()
    return fig


def window_example(views: dict[str, np.ndarray], present: np.ndarray, label: str, index: int) -> Figure:
    """One window of every view (channels over time); a missing view is drawn as an empty panel."""
    fig, axes = plt.subplots(1, len(views), figsize=(2.2 * len(views), 2.2), squeeze=False)
    for j, (ax, (name, x)) in enumerate(zip(axes[0], views.items())):
        if present[index, j]:
            ax.plot(x[index], lw=0.7)
        ax.set_title(f"{name}{'' if present[index, j] else ' (missing)'}", fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
    fig.suptitle(f"window {index}: {label}", fontsize=9)
    fig.tight_layout()
    return fig


def confusion_matrix(counts: pd.DataFrame, title: str = "") -> Figure:
    """Rows = true class, columns = predicted class; colour = share of the row's windows (0-1), text = count."""
    c = counts.to_numpy(dtype=float)
    share = c / np.clip(c.sum(axis=1, keepdims=True), 1, None)
    n = len(c)
    fig, ax = plt.subplots(figsize=(2.5 + 0.42 * n, 2.0 + 0.38 * n))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    if n <= 25:
        for (i, j), v in np.ndenumerate(c):
            if v:
                ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(n), list(counts.columns), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), list(counts.index), fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Test confusion matrix", fontsize=9)
    fig.colorbar(im, ax=ax, label="share of the true class", fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Save a PNG atomically (no timestamp metadata, so identical figures give identical bytes)."""
    from ralis.io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    return Path(path)
