"""refloat: reproduce, measure and undo the mantissa rounding of analysis files.

ATLAS PHYSLITE, CMS NanoAOD and ROOT's ``Float16_t`` store ``float`` values with only ``n``
of the 23 explicit mantissa bits kept. Each stored value ``q`` then stands for an exact
interval of originals: every ``x`` in ``interval(q)`` rounds to ``q``. refloat

* reproduces each producer's rounding bit for bit (:func:`quantise`),
* gives the intervals, exact residuals, the kept bits and the scheme of stored values
  (:func:`interval`, :func:`residual`, :func:`infer_bits`, :func:`detect`),
* corrects stored values inside their intervals (:func:`correct`): ``midpoint``, ``dither``
  and ``prior-mean``. **Every corrected value re-quantises to its stored value, bit for
  bit**, and values exact by nature (0, ±1, sentinels) are left alone,
* measures how far a distribution moved (:func:`shift_metrics`),
* reads and rewrites whole ROOT files (:func:`inspect`, :func:`compress_file`,
  :func:`correct_file`, :func:`verify_file`).

Arrays are numpy arrays (``float32``; :func:`quantise` and :func:`interval` also take
``float64``) or Awkward Arrays of any depth (jagged branches as uproot reads them), which
come back with the same structure. Values are in the branch's own units (MeV for ATLAS
momenta, GeV for CMS); refloat never rescales them. The work runs in Rust with the GIL
released, on all cores for large arrays. Errors are :class:`Error` (a ``ValueError``) with
the library's message.

Rounding modes (``mode=``): ``nearest`` (ATLAS ``CxxUtils::FloatCompressor``), ``truncate``
(RNTuple ``Real32Trunc``), ``nearest-even``, ``cms`` (NanoAOD), ``root-float16``
(``Float16_t``), ``bitround`` (netCDF).

>>> import numpy as np, refloat
>>> refloat.quantise(np.float32([1.2345]), bits=10)
array([1.234375], dtype=float32)
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

try:
    from . import _refloat
except ImportError as e:  # a build with the torch feature links libtorch from the torch wheel
    if "libtorch" not in str(e) and "libc10" not in str(e):
        raise
    import torch  # noqa: F401  (loads libtorch into the process)
    from . import _refloat
from ._refloat import MODES, Error, __version__

__all__ = [
    "Error",
    "MODES",
    "METHODS",
    "Report",
    "__version__",
    "advise_file",
    "analyse_file",
    "quantise",
    "interval",
    "residual",
    "infer_bits",
    "detect",
    "correct",
    "resolve",
    "resolve_file",
    "Resolution",
    "verify",
    "shift_metrics",
    "dither_stream_seed",
    "replica_seed",
    "replica",
    "replicas",
    "histogram_spread",
    "inspect",
    "compress_file",
    "compress_files",
    "correct_file",
    "correct_files",
    "correct_events",
    "inspect_files",
    "verify_files",
    "analyse_files",
    "verify_file",
    "has_torch",
]

#: The correction methods of :func:`correct` and :func:`correct_file`.
METHODS = ("midpoint", "dither", "prior-mean")

PathLike = Union[str, "os.PathLike[str]"]


class Report:
    """A report from the library: fields as attributes (``report.branches[0].mantissa_bits``)
    and as keys (``report["branches"]``); :meth:`to_dict` gives plain dicts and lists (for
    ``json.dump``)."""

    def __init__(self, fields: Optional[dict] = None, **more: Any):
        self.__dict__.update(fields or {})
        self.__dict__.update(more)

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __iter__(self):
        return iter(self.__dict__)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Report) and self.to_dict() == other.to_dict()

    def keys(self):
        return self.__dict__.keys()

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def to_dict(self) -> dict:
        def plain(v):
            if isinstance(v, Report):
                return v.to_dict()
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        return {k: plain(v) for k, v in self.__dict__.items()}

    def __repr__(self) -> str:
        return "Report(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


def _report(text: str) -> Report:
    return json.loads(text, object_hook=Report)


def has_torch() -> bool:
    """Whether this build has the learned models (``refloat.Model``, cargo feature ``torch``)."""
    return _refloat.has_torch()


# ---------------------------------------------------------------------------------------
# arguments


def _bits(bits: Any, name: str = "bits", maximum: int = 23) -> int:
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, (int, np.integer)):
        raise Error(f"{name} must be an integer number of kept mantissa bits (0..={maximum}), got {bits!r}")
    if not 0 <= int(bits) <= maximum:
        raise Error(
            f"mantissa bits {int(bits)} out of range: "
            f"{'f32' if maximum == 23 else 'f64'} keeps 0..={maximum} explicit mantissa bits"
        )
    return int(bits)


def _mode(mode: Any) -> str:
    if not isinstance(mode, str):
        raise Error(f"mode must be a string ({', '.join(MODES)}), got {mode!r}")
    return mode


def _method(method: Any) -> str:
    if not isinstance(method, str):
        raise Error(f"method must be a string ({', '.join(METHODS)}), got {method!r}")
    return method.replace("_", "-")


def _seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise Error(f"seed must be an integer in 0..2**64, got {seed!r}")
    return int(seed)


def _threads(threads: Any) -> int:
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)) or not 0 <= int(threads) < 2**16:
        raise Error(f"threads must be an integer in 0..65536 (0: every core), got {threads!r}")
    return int(threads)


def _branches(branches: Union[None, str, Sequence[str]]) -> list:
    if branches is None:
        return []
    if isinstance(branches, str):
        return [branches]
    return [str(b) for b in branches]


# ---------------------------------------------------------------------------------------
# arrays: numpy and Awkward


def _is_awkward(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "awkward"


def _numpy(x: Any, name: str, dtypes: tuple, what: str) -> np.ndarray:
    """``x`` as a C-contiguous numpy array of one of ``dtypes``, or :class:`Error`."""
    if isinstance(x, np.ndarray):
        arr = x
    elif isinstance(x, (list, tuple, float, int, np.floating, np.integer)):
        arr = np.asarray(x)
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64)
    else:
        try:
            arr = np.asarray(x)
        except Exception as e:  # noqa: BLE001 - any conversion failure is the caller's type
            raise Error(f"{what}: {name} must be a numpy or Awkward array, got {type(x).__name__}") from e
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") in dtypes:
        arr = _native(arr)
    if arr.dtype not in dtypes:
        want = " or ".join(np.dtype(d).name for d in dtypes)
        raise Error(
            f"{what}: {name} has dtype {arr.dtype.name}; refloat needs {want}"
            + (" (ROOT stored these values as float: convert with .astype(np.float32))" if np.float32 in dtypes else "")
        )
    # C-contiguous and aligned (arrays rebuilt from byte buffers, e.g. by Dask, may not be)
    return np.require(arr, requirements="CA")


def _native(arr: np.ndarray) -> np.ndarray:
    """``arr`` in the machine's byte order (uproot can hand out big-endian ``>f4`` arrays)."""
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != np.dtype(arr.dtype.type).byteorder:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _path(p: Any) -> str:
    """A path as refloat takes it: ``str``, ``bytes`` or ``os.PathLike``."""
    try:
        return os.fsdecode(os.fspath(p))
    except TypeError:
        raise Error(f"path must be a str, bytes or os.PathLike, got {type(p).__name__}") from None


