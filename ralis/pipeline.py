"""Small helpers the pipeline notebooks call: params for a stage, one run's params, where runs live.

Every notebook's `parameters` cell defaults to `params_file = ""`, which selects the SMOKE profile below: a
tiny offline synthetic setting that writes under the git-ignored `scratch/` folder, so nbval and an
interactive run take seconds and never touch pipeline outputs. DVC passes `params_file ../params.yaml`.

params.yaml's stage-only sections `pipeline` (what the `train` stage trains) and `results` are read here
(`PipelineConfig`, `ResultsConfig`); the model sections are read by `ralis.config.load_params`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ralis.config import (
    PROTOCOLS,
    AblationConfig,
    AnalysisConfig,
    DataConfig,
    Method,
    ModelConfig,
    NonNegInt,
    Params,
    PosInt,
    Protocol,
    SyntheticConfig,
    TrainConfig,
    from_dict,
    load_params,
    read_sections,
)
from ralis.reads import trace_reads

__all__ = [
    "PipelineConfig", "ResultsConfig", "ABLATION_VARIANTS", "PROTOCOLS",
    "smoke_params", "smoke_pipeline", "stage_params", "stage_sections", "apply_variant", "sensitivity_point",
    "sensitivity_grid", "sensitivity_variants", "study_variants", "study_runs", "run_params", "run_dir",
    "windows_root", "dataset_spec", "receipt_path", "write_receipt", "ensure_windows", "RUN_KEYS",
]

# PROTOCOLS (Table 3 / Tables 4-5 / Table 6) come from ralis.config; the methods from the registry (ralis.zoo,
# imported when a PipelineConfig is built, so that the data stages do not depend on the model code)


def _registered_baselines() -> list[str]:
    from ralis.zoo import baseline_names

    return list(baseline_names())


# Table 5 variants [P§5.3]: each flips one AblationConfig switch of the PAPER defaults (not of params.yaml's
# `ablation` section), so the variants' runs do not depend on that section. "full" is the unchanged model.
ABLATION_VARIANTS: dict[str, dict[str, bool]] = {
    "full": {},
    "no_moe": {"moe": False},
    "no_contrast": {"contrast": False},
    "no_attention": {"attention": False},
    "no_magnorm": {"magnorm": False},
    "no_ind_view": {"ind_view": False},
    "no_sep_load": {"sep_load": False},
    "no_stop_grad": {"stop_grad": False},
    "full_graph": {"full_graph": True},
}


FIGURE_VARIANTS = ("full", "no_contrast", "no_sep_load")  # the runs Figs. 5-7 read: trained whatever `ablations` says


@dataclass(frozen=True)
class PipelineConfig:
    """params.yaml `pipeline`: what the `train` stage trains (ralis.runner.study_jobs)."""

    baselines: list[Method] = field(default_factory=_registered_baselines)  # compared with RALIS (Tables 3-4, 6)
    protocols: list[Protocol] = field(default_factory=lambda: list(PROTOCOLS))  # Table 3 / 4 / 6 runs
    seeds: list[NonNegInt] = field(default_factory=lambda: [0, 1, 2])  # RALIS and mean fusion (the reference) (A18)
    baseline_seeds: list[NonNegInt] = field(default_factory=lambda: [0, 1, 2])  # the other baselines (A18)
    ablations: list[str] = field(default_factory=lambda: list(ABLATION_VARIANTS))  # Table 5 variants, seed 0
    ablation_protocols: list[Protocol] = field(default_factory=lambda: ["uniform", "per_view"])  # Tables 5 and 6
    jobs: PosInt = 1  # trainings at once in the `train` stage (ralis.runner), one thread each

    def __post_init__(self) -> None:
        bad: list = [v for v in self.ablations if v not in ABLATION_VARIANTS]
        bad += [p for p in (*self.protocols, *self.ablation_protocols) if p not in PROTOCOLS]
        known = _registered_baselines()
        bad += [m for m in self.baselines if m not in known]
        if bad:
            raise ValueError(f"params.yaml pipeline: unknown entries {bad}; ablations are {list(ABLATION_VARIANTS)}, "
                             f"protocols are {list(PROTOCOLS)}, baselines are {list(known)}")
        lists = {k: getattr(self, k) for k in ("baselines", "protocols", "seeds", "baseline_seeds", "ablations",
                                               "ablation_protocols")}
        for key, values in lists.items():  # a repeated seed would train one run twice and report a std of 0
            if twice := sorted({str(v) for v in values if values.count(v) > 1}):
                raise ValueError(f"params.yaml pipeline.{key} lists {twice} more than once; list each once")
        needed = ["protocols", "seeds", "ablation_protocols"] + (["baseline_seeds"] if self.baselines else [])
        if empty := [k for k in needed if not lists[k]]:
            raise ValueError(f"params.yaml pipeline.{empty[0]} is empty; the tables and figures need at least one "
                             f"entry (defaults: {getattr(PipelineConfig(), empty[0])})")

    @property
    def methods(self) -> list[str]:
        return ["ralis", *self.baselines]

    def method_seeds(self, method: str) -> list[int]:
        """Seeds a method is trained with: `seeds` for RALIS and mean fusion (the reference), else `baseline_seeds`."""
        return list(self.seeds if method in ("ralis", "meanfusion") else self.baseline_seeds)

    @property
    def table5_variants(self) -> list[str]:
        """The Table 5 rows: "full" (the reference, always trained) and `ablations`."""
        return list(dict.fromkeys(["full", *self.ablations]))


@dataclass(frozen=True)
class ResultsConfig:
    """params.yaml `results`: what the results stage draws."""

    heatmap_protocol: Protocol = "uniform"  # runs whose per-combination F1 the heatmap shows (in pipeline.protocols)
    decimals: NonNegInt = 2  # rounding of the % tables

    def check(self, pipe: PipelineConfig) -> None:
        if self.heatmap_protocol not in pipe.protocols:
            raise ValueError(f"params.yaml results.heatmap_protocol = {self.heatmap_protocol!r} has no runs: "
                             f"pipeline.protocols is {pipe.protocols}; set it to one of them")


def smoke_params(scratch_dir: str | Path = "../scratch") -> Params:
    """Tiny offline profile for notebook defaults / nbval: synthetic data under `scratch_dir`, 3 of its views
    (7 view combinations), a narrow 2-block encoder, one epoch of two steps."""
    s = Path(scratch_dir)
    return Params(
        data=DataConfig(dataset="synthetic", raw_dir=str(s / "raw"), windows_dir=str(s / "windows"),
                        views=["left_wrist", "waist", "pose3d"]),
        synthetic=SyntheticConfig(sessions_per_class=1, session_sec=8.0),
        model=ModelConfig(width=8, n_blocks=2, att_hidden=8, n_experts=4, top_k=2, expert_hidden=8),
        train=TrainConfig(cls_batch=8, con_batch=8, max_epochs=1, min_epochs=1, max_steps_per_epoch=2),
        analysis=AnalysisConfig(complexity_views=[2, 3], complexity_batch=8, complexity_batches=[4, 8],
                                complexity_n_views=3, complexity_dim=16, complexity_warmup=1, complexity_repeats=2,
                                sens_experts=[2, 4], sens_top_k=2, sens_top_ks=[1, 2], sens_n_experts=4,
                                conv_classes=2, conv_batch=16),
    )


def smoke_pipeline() -> PipelineConfig:
    """The smoke matrices: two methods, one protocol, two seeds (so std is defined), the variants the analyses read."""
    return PipelineConfig(baselines=["meanfusion"], protocols=["complete"], seeds=[0, 1], baseline_seeds=[0],
                          ablations=["no_contrast", "no_sep_load"], ablation_protocols=["uniform"])


def _resolve(params: Params, base: Path) -> Params:
    """Make data paths absolute relative to the folder of params.yaml (notebooks run in notebooks/)."""
    d = params.data
    fix = {k: str(base / getattr(d, k)) for k in ("raw_dir", "user_dir", "windows_dir")
           if not Path(getattr(d, k)).is_absolute()}
    return dataclasses.replace(params, data=dataclasses.replace(d, **fix))


def stage_sections(params_file: str) -> tuple[PipelineConfig, ResultsConfig]:
    """The `pipeline` and `results` sections of params.yaml ("" = smoke profile)."""
    if not params_file:
        return smoke_pipeline(), ResultsConfig(heatmap_protocol="complete")
    path = Path(params_file)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; pass -p params_file ../params.yaml (relative to notebooks/)")
    raw = read_sections(path)
    pipe = from_dict(PipelineConfig, raw.get("pipeline"), f"{path}:pipeline")
    res = from_dict(ResultsConfig, raw.get("results"), f"{path}:results")
    res.check(pipe)
    return trace_reads(pipe, "pipeline"), trace_reads(res, "results")


def stage_params(params_file: str, scratch_dir: str | Path = "../scratch") -> Params:
    """Params for a stage: `params_file` ("" = the smoke profile under `scratch_dir`), data paths resolved; with
    RALIS_PARAMS_TRACE set, every key the stage reads is recorded (`ralis.reads`)."""
    if not params_file:
        return _resolve(smoke_params(scratch_dir), Path.cwd())
    path = Path(params_file)
    return trace_reads(_resolve(load_params(path), path.resolve().parent))  # reads recorded (ralis.reads)


def sensitivity_point(variant: str) -> tuple[int, int] | None:
    """(E, K) of a Fig. 5 grid variant named "E<e>_K<k>", else None."""
    m = re.fullmatch(r"E(\d+)_K(\d+)", variant)
    return (int(m.group(1)), int(m.group(2))) if m else None


def sensitivity_grid(cfg: AnalysisConfig) -> list[tuple[str, int, int]]:
    """Fig. 5's (sweep, E, K) points: the E sweep ("experts") then the K sweep ("top_k"); K <= E is required."""
    grid = [("experts", e, cfg.sens_top_k) for e in cfg.sens_experts]
    grid += [("top_k", cfg.sens_n_experts, k) for k in cfg.sens_top_ks]
    bad = [(e, k) for _, e, k in grid if not 1 <= k <= e]
    if bad:
        raise ValueError(f"params.yaml analysis: (E, K) points {bad} need 1 <= K <= E; check sens_experts, "
                         f"sens_top_k, sens_n_experts, sens_top_ks")
    return grid


