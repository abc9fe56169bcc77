"""Params of the §6 analysis notebooks: params.yaml for the DVC stages, or a seconds-long smoke profile.

Kept apart from the analysis code so that a stage that only times losses (06_complexity) does not depend on the
training code.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ralis.config import AnalysisConfig, Params
from ralis.pipeline import stage_params

__all__ = ["SMOKE_ANALYSIS", "analysis_stage_params"]

# Seconds-long settings for the notebooks' defaults and nbval (with ralis.pipeline.smoke_params: 3 views, E = 4)
SMOKE_ANALYSIS = AnalysisConfig(
    complexity_views=[2, 3], complexity_batch=8, complexity_batches=[4, 8], complexity_n_views=3, complexity_dim=16,
    complexity_warmup=1, complexity_repeats=2, epochs=2, steps_per_epoch=2, sens_experts=[2, 4], sens_top_k=2,
    sens_top_ks=[1, 2], sens_n_experts=4, conv_classes=2, conv_batch=16)


def analysis_stage_params(params_file: str, scratch_dir: str | Path = "../scratch") -> Params:
    """A §6 notebook's params: params.yaml, or ("" ) the smoke profile under `scratch_dir` with SMOKE_ANALYSIS."""
    params = stage_params(params_file, scratch_dir)
    return params if params_file else dataclasses.replace(params, analysis=SMOKE_ANALYSIS)