def _typetracer(x: Any) -> bool:
    import awkward as ak

    return ak.backend(x) == "typetracer"


def _map_leaves(array: Any, fn, what: str, dtypes: tuple = (np.float32,)):
    """Apply ``fn(values) -> new values`` to each leaf buffer of ``dtypes`` of an Awkward
    Array, after packing it (so that a leaf's buffer holds exactly its values, in order),
    and rebuild the array with the same structure. Returns ``(array, number of leaves)``."""
    import awkward as ak

    if _typetracer(array):  # dask-awkward's type pass: same type out; the values are needed
        ak.typetracer.touch_data(array)
        return array, 1
    packed = ak.to_packed(array)
    count = [0]

    def action(layout, **kwargs):
        if layout.is_numpy:
            if layout.data.dtype in dtypes:
                count[0] += 1
                return ak.contents.NumpyArray(fn(np.asarray(layout.data)), parameters=layout.parameters)
            return layout
        return None

    out = ak.transform(action, packed)
    if count[0] == 0:
        want = " or ".join(np.dtype(d).name for d in dtypes)
        raise Error(f"{what}: the Awkward Array (type {ak.type(array)}) has no {want} values")
    return out, count[0]


def _flat(x: Any, name: str, dtypes: tuple, what: str) -> np.ndarray:
    """All values of ``x`` (numpy or Awkward, any depth) as one flat contiguous array."""
    if _is_awkward(x):
        import awkward as ak

        x = ak.to_numpy(ak.flatten(x, axis=None))
    return _numpy(x, name, dtypes, what).reshape(-1)


def _scalar_back(original: Any, result: np.ndarray):
    return result[()] if np.ndim(original) == 0 and not isinstance(original, np.ndarray) else result


def _target(arr: np.ndarray, out: Optional[np.ndarray], what: str) -> np.ndarray:
    """The array to write: ``out`` (checked, filled with ``arr`` unless it is ``arr``) or a copy."""
    if out is None:
        return arr.copy()
    if not isinstance(out, np.ndarray):
        raise Error(f"{what}: out must be a numpy array, got {type(out).__name__}")
    if out.dtype != arr.dtype or out.shape != arr.shape:
        raise Error(f"{what}: out has dtype {out.dtype.name} and shape {out.shape}; needs {arr.dtype.name} and {arr.shape}")
    if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
        raise Error(f"{what}: out must be a writeable, aligned, C-contiguous array")
    if out is not arr:
        np.copyto(out, arr)
    return out


# ---------------------------------------------------------------------------------------
# the numeric core


def quantise(x: Any, bits: int, mode: str = "nearest", *, out: Optional[np.ndarray] = None):
    """Round ``x`` to ``bits`` kept mantissa bits, as the producer of ``mode`` did.

    Bit for bit what ATLAS (``mode="nearest"``, ``CxxUtils::FloatCompressor``), CMS NanoAOD
    (``"cms"``), ROOT ``Float16_t`` (``"root-float16"``), RNTuple ``Real32Trunc``
    (``"truncate"``) or netCDF BitRound (``"bitround"``) write. NaN and ±Inf are left as they
    are (except under ``bitround``, which rounds NaN payloads like any pattern).

    Parameters
    ----------
    x : numpy array (float32 or float64), Awkward Array, or a number
    bits : kept explicit mantissa bits, 0..=23 for float32 (0..=52 for float64); 23 keeps
        float32 values unchanged
    mode : the producer's rounding rule (:data:`MODES`)
    out : numpy array to write into; ``out=x`` rounds ``x`` in place without a copy.

    Returns
    -------
    The rounded values, with ``x``'s dtype and structure (``out`` if given).
    """
    mode = _mode(mode)
    if _is_awkward(x):
        if out is not None:
            raise Error("quantise: out= is for numpy arrays; an Awkward Array comes back as a new array")

        # each leaf buffer as a numpy array (a new one: the leaf is left as it was)
        return _map_leaves(x, lambda v: quantise(v, bits, mode), "quantise", (np.float32, np.float64))[0]
    arr = _numpy(x, "x", (np.float32, np.float64), "quantise")
    single = arr.dtype == np.float32
    b = _bits(bits, maximum=23 if single else 52)
    target = _target(arr, out, "quantise")
    (_refloat.quantise_f32 if single else _refloat.quantise_f64)(target, b, mode)
    return _scalar_back(x, target)