def sensitivity_variants(params: Params) -> list[str]:
    """The Fig. 5 (E, K) grid (`analysis.sens_*`) as variant names; the point of `model` itself is "full"."""
    points = dict.fromkeys((e, k) for _, e, k in sensitivity_grid(params.analysis))
    own = (params.model.n_experts, params.model.top_k)
    return [f"E{e}_K{k}" for e, k in points if (e, k) != own]


def study_variants(params: Params, pipe: PipelineConfig) -> list[str]:
    """Every RALIS variant the study trains: the Table 5 rows ("full" and `ablations`), the variants Figs. 6-7
    compare with "full" (`FIGURE_VARIANTS`: also when `ablations` leaves them out, so that the figures never read
    a run of an earlier setting), and the Fig. 5 grid."""
    return list(dict.fromkeys([*pipe.table5_variants, *FIGURE_VARIANTS, *sensitivity_variants(params)]))


def study_runs(pipe: PipelineConfig, variants: list[str]) -> list[tuple[str, str, str, int]]:
    """Every training of the study as (kind, name, protocol, seed): kind "runs" for the methods x protocols x
    seeds, then "ablations" for `variants` (the study's: `study_variants`) x ablation protocols at seed 0."""
    runs = [("runs", m, p, s) for m in pipe.methods for p in pipe.protocols for s in pipe.method_seeds(m)]
    return runs + [("ablations", v, p, 0) for v in variants for p in pipe.ablation_protocols]


