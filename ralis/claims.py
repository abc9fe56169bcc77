"""The paper's qualitative claims, each checked against the runs at hand, with a computed verdict.

Each claim gets a `Verdict`: "holds", "does not hold", or "not measured" (the runs it needs are absent); its
margin (positive = in the claim's favour, F1 as a fraction), the spread over seeds, the seeds it rests on and the
table / figure it comes from. Inputs (all optional):

    runs          long frame row, protocol, seed, scenario, f1 (`ralis.results.collect_runs`), methods
    ablations     the same, rows are Table 5 variants ("full" = RALIS), protocol uniform
    complexity    `ComplexityResult.summary()`: {"slopes": {"vs_V": {loss: {form: {quantity: slope}}}}}
    convergence   `ConvergenceResult.summary()`: {"ralis" | "no_contrast": {"att_spread_first", ...}}
    load_balance  `LoadBalanceResult.summary()`: {"sep_load" | "joint_load": {"js_divergence", ...}}
    sensitivity   `sensitivity_from_runs` frame: n_experts, top_k, f1_1, f1_half, f1_all

Rules are fixed below and quoted in each claim's text; nothing is hard-coded to pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ralis.io import write_json, write_text
from ralis.paper_tables import ROW_LABEL, SCENARIO_WORDS, SCENARIOS
from ralis.pipeline import ABLATION_VARIANTS

__all__ = ["HOLDS", "FAILS", "NOT_MEASURED", "Verdict", "check_claims", "claims_table", "claims_metrics",
           "write_claims"]

HOLDS, FAILS, NOT_MEASURED = "holds", "does not hold", "not measured"
# Table 5 rows (1)-(7), one component removed each; row (8) "full_graph" replaces L_AC by the full-graph loss
ABLATIONS = tuple(v for v in ABLATION_VARIANTS if v != "full")  # the Table 5 rows checked against "full"
SLOPE_FG_MIN, SLOPE_AC_MAX, SLOPE_GAP_MIN = 1.5, 1.3, 0.5  # Fig. 8 rule on log-log slopes vs V
SENS_RANGE_MAX = 0.05  # Fig. 5 rule: F1 range over (E, K) <= 5 points


@dataclass(frozen=True)
class Verdict:
    """One claim checked: `margin` > 0 (>= 0 where the rule says so) is in the claim's favour."""
    key: str  # stable snake_case name
    claim: str  # the claim and its rule
    source: str  # paper table / figure / section
    verdict: str  # HOLDS | FAILS | NOT_MEASURED
    margin: float | None = None
    spread: dict | None = None  # std over seeds (ddof=1) per row and of per-seed paired differences
    n_seeds: tuple[int, ...] | None = None  # seeds behind each compared row; None for single analysis runs
    detail: str = ""
    unit: str = "f1"  # "f1" (fraction, shown in points) or what the margin measures


def _require(names: Iterable, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in set(names)]
    if missing:
        raise ValueError(f"{what} lacks column(s)/key(s) {missing}; needs {list(required)}")


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _pp(x: float) -> str:
    return f"{100 * x:.2f}"


def _judge(key, claim, source, ok, margin, **kw) -> Verdict:
    return Verdict(key, claim, source, HOLDS if ok else FAILS, _num(margin), **kw)


def _pair(summaries: dict | None, variants: tuple[str, str], keys: Sequence[str], what: str) -> tuple | None:
    """The two variants' summary dicts, each checked for `keys`; None when either variant is absent."""
    if not summaries or not set(variants) <= set(summaries):
        return None
    for v in variants:
        _require(summaries[v], keys, f"{what}[{v!r}]")
    return tuple(summaries[v] for v in variants)


def _seed_table(frame: pd.DataFrame, protocol: str, scenarios: Iterable[str]) -> pd.DataFrame:
    """Seed x row mean F1 over `scenarios` for one protocol; rows without any F1 are dropped."""
    part = frame[(frame["protocol"] == protocol) & frame["scenario"].isin(list(scenarios))]
    return part.groupby(["seed", "row"])["f1"].mean().unstack("row").dropna(axis=1, how="all")


