"""Config dataclasses: every number has one home.

`params.yaml` holds one section per concern; each section maps onto one dataclass below whose defaults
are the paper's values (each field cites its source). `load_params` reads the file and checks it: unknown
sections and keys are refused, and every value is checked against its field's annotation (type, range, enum;
`ralis.schema`), each error naming `params.yaml:section.key` and what is allowed.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml

from ralis.schema import Pattern, Range, build, check_value, unknown_names

__all__ = [
    "DataConfig", "SyntheticConfig", "WindowConfig", "MissingConfig", "AugmentConfig", "ModelConfig",
    "AblationConfig", "LossConfig", "TrainConfig", "EvalConfig", "AnalysisConfig", "Params",
    "load_params", "from_dict", "STAGE_SECTIONS", "DATASETS", "PROTOCOLS", "REDUCTIONS",
    "params_from_sections", "read_sections", "check_top_k",
]

T = TypeVar("T")

# field rules (ralis.schema): ranges and enums that params.yaml values are checked against
PosInt = Annotated[int, Range(ge=1)]
NonNegInt = Annotated[int, Range(ge=0)]
PosFloat = Annotated[float, Range(gt=0)]
NonNegFloat = Annotated[float, Range(ge=0)]
Prob = Annotated[float, Range(ge=0, le=1)]
DropoutP = Annotated[float, Range(ge=0, lt=1)]
OpenProb = Annotated[float, Range(gt=0, lt=1)]
Degrees = Annotated[float, Range(ge=0, le=180)]
Dataset = Literal["synthetic", "dailysport", "realdisp", "upfall", "cmdfall", "user"]  # REGISTRY + user
Protocol = Literal["complete", "uniform", "per_view"]  # [P§5.2.1, §5.2.2, §5.4]
Reduction = Literal["sum", "mean"]  # eq. 4 sum | VSF mean (A3b)
Schedule = Literal["constant", "cosine"]  # learning-rate schedule (ralis.train.lr_factor)
TieRule = Literal["valid_loss", "later", "earlier"]  # checkpoint ties on validation F1 (ralis.train.fit)
LossForm = Literal["looped", "batched"]  # methods.md §4 note 3
Device = Annotated[str, Pattern(r"auto|cpu|mps|cuda(:\d+)?", "'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'")]
Name = Annotated[str, Pattern(r"[a-z][a-z0-9_]*", "a registered name: lower case letters, digits and _")]
Method = Name  # a registered method (ralis.zoo.method_names()), checked by ralis.zoo / ralis.pipeline
Scenario = Annotated[str, Pattern(r"half|all|[1-9][0-9]*", "'half', 'all' or a number of views as a quoted "
                                  "string, e.g. \"1\"")]

DATASETS: tuple[str, ...] = get_args(Dataset)
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
REDUCTIONS: tuple[str, ...] = get_args(Reduction)
STAGE_SECTIONS = ("pipeline", "results")  # params.yaml sections read by ralis.pipeline, not by load_params


@dataclass(frozen=True)
class DataConfig:
    dataset: Dataset = "synthetic"  # registry key: synthetic | dailysport | realdisp | upfall | cmdfall | user
    raw_dir: str = "data/raw"  # where downloads / user-placed raw files live
    user_dir: str = "data/user"  # dataset `user`: a folder with manifest.yaml and the recordings (data/user/README.md)
    windows_dir: str = "data/windows"  # windowed arrays per dataset and split
    views: list[str] | None = None  # subset of view names (None = all views of the dataset)


@dataclass(frozen=True)
class SyntheticConfig:
    n_subjects: PosInt = 12  # project choice: 6 train / 2 valid / 4 test
    sessions_per_class: PosInt = 2  # recordings per (subject, activity)
    session_sec: PosFloat = 24.0  # length of one recording
    seed: NonNegInt = 0  # data seed (independent of the training seed)
    noise_scale: NonNegFloat = 1.0  # scales every view's sensor noise (difficulty; docs/notes/data-synthetic.md)


@dataclass(frozen=True)
class WindowConfig:
    acc_hz: PosFloat = 50.0  # datasets.md "Resampling": accelerometers at 50 Hz
    pose_hz: PosFloat = 20.0  # datasets.md "Resampling": poses at 20 Hz
    window_sec: PosFloat | None = None  # None = dataset default (4 s; DailySport 5 s) [P§5.1.1]
    step_sec: PosFloat | None = None  # None = dataset default (datasets.md "Project decisions")
    shift_max_windows: NonNegInt = 5  # UP-Fall short activities: shifting windows per run [VSF upfall/3_vsf.py]
    shift_min_step_sec: PosFloat = 0.5  # minimum spacing of those shifting windows [VSF]


@dataclass(frozen=True)
class MissingConfig:
    protocol: Protocol = "complete"  # complete | uniform | per_view  [P§5.2.1, §5.2.2, §5.4]
    all_dropped_prob: OpenProb = 1e-3  # P(all views dropped) in the uniform protocol -> p = 10^(-3/V) [P§5.2.2, A1]
    per_view_rates: dict[Dataset, dict[str, Prob]] = field(default_factory=dict)  # Table 6 rates [P§5.4]
    seed: NonNegInt = 0  # mask seed; combined with the split name and the run seed


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True  # training data only [P§5.1.3]
    scale_sigma: NonNegFloat = 0.1  # Um et al. 2017; VSF default (A12)
    warp_sigma: NonNegFloat = 0.2  # Um et al. 2017 (A12)
    warp_knots: PosInt = 4  # Um et al. 2017 (A12)
    acc_rotation_deg: Degrees = 180.0  # 3D rotation of accelerometer triplets, +-deg (A12)
    gyro_rotation_deg: Degrees = 180.0  # gyroscope triplets (project choice: as the accelerometer's, A12)
    mag_rotation_deg: Degrees = 180.0  # magnetometer triplets (project choice: as the accelerometer's, A12)
    unrotated_views: list[str] = field(default_factory=list)  # views kept unrotated / unflipped (fixed mounting)
    pose_z_rotation_deg: Degrees = 180.0  # rotation about z for 3D pose [VSF]
    flip_p: Prob = 0.5  # horizontal flip of 2D pose [VSF]


def check_top_k(cfg: Any, section: str) -> None:
    """The gate keeps K of E experts (Eq. 10): a config's `top_k` must not exceed its `n_experts`."""
    if cfg.top_k > cfg.n_experts:
        raise ValueError(f"params.yaml {section}.top_k = {cfg.top_k} exceeds {section}.n_experts = {cfg.n_experts}; "
                         "the gate keeps K of the E experts, so K <= E")


