"""refloat on Dask: dask-awkward arrays (``uproot.dask``, coffea's NanoEvents in dask mode).

The same bits as :func:`refloat.correct` on the whole branch in one process, however the
branch is split into partitions and files and whichever worker runs a partition:

* ``dither`` draws value ``i`` of the branch from ``(seed mixed with branch, i)``, where
  ``i`` counts values across all partitions (and files) in order. :func:`correct` first
  counts each partition's values (a cheap pass over the branch), then corrects partition
  ``p`` with ``first_index`` = the values before it.
* ``bits=None`` is inferred from the whole branch (the largest count any partition infers,
  which is what one call on all values infers), in the same counting pass.
* ``prior-mean`` needs one density for the whole branch: give ``prior=`` (stored values of
  the branch, e.g. ``refloat.correct``'s own input computed once, or a sample of it).

It runs on whatever Dask scheduler is active: threads, a ``distributed.LocalCluster``, or a
real cluster (``dask_jobqueue.HTCondorCluster`` / ``SLURMCluster``): the workers need
``refloat`` installed, nothing else.

>>> import uproot, refloat.dask                                       # doctest: +SKIP
>>> pt = uproot.dask({"a.root": "CollectionTree"}, step_size=100)["AnalysisJetsAuxDyn.pt"]
>>> best = refloat.dask.correct(pt, bits=10, method="dither", seed=1, branch="AnalysisJetsAuxDyn.pt")
>>> best.compute()
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import refloat

__all__ = ["quantise", "correct"]


def quantise(array: Any, bits: int, mode: str = "nearest") -> Any:
    """:func:`refloat.quantise` on every partition of a dask-awkward array (lazy)."""
    import dask_awkward as dak

    refloat._bits(bits, maximum=52)
    return dak.map_partitions(refloat.quantise, array, bits=bits, mode=mode, label="refloat-quantise")


def _partition_stats(part: Any) -> tuple:
    """(number of float32 values, inferred kept bits or None) of one partition."""
    values = refloat._flat(part, "stored", (np.float32,), "refloat.dask.correct")
    bits, _, _ = refloat._resolve(values, None, "nearest")
    return len(values), bits


def _correct_partition(part: Any, first: int, options: dict):
    return refloat.correct(part, first_index=first, **options)


def correct(
    array: Any,
    bits: Optional[int] = None,
    mode: str = "nearest",
    method: str = "midpoint",
    *,
    seed: int = 0,
    branch: str = "",
    prior: Any = None,
    leave_exact: bool = True,
) -> Any:
    """:func:`refloat.correct` of one branch held as a dask-awkward array, with the same
    bits as one call on the whole branch (see the module's doc). Returns a lazy
    dask-awkward array with the input's partitions and type.

    ``mode`` must be named (``"nearest"`` for PHYSLITE, ``"cms"`` for NanoAOD):
    ``"detect"`` would decide per partition. Computes one counting pass over the branch
    when ``bits`` is ``None`` or ``method`` is ``dither``."""
    import dask
    import dask_awkward as dak

    method = refloat._method(method)
    if method not in refloat.METHODS:
        raise refloat.Error(f"unknown correction method '{method}' (expected {', '.join(refloat.METHODS)})")
    if refloat._mode(mode) == "detect":
        raise refloat.Error("refloat.dask.correct: name the mode (detect would decide per partition)")
    if method == "prior-mean" and prior is None:
        raise refloat.Error(
            "refloat.dask.correct: prior-mean needs prior= (stored values of the whole branch, or a sample), "
            "so that every partition uses the same density"
        )
    refloat._seed(seed)
    if bits is not None:
        refloat._bits(bits)
    prior_flat = None if prior is None else refloat._flat(prior, "prior", (np.float32,), "refloat.dask.correct")
    parts = array.to_delayed()
    firsts = [0] * len(parts)
    if bits is None or method == "dither":
        stats = dask.compute(*[dask.delayed(_partition_stats)(p) for p in parts])
        counts = [n for n, _ in stats]
        firsts = [int(f) for f in np.concatenate([[0], np.cumsum(counts)[:-1]])] if counts else []
        if bits is None:
            inferred = [b for _, b in stats if b is not None]
            if not inferred:
                raise refloat.Error(
                    "cannot infer the kept mantissa bits: no finite value with a non-zero mantissa in any partition"
                )
            bits = max(inferred)
    options = dict(
        bits=bits, mode=mode, method=method, seed=seed, branch=branch, prior=prior_flat, leave_exact=leave_exact
    )
    corrected = [dask.delayed(_correct_partition)(p, first, options) for p, first in zip(parts, firsts)]
    return dak.from_delayed(corrected, meta=array._meta, divisions=array.divisions)
