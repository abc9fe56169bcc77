"""The paper's reported F1 scores (Tables 3-6 of arXiv 2602.08755) as data, for side-by-side comparison.

Each table maps dataset -> row -> three (mean, std) pairs in % for the scenarios "1" / "half" / "all" views
(`evaluate.scenarios`). Row keys are the code's names: methods (`train.method`) and ablation variants
(`ralis.pipeline.ABLATION_VARIANTS`); Table 5's "RALIS" row is the variant "full". Numbers are typed from the
paper's tables; `scenario_labels` gives the paper's column headers (e.g. CMDFall uses 3 views in Table 3 and 7 in
Tables 4-5, where the counts are upper bounds "<= k").
"""

from __future__ import annotations

import pandas as pd

__all__ = ["PAPER_TABLES", "TABLE_PROTOCOL", "TABLE_TITLE", "ROW_LABEL", "SCENARIOS", "SCENARIO_WORDS",
           "scenario_labels", "paper_frame"]

SCENARIOS = ("1", "half", "all")
SCENARIO_WORDS = {"1": "1 view", "half": "half of the views", "all": "all views"}

# Which missing-view protocol (`missing.protocol`) each table uses [P§5.2.1, §5.2.2, §5.3, §5.4].
TABLE_PROTOCOL = {"table3": "complete", "table4": "uniform", "table5": "uniform", "table6": "per_view"}
TABLE_TITLE = {
    "table3": "Table 3: F1 (%) when the training set has complete views",
    "table4": "Table 4: F1 (%) when the training set has missing views",
    "table5": "Table 5: ablation study (missing views)",
    "table6": "Table 6: F1 (%) with random per-view missing rates",
}

# Paper row labels for the code's row keys.
ROW_LABEL = {
    "cmc": "CMC*", "cocoa": "COCOA*", "flexmoe": "FlexMoE", "fusemoe": "FuseMoE", "shaspec": "ShaSpec",
    "ralis": "RALIS", "meanfusion": "MeanFusion", "gmu": "GMU", "confu": "ConFu",
    "no_moe": "-MoE", "no_contrast": "-contrast", "no_attention": "-attention", "no_magnorm": "-mag. norm",
    "no_ind_view": "-ind. view", "no_sep_load": "-sep. load", "no_stop_grad": "-stop grad",
    "full_graph": "+full graph", "full": "RALIS",
}

_VIEWS = {  # number of views per dataset and table (CMDFall: 3 views in Table 3, 7 otherwise)
    ("cmdfall", "table3"): 3, "cmdfall": 7, "dailysport": 5, "realdisp": 9, "upfall": 5,
}


def scenario_labels(dataset: str, table: str) -> tuple[str, str, str]:
    """The paper's column headers for one dataset in one table, e.g. ("1", "<= 3", "<= 5")."""
    v = _VIEWS.get((dataset, table), _VIEWS.get(dataset))
    if v is None:
        return SCENARIOS
    half = (v + 1) // 2
    if table == "table3":
        return "1", str(half), str(v)
    return "1", f"<= {half}", f"<= {v}"


def _rows(text: str) -> dict[str, list[tuple[float, float]]]:
    """Parse 'row  m±s m±s m±s' lines (the paper's own notation) into {row: [(mean, std)] * 3}."""
    out = {}
    for line in text.strip().splitlines():
        key, *cells = line.split()
        out[key] = [tuple(float(x) for x in c.split("±")) for c in cells]
        if len(out[key]) != 3:
            raise ValueError(f"paper table row {key!r} needs 3 cells, got {len(out[key])}")
    return out


# ---- Table 3: complete training data [P Table 3] -------------------------------------------------------------
_T3 = {
    "cmdfall": """
cmc      59.59±0.2 70.80±0.6 76.93±0.9
cocoa    56.33±0.6 69.29±0.4 76.40±0.6
flexmoe  25.09±3.8 52.37±2.3 74.42±0.5
fusemoe  28.49±1.1 55.08±0.6 74.23±1.0
shaspec  35.65±0.1 60.59±0.7 74.55±0.5
ralis    59.95±0.4 71.21±1.1 77.28±1.2""",
    "dailysport": """
cmc      77.09±1.3 87.03±1.5 92.05±1.6
cocoa    75.26±0.6 86.31±1.0 90.68±1.4
flexmoe  12.13±2.3 58.52±4.6 88.40±1.4
fusemoe  24.21±2.7 70.68±2.1 90.13±0.8
shaspec  35.42±1.6 74.46±0.7 88.58±1.5
ralis    80.56±0.6 90.54±0.7 93.64±0.4""",
    "realdisp": """
cmc      75.79±1.2 95.06±0.4 97.32±0.1
cocoa    68.66±0.5 94.55±0.2 97.42±0.2
flexmoe  03.46±1.6 74.44±2.0 96.92±0.3
fusemoe  04.31±1.4 65.14±5.7 96.69±0.5
shaspec  20.11±4.7 90.14±1.4 97.53±0.5
ralis    80.75±0.1 95.55±0.1 96.74±0.2""",
    "upfall": """
cmc      71.17±0.6 87.31±0.1 91.63±0.5
cocoa    71.43±0.5 87.24±0.8 91.50±1.6
flexmoe  09.09±1.3 35.83±4.5 87.14±1.1
fusemoe  15.07±0.6 62.52±0.9 87.17±0.5
shaspec  47.01±2.2 75.62±2.3 90.88±0.5
ralis    72.75±0.5 86.29±0.3 92.17±0.3""",
}