def apply_variant(params: Params, variant: str) -> Params:
    """A variant on top of the paper's ablation defaults: a Table 5 switch, or an (E, K) point "E<e>_K<k>" of
    Fig. 5; "" keeps params.yaml's `ablation` section."""
    if not variant:
        return params
    point = sensitivity_point(variant)
    if point is not None:
        if not 1 <= point[1] <= point[0]:
            raise ValueError(f"variant {variant!r}: top-K must lie in 1..E")
        model = dataclasses.replace(params.model, n_experts=point[0], top_k=point[1])
        return dataclasses.replace(params, model=model, ablation=AblationConfig())
    if variant not in ABLATION_VARIANTS:
        raise ValueError(f"variant {variant!r} is unknown; choose a Table 5 variant {list(ABLATION_VARIANTS)} or "
                         f"an (E, K) point such as 'E8_K3'")
    return dataclasses.replace(params, ablation=AblationConfig(**ABLATION_VARIANTS[variant]))


RUN_KEYS = ("train.method", "train.seed", "missing.protocol")  # what `run_params` sets per run (not params.yaml's)


def run_params(params: Params, method: str, protocol: str, seed: int, variant: str = "") -> Params:
    """One run's params: the `RUN_KEYS` (`train.method`, `train.seed`, `missing.protocol`) set to this run's, and
    the ablation variant applied."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is unknown; choose one of {list(PROTOCOLS)}")
    if variant and method != "ralis":
        raise ValueError(f"ablation variant {variant!r} applies to RALIS only, not to method {method!r}")
    p = dataclasses.replace(params, train=dataclasses.replace(params.train, method=method, seed=int(seed)),
                            missing=dataclasses.replace(params.missing, protocol=protocol))
    return apply_variant(p, variant)


def run_dir(root: str | Path, name: str, protocol: str, seed: int) -> Path:
    """Folder of one run: `{root}/{method or variant}/{protocol}/seed{seed}` (e.g. outputs/runs/ralis/uniform/seed0)."""
    return Path(root) / name / protocol / f"seed{int(seed)}"


def windows_root(params: Params) -> Path:
    return Path(params.data.windows_dir) / params.data.dataset


def dataset_spec(params: Params) -> Any:
    """The `DatasetSpec` of params `data`: a registry entry, or for `user` the one `{data.user_dir}/manifest.yaml`
    describes (checked: a bad manifest raises ValueError naming the key)."""
    from ralis.data.registry import get_dataset

    if params.data.dataset != "user":
        return get_dataset(params.data.dataset)
    from ralis.data.manifest import load_user_manifest
    from ralis.data.user import user_spec

    return user_spec(load_user_manifest(params.data.user_dir), params)


def receipt_path(params: Params) -> Path:
    """The download stage's output: `{raw_dir}/{dataset}.json` (the raw files stay in `{raw_dir}/{dataset}/`)."""
    return Path(params.data.raw_dir) / f"{params.data.dataset}.json"


