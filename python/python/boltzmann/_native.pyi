"""Type stubs of the native module (PyO3)."""

from os import PathLike
from typing import Optional, TypedDict, Union

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

isa: str

class AisResult(TypedDict):
    log_z: float
    log_z_low: float
    log_z_high: float

class EpochReport(TypedDict):
    epoch: int
    updates: int
    learning_rate: float
    seconds: float

class Rbm:
    def __init__(self, weights: F32, visible_bias: F32, hidden_bias: F32) -> None: ...
    @staticmethod
    def random(n_visible: int, n_hidden: int, std: float = 0.01, bias_std: float = 0.0, seed: int = 0) -> Rbm: ...
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> Rbm: ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Rbm: ...
    @property
    def n_visible(self) -> int: ...
    @property
    def n_hidden(self) -> int: ...
    @property
    def weights(self) -> F32: ...
    @property
    def visible_bias(self) -> F32: ...
    @property
    def hidden_bias(self) -> F32: ...
    def hidden_probs(self, v: F32, n_jobs: Optional[int] = None) -> F32: ...
    def visible_probs(self, h: F32, n_jobs: Optional[int] = None) -> F32: ...
    def free_energy(self, v: F32, n_jobs: Optional[int] = None) -> F64: ...

class Chains:
    def __init__(self, rbm: Rbm, n_chains: int, seed: int = 0) -> None: ...
    @staticmethod
    def from_visible(rbm: Rbm, visible: F32, seed: int = 0) -> Chains: ...
    def sweep(self, rbm: Rbm, k: int = 1, n_jobs: Optional[int] = None) -> None: ...
    @property
    def visible(self) -> F32: ...
    @property
    def hidden(self) -> F32: ...
    @property
    def n_chains(self) -> int: ...
    @property
    def sweeps_done(self) -> int: ...

class Trainer:
    def __init__(
        self,
        data: F32,
        *,
        n_hidden: int,
        algorithm_name: str = "pcd",
        k: int = 1,
        n_chains: int = 100,
        learning_rate: float = 0.05,
        final_learning_rate: Optional[float] = None,
        batch_size: int = 100,
        epochs: int = 10,
        optimizer_name: str = "sgd",
        momentum: float = 0.5,
        l2: float = 0.0,
        centering: Optional[float] = None,
        probability_data: bool = False,
        any_real_data: bool = False,
        shuffle: bool = True,
        weight_init_std: float = 0.01,
        visible_bias_from_data: bool = True,
        seed: int = 0,
        n_jobs: Optional[int] = None,
        initial: Optional[Rbm] = None,
    ) -> None: ...
    def run_epoch(self, data: F32, n_jobs: Optional[int] = None) -> EpochReport: ...
    def model(self) -> Rbm: ...
    @property
    def epoch(self) -> int: ...
    def is_done(self) -> bool: ...
    def set_epochs(self, epochs: int) -> None: ...
    def chain_hidden(self) -> F32: ...
    def state_bytes(self) -> bytes: ...
    @staticmethod
    def from_state_bytes(data: bytes) -> Trainer: ...

def ais(
    rbm: Rbm,
    base_data: Optional[F32] = None,
    runs: int = 100,
    steps: Optional[int] = None,
    seed: int = 0,
    n_jobs: Optional[int] = None,
) -> AisResult: ...
def log_partition_exact(rbm: Rbm, n_jobs: Optional[int] = None) -> float: ...
