"""The `ralis` command: one entry point for what the package does from a shell.

    ralis info                          versions, torch build, the device training would use, the registries
    ralis study paper-dailysport ...    the paper's protocol for one dataset (python -m ralis.study)
    ralis predict CKPT INPUT... --out   labels and probabilities from a checkpoint (python -m ralis.predict)
    ralis train [--params P] ...        the default study's `train` stage alone (python -m ralis.runner)

Each subcommand hands its arguments to that module's own `main`, so `ralis <cmd> --help` is that module's help.
"""

from __future__ import annotations

import importlib
import platform
import sys
from collections.abc import Sequence

__all__ = ["main", "info"]

COMMANDS = {"study": "ralis.study", "predict": "ralis.predict", "train": "ralis.runner"}


def info() -> dict[str, str]:
    """What this installation is: ralis, Python and torch versions, torch's build, the device, the registries."""
    import torch

    import ralis
    from ralis.data.registry import REGISTRY
    from ralis.model.encoder import ENCODERS
    from ralis.runtime import pick_device
    from ralis.zoo import method_names

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
    return {"ralis": ralis.__version__, "python": platform.python_version(),
            "torch": f"{torch.__version__} ({build} build)", "cuda usable": str(torch.cuda.is_available()),
            "device (train.device: auto)": str(pick_device("auto")), "threads": str(torch.get_num_threads()),
            "methods": ", ".join(method_names()), "encoders": ", ".join(ENCODERS),
            "datasets": ", ".join([*REGISTRY, "user"])}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: ralis {info,study,predict,train} [arguments]  (ralis <command> --help)"
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[0] + "\n\n" + usage)
        return 0
    command, rest = args[0], args[1:]
    if command == "info":
        for key, value in info().items():
            print(f"{key:28} {value}")
        return 0
    if command not in COMMANDS:
        print(f"ralis: unknown command {command!r}; {usage}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command]).main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