def interval(stored: Any, bits: int, mode: str = "nearest"):
    """The exact interval of originals of each stored value: ``(lo, hi)``, both ends
    included, ``lo <= stored <= hi``; every ``x`` with ``lo <= x <= hi`` (and only those)
    rounds to ``stored`` under ``(bits, mode)``.

    Raises :class:`Error` naming the first value that cannot have been stored with
    ``(bits, mode)`` (its dropped mantissa bits are not zero), or NaN/±Inf.
    Returns two arrays with ``stored``'s dtype and structure.
    """
    mode = _mode(mode)

    def run(v):
        lo, hi = np.empty_like(v), np.empty_like(v)
        if v.dtype == np.float32:
            _refloat.interval_f32(v, _bits(bits), mode, lo, hi)
        else:
            _refloat.interval_f64(v, _bits(bits, maximum=52), mode, lo, hi)
        return lo, hi

    if _is_awkward(stored):
        # one interval computation per leaf: the lower ends are rebuilt in the first pass,
        # the upper ends kept and rebuilt, in the same leaf order, in the second
        dt, his = (np.float32, np.float64), []

        def lower(v):
            lo, hi = run(v)
            his.append(hi)
            return lo

        lo = _map_leaves(stored, lower, "interval", dt)[0]
        pending = iter(his)
        return lo, _map_leaves(stored, lambda v: next(pending), "interval", dt)[0]
    arr = _numpy(stored, "stored", (np.float32, np.float64), "interval")
    lo, hi = run(arr)
    return _scalar_back(stored, lo), _scalar_back(stored, hi)


def residual(original: Any, stored: Any) -> Any:
    """Exact residuals ``original − stored`` as float64 (the subtraction of two float32
    values within a factor of two is exact in float64). ``stored`` may also be corrected
    values. Same length (and, for Awkward Arrays, the same structure) is required; NaN and
    ±Inf are an :class:`Error`."""
    if _is_awkward(original) or _is_awkward(stored):
        import awkward as ak

        a, b = ak.Array(original), ak.Array(stored)
        same = len(a) == len(b) and a.ndim == b.ndim
        for axis in range(1, a.ndim if same else 0):
            try:
                same = bool(ak.all(ak.num(a, axis=axis) == ak.num(b, axis=axis)))
            except ValueError:
                same = False
            if not same:
                break
        if not same:
            raise Error(f"residual: original ({ak.type(a)}) and stored ({ak.type(b)}) have different structures")
        r = _refloat.residual_f32(
            _flat(a, "original", (np.float32,), "residual"), _flat(b, "stored", (np.float32,), "residual")
        )
        pieces = iter([r])
        try:
            return _map_leaves(a, lambda v: next(pieces), "residual")[0]
        except StopIteration:
            raise Error("residual: give Awkward Arrays with one float32 field (one branch)") from None
    o = _numpy(original, "original", (np.float32,), "residual")
    s = _numpy(stored, "stored", (np.float32,), "residual")
    if o.shape != s.shape:
        raise Error(f"residual: length mismatch: original vs stored ({o.shape} vs {s.shape})")
    return _refloat.residual_f32(o, s).reshape(o.shape)


def infer_bits(x: Any) -> int:
    """The kept mantissa bits of stored float32 values: the smallest ``n`` at which every
    finite value is a stored value (23 − the trailing zero mantissa bits common to all).
    Pass a whole branch: a few values can share extra zero bits by chance and give too small
    an ``n``. :class:`Error` if no finite value has a
    non-zero mantissa (all zeros, powers of two)."""
    return _refloat.infer_bits_f32(_flat(x, "x", (np.float32,), "infer_bits"))


def detect(x: Any) -> Report:
    """What stored float32 values say about how they were rounded.

    Returns a :class:`Report` with ``bits`` (kept bits of the largest cluster, ``None`` when
    any count fits), ``bit_clusters`` (each precision a branch mixes, e.g. NanoAOD's
    per-object precisions), ``mode`` (the scheme whose posterior reaches 0.95 on at least
    100 informative values; ``None``: the values cannot tell), ``posterior`` (pairs of
    scheme and probability) and ``evidence_values``."""
    r = _report(_refloat.detect_f32(_flat(x, "x", (np.float32,), "detect")))
    r["posterior"] = [tuple(p) for p in r["posterior"]]
    return r


class Resolution(Report):
    """How a branch was rounded and what in it is exact: the decision of refloat's one
    resolver, the same for every front door (the ``refloat`` command, C, C++, ROOT, Python).

    Fields: ``bits`` (kept bits it is corrected at; ``None``: left as stored, ``note`` says
    why), ``bits_source`` (``detected``, ``declared``: the producer's declared precision,
    above what the values show, ``tree``: the ATLAS stream's level, ``given``), ``mode`` and
    ``mode_source`` (``detected``, ``format``: the producer's, ``given``), ``per_value`` (the
    precisions of a branch shown to mix them), ``spikes`` (values far more frequent than
    their neighbouring codes, left alone), ``lattice`` (a power-of-two step whose values are
    left alone), ``apparent_bits``, ``evidence_values``, ``declared``, ``values``, ``note``.
    Pass it to :func:`correct` (``resolution=``) to correct pieces of the branch (events,
    chunks) exactly as the whole branch is corrected."""

    def __init__(self, handle: Any):
        super().__init__(json.loads(handle.json, object_hook=Report))
        self.__dict__["_handle"] = handle

    def describe(self) -> str:
        """One line: bits and where they came from, scheme, spikes, lattice, notes."""
        return self._handle.describe()

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("_handle", None)
        return d

    def __repr__(self) -> str:
        return f"Resolution({self.describe()})"


def _format(format: Optional[str]) -> Optional[str]:
    if format is not None and not isinstance(format, str):
        raise Error(f"format must be 'atlas', 'cms' or 'unknown', got {format!r}")
    return format


def resolve(
    values: Any,
    bits: Optional[int] = None,
    mode: str = "detect",
    *,
    format: Optional[str] = None,
    branch: str = "",
    leave_exact: bool = True,
) -> Resolution:
    """Resolve a branch from its stored float32 values (pass the whole branch: its kept bits,
    spikes and lattice come from its statistics). ``format`` (``"atlas"``, ``"cms"``,
    ``"unknown"``) sets the producer whose defaults apply: its scheme where the values cannot
    tell it, and (``cms``) the declared precision of ``branch``. See :class:`Resolution`."""
    v = _flat(values, "values", (np.float32,), "resolve")
    b = None if bits is None else _bits(bits)
    return Resolution(
        _refloat.resolve_f32(v, b, _mode(mode), _format(format), str(branch), bool(leave_exact))
    )