def _spread(wide: pd.DataFrame, *rows: str) -> tuple[dict, tuple[int, ...]]:
    """Std over seeds of each row and, where two neighbours share seeds, of their per-seed difference."""
    spread = {r: _num(wide[r].std(ddof=1)) for r in rows}
    for a, b in zip(rows, rows[1:]):
        paired = (wide[a] - wide[b]).dropna()
        if len(paired):
            spread[f"{a}-{b}"] = _num(paired.std(ddof=1))
    return spread, tuple(int(wide[r].count()) for r in rows)


def _best_method(runs: pd.DataFrame | None, sc: str) -> Verdict:
    """Table 4: RALIS has the best mean F1 of all methods present (training data with missing views)."""
    key, source = f"table4_ralis_best_{sc}", "Table 4"
    claim = (f"RALIS has the best mean F1 of all methods with {SCENARIO_WORDS[sc]}, missing training data; "
             "holds iff margin > 0")
    wide = None if runs is None else _seed_table(runs, "uniform", [sc])
    if wide is None or "ralis" not in wide or wide.shape[1] < 2:
        return Verdict(key, claim, source, NOT_MEASURED, detail="needs ralis and another method, protocol uniform")
    means = wide.mean()
    rival = means.drop("ralis").idxmax()
    spread, n = _spread(wide, "ralis", rival)
    detail = f"RALIS {_pp(means['ralis'])} vs best other {ROW_LABEL.get(rival, rival)} {_pp(means[rival])}"
    return _judge(key, claim, source, means["ralis"] > means[rival], means["ralis"] - means[rival],
                  spread=spread, n_seeds=n, detail=detail)


def _complete_order(runs: pd.DataFrame | None) -> Verdict:
    """§5.2.1 / Table 3: with complete training data and one view, RALIS >= CMC* > Flex-MoE."""
    key, source, order = "table3_ralis_ge_cmc_gt_flexmoe", "Table 3 (§5.2.1)", ("ralis", "cmc", "flexmoe")
    claim = "Complete training data, 1 view: RALIS >= CMC* > Flex-MoE on seed means; margin = min of the two gaps"
    wide = None if runs is None else _seed_table(runs, "complete", ["1"])
    if wide is None or not set(order) <= set(wide):
        return Verdict(key, claim, source, NOT_MEASURED, detail="needs ralis, cmc, flexmoe, protocol complete")
    m = wide.mean()
    d1, d2 = m["ralis"] - m["cmc"], m["cmc"] - m["flexmoe"]
    spread, n = _spread(wide, *order)
    detail = f"RALIS {_pp(m['ralis'])}, CMC* {_pp(m['cmc'])}, Flex-MoE {_pp(m['flexmoe'])}"
    return _judge(key, claim, source, d1 >= 0 and d2 > 0, min(d1, d2), spread=spread, n_seeds=n, detail=detail)


def _ablation(ablations: pd.DataFrame | None, variant: str) -> Verdict:
    """Table 5: removing a component lowers F1; "+full graph" (replacing L_AC) does not raise it [§5.3]."""
    label = ROW_LABEL.get(variant, variant)
    if variant == "full_graph":
        key, rule = "table5_full_graph_no_gain", ">= 0"
        claim = "Replacing L_AC by the full-graph loss does not improve F1: mean over scenarios of full - v >= 0"
    else:
        key, rule = f"table5_{variant}_lowers_f1", "> 0"
        claim = f"Removing a component ({label}) lowers F1: mean over scenarios of full - v > 0"
    parts = {} if ablations is None else {sc: _seed_table(ablations, "uniform", [sc]) for sc in SCENARIOS}
    diffs = {sc: w["full"].mean() - w[variant].mean() for sc, w in parts.items() if {"full", variant} <= set(w)}
    if not diffs:
        return Verdict(key, claim, "Table 5", NOT_MEASURED, detail=f"needs full and {variant}, protocol uniform")
    margin = float(np.mean(list(diffs.values())))
    spread, n = _spread(_seed_table(ablations, "uniform", SCENARIOS), "full", variant)
    detail = "full - v per scenario: " + ", ".join(f"{sc}: {100 * d:+.2f}" for sc, d in diffs.items())
    ok = margin >= 0 if rule == ">= 0" else margin > 0
    return _judge(key, claim, "Table 5", ok, margin, spread=spread, n_seeds=n, detail=detail)


