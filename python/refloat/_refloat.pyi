"""Type stubs of the extension module `refloat._refloat` (Rust, PyO3). Use the functions of
`refloat` itself: they check arguments, handle `out=` and Awkward Arrays, and return
`refloat.Report` objects where these return JSON text."""

from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str
MODES: List[str]

class Error(ValueError):
    """An error of refloat: the message names what was wrong (argument, index, file, tree, branch)."""

def quantise_f32(x: npt.NDArray[np.float32], bits: int, mode: str) -> None: ...
def quantise_f64(x: npt.NDArray[np.float64], bits: int, mode: str) -> None: ...
def interval_f32(
    stored: npt.NDArray[np.float32], bits: int, mode: str, lo: npt.NDArray[np.float32], hi: npt.NDArray[np.float32]
) -> None: ...
def interval_f64(
    stored: npt.NDArray[np.float64], bits: int, mode: str, lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]
) -> None: ...
def residual_f32(original: npt.NDArray[np.float32], stored: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]: ...
def infer_bits_f32(x: npt.NDArray[np.float32]) -> int: ...
def detect_f32(x: npt.NDArray[np.float32]) -> str: ...
class Resolution:
    """The resolver's decision for a branch (JSON in `json`)."""

    @property
    def json(self) -> str: ...
    def describe(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> "Resolution": ...

def evidence_f32(x: npt.NDArray[np.float32]) -> bytes: ...
def resolve_evidence(
    pieces: List[bytes],
    bits: Optional[int] = None,
    mode: str = "detect",
    format: Optional[str] = None,
    branch: str = "",
    leave_exact: bool = True,
) -> Resolution: ...

def resolve_f32(
    x: npt.NDArray[np.float32],
    bits: Optional[int] = None,
    mode: str = "detect",
    format: Optional[str] = None,
    branch: str = "",
    leave_exact: bool = True,
) -> Resolution: ...
def resolve_file(
    path: str,
    branch: str,
    tree: Optional[str] = None,
    bits: Optional[int] = None,
    mode: str = "detect",
    format: Optional[str] = None,
    leave_exact: bool = True,
) -> Resolution: ...
def correct_f32(
    x: npt.NDArray[np.float32],
    resolution: Resolution,
    method: str,
    seed: int,
    branch: str,
    first_index: int,
    prior: Optional[npt.NDArray[np.float32]] = None,
) -> str: ...
def verify_f32(corrected: npt.NDArray[np.float32], stored: npt.NDArray[np.float32], bits: int, mode: str) -> None: ...
def shift_metrics(original: npt.NDArray[np.float64], other: npt.NDArray[np.float64], bins: int, seed: int) -> str: ...
def inspect(path: str, tree: Optional[str] = None, branches: List[str] = ...) -> str: ...
def compress_file(
    input: str,
    output: str,
    bits: int,
    mode: str,
    tree: Optional[str] = None,
    branches: List[str] = ...,
    compression: Optional[str] = None,
    branch_bits: List[Tuple[str, int]] = ...,
    advice: Optional[str] = None,
    allow_damaged_copies: bool = False,
    threads: int = 0,
) -> str: ...
def run_dataset(inputs: List[str], out_dir: str, keep_going: bool, one: Any) -> str: ...
def run_each(inputs: List[str], dir: Optional[str], keep_going: bool, one: Any) -> str: ...
def analyse_file(
    original: str,
    compressed: str,
    mode: str,
    bits: Optional[int] = None,
    tree: Optional[str] = None,
    branches: List[str] = ...,
) -> str: ...
def advise_file(
    input: str,
    mode: str,
    tree: Optional[str] = None,
    branches: List[str] = ...,
    resolutions: List[Tuple[str, str]] = ...,
    min_bits: int = 4,
    max_bits: int = 23,
    artefact_values: float = 1e6,
    sizes: bool = True,
) -> str: ...
def correct_file(
    input: str,
    output: str,
    method: str,
    seed: int,
    bits: Optional[int] = None,
    mode: Optional[str] = None,
    tree: Optional[str] = None,
    branches: List[str] = ...,
    compression: Optional[str] = None,
    verify: bool = True,
    format: Optional[str] = None,
    leave_exact: bool = True,
    allow_damaged_copies: bool = False,
    threads: int = 0,
) -> str: ...
def verify_file(
    stored: str,
    corrected: str,
    bits: Optional[int] = None,
    mode: Optional[str] = None,
    tree: Optional[str] = None,
    branches: List[str] = ...,
    format: Optional[str] = None,
    leave_exact: bool = True,
) -> str: ...
def dither_stream_seed(seed: int, branch: str) -> int: ...
def replica_f32(
    stored: npt.NDArray[np.float32],
    bits: Optional[int],
    mode: str,
    seed: int,
    replica: int,
    branch: str,
    out: npt.NDArray[np.float32],
) -> None: ...
def branch_spread_f32(
    stored: npt.NDArray[np.float32],
    bits: Optional[int],
    mode: str,
    seed: int,
    branch: str,
    n: int,
    edges: npt.NDArray[np.float64],
) -> str: ...
def replica_seed(seed: int, replica: int) -> int: ...
def has_torch() -> bool: ...

class Model:
    """Only in builds with the torch feature."""

    def __init__(
        self, path: str, bits: Optional[int] = None, mode: Optional[str] = None, variables: Optional[List[str]] = None
    ) -> None: ...
    @property
    def variables(self) -> List[str]: ...
    @property
    def mantissa_bits(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def path(self) -> str: ...
    def meta_json(self) -> str: ...
    def correct(
        self, columns: List[npt.NDArray[np.float32]], offsets: Optional[npt.NDArray[np.int64]] = None
    ) -> Tuple[List[npt.NDArray[np.float32]], str]: ...
    def correct_file(
        self, input: str, output: str, tree: Optional[str] = None, compression: Optional[str] = None, verify: bool = True
    ) -> str: ...
