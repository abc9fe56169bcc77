"""Paper presets: one switch per dataset that runs the paper's protocol as a DVC experiment.

    python -m ralis.study --list                      # the presets
    python -m ralis.study paper-dailysport --print    # show the `dvc exp run -S ...` command only
    python -m ralis.study paper-dailysport            # run it (in the workspace: the raw data must be there)
    python -m ralis.study paper-realdisp --queue      # queue it; then `dvc exp run --run-all -j 1`

A preset overrides params.yaml's CPU profile with the paper's protocol (§5.1.3, A11, A18): the encoder
and head sizes of Table 2 / VSF (the `ModelConfig` defaults), at least 20 and at most 100 epochs with early
stopping, no step cap, three seeds 0, 1, 2, every method, every protocol the paper reports for the dataset,
and every Table 5 ablation (also under the per-view rates for Table 6).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from ralis.config import AnalysisConfig, AugmentConfig, LossConfig, ModelConfig, TrainConfig, WindowConfig
from ralis.pipeline import ABLATION_VARIANTS
from ralis.zoo import baseline_names

__all__ = ["Preset", "PRESETS", "overrides", "dvc_command", "main", "run_to_the_end"]

PAPER_MAX_EPOCHS = 100  # A11: "cap at about 100-300 epochs"
PAPER_PATIENCE = 30  # A11: VSF early-stopping patience, counted from min_epochs on


@dataclass(frozen=True)
class Preset:
    dataset: str
    protocols: tuple[str, ...]  # Table 3 = complete, Tables 4-5 = uniform, Table 6 = per_view
    ablation_protocols: tuple[str, ...]
    views: tuple[str, ...] | None = None  # data.views (None = all views)
    ablations: tuple[str, ...] = tuple(ABLATION_VARIANTS)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "paper-dailysport": Preset("dailysport", ("complete", "uniform", "per_view"), ("uniform", "per_view")),
    "paper-realdisp": Preset("realdisp", ("complete", "uniform", "per_view"), ("uniform", "per_view")),
    "paper-upfall": Preset("upfall", ("complete", "uniform", "per_view"), ("uniform", "per_view")),
    # §5.2.2: CMDFall's 7 views with their natural gaps (Tables 4-5); no per-view rates (§5.4, not in Table 6).
    "paper-cmdfall": Preset("cmdfall", ("uniform",), ("uniform",),
                            note="Tables 4-5: 7 views, natural missingness (the uniform protocol drops nothing)"),
    # §5.2.1: 1 skeleton + 2 accelerometers, complete samples only (Table 3). The variants the analyses read
    # (Figs. 6-7: -contrast, -sep. load; "full" always) are trained on the same complete samples.
    "paper-cmdfall-3v": Preset("cmdfall", ("complete",), ("complete",), views=("wrist", "waist", "kinect3"),
                               ablations=("no_contrast", "no_sep_load"), extra={"results.heatmap_protocol": "complete"},
                               note="Table 3: wrist + waist + Kinect 3, samples with all 3 views"),
    "paper-synthetic": Preset("synthetic", ("complete", "uniform", "per_view"), ("uniform", "per_view"),
                              note="the paper's training protocol on the offline synthetic data"),
}


def overrides(preset: Preset) -> dict[str, Any]:
    """params.yaml keys -> values of a preset (the paper's values come from the config dataclass defaults)."""
    model, train, window, loss, analysis = ModelConfig(), TrainConfig(), WindowConfig(), LossConfig(), AnalysisConfig()
    out: dict[str, Any] = {"data.dataset": preset.dataset, "data.views": list(preset.views) if preset.views else None}
    out |= {f"model.{k}": v for k, v in dataclasses.asdict(model).items()}
    out |= {f"loss.{k}": v for k, v in dataclasses.asdict(loss).items()}
    out |= {f"augment.{k}": v for k, v in dataclasses.asdict(AugmentConfig()).items()}
    out |= {f"windowing.{k}": getattr(window, k) for k in ("acc_hz", "pose_hz")}
    out |= {f"train.{k}": getattr(train, k) for k in ("lr", "lr_schedule", "warmup_epochs", "weight_decay",
                                                      "cls_batch", "con_batch", "min_epochs", "balanced_sampling")}
    out |= {f"analysis.{k}": v for k, v in dataclasses.asdict(analysis).items()}
    out |= {"train.max_epochs": PAPER_MAX_EPOCHS, "train.patience": PAPER_PATIENCE, "train.max_steps_per_epoch": None}
    out |= {"pipeline.baselines": list(baseline_names()), "pipeline.protocols": list(preset.protocols),
            "pipeline.seeds": [0, 1, 2], "pipeline.baseline_seeds": [0, 1, 2],
            "pipeline.ablations": list(preset.ablations),
            "pipeline.ablation_protocols": list(preset.ablation_protocols)}
    return out | preset.extra


def _yaml_value(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def dvc_command(name: str, queue: bool = False) -> list[str]:
    """`dvc exp run -n <name> -S key=value ...` for a preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cmd = ["dvc", "exp", "run", "-n", name]
    if queue:
        cmd.append("--queue")
    for key, value in overrides(PRESETS[name]).items():
        cmd += ["-S", f"{key}={_yaml_value(value)}"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ralis.study", description=__doc__.split("\n\n")[0])
    ap.add_argument("preset", nargs="?", help="one of: " + ", ".join(PRESETS))
    ap.add_argument("--print", action="store_true", help="only print the dvc command")
    ap.add_argument("--queue", action="store_true", help="queue the experiment (dvc exp run --queue)")
    ap.add_argument("--list", action="store_true", help="list the presets")
    args = ap.parse_args(argv)
    if args.list or not args.preset:
        for name, p in PRESETS.items():
            print(f"{name:18s} {p.dataset:10s} protocols {','.join(p.protocols):26s} {p.note}")
        return 0
    cmd = dvc_command(args.preset, queue=args.queue)
    print(shlex.join(cmd))
    if args.print:
        return 0
    return run_to_the_end(cmd)


def run_to_the_end(cmd: list[str]) -> int:
    """Run `cmd` and wait for it, also after Ctrl-C. The terminal's SIGINT reaches dvc and the stage as well; dvc
    then stops the stage and releases its locks. `subprocess.call` would SIGKILL dvc 0.25 s after the Ctrl-C,
    leaving DVC's locks and an orphaned papermill kernel behind. A second Ctrl-C stops waiting."""
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print(f"[ralis] interrupted: waiting for {cmd[0]} to stop the stage (Ctrl-C again to stop waiting)")
        return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
