"""Dataset registry: views, classes, subject splits, window defaults and how the raw data is obtained.

Sources: ../shared/spec/datasets.md (cited as [DS§x]) and the paper's Table 1 [P T1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ralis.contract import ViewSpec  # noqa: F401  (a registry entry lists ViewSpecs; re-exported)

__all__ = ["ViewSpec", "DatasetSpec", "REGISTRY", "MODALITY_ALIASES", "get_dataset"]

MODALITY_ALIASES: dict[str, str] = {  # how users may spell a modality -> ViewSpec.modality (augment.MODALITIES)
    "accelerometer": "acc", "acc": "acc",
    "gyroscope": "gyro", "gyro": "gyro",
    "magnetometer": "mag", "mag": "mag",
    "pose2d": "pose2d", "pose3d": "pose3d", "other": "other",
}


@dataclass(frozen=True)
class DatasetSpec:
    key: str
    title: str
    views: tuple[ViewSpec, ...]
    classes: tuple[str, ...]
    split: dict[str, tuple[int, ...]]  # subject ids per split: train / valid / test
    window_sec: float  # [P§5.1.1]
    step_sec: float | None  # None = one sample per raw segment (DailySport)
    obtain: str  # "download" | "user" | "gated" | "generated" | "files" (your own dataset, ralis.data.user)
    url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    licence: str = ""
    notes: str = ""
    view_rates_table6: dict[str, float] = field(default_factory=dict)  # [P§5.4]
    root: str | None = None  # obtain "files": the folder holding manifest.yaml and the data

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.views)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def view(self, name: str) -> ViewSpec:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(f"dataset '{self.key}' has no view '{name}'; views are {list(self.view_names)}")


def _acc(*names: str) -> tuple[ViewSpec, ...]:
    return tuple(ViewSpec(n, "acc", 3, 50.0) for n in names)


DAILYSPORT = DatasetSpec(
    key="dailysport",
    title="Daily and Sports Activities (UCI 256)",
    views=_acc("torso", "right_arm", "left_arm", "right_leg", "left_leg"),  # [DS§1.2]
    classes=(
        "sitting", "standing", "lying_on_back", "lying_on_right_side", "ascending_stairs",
        "descending_stairs", "standing_in_elevator", "moving_in_elevator", "walking_parking_lot",
        "treadmill_4kmh_flat", "treadmill_4kmh_incline", "running_treadmill_8kmh", "stepper",
        "cross_trainer", "cycling_horizontal", "cycling_vertical", "rowing", "jumping", "basketball",
    ),
    split={"train": (1, 2, 3), "valid": (4, 5), "test": (6, 7, 8)},  # project decision (A17)
    window_sec=5.0,  # raw 5-s segments [P§5.1.1]
    step_sec=None,
    obtain="download",
    url="https://archive.ics.uci.edu/static/public/256/daily+and+sports+activities.zip",
    sha256="f42ad7744ecf14151c9fa3a86dfb5b24de9d7cb7ffe956ef5de242983459c77e",
    size_bytes=170_800_010,
    licence="CC BY 4.0",
    view_rates_table6={"torso": 0.64, "right_arm": 0.62, "left_arm": 0.77, "right_leg": 0.24, "left_leg": 0.61},
)

REALDISP = DatasetSpec(
    key="realdisp",
    title="REALDISP Activity Recognition (UCI 305), ideal placement",
    views=_acc("RLA", "RUA", "back", "LUA", "LLA", "RC", "RT", "LT", "LC"),  # [DS§2.2]
    classes=(
        "walking", "jogging", "running", "jump_up", "jump_front_back", "jump_sideways",
        "jump_leg_arms_open_closed", "jump_rope", "trunk_twist_arms_outstretched", "trunk_twist_elbows_bent",
        "waist_bends_forward", "waist_rotation", "waist_bends_opposite_hand", "reach_heels_backwards",
        "lateral_bend", "lateral_bend_arm_up", "repetitive_forward_stretching", "upper_lower_opposite_twist",
        "lateral_elevation_arms", "frontal_elevation_arms", "frontal_hand_claps", "frontal_crossing_arms",
        "shoulders_high_amplitude_rotation", "shoulders_low_amplitude_rotation", "arms_inner_rotation",
        "knees_to_breast", "heels_to_backside", "knees_bending_crouching", "knees_bending_forward",
        "rotation_on_knees", "rowing", "elliptical_bike", "cycling",
    ),
    split={"train": (1, 3, 7, 9, 11, 13, 17), "valid": (5, 10, 15), "test": (2, 4, 6, 8, 12, 14, 16)},
    window_sec=4.0,
    step_sec=2.0,
    obtain="download",
    url="https://archive.ics.uci.edu/static/public/305/realdisp+activity+recognition+dataset.zip",
    sha256=None,  # not published: computed and recorded on first download [DS§2.1]
    size_bytes=2_671_716_334,
    licence="CC BY 4.0 (UCI; unverified)",
    view_rates_table6={"RLA": 0.50, "RUA": 0.54, "back": 0.51, "LUA": 0.78, "LLA": 0.57,
                       "RC": 0.54, "RT": 0.37, "LT": 0.53, "LC": 0.48},
)

UPFALL = DatasetSpec(
    key="upfall",
    title="UP-Fall Detection (HAR-UP)",
    views=_acc("ankle", "belt", "neck", "wrist") + (ViewSpec("pose2d", "pose2d", 18, 20.0),),  # [DS§3.2-3.3]
    classes=(
        "fall_forward_hands", "fall_forward_knees", "fall_backwards", "fall_sideward", "fall_sitting_chair",
        "walking", "standing", "sitting", "picking_up", "jumping", "laying",
    ),
    split={"train": (1, 3, 7, 9, 11, 13, 17), "valid": (5, 10, 15), "test": (2, 4, 6, 8, 12, 14, 16)},
    window_sec=4.0,
    step_sec=2.0,
    obtain="user",
    url="https://sites.google.com/up.edu.mx/har-up/",
    licence="cite Martinez-Villasenor et al. 2019; (c) Universidad Panamericana; no explicit licence",
    notes="per-trial sensor CSVs + user-extracted OpenPose BODY_25 JSON (Camera2)",
    view_rates_table6={"ankle": 0.49, "belt": 0.34, "neck": 0.24, "wrist": 0.63, "pose2d": 0.69},
)

CMDFALL = DatasetSpec(
    key="cmdfall",
    title="CMDFall (MICA)",
    views=_acc("wrist", "waist") + tuple(ViewSpec(f"kinect{k}", "pose3d", 60, 20.0) for k in range(1, 6)),
    classes=(
        "walk", "run_slowly", "static_jump", "move_hand_and_leg", "left_hand_pick_up", "right_hand_pick_up",
        "stagger", "front_fall", "back_fall", "left_fall", "right_fall", "crawl", "sit_on_chair_then_stand_up",
        "move_chair", "sit_on_chair_then_fall_left", "sit_on_chair_then_fall_right", "sit_on_bed_and_stand_up",
        "lie_on_bed_and_sit_up", "lie_on_bed_and_fall_left", "lie_on_bed_and_fall_right",
    ),
    split={
        "train": tuple(range(1, 51, 2)),
        "valid": (10, 20, 30, 40, 50),
        "test": tuple(s for s in range(2, 51, 2) if s % 10),
    },
    window_sec=4.0,
    step_sec=0.4,
    obtain="gated",
    url="https://www.mica.edu.vn/perso/Tran-Thi-Thanh-Hai/CMDFALL.html",
    licence="research only, on e-mail request to MICA; not redistributable",
)

SYNTHETIC = DatasetSpec(
    key="synthetic",
    title="Synthetic multiview body simulation (offline default)",
    views=_acc("left_wrist", "right_wrist", "waist", "left_ankle", "right_ankle")
    + (ViewSpec("pose3d", "pose3d", 27, 20.0),),
    classes=("stand", "recline", "lie", "wave_left", "wave_right", "wave_both", "march", "leg_raise", "jog",
             "squat"),  # = ralis.data.synthetic.SYNTHETIC_CLASSES (checked by tests/test_synthetic.py)
    split={"train": (1, 2, 3, 4, 5, 6), "valid": (7, 8), "test": (9, 10, 11, 12)},
    window_sec=4.0,
    step_sec=2.0,
    obtain="generated",
    licence="generated locally (MIT, like the code)",
    notes="stick-figure simulation; which views carry each class: ralis.data.synthetic.CLASS_VIEWS",
    # project choice, same spread as the paper's Table 6 rates (0.24-0.78)
    view_rates_table6={"left_wrist": 0.55, "right_wrist": 0.35, "waist": 0.65, "left_ankle": 0.45,
                       "right_ankle": 0.30, "pose3d": 0.60},
)

REGISTRY: dict[str, DatasetSpec] = {d.key: d for d in (DAILYSPORT, REALDISP, UPFALL, CMDFALL, SYNTHETIC)}


def get_dataset(key: str) -> DatasetSpec:
    """Look up a dataset by its params key (`data.dataset`)."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValueError(f"params.yaml data.dataset = {key!r} is unknown; choose one of {sorted(REGISTRY)}") from None