def resolve_file(
    path: PathLike,
    branch: str,
    *,
    tree: Optional[str] = None,
    bits: Optional[int] = None,
    mode: str = "detect",
    format: Optional[str] = None,
    leave_exact: bool = True,
) -> Resolution:
    """Resolve branch ``branch`` of the ROOT file ``path`` as ``refloat correct`` does (one
    pass over it; the format from the tree: ``CollectionTree`` is ATLAS's, ``Events`` CMS's).
    Use it with :func:`correct` (``resolution=``) on the branch's events, e.g. as uproot
    iterates them, for the file pipeline's bits."""
    b = None if bits is None else _bits(bits)
    return Resolution(
        _refloat.resolve_file(_path(path), str(branch), tree, b, _mode(mode), _format(format), bool(leave_exact))
    )


def correct(
    stored: Any,
    bits: Optional[int] = None,
    mode: str = "detect",
    method: str = "midpoint",
    *,
    seed: int = 0,
    branch: str = "",
    first_index: int = 0,
    prior: Any = None,
    leave_exact: bool = True,
    format: Optional[str] = None,
    resolution: Optional[Resolution] = None,
    out: Optional[np.ndarray] = None,
    report: bool = False,
):
    """Replace each stored float32 value by an estimate of its original inside its interval.

    **Invariant:** ``quantise(correct(q), bits, mode) == q``, bit for bit, at the precision
    the resolver gives the branch. Values exact by nature are left alone: ±0, ±1 and other
    short mantissas, the conventional sentinels (−999, …), and the branch's spikes and
    lattice; so are NaN/±Inf.

    How the values were rounded is resolved by refloat's one resolver (:func:`resolve`, the
    same as every other front door): from ``stored`` itself (pass a whole branch), or from
    ``resolution=`` (e.g. :func:`resolve_file` of the branch, to correct it event by event
    as the file pipeline corrects it). ``bits`` and ``mode`` given override what the values
    show; ``mode="detect"`` (default) takes the scheme the values show, else the
    ``format``'s producer's (``"cms"`` for NanoAOD, ATLAS's ``nearest`` otherwise, with a
    warning when no format is given). A branch whose bits cannot be told is returned
    unchanged (the report's ``note`` says why).

    Parameters
    ----------
    stored : float32 numpy array (any byte order) or Awkward Array (any depth; same
        structure back)
    bits, mode, format, leave_exact : what to tell the resolver (see :func:`resolve`)
    method : ``midpoint`` (centre of the interval: mean squared error / 4 for truncated
        data), ``dither`` (uniform in the interval: restores smooth distributions), or
        ``prior-mean`` (conditional mean under the branch's own density)
    seed, branch, first_index : dither's draws, under refloat's one seeding rule: value
        ``i`` uses ``(seed mixed with branch, first_index + i)``, where ``first_index`` is
        the index of the first value among all values of the branch (entries flattened).
        ``branch`` also names the branch whose declared precision applies (``format="cms"``).
    prior : stored values to estimate prior-mean's density from (default: ``stored``
        itself); pass the whole branch when correcting it in chunks
    resolution : a :class:`Resolution` to correct under (then ``bits``, ``mode``,
        ``format`` and ``leave_exact`` are the resolution's)
    out : numpy array to write into; ``out=stored`` corrects in place without a copy
    report : also return a :class:`Report` (``corrected``, ``left_exact`` and its ``exact``
        breakdown per rule, ``non_finite``, ``mantissa_bits``, ``mode``, ``mode_source``,
        ``bits_source``, ``note``, ``resolution``)

    Raises :class:`Error` naming the first value that is not a stored value under the
    resolution, a wrong dtype, or bits out of range.
    """
    mode, method, seed = _mode(mode), _method(method), _seed(seed)
    if method not in METHODS:
        raise Error(f"unknown correction method '{method}' (expected {', '.join(METHODS)})")
    if not isinstance(first_index, (int, np.integer)) or first_index < 0:
        raise Error(f"first_index must be a non-negative integer, got {first_index!r}")
    if resolution is not None and not isinstance(resolution, Resolution):
        raise Error(f"resolution must be a refloat.Resolution (refloat.resolve or resolve_file), got {type(resolution).__name__}")
    prior_arr = None if prior is None else _flat(prior, "prior", (np.float32,), "correct")
    if bits is not None:
        bits = _bits(bits)
    format = _format(format)
    reports = []

    def run(target: np.ndarray) -> np.ndarray:
        r = resolution or resolve(target, bits, mode, format=format, branch=branch, leave_exact=leave_exact)
        if resolution is None and mode == "detect" and format in (None, "", "unknown") and r.mode_source == "format":
            import warnings

            warnings.warn(
                f"refloat.correct: the values cannot tell their rounding scheme; using {r.mode} "
                "(ATLAS's). Give mode= or format='cms' for NanoAOD.",
                stacklevel=3,
            )
        p = prior_arr if prior_arr is not target else None
        rep = _report(_refloat.correct_f32(target, r._handle, method, seed, branch, int(first_index), p))
        rep.mantissa_bits, rep.mode = r.bits, r.mode
        rep.bits_source, rep.mode_source, rep.note = r.bits_source, r.mode_source, r.note
        rep.resolution = r
        reports.append(rep)
        return target

    if _is_awkward(stored):
        if out is not None:
            raise Error("correct: out= is for numpy arrays; an Awkward Array comes back as a new array")
        result, leaves = _map_leaves(stored, lambda v: run(_native(v).copy()), "correct")
        if leaves > 1 and method == "dither":
            raise Error(
                "correct: dither on an Awkward Array with several float32 fields would give them the same draws; "
                "correct one field (one branch) at a time, each with its branch name"
            )
    else:
        arr = _numpy(stored, "stored", (np.float32,), "correct")
        result = _scalar_back(stored, run(_target(arr, out, "correct")))
    if not report:
        return result
    if len(reports) == 1:
        return result, reports[0]
    total = Report(
        corrected=sum(r.corrected for r in reports),
        left_exact=sum(r.left_exact for r in reports),
        non_finite=sum(r.non_finite for r in reports),
        per_field=reports,
    )
    return result, total