def _complexity(complexity: dict | None) -> Verdict:
    """Fig. 8 / §4.2.3: the full graph's cost grows about as V^2, the adjusted-center loss's about as V."""
    key, source = "fig8_full_graph_quadratic_ac_linear", "Fig. 8"
    claim = (f"Forward-time log-log slope vs V: full graph >= {SLOPE_FG_MIN}, adjusted center <= {SLOPE_AC_MAX}, "
             f"and full graph > adjusted center + {SLOPE_GAP_MIN}")
    vs_v = (complexity or {}).get("slopes", {}).get("vs_V", {})
    forms = [f for f in ("batched", "looped")
             if all("forward_ms" in vs_v.get(k, {}).get(f, {}) for k in ("full_graph", "adjusted_center"))]
    if not forms:
        return Verdict(key, claim, source, NOT_MEASURED, unit="slope", detail="needs forward_ms slopes vs V")
    form = forms[0]
    fg, ac = (vs_v[k][form]["forward_ms"] for k in ("full_graph", "adjusted_center"))
    slopes = {k: vs_v[k].get(form, {}) for k in ("full_graph", "adjusted_center", "cocoa") if k in vs_v}
    detail = f"{form} form; " + "; ".join(
        f"{k}: forward {s.get('forward_ms', float('nan')):.2f}, macs {s.get('macs', float('nan')):.2f}"
        for k, s in slopes.items())
    ok = fg >= SLOPE_FG_MIN and ac <= SLOPE_AC_MAX and fg > ac + SLOPE_GAP_MIN
    return _judge(key, claim, source, ok, fg - ac, unit="slope", detail=detail)


def _convergence(convergence: dict | None) -> Verdict:
    """Fig. 6 / §6.2: with the contrastive loss the view weights converge (their spread over views shrinks)."""
    key, source = "fig6_contrast_converges_view_weights", "Fig. 6"
    claim = "With L_AC the view-weight spread falls over training (last < first) and ends below the run without it"
    pair = _pair(convergence, ("ralis", "no_contrast"), ["att_spread_first", "att_spread_last"], "convergence")
    if pair is None:
        return Verdict(key, claim, source, NOT_MEASURED, unit="att_spread", detail="needs ralis and no_contrast")
    r, n = pair
    detail = (f"with L_AC {r['att_spread_first']:.4f} -> {r['att_spread_last']:.4f}; "
              f"without {n['att_spread_first']:.4f} -> {n['att_spread_last']:.4f}")
    ok = r["att_spread_last"] < r["att_spread_first"] and r["att_spread_last"] < n["att_spread_last"]
    return _judge(key, claim, source, ok, n["att_spread_last"] - r["att_spread_last"], unit="att_spread",
                  detail=detail)


def _load_balance(load_balance: dict | None) -> Verdict:
    """Fig. 7 / §6.3: separate load balancing brings single- and multi-view gate distributions closer."""
    key, source = "fig7_sep_load_aligns_gates", "Fig. 7"
    claim = "Separate load balancing: JS divergence single- vs multi-view gates is lower than with joint balancing"
    pair = _pair(load_balance, ("sep_load", "joint_load"), ["js_divergence"], "load_balance")
    if pair is None:
        return Verdict(key, claim, source, NOT_MEASURED, unit="js", detail="needs sep_load and joint_load")
    sep, joint = (p["js_divergence"] for p in pair)
    return _judge(key, claim, source, sep < joint, joint - sep, unit="js",
                  detail=f"JS separate {sep:.4f}, joint {joint:.4f}")


