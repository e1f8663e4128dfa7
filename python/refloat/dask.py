"""refloat on Dask: dask-awkward arrays (``uproot.dask``, coffea's NanoEvents in dask mode).

The same bits as :func:`refloat.correct` on the whole branch in one process, however the
branch is split into partitions and files and whichever worker runs a partition:

* the branch is resolved as a whole (kept bits, scheme, values exact by nature): each
  partition's evidence is gathered in one pass and merged, which gives the resolution one
  call on all values gives (:func:`refloat.resolve`), or pass ``resolution=``
  (:func:`refloat.resolve_file` of the branch);
* ``dither`` draws value ``i`` of the branch from ``(seed mixed with branch, i)``, where
  ``i`` counts values across all partitions (and files) in order: the same pass counts each
  partition's values, and partition ``p`` is corrected with ``first_index`` = the values
  before it.
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
    """(number of float32 values, the resolver's evidence) of one partition."""
    values = refloat._flat(part, "stored", (np.float32,), "refloat.dask.correct")
    return len(values), refloat._refloat.evidence_f32(values)


def _correct_partition(part: Any, first: int, options: dict):
    return refloat.correct(part, first_index=first, **options)


def correct(
    array: Any,
    bits: Optional[int] = None,
    mode: str = "detect",
    method: str = "midpoint",
    *,
    seed: int = 0,
    branch: str = "",
    prior: Any = None,
    leave_exact: bool = True,
    format: Optional[str] = None,
    resolution: Optional["refloat.Resolution"] = None,
) -> Any:
    """:func:`refloat.correct` of one branch held as a dask-awkward array, with the same
    bits as one call on the whole branch (see the module's doc). Returns a lazy
    dask-awkward array with the input's partitions and type. Computes one pass over the
    branch (the evidence and counts of its partitions) unless ``resolution`` is given and the
    method is not ``dither``."""
    import dask
    import dask_awkward as dak

    method = refloat._method(method)
    if method not in refloat.METHODS:
        raise refloat.Error(f"unknown correction method '{method}' (expected {', '.join(refloat.METHODS)})")
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
    if resolution is None or method == "dither":
        stats = dask.compute(*[dask.delayed(_partition_stats)(p) for p in parts])
        counts = [n for n, _ in stats]
        firsts = [int(f) for f in np.concatenate([[0], np.cumsum(counts)[:-1]])] if counts else []
        if resolution is None:
            b = None if bits is None else refloat._bits(bits)
            resolution = refloat.Resolution(
                refloat._refloat.resolve_evidence(
                    [e for _, e in stats], b, refloat._mode(mode), refloat._format(format), str(branch), bool(leave_exact)
                )
            )
    options = dict(method=method, seed=seed, branch=branch, prior=prior_flat, resolution=resolution)
    corrected = [dask.delayed(_correct_partition)(p, first, options) for p, first in zip(parts, firsts)]
    return dak.from_delayed(corrected, meta=array._meta, divisions=array.divisions)