# ---- Table 4: missing training data, uniform drop [P Table 4] --------------------------------------------------
_T4 = {
    "cmdfall": """
cmc      49.41±0.7 74.27±0.3 81.86±0.4
cocoa    45.71±0.7 71.36±0.5 79.84±0.3
flexmoe  12.30±0.9 46.04±1.2 74.19±0.6
fusemoe  09.60±0.7 47.65±1.2 76.22±0.9
shaspec  24.61±1.1 61.10±0.5 77.73±0.1
ralis    50.29±0.4 74.78±0.6 81.75±0.6""",
    "dailysport": """
cmc      74.24±0.6 82.72±0.6 87.69±0.2
cocoa    70.98±0.1 81.54±0.3 87.04±0.5
flexmoe  40.68±2.9 73.72±0.9 86.71±0.9
fusemoe  49.06±2.6 76.46±1.9 87.62±2.1
shaspec  61.77±0.5 78.63±0.5 87.25±0.3
ralis    79.68±0.3 87.26±0.5 91.25±0.5""",
    "realdisp": """
cmc      68.86±0.3 84.80±0.3 91.55±0.3
cocoa    61.61±0.7 82.60±0.4 90.95±0.1
flexmoe  13.69±0.6 50.17±0.6 70.24±0.6
fusemoe  28.25±0.9 67.87±0.3 84.35±0.5
shaspec  47.76±2.1 78.28±1.2 89.37±0.9
ralis    76.33±0.1 88.18±0.2 93.33±0.1""",
    "upfall": """
cmc      70.84±0.9 82.45±1.1 87.44±0.9
cocoa    70.12±0.6 83.12±0.7 88.68±1.1
flexmoe  54.42±2.4 78.22±0.4 87.81±0.5
fusemoe  52.10±1.8 78.17±0.5 88.69±0.8
shaspec  61.59±3.3 80.20±1.8 88.16±1.1
ralis    74.98±0.5 85.31±0.5 89.72±0.2""",
}

# ---- Table 5: ablations, missing training data [P Table 5] -----------------------------------------------------
_T5 = {
    "cmdfall": """
no_moe        49.88±0.4 72.59±0.3 79.29±0.1
no_contrast   49.39±0.0 73.97±0.1 81.71±0.4
no_attention  49.65±0.6 74.26±0.2 81.54±0.3
no_magnorm    49.25±0.9 73.64±0.8 80.23±0.6
no_ind_view   45.85±0.7 71.78±0.3 80.40±0.4
no_sep_load   49.36±0.5 73.82±0.8 81.41±0.5
no_stop_grad  49.75±0.4 74.10±0.1 81.24±0.4
full_graph    49.68±0.5 74.21±0.5 81.57±0.8
full          50.29±0.4 74.78±0.6 81.75±0.6""",
    "dailysport": """
no_moe        77.56±0.9 84.68±0.5 88.49±0.8
no_contrast   74.75±0.7 83.61±0.6 88.55±1.3
no_attention  78.26±1.5 85.01±1.3 88.60±1.1
no_magnorm    79.56±0.4 86.54±0.1 89.82±0.2
no_ind_view   73.12±1.1 83.15±0.3 88.73±0.6
no_sep_load   79.28±0.7 86.29±0.8 90.20±0.9
no_stop_grad  78.34±2.2 86.10±1.0 89.92±1.0
full_graph    78.50±1.3 85.27±1.5 88.72±1.6
full          79.68±0.3 87.26±0.5 91.25±0.5""",
    "realdisp": """
no_moe        75.44±0.4 87.29±0.3 92.04±0.5
no_contrast   72.94±0.1 87.09±0.2 92.90±0.2
no_attention  76.10±0.3 87.26±0.4 91.53±0.5
no_magnorm    76.13±0.4 88.40±0.3 93.57±0.3
no_ind_view   57.81±0.2 79.49±0.3 88.69±0.4
no_sep_load   76.06±0.2 88.14±0.2 93.18±0.3
no_stop_grad  76.14±0.2 88.20±0.3 93.21±0.3
full_graph    75.52±0.3 87.43±0.0 92.47±0.2
full          76.33±0.1 88.18±0.2 93.33±0.1""",
    "upfall": """
no_moe        73.87±0.9 83.65±0.1 88.73±0.3
no_contrast   73.27±0.8 84.34±0.1 90.10±0.2
no_attention  74.18±0.7 84.19±0.2 88.86±0.7
no_magnorm    73.82±1.0 84.17±0.8 89.17±1.0
no_ind_view   67.81±0.4 81.98±0.4 87.82±0.7
no_sep_load   74.82±0.6 84.26±0.3 88.96±0.2
no_stop_grad  73.58±1.0 83.07±0.4 88.09±0.7
full_graph    73.78±0.2 83.88±0.2 88.35±0.6
full          74.98±0.5 85.31±0.5 89.72±0.2""",
}

