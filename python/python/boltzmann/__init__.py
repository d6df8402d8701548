"""Fast restricted Boltzmann machines for Python.

``boltzmann.BernoulliRBM`` is a drop-in replacement for
``sklearn.neural_network.BernoulliRBM`` (same constructor parameters, fitted
attributes and methods) that trains with the Rust library's kernels, and also
samples (``sample``), scores by exact enumeration or annealed importance
sampling (``log_likelihood``), saves the CLI's model files (``save`` /
``load``) and pickles its whole training state, so that ``partial_fit`` after
unpickling continues exactly.

The native layer is importable as ``boltzmann._native`` (``Rbm``, ``Chains``, ``PackedChains``,
``Trainer``, ``ais``, ``log_partition_exact``).
"""

from ._native import Chains, PackedChains, Rbm, Trainer, ais, isa, log_partition_exact
from ._rbm import BernoulliRBM

__all__ = [
    "BernoulliRBM",
    "Chains",
    "PackedChains",
    "Rbm",
    "Trainer",
    "ais",
    "isa",
    "log_partition_exact",
]
__version__ = "0.1.0"
