"""ralis: reproducible companion to RALIS (arXiv 2602.08755), multiview HAR with arbitrarily missing views.

The library in five names (README "Your own sensors"):

    import ralis
    data = ralis.from_arrays({"acc": x_acc, "gyro": x_gyro}, labels)          # windows [N, T, C] -> splits
    run = ralis.run_experiment(ralis.load_params("params.yaml"), "outputs/my_run", data=data)
    out = ralis.predict("outputs/my_run/checkpoint.pt", {"gyro": x_gyro})      # any subset of the views
"""

from ralis.api import from_arrays, run_experiment
from ralis.config import load_params
from ralis.data.arrays import SplitRule
from ralis.predict import predict  # the function; `python -m ralis.predict` is its command line

__version__ = "0.1.0"
__all__ = ["from_arrays", "run_experiment", "load_params", "SplitRule", "predict", "__version__"]