# ---- Table 6: per-view random missing rates, no CMDFall [P Table 6] -------------------------------------------
# The paper's "RALIS" row is listed under both "ralis" (the method run) and "full" (the ablation run).
_T6 = {
    "dailysport": """
cmc           73.66±0.8 80.81±0.8 85.66±1.3
cocoa         70.27±2.4 78.50±2.6 84.23±2.5
flexmoe       62.42±0.1 75.94±0.1 83.62±0.1
fusemoe       60.65±4.0 75.62±1.6 83.97±0.7
shaspec       62.37±0.7 74.17±1.1 81.51±2.1
no_moe        75.47±0.9 82.00±0.3 86.00±0.1
no_contrast   71.64±1.1 79.38±0.4 83.99±0.2
no_attention  75.44±2.5 82.42±1.9 86.60±1.5
no_magnorm    73.14±0.5 81.56±0.2 86.90±0.1
no_ind_view   71.92±1.3 81.03±1.3 85.97±1.4
no_sep_load   76.36±2.1 83.44±1.3 87.52±0.8
no_stop_grad  75.47±1.0 82.44±0.8 86.75±1.7
full_graph    73.70±0.7 80.97±0.6 85.97±0.8
ralis         77.40±0.6 83.55±0.4 87.57±0.7
full          77.40±0.6 83.55±0.4 87.57±0.7""",
    "realdisp": """
cmc           66.41±0.8 80.81±0.4 88.46±0.3
cocoa         59.72±0.3 77.52±0.1 86.48±0.0
flexmoe       16.71±0.1 48.63±0.2 65.72±0.2
fusemoe       27.20±1.7 61.78±1.3 78.56±1.3
shaspec       52.61±0.6 76.07±0.1 87.23±0.5
no_moe        72.39±0.0 82.56±0.3 88.14±0.8
no_contrast   70.30±0.6 83.17±0.5 89.38±0.8
no_attention  73.34±0.1 83.32±0.4 88.54±0.7
no_magnorm    73.94±0.3 84.84±0.3 90.22±0.3
no_ind_view   53.89±0.1 74.35±0.1 84.49±0.1
no_sep_load   73.52±0.2 84.18±0.0 89.97±0.1
no_stop_grad  72.92±0.2 83.92±0.0 89.45±0.0
full_graph    73.65±0.4 84.46±0.0 89.91±0.1
ralis         73.66±0.3 84.78±0.4 90.82±0.6
full          73.66±0.3 84.78±0.4 90.82±0.6""",
    "upfall": """
cmc           70.25±0.4 77.00±0.6 81.53±0.9
cocoa         59.80±0.8 68.16±0.6 73.19±0.9
flexmoe       57.54±1.8 75.11±1.2 84.19±0.8
fusemoe       56.66±0.5 74.83±0.7 83.97±1.0
shaspec       62.98±1.1 77.25±0.6 85.43±0.5
no_moe        66.09±0.4 72.98±0.6 77.45±0.9
no_contrast   70.34±1.1 79.78±0.3 85.20±0.4
no_attention  72.97±0.5 80.07±0.0 85.10±0.4
no_magnorm    72.69±0.3 80.19±0.5 84.42±0.6
no_ind_view   70.47±0.6 78.50±0.7 83.74±0.5
no_sep_load   74.29±0.3 80.80±0.0 85.06±0.2
no_stop_grad  73.86±0.5 80.87±0.7 85.56±0.0
full_graph    72.86±0.1 79.88±0.1 84.03±0.0
ralis         74.18±0.1 81.33±0.2 86.44±0.5
full          74.18±0.1 81.33±0.2 86.44±0.5""",
}

PAPER_TABLES: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = {
    name: {ds: _rows(text) for ds, text in table.items()}
    for name, table in (("table3", _T3), ("table4", _T4), ("table5", _T5), ("table6", _T6))
}


def paper_frame(table: str, dataset: str) -> pd.DataFrame:
    """One paper table for one dataset, long form: row, scenario, paper_mean, paper_std (F1 in %).

    Returns an empty frame when the paper has no such table for the dataset (e.g. synthetic, or CMDFall in
    Table 6).
    """
    if table not in PAPER_TABLES:
        raise ValueError(f"unknown paper table {table!r}; choose one of {sorted(PAPER_TABLES)}")
    rows = PAPER_TABLES[table].get(dataset, {})
    recs = [
        {"row": row, "scenario": sc, "paper_mean": m, "paper_std": s}
        for row, cells in rows.items()
        for sc, (m, s) in zip(SCENARIOS, cells)
    ]
    return pd.DataFrame(recs, columns=["row", "scenario", "paper_mean", "paper_std"])