@dataclass(frozen=True)
class ModelConfig:
    encoder: Name = "resnet1d"  # per-view encoder f^(v): 1D-ResNet [P§5.1.3] (ralis.model.encoder.ENCODERS)
    width: PosInt = 128  # ResNet1D base filters = embedding D [VSF 4-block config]
    kernel_size: PosInt = 9  # [VSF]
    n_blocks: PosInt = 4  # "4 residual blocks" [P§5.1.3]
    dropout: DropoutP = 0.5  # encoder and expert dropout [VSF] (A15)
    shared_encoder: bool = False  # one encoder per view (A14); True shares among views of one modality
    att_hidden: PosInt = 128  # attention MLP hidden size (A15)
    n_experts: PosInt = 16  # E [P Table 2]
    top_k: PosInt = 3  # K [P Table 2]
    expert_hidden: PosInt = 128  # expert MLP hidden size (A15)
    noise_eps: NonNegFloat = 1e-2  # std floor of the noisy gate (Shazeer et al.; fastmoe)

    def __post_init__(self) -> None:
        check_top_k(self, "model")


@dataclass(frozen=True)
class AblationConfig:
    """Table 5 switches: every flag True / full_graph False is the full RALIS model."""

    moe: bool = True  # False = "-MoE": a single MLP head, no gate, no L_LB
    contrast: bool = True  # False = "-contrast": L_AC weight 0
    attention: bool = True  # False = "-attention": mean fusion
    magnorm: bool = True  # False = "-mag. norm"
    ind_view: bool = True  # False = "-ind. view": CE on the fusion only
    sep_load: bool = True  # False = "-sep. load": one balance term over all tokens
    stop_grad: bool = True  # False = "-stop grad": attention input not detached
    full_graph: bool = False  # True = "+full graph": full-graph loss replaces L_AC


