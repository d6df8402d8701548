"""Fast restricted Boltzmann machines for Python.

``boltzmann.BernoulliRBM`` is a drop-in replacement for
``sklearn.neural_network.BernoulliRBM`` (same constructor parameters, fitted
attributes and methods) that trains with the Rust library's kernels, and also
samples (``sample``), scores by exact enumeration or annealed importance
sampling (``log_likelihood``), saves the CLI's model files (``save`` /
``load``) and pickles its whole training state, so that ``partial_fit`` after
unpickling continues exactly.

Beyond the estimator, the native layer (``boltzmann._native``, re-exported
here) has ``Rbm``, ``Chains``, ``PackedChains``, ``TemperedChains`` (parallel
tempering, f32 or bit-packed), ``Trainer``, ``ais`` and
``log_partition_exact``; deep belief networks (``train_dbn``, ``Dbn``:
features, recognition and ancestral samples, the lower bound on log p(x));
and continuous models (``EnergyModel``: Gaussian, Gaussian mixture,
Gaussian–Bernoulli RBM, the CLI's MLP energies and score networks) sampled by
``LangevinChains`` (unadjusted Langevin, MALA, annealed Langevin). The native
layer reads C-contiguous float32 arrays in place and converts anything else
(other dtypes, nested lists) to float32 once.
"""

from ._native import (
    Chains,
    Dbn,
    EnergyModel,
    LangevinChains,
    PackedChains,
    Rbm,
    TemperedChains,
    Trainer,
    ais,
    isa,
    log_partition_exact,
    train_dbn,
)
from ._rbm import BernoulliRBM

__all__ = [
    "BernoulliRBM",
    "Chains",
    "Dbn",
    "EnergyModel",
    "LangevinChains",
    "PackedChains",
    "Rbm",
    "TemperedChains",
    "Trainer",
    "ais",
    "isa",
    "log_partition_exact",
    "train_dbn",
]
__version__ = "0.1.0"