def _float_paths(events: Any, prefix: tuple = ()) -> list:
    """The paths (tuples of field names) of the float32 leaves of a record array."""
    import awkward as ak

    out = []
    for f in ak.fields(events):
        sub = events[f]
        if ak.fields(sub):
            out += _float_paths(sub, prefix + (f,))
            continue
        layout = ak.to_layout(sub)
        while hasattr(layout, "content"):
            layout = layout.content
        if getattr(layout, "dtype", None) == np.float32:
            out.append(prefix + (f,))
    return out


def _branch_name(path: tuple) -> str:
    """The branch a field came from: its own name at the top (uproot's ``tree.arrays()``,
    whose fields are the branches), NanoAOD's ``COLLECTION_FIELD`` below it (coffea's
    NanoEvents: ``events.Jet.pt`` is ``Jet_pt``)."""
    return "_".join(path)


def correct_events(
    events: Any,
    method: str = "midpoint",
    *,
    seed: int = 0,
    bits: Optional[int] = None,
    mode: str = "detect",
    format: Optional[str] = None,
    leave_exact: bool = True,
    branch_of: Any = None,
    report: bool = False,
):
    """Every float32 field of ``events`` corrected as the branch it came from: the bits
    ``refloat correct`` writes for that branch of the file, when ``events`` holds whole
    branches (a whole file's entries, in order: the resolution and dither's indices are
    those of the whole branch). Other fields, and branches whose bits cannot be told, come
    back as they are.

    ``events``: an Awkward record array: uproot's ``tree.arrays(...)`` (each field a branch)
    or coffea's NanoEvents (``events.Jet.pt`` is the branch ``Jet_pt``); ``branch_of``, a
    function of a field's path (``("Jet", "pt")``) returning its branch name, where the
    naming is another (coffea's PHYSLITE schema: ``("Jets", "pt")`` is
    ``AnalysisJetsAuxDyn.pt``). ``format``: whose defaults apply; by default ``"cms"`` for
    NanoEvents, nested collections, or a counter ``nJet`` beside ``Jet_*`` fields (NanoAOD),
    ``"atlas"`` for fields named ``...AuxDyn.``; give it otherwise. Other arguments as :func:`correct`. With ``report=True`` also
    returns ``{branch: Report}``.
    """
    import awkward as ak

    if not _is_awkward(events) or not ak.fields(events):
        raise Error(f"correct_events: expected an Awkward record array (fields: branches), got {type(events).__name__}")
    paths = _float_paths(events)
    if not paths:
        raise Error(f"correct_events: no float32 field among {ak.fields(events)}")
    name_of = branch_of or _branch_name
    if format is None:
        fields = set(ak.fields(events))
        counted = any(f.startswith("n") and any(g.startswith(f[1:] + "_") for g in fields) for f in fields)
        if ak.parameters(events).get("__record__") == "NanoEvents" or any(len(p) > 1 for p in paths) or counted:
            format = "cms"
        elif any("AuxDyn." in p[0] for p in paths):
            format = "atlas"
    reports = {}
    out = events
    for path in paths:
        branch = str(name_of(path))
        fixed, rep = correct(
            events[path], bits, mode, method, seed=seed, branch=branch, format=format, leave_exact=leave_exact, report=True
        )
        reports[branch] = rep
        out = ak.with_field(out, fixed, where=path if len(path) > 1 else path[0])
    return (out, reports) if report else out


def verify(corrected: Any, stored: Any, bits: int, mode: str = "nearest") -> None:
    """Check the invariant: every corrected value re-quantises to its stored value, bit for
    bit. Returns ``None``; raises :class:`Error` naming the first index that breaks it."""
    c = _flat(corrected, "corrected", (np.float32,), "verify")
    s = _flat(stored, "stored", (np.float32,), "verify")
    _refloat.verify_f32(c, s, _bits(bits), _mode(mode))


def shift_metrics(original: Any, other: Any, *, bins: int = 100, seed: int = 0) -> Report:
    """How far the distribution of ``other`` (stored or corrected values) moved from
    ``original``: moments (``original``, ``other``), ``kl_divergence`` and
    ``js_divergence`` (nats, on ``bins`` common bins), ``wasserstein1`` (in the values'
    units), ``mmd``, ``ks`` (statistic and p-value) and ``classifier_auc`` (0.5: the two
    cannot be told apart). NaN/±Inf are an :class:`Error`; at least two values each."""
    dt = (np.float32, np.float64)
    a = _flat(original, "original", dt, "shift_metrics").astype(np.float64)
    b = _flat(other, "other", dt, "shift_metrics").astype(np.float64)
    return _report(_refloat.shift_metrics(a, b, int(bins), _seed(seed)))


def dither_stream_seed(seed: int, branch: str) -> int:
    """The stream seed of ``branch`` under the one seeding rule (``seed`` as given for ``""``)."""
    return _refloat.dither_stream_seed(_seed(seed), branch)


# ---------------------------------------------------------------------------------------
# rounding replicas


def replica_seed(seed: int, replica: int) -> int:
    """The dither seed of replica ``replica`` under ``seed`` (refloat's one replica rule):
    replica ``r`` of a file is ``refloat correct --method dither:<replica_seed(seed, r)>``."""
    return _refloat.replica_seed(_seed(seed), int(replica))


def _replica_args(stored: Any, bits: Optional[int], mode: str, what: str) -> tuple:
    arr = _flat(stored, "stored", (np.float32,), what)
    if not isinstance(mode, str) or mode == "detect":
        raise Error(f"{what}: name the rounding mode ({', '.join(MODES)}), got {mode!r}")
    return arr, (None if bits is None else _bits(bits)), _mode(mode)