def _sensitivity(sensitivity: pd.DataFrame | None) -> Verdict:
    """Fig. 5 / §6.1: F1 is stable across the number of experts E and of selected experts K."""
    key, source = "fig5_stable_over_experts_topk", "Fig. 5"
    claim = f"F1 range (max - min) over all (E, K) points <= {100 * SENS_RANGE_MAX:.0f} points in every scenario"
    if sensitivity is not None:
        _require(sensitivity.columns, ["n_experts", "top_k", *(f"f1_{sc}" for sc in SCENARIOS)], "sensitivity")
    cols = {} if sensitivity is None else {sc: sensitivity[f"f1_{sc}"].dropna() for sc in SCENARIOS}
    ranges = {sc: c.max() - c.min() for sc, c in cols.items() if len(c) >= 2}
    if not ranges:
        return Verdict(key, claim, source, NOT_MEASURED, detail="needs >= 2 sensitivity points")
    worst = max(ranges.values())
    detail = f"{len(sensitivity)} points; range per scenario: " + ", ".join(
        f"{sc}: {_pp(r)}" for sc, r in ranges.items())
    return _judge(key, claim, source, worst <= SENS_RANGE_MAX, SENS_RANGE_MAX - worst, detail=detail)


def check_claims(runs: pd.DataFrame | None = None, ablations: pd.DataFrame | None = None,
                 complexity: dict | None = None, convergence: dict | None = None,
                 load_balance: dict | None = None, sensitivity: pd.DataFrame | None = None) -> list[Verdict]:
    """Every claim, in paper order (Tables 3-5, then Figs. 5-8); absent inputs give "not measured"."""
    for name, frame in (("runs", runs), ("ablations", ablations)):
        if frame is not None:
            _require(frame.columns, ["row", "protocol", "seed", "scenario", "f1"], name)
    return [_complete_order(runs), *(_best_method(runs, sc) for sc in SCENARIOS),
            *(_ablation(ablations, v) for v in ABLATIONS),
            _sensitivity(sensitivity), _convergence(convergence), _load_balance(load_balance),
            _complexity(complexity)]


def claims_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One line per claim (all `Verdict` fields), for the notebook."""
    return pd.DataFrame([dataclasses.asdict(v) for v in verdicts])


def claims_metrics(verdicts: list[Verdict]) -> dict:
    """DVC metrics: {"claims": {key: {"verdict", "margin"}}, "counts": {"holds", "does_not_hold", "not_measured"}}."""
    counts = {s.replace(" ", "_"): sum(v.verdict == s for v in verdicts) for s in (HOLDS, FAILS, NOT_MEASURED)}
    return {"claims": {v.key: {"verdict": v.verdict, "margin": v.margin} for v in verdicts}, "counts": counts}


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    return f"{100 * x:+.2f}" if unit == "f1" else f"{x:+.3f}"


def _markdown(verdicts: list[Verdict]) -> str:
    lines = ["| claim | source | verdict | margin | spread | seeds | detail |", "|---|---|---|---|---|---|---|"]
    for v in verdicts:
        spread = ", ".join(f"{k} {_fmt(s, v.unit).lstrip('+')}" for k, s in (v.spread or {}).items()) or "—"
        seeds = "/".join(map(str, v.n_seeds)) if v.n_seeds else "—"
        margin = "—" if v.margin is None else f"{_fmt(v.margin, v.unit)} {'pp' if v.unit == 'f1' else v.unit}"
        cells = [v.claim, v.source, f"**{v.verdict}**", margin, spread, seeds, v.detail]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(["# The paper's claims, checked", "",
                      "Margins > 0 favour the claim; F1 margins, spreads (std over seeds) and details are in "
                      "F1 points.", "", *lines]) + "\n"


def write_claims(verdicts: list[Verdict], out_dir: str | Path) -> tuple[Path, Path]:
    """Write `claims.md` (markdown table) and `claims.json` (list of verdict dicts) atomically."""
    out_dir = Path(out_dir)
    return (write_text(out_dir / "claims.md", _markdown(verdicts)),
            write_json(out_dir / "claims.json", [dataclasses.asdict(v) for v in verdicts]))
