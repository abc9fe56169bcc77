"""Matplotlib figures of the §6 analyses, drawn like the paper's Figs. 5-8, and an atomic PNG writer.

    sensitivity_figure    Fig. 5: F1 against E (K fixed) and against K (E fixed), one line per scenario
    convergence_figure    Fig. 6: validation L_AC and the per-class view weights over epochs, with / without L_AC
    load_balance_figure   Fig. 7: mean gate score per expert, single-view vs multi-view tokens, with / without sep.
    complexity_figure     Fig. 8: loss-forward and optimisation-step time against V and N (log-log), per loss/form
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ralis.io import atomic_path

__all__ = ["sensitivity_figure", "convergence_figure", "load_balance_figure", "complexity_figure", "save_png"]

LOSS_LABEL = {"full_graph": "full graph", "cocoa": "COCOA", "adjusted_center": "adjusted center"}
LOSS_COLOR = {"full_graph": "tab:red", "cocoa": "tab:blue", "adjusted_center": "tab:green"}
FORM_STYLE = {"looped": "-", "batched": "--"}


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write `fig` as PNG atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def sensitivity_figure(df: pd.DataFrame, title: str = "") -> Figure:
    """Fig. 5: test macro-F1 (%) per scenario against the number of experts E and against top-K."""
    scen = [c for c in df.columns if c.startswith("f1_")]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, (sweep, x, label) in zip(axes, (("experts", "n_experts", "number of experts E"),
                                            ("top_k", "top_k", "top K experts")), strict=True):
        g = df[df["sweep"] == sweep].sort_values(x)
        for c in scen:
            ax.plot(g[x], g[c].astype(float) * 100, marker="o", label=c[3:] + (" view" if c[3:] == "1" else ""))
        fixed = f"K = {g['top_k'].iloc[0]}" if sweep == "experts" else f"E = {g['n_experts'].iloc[0]}"
        ax.set(xlabel=label, title=fixed, xticks=g[x].tolist())
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test macro-F1 (%)")
    axes[1].legend(title="views", fontsize=8)
    fig.suptitle(title or "Sensitivity to E and K (Fig. 5)")
    fig.tight_layout()
    return fig


def convergence_figure(curves: pd.DataFrame, weights: pd.DataFrame, classes: list[str] | None = None,
                       title: str = "") -> Figure:
    """Fig. 6: per variant (rows) the validation L_AC and weight spread, then the view weights of a few classes."""
    variants = list(dict.fromkeys(curves["variant"]))
    classes = classes or list(dict.fromkeys(weights["class"]))[:4]
    views = list(dict.fromkeys(weights["view"]))
    colors = plt.get_cmap("tab10")(np.arange(len(views)) % 10)
    fig, axes = plt.subplots(len(variants), 1 + len(classes), figsize=(3 * (1 + len(classes)), 2.6 * len(variants)),
                             squeeze=False, sharex=True)
    for r, variant in enumerate(variants):
        c = curves[curves["variant"] == variant].sort_values("epoch")
        ax = axes[r, 0]
        ax.plot(c["epoch"], c["valid_contrast"], color="k", marker=".", label="valid L_AC")
        ax.set(title=f"{variant}: contrastive loss", ylabel="L_AC (validation)")
        tw = ax.twinx()
        tw.plot(c["epoch"], c["att_spread"], color="tab:purple", ls="--", label="weight spread")
        tw.set_ylabel("std of view weights", color="tab:purple")
        for j, cls in enumerate(classes, start=1):
            w = weights[(weights["variant"] == variant) & (weights["class"] == cls)]
            for v, col in zip(views, colors, strict=True):
                g = w[w["view"] == v].sort_values("epoch")
                axes[r, j].plot(g["epoch"], g["weight"], color=col, label=v)
            axes[r, j].set(title=f"{variant}: class '{cls}'", ylim=(0, None))
            axes[r, j].grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    if len(classes):
        axes[0, -1].legend(fontsize=7, title="view weight", loc="best")
    fig.suptitle(title or "Contrastive loss and per-class view weights over epochs (Fig. 6)")
    fig.tight_layout()
    return fig


def load_balance_figure(gates: pd.DataFrame, metrics: dict | None = None, title: str = "") -> Figure:
    """Fig. 7: mean gate score per expert of single-view and multi-view (fused) tokens, per variant."""
    variants = list(dict.fromkeys(gates["variant"]))
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3), sharey=True, squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        g = gates[gates["variant"] == variant]
        experts = sorted(g["expert"].unique())
        x = np.arange(len(experts))
        for off, group, color in ((-0.2, "single", "tab:orange"), (0.2, "fused", "tab:blue")):
            s = g[g["group"] == group].set_index("expert").reindex(experts)["score"]
            ax.bar(x + off, s, width=0.4, color=color, label="one view" if group == "single" else "multi-view (fused)")
        jsd = f" (JSD {metrics[variant]['js_divergence']:.3f})" if metrics and variant in metrics else ""
        ax.set(title=f"{variant}{jsd}", xlabel="expert", xticks=x)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("mean gate score")
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title or "Gate scores over experts, separate vs joint load balancing (Fig. 7)")
    fig.tight_layout()
    return fig


def _reference_slopes(ax, sub: pd.DataFrame, sweep: str, q: str, powers: tuple[int, ...]) -> None:
    """Grey guide lines y ~ x^p through the geometric mean of the curves' first points (the theory's slopes)."""
    xs = np.array(sorted(sub[sweep].unique()), dtype=float)
    first = sub[sub[sweep] == xs[0]][q]
    y0 = float(np.exp(np.log(first[first > 0]).mean())) if (first > 0).any() else 1.0
    for p, style in zip(powers, (":", "-.")):
        ax.plot(xs, y0 * (xs / xs[0]) ** p, style, color="grey", lw=1, label=f"slope {p} ({sweep}^{p})")


def complexity_figure(timings: pd.DataFrame, title: str = "") -> Figure:
    """Fig. 8: time per batch (ms) of the loss forward (top) and the optimisation step (bottom) against V
    (left, fixed N) and N (right, fixed V), log-log; solid = looped (paper), dashed = batched."""
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    for col, sweep in enumerate(("V", "N")):
        sub = timings[timings["sweep"] == sweep]
        fixed = f"N = {sub['N'].iloc[0]}" if sweep == "V" else f"V = {sub['V'].iloc[0]}"
        for row, (q, label) in enumerate((("forward_ms", "loss forward"), ("step_ms", "backward + Adam step"))):
            ax = axes[row, col]
            for (kind, form), g in sub.groupby(["loss", "form"], sort=False):
                g = g.sort_values(sweep)
                ax.plot(g[sweep], g[q], FORM_STYLE.get(form, ":"), marker=".", color=LOSS_COLOR.get(kind),
                        label=f"{LOSS_LABEL.get(kind, kind)} ({form})")
            _reference_slopes(ax, sub, sweep, q, (1, 2) if sweep == "V" else (2,))
            ax.set(xscale="log", yscale="log", title=f"{label}, {fixed}", ylabel="ms per batch",
                   xlabel="views V" if sweep == "V" else "batch size N")
            ax.set_xticks(sorted(sub[sweep].unique()), [str(v) for v in sorted(sub[sweep].unique())])
            ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=7, handles=axes[0, 1].lines[-1:])
    fig.suptitle(title or "Runtime of the contrastive losses (Fig. 8; medians per batch, grey: theory's slopes)")
    fig.tight_layout()
    return fig