def replica(
    stored: Any,
    bits: Optional[int] = None,
    mode: str = "nearest",
    seed: int = 0,
    replica: int = 0,
    branch: str = "",
) -> np.ndarray:
    """Replica ``replica`` of a whole branch of stored float32 values: each value drawn
    uniformly inside its interval of originals, exactly :func:`correct` with
    ``method="dither"``, ``seed=replica_seed(seed, replica)`` and ``branch`` (so the same bits
    as ``refloat correct --method dither:<replica_seed(seed, replica)>`` on the file). Exact
    values (0, ±1, sentinels) stay as stored; every value re-quantises to its stored value.

    ``stored``: the whole branch (numpy or Awkward, flattened); ``bits``: kept mantissa bits,
    ``None`` infers them from the values. Returns a flat float32 array."""
    arr, b, m = _replica_args(stored, bits, mode, "replica")
    if not isinstance(replica, (int, np.integer)) or not 0 <= replica < 2**32:
        raise Error(f"replica: replica must be an integer in 0..2**32, got {replica!r}")
    out = np.empty_like(arr)
    _refloat.replica_f32(arr, b, m, _seed(seed), int(replica), branch, out)
    return out


def replicas(
    stored: Any,
    n: int,
    bits: Optional[int] = None,
    mode: str = "nearest",
    seed: int = 0,
    branch: str = "",
):
    """Replicas ``0..n`` of a branch, one at a time (a generator of flat float32 arrays, see
    :func:`replica`): run your statistic on each and look at its spread."""
    arr, b, m = _replica_args(stored, bits, mode, "replicas")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise Error(f"replicas: n must be a positive integer, got {n!r}")
    for r in range(int(n)):
        out = np.empty_like(arr)
        _refloat.replica_f32(arr, b, m, _seed(seed), r, branch, out)
        yield out


def histogram_spread(
    stored: Any,
    edges: Any,
    n: int = 50,
    bits: Optional[int] = None,
    mode: str = "nearest",
    seed: int = 0,
    branch: str = "",
) -> Report:
    """Does the rounding move this histogram? Over ``n`` replicas (:func:`replicas`) of a
    branch's stored float32 values, binned on ``edges`` (float64 or float32, finite, increasing; numpy's
    convention, values outside not counted): a :class:`Report` with ``histogram``
    (``edges``, ``nominal`` counts of the stored values, replica ``mean``, ``std``, ``q16``,
    ``q84`` per bin, as numpy arrays), and ``mean`` / ``std`` (the spread of the branch's mean
    and standard deviation: ``nominal``, ``mean``, ``std``, ``min``, ``max``)."""
    arr, b, m = _replica_args(stored, bits, mode, "histogram_spread")
    e = _numpy(edges, "edges", (np.float32, np.float64), "histogram_spread").reshape(-1).astype(np.float64)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise Error(f"histogram_spread: n must be a positive integer, got {n!r}")
    r = _report(_refloat.branch_spread_f32(arr, b, m, _seed(seed), branch, int(n), e))
    h = r.histogram
    for k in ("edges", "nominal", "mean", "std", "q16", "q84"):
        h[k] = np.asarray(h[k], dtype=np.float64)
    return r


# ---------------------------------------------------------------------------------------
# files


def inspect(path: PathLike, *, tree: Optional[str] = None, branches: Union[None, str, Sequence[str]] = None) -> Report:
    """Trees, branches, types and entries of a ROOT file and, for every float branch, its
    values, kept bits and rounding scheme as detected from the stored values.

    ``tree``: only that tree (default: all); ``branches``: names or globs
    (``"AnalysisJetsAuxDyn.*"``)."""
    return _report(_refloat.inspect(_path(path), tree, _branches(branches)))


def compress_file(
    input: PathLike,
    output: PathLike,
    bits: int = 23,
    mode: str = "detect",
    *,
    tree: Optional[str] = None,
    branches: Union[None, str, Sequence[str]] = None,
    compression: Optional[str] = None,
    branch_bits: Optional[Mapping[str, int]] = None,
    advice: Union[None, PathLike, Report] = None,
    allow_damaged_copies: bool = False,
    threads: int = 0,
) -> Report:
    """Round the float and ``std::vector<float>`` / ``float[n]`` branches of ``input`` to
    ``bits`` kept bits under ``mode`` (``"detect"``: the tree's producer's, CMS's for
    NanoAOD's ``Events``, ATLAS's ``nearest`` otherwise) and write the drop-in copy
    ``output`` (every other branch copied as stored; the report's ``floats_left_alone``
    lists the float values it does not round: ``vector<vector<float>>``, which Athena does
    not round either, and the float branches of other trees). ``compression``: ``"zstd:5"``, ``"lzma:9"``, ``"none"``, …
    (default: the input's). Per-branch bits: ``branch_bits`` maps names or globs to kept
    bits (the first match applies), then ``advice`` (a report of :func:`advise_file`, or the
    path of its JSON) gives each advised branch its ``recommended_bits``; other branches get
    ``bits``. Every record copied byte for byte is decoded first, checksums included: a
    damaged one fails the call, unless ``allow_damaged_copies`` (then it is copied and
    listed in the report's ``written.damaged_copies``). ``threads``: threads that decompress
    and compress baskets (0, the default: every core; the output is the same bytes whatever
    the count). Nothing is left at ``output`` if it fails."""
    rules = [(str(g), _bits(b, f"branch_bits[{g!r}]")) for g, b in (branch_bits or {}).items()]
    if advice is None:
        advice_json = None
    elif isinstance(advice, Report):
        advice_json = json.dumps(advice.to_dict())
    elif isinstance(advice, Mapping):
        advice_json = json.dumps(advice)
    else:
        with open(_path(advice), encoding="utf-8") as f:
            advice_json = f.read()
    return _report(
        _refloat.compress_file(
            _path(input),
            _path(output),
            _bits(bits),
            _mode(mode),
            tree,
            _branches(branches),
            compression,
            rules,
            advice_json,
            bool(allow_damaged_copies),
            _threads(threads),
        )
    )