@dataclass(frozen=True)
class LossConfig:
    w_cls: NonNegFloat = 1.0  # classification loss weight [P Table 2]
    w_contrast: NonNegFloat = 1.0  # contrastive loss weight [P Table 2]
    w_balance: NonNegFloat = 1e-2  # load balancing loss weight [P Table 2]
    tau: PosFloat = 0.1  # temperature [P Table 2]
    pair_reduction: Reduction = "sum"  # eq. 4 sums both directions; "mean" = VSF infonce_loss (A3b)


@dataclass(frozen=True)
class TrainConfig:
    method: Method = "ralis"  # ralis or a baseline: any name in ralis.zoo.method_names()
    seed: NonNegInt = 0  # A18: seeds 0, 1, 2
    device: Device = "auto"  # auto = CUDA when available, else CPU
    lr: PosFloat = 1e-3  # Adam [P Table 2]
    lr_schedule: Schedule = "constant"  # constant [P Table 2: no schedule] | cosine (linear warm-up, cosine decay to 0)
    warmup_epochs: NonNegFloat = 0.0  # cosine: epochs of linear warm-up from 0 (fractions allowed)
    weight_decay: NonNegFloat = 0.0  # A11 (VSF used 1e-5)
    cls_batch: PosInt = 16  # classification batch size [P Table 2]
    con_batch: PosInt = 16  # contrastive batch size [P Table 2]
    max_epochs: PosInt = 100  # A11
    min_epochs: PosInt = 20  # "at least 20 epochs" [P§5.1.3]
    patience: PosInt | None = None  # early stopping after min_epochs (A11; VSF 30); None = off
    balanced_sampling: bool = False  # A13
    max_steps_per_epoch: PosInt | None = None  # cap for quick profiles; None = full epoch
    max_steps: PosInt | None = None  # budget in optimiser steps (replaces max_epochs; the last epoch may be partial)
    checkpoint_ties: TieRule = "valid_loss"  # equal validation F1: lower validation loss wins (paper silent; dec. 40)


@dataclass(frozen=True)
class EvalConfig:
    batch_size: PosInt = 256  # encode-once evaluation batch
    scenarios: list[Scenario] = field(default_factory=lambda: ["1", "half", "all"])  # [P§5.2]


@dataclass(frozen=True)
class AnalysisConfig:
    """§6 analyses (Figs. 5-8; ralis/analysis, docs/notes/analyses.md). Defaults are the paper's protocol;
    params.yaml holds CPU-profile values. Figs. 5-7 read runs of the study's `train` stage (Table 5 variants and the
    (E, K) grid below), trained with `model` / `loss` / `train` like every other run."""

    complexity_views: list[PosInt] = field(default_factory=lambda: list(range(2, 10)))  # V sweep, RealDisp [P§6.4]
    complexity_batch: PosInt = 64  # N fixed in the V sweep (paper silent; methods.md §4 note 4)
    complexity_batches: list[PosInt] = field(default_factory=lambda: [8, 16, 32, 64, 128, 256])  # N sweep
    complexity_n_views: PosInt = 9  # V fixed in the N sweep: RealDisp's 9 views [P§6.4]
    complexity_dim: PosInt = 128  # embedding width C [P§5.1.3]
    complexity_warmup: NonNegInt = 20  # warm-up iterations [methods.md §4 note 4]
    complexity_repeats: PosInt = 450  # timed consecutive batches, averaged [P§6.4]
    complexity_forms: list[LossForm] = field(default_factory=lambda: ["looped", "batched"])  # methods.md §4 note 3
    sens_experts: list[PosInt] = field(default_factory=lambda: [8, 16, 32])  # E sweep at K = sens_top_k [P§6.1]
    sens_top_k: PosInt = 3  # K fixed in the E sweep [P Table 2]
    sens_top_ks: list[PosInt] = field(default_factory=lambda: [2, 3, 4])  # K sweep at E = sens_n_experts [P§6.1]
    sens_n_experts: PosInt = 16  # E fixed in the K sweep [P Table 2]
    conv_classes: PosInt = 4  # classes whose per-class view weights Fig. 6 draws (the JSON has all)
    conv_batch: Annotated[int, Range(ge=2)] = 64  # batch of the per-epoch validation contrastive loss (negatives)