def write_receipt(params: Params, folder: str | Path) -> dict[str, Any]:
    """Record what the download stage made available: every raw file under `folder` with its size and SHA-256.

    The raw files are git-ignored and not DVC-cached (a 2.5 GiB archive would double on disk); this small JSON
    is the stage's DVC output, so the windowing stage reruns when the raw data change. For the synthetic
    dataset nothing is downloaded (it is simulated in the windowing stage) and the receipt lists no file.
    """
    from ralis.data.download import sha256sum
    from ralis.io import write_json

    spec = dataset_spec(params)
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []  # hidden files (the tracked .gitkeep of data/raw/<dataset>/) are not data
    receipt = {
        "dataset": spec.key, "obtain": spec.obtain, "source": spec.url or "generated", "licence": spec.licence,
        "folder": (spec.root or f"{Path(params.data.raw_dir).name}/{spec.key}") if files else None,
        "files": [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": sha256sum(p)}
                  for p in files],
    }
    write_json(receipt_path(params), receipt)
    return receipt


def ensure_windows(params: Params, create: bool) -> dict[str, Any]:
    """The dataset manifest; with `create` (smoke runs only) run download + windowing first if it is missing."""
    from ralis.data.store import load_manifest

    root = windows_root(params)
    if not (root / "manifest.json").is_file():
        if not create:
            raise FileNotFoundError(f"{root}/manifest.json is missing; run `dvc repro windowing` first")
        from ralis.data.prepare import fetch_dataset, prepare_windows

        write_receipt(params, fetch_dataset(dataset_spec(params), params.data.raw_dir))
        prepare_windows(params, progress=False)
    return load_manifest(root)