def _inputs(inputs: Any) -> list:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return [_path(p) for p in inputs]


def _dataset(inputs: Any, out_dir: PathLike, keep_going: bool, one: Any) -> Report:
    def call(i: Any, o: Any) -> str:
        return json.dumps(one(i, o).to_dict())

    return _report(_refloat.run_dataset(_inputs(inputs), _path(out_dir), bool(keep_going), call))


def _each(inputs: Any, dir: Optional[PathLike], keep_going: bool, one: Any) -> Report:
    def call(i: Any, partner: Any) -> str:
        return json.dumps(one(i, partner).to_dict())

    return _report(_refloat.run_each(_inputs(inputs), None if dir is None else _path(dir), bool(keep_going), call))


def inspect_files(inputs: Union[PathLike, Sequence[PathLike]], *, keep_going: bool = False, **options: Any) -> Report:
    """:func:`inspect` of many files (paths, or globs such as ``"in/*.root"``), in order; the
    first that fails stops the run, unless ``keep_going``. Returns the dataset report, as
    :func:`compress_files` does, each file's :func:`inspect` report in ``files[i].report``."""
    return _each(inputs, None, keep_going, lambda i, _: inspect(i, **options))


def verify_files(
    stored: Union[PathLike, Sequence[PathLike]], corrected_dir: PathLike, *, keep_going: bool = False, **options: Any
) -> Report:
    """:func:`verify_file` of each stored file (paths or globs) against the file of the same
    name in ``corrected_dir`` (as :func:`correct_files` writes them). A file that fails (a
    value that does not re-quantise, a missing corrected file) stops the run unless
    ``keep_going``; it is in the dataset report with the error naming it."""
    return _each(stored, corrected_dir, keep_going, lambda s, c: verify_file(s, c, **options))


def analyse_files(
    originals: Union[PathLike, Sequence[PathLike]], stored_dir: PathLike, *, keep_going: bool = False, **options: Any
) -> Report:
    """:func:`analyse_file` of each original (paths or globs) against the file of the same
    name in ``stored_dir`` (as :func:`compress_files` writes them), as :func:`verify_files`
    runs :func:`verify_file`."""
    return _each(originals, stored_dir, keep_going, lambda o, s: analyse_file(o, s, **options))


def compress_files(
    inputs: Union[PathLike, Sequence[PathLike]],
    out_dir: PathLike,
    bits: int = 23,
    mode: str = "detect",
    *,
    keep_going: bool = False,
    **options: Any,
) -> Report:
    """:func:`compress_file` over many files: ``inputs`` (paths, or globs such as
    ``"in/*.root"``), each written to ``out_dir`` under its own name; ``options`` are those of
    :func:`compress_file`. The first file that fails stops the run, unless ``keep_going``;
    a failed file leaves no output. Returns the dataset report: ``files`` (each ``input``,
    ``output``, ``report`` or ``error``), ``done``, ``failed``, ``not_run``; it raises only
    for what stops every file (no input, two inputs of one name, an output onto its
    input)."""
    return _dataset(inputs, out_dir, keep_going, lambda i, o: compress_file(i, o, bits, mode, **options))


def correct_files(
    inputs: Union[PathLike, Sequence[PathLike]],
    out_dir: PathLike,
    method: str = "midpoint",
    *,
    keep_going: bool = False,
    **options: Any,
) -> Report:
    """:func:`correct_file` over many files, as :func:`compress_files` runs
    :func:`compress_file`."""
    return _dataset(inputs, out_dir, keep_going, lambda i, o: correct_file(i, o, method, **options))


def analyse_file(
    original: PathLike,
    compressed: PathLike,
    *,
    bits: Optional[int] = None,
    mode: str = "nearest",
    tree: Optional[str] = None,
    branches: Union[None, str, Sequence[str]] = None,
) -> Report:
    """``original`` against its rounded or corrected twin ``compressed``, branch by branch
    (``refloat analyse``): per branch the residuals against the theoretical bound and the exact
    interval (``bounds``), the residual steps in log10|r| (``steps``), the shift metrics
    (``shift``); ``pooled`` over every branch. ``bits``: the kept bits of the rounding (default:
    each branch's largest apparent bits in ``compressed``; give them for a corrected file)."""
    return _report(
        _refloat.analyse_file(
            _path(original),
            _path(compressed),
            _mode(mode),
            None if bits is None else _bits(bits),
            tree,
            _branches(branches),
        )
    )


def advise_file(
    input: PathLike,
    mode: str = "nearest",
    *,
    tree: Optional[str] = None,
    branches: Union[None, str, Sequence[str]] = None,
    resolutions: Optional[Mapping[str, Union[str, float]]] = None,
    min_bits: int = 4,
    max_bits: int = 23,
    artefact_values: float = 1e6,
    sizes: bool = True,
) -> Report:
    """How many kept mantissa bits each float branch of ``input`` needs (``refloat advise``):
    each branch rounded at ``min_bits..=max_bits`` under ``mode``, with the shift metrics, the
    lattice-artefact detector (judged at a sample of ``artefact_values`` values), the bitwise
    information and the recompressed size at each, and ``recommended_bits``.
    ``resolutions`` maps globs to a resolution, absolute (``0.01``) or relative (``"5%"``).
    The report's ``branches`` list feeds :func:`compress_file` (``advice=``)."""
    res = [(str(g), str(r)) for g, r in (resolutions or {}).items()]
    return _report(
        _refloat.advise_file(
            _path(input),
            _mode(mode),
            tree,
            _branches(branches),
            res,
            _bits(min_bits, "min_bits"),
            _bits(max_bits, "max_bits"),
            float(artefact_values),
            bool(sizes),
        )
    )


