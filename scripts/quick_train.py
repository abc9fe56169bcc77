"""Quick single run of one method through ralis.api.run_experiment, with overrides for a fast CPU profile.

Reads params.yaml, overrides the keys given on the command line, and writes the run folder (checkpoint,
train_log, combinations, metrics) to --out. Example (docs/notes/training.md):

    python scripts/quick_train.py --method ralis --windows-dir scratch/training/windows \
        --width 64 --max-epochs 12 --min-epochs 4 --max-steps 40 --out scratch/training/runs/ralis

The quick CPU settings of the README (issue 4 acceptance, about 14 minutes on one core):

    python scripts/quick_train.py --method ralis --windows-dir scratch/training/windows --width 32 \
        --max-epochs 40 --min-epochs 20 --set model.dropout=0.1 --set loss.w_contrast=0.1 --out scratch/i4/e40-s0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
import yaml

from ralis.api import run_experiment
from ralis.config import load_params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--method", required=True)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--windows-dir", default=None, help="default: params data.windows_dir")
    ap.add_argument("--protocol", default="complete", choices=["complete", "uniform", "per_view"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=None, help="model width = attention / expert hidden size")
    ap.add_argument("--max-epochs", type=int, required=True)
    ap.add_argument("--min-epochs", type=int, required=True)
    ap.add_argument("--max-steps", type=int, default=None, help="train.max_steps_per_epoch (default: full epochs)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on a shared CPU)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override one params.yaml value (YAML syntax), e.g. --set ablation.moe=false; repeatable")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    p = load_params(a.params)
    model = p.model if a.width is None else replace(p.model, width=a.width, att_hidden=a.width,
                                                    expert_hidden=a.width)
    p = replace(p, data=replace(p.data, dataset=a.dataset, windows_dir=a.windows_dir or p.data.windows_dir),
                missing=replace(p.missing, protocol=a.protocol), model=model,
                train=replace(p.train, method=a.method, seed=a.seed, device=a.device, max_epochs=a.max_epochs,
                              min_epochs=a.min_epochs, max_steps_per_epoch=a.max_steps))
    for item in a.set:
        key, sep, value = item.partition("=")
        section, _, field = key.partition(".")
        if not sep or not field or not hasattr(p, section) or not hasattr(getattr(p, section), field):
            raise SystemExit(f"--set {item!r}: expected SECTION.KEY=VALUE with a key of params.yaml")
        p = replace(p, **{section: replace(getattr(p, section), **{field: yaml.safe_load(value)})})
    t0 = time.time()
    m = run_experiment(p, a.out, progress=False).metrics
    print(f"{a.method} {a.protocol} seed {a.seed}: test F1 "
          + " ".join(f"{k}={v:.4f}" for k, v in m["test_f1"].items())
          + f"  best epoch {m['best_epoch']} (valid F1 {m['best_valid_f1']:.4f})  {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