@dataclass(frozen=True)
class Params:
    data: DataConfig = field(default_factory=DataConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    windowing: WindowConfig = field(default_factory=WindowConfig)
    missing: MissingConfig = field(default_factory=MissingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    # params.yaml `baselines`: {method: {key: value}}; each baseline's config dataclass lives in its own file and is
    # read through ralis.methods.method_settings (tau, loss weights and encoder sizes come from `loss` / `model`)
    baselines: dict[Name, dict[str, Any]] = field(default_factory=dict)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


def from_dict(cls: type[T], values: dict[str, Any] | None, where: str = "params") -> T:
    """Build dataclass `cls` from a mapping, each value checked against its field's annotation (`ralis.schema`);
    unknown keys and bad values raise ValueError naming `where.key` and what is allowed."""
    return build(cls, values, where)


def load_params(path: str | Path = "params.yaml", sections: list[str] | None = None) -> Params:
    """Read and check params.yaml into `Params`. Sections absent from the file keep the paper defaults.

    Top-level keys must be config sections or the stage-only sections `STAGE_SECTIONS` (read by
    `ralis.pipeline.stage_sections`); anything else (a typo such as `trian`) is refused. Each section listed
    in `sections` must exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run from the repository root or pass the path to params.yaml")
    raw = read_sections(path)
    for s in sections or []:
        if s not in raw:
            raise ValueError(f"{path}: section '{s}' is missing")
    return params_from_sections(raw, where=str(path), skip=STAGE_SECTIONS)


def read_sections(path: Path) -> dict[str, Any]:
    """params.yaml as {section: mapping}; a YAML error or an unknown top-level section raises ValueError."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of sections at top level, got {type(raw).__name__}")
    known = [f.name for f in dataclasses.fields(Params)]
    if bad := unknown_names(raw, [*known, *STAGE_SECTIONS]):
        raise ValueError(f"{path}: unknown section(s) {bad}; sections are {known} plus the stage-only "
                         f"{list(STAGE_SECTIONS)}")
    return raw


def params_from_sections(values: dict[str, Any], where: str, skip: tuple[str, ...] = ()) -> Params:
    """`Params` from {section: {key: value}} (params.yaml's shape), every section checked; sections in `skip`
    are ignored, any other unknown section raises ValueError naming `where`."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: params must be a mapping of sections, got {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(Params)}
    if bad := unknown_names(set(values) - set(skip), known):
        raise ValueError(f"{where}: unknown params section(s) {bad}; sections are {list(known)}")
    hints = typing.get_type_hints(Params, include_extras=True)

    def section(k: str, v: Any) -> Any:
        default = known[k].default_factory()
        if dataclasses.is_dataclass(default):
            return from_dict(type(default), v, where=f"{where}:{k}")
        return check_value({} if v is None else v, hints[k], f"{where}:{k}")  # a mapping section (`baselines`)

    return Params(**{k: section(k, v) for k, v in values.items() if k in known})