def correct_file(
    input: PathLike,
    output: PathLike,
    method: str = "midpoint",
    *,
    seed: int = 0,
    bits: Optional[int] = None,
    mode: Optional[str] = None,
    tree: Optional[str] = None,
    branches: Union[None, str, Sequence[str]] = None,
    compression: Optional[str] = None,
    verify: bool = True,
    format: Optional[str] = None,
    leave_exact: bool = True,
    allow_damaged_copies: bool = False,
    threads: int = 0,
) -> Report:
    """Correct every selected float branch of a stored file into the drop-in copy ``output``.

    Each branch is resolved by refloat's one resolver (as ``refloat correct`` and every other
    front door resolve it): ``bits``/``mode`` ``None`` (or ``"detect"``) take the kept bits
    and scheme from its values, never fewer bits than the producer declares, and where the
    values cannot tell the scheme, the ``format``'s producer's (default: the tree's, CMS for
    NanoAOD's ``Events``, ATLAS ``nearest`` otherwise); values exact by nature are left alone
    unless ``leave_exact=False``. ``verify``: check every value as it is written (the
    invariant, exact values unchanged, and the bytes written read back) before the output is
    committed. Dither uses the one seeding rule with each branch's name. Each branch's
    ``resolution`` is in the report. A damaged record of the input fails the call, as in
    :func:`compress_file`, unless ``allow_damaged_copies``. ``threads`` as in
    :func:`compress_file`. Nothing is left at ``output`` if it fails."""
    method = _method(method)
    return _report(
        _refloat.correct_file(
            _path(input),
            _path(output),
            method,
            _seed(seed),
            None if bits is None else _bits(bits),
            None if mode is None else _mode(mode),
            tree,
            _branches(branches),
            compression,
            bool(verify),
            _format(format),
            bool(leave_exact),
            bool(allow_damaged_copies),
            _threads(threads),
        )
    )


def verify_file(
    stored: PathLike,
    corrected: PathLike,
    *,
    bits: Optional[int] = None,
    mode: Optional[str] = None,
    tree: Optional[str] = None,
    branches: Union[None, str, Sequence[str]] = None,
    format: Optional[str] = None,
    leave_exact: bool = True,
) -> Report:
    """Check that ``corrected`` has the structure of ``stored`` and that each of its values
    re-quantises to the stored one under the branch's resolution (as :func:`correct_file`
    resolves it), values exact by nature unchanged (``leave_exact=False``: the invariant
    alone); returns what was checked, raises :class:`Error` naming the file, branch and
    value otherwise."""
    return _report(
        _refloat.verify_file(
            _path(stored),
            _path(corrected),
            None if bits is None else _bits(bits),
            None if mode is None else _mode(mode),
            tree,
            _branches(branches),
            _format(format),
            bool(leave_exact),
        )
    )


class Model:
    """A learned correction, loaded from the TorchScript file that ``refloat train`` writes
    (builds with the ``torch`` feature only: :func:`has_torch`).

    It corrects an object's variables jointly (e.g. a jet's pt, eta, phi, m), each value
    inside its own interval, so the invariant holds as for every other method. ``bits``,
    ``mode`` and ``variables`` (in order), when given, must be those the model was made for.
    """

    def __init__(self, path: PathLike, bits: Optional[int] = None, mode: Optional[str] = None, variables: Optional[Sequence[str]] = None):
        if not has_torch():
            raise Error("refloat.Model needs a build with the torch feature (see the README: Learned corrections)")
        self._model = _refloat.Model(
            os.fspath(path),
            None if bits is None else _bits(bits),
            None if mode is None else _mode(mode),
            None if variables is None else [str(v) for v in variables],
        )

    @property
    def variables(self) -> list:
        """The branches the model corrects, in its order."""
        return self._model.variables

    @property
    def mantissa_bits(self) -> int:
        return self._model.mantissa_bits

    @property
    def mode(self) -> str:
        return self._model.mode

    @property
    def meta(self) -> Report:
        """The model's metadata: kind, variables and their normalisation, training record."""
        return _report(self._model.meta_json())

    def correct(self, columns: Any, offsets: Any = None, *, report: bool = False):
        """Corrected copies of the model's variables.

        ``columns``: a dict ``{branch name: array}`` holding every variable of the model
        (other keys are ignored), as float32 numpy arrays (one value per object; ``offsets``
        delimits events, ``n_events + 1`` entries, default one event) or jagged Awkward
        Arrays of the same objects (events taken from their structure). Returns a dict in
        the model's variable order, arrays of the input's kind and structure (and a
        :class:`Report` with ``report=True``)."""
        if not isinstance(columns, dict):
            raise Error("Model.correct: give a dict {branch name: array} with the model's variables")
        missing = [v for v in self.variables if v not in columns]
        if missing:
            raise Error(f"Model.correct: model needs {', '.join(missing)}, which were not given")
        arrays = [columns[v] for v in self.variables]
        jagged = _is_awkward(arrays[0])
        if jagged:
            import awkward as ak

            counts = ak.to_numpy(ak.num(arrays[0], axis=1))
            for v, a in zip(self.variables, arrays):
                if not _is_awkward(a) or not np.array_equal(ak.to_numpy(ak.num(a, axis=1)), counts):
                    raise Error(f"Model.correct: '{v}' is not a variable of the same objects as '{self.variables[0]}'")
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        flat = [_flat(a, v, (np.float32,), "Model.correct") for v, a in zip(self.variables, arrays)]
        if offsets is not None and not jagged:
            offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        out, rep = self._model.correct(flat, offsets)
        if jagged:
            import awkward as ak

            out = [ak.unflatten(o, counts) for o in out]
        result = dict(zip(self.variables, out))
        return (result, _report(rep)) if report else result

    def correct_file(
        self,
        input: PathLike,
        output: PathLike,
        *,
        tree: Optional[str] = None,
        compression: Optional[str] = None,
        verify: bool = True,
    ) -> Report:
        """Correct the model's variables in a stored file into the drop-in copy ``output``
        (``refloat correct --method model:PATH``); other branches are copied as stored."""
        return _report(self._model.correct_file(os.fspath(input), os.fspath(output), tree, compression, bool(verify)))

    def __repr__(self) -> str:
        return f"refloat.Model({str(self._model.path)!r}, bits={self.mantissa_bits}, mode={self.mode!r}, variables={self.variables})"


__all__.append("Model")
