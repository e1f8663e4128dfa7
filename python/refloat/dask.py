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

Several branches at once: pass the record array ``uproot.dask`` returns (its fields are the
branches) and every float32 field is corrected as the branch it names, in one resolving pass
and one correcting pass over the partitions (each partition read once per pass, not once per
branch: what matters when a task's cost is opening a file of thousands of branches). The
result is the same record with the float fields corrected, bit for bit as one call per field.

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


def _record_stats(part: Any, fields: list) -> list:
    return [_partition_stats(part[f]) for f in fields]


def _correct_record(part: Any, firsts: list, fields: list, options: list):
    import awkward as ak

    for f, first, opts in zip(fields, firsts, options):
        part = ak.with_field(part, refloat.correct(part[f], first_index=first, **opts), f)
    return part


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

    if array.fields:
        return _correct_records(array, bits, mode, method, seed=seed, branch=branch, prior=prior,
                                leave_exact=leave_exact, format=format, resolution=resolution)
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


def _correct_records(array: Any, bits, mode, method, *, seed, branch, prior, leave_exact, format, resolution) -> Any:
    """:func:`correct` of every float32 field of a record array, each as the branch it names."""
    import dask
    import dask_awkward as dak

    if branch:
        raise refloat.Error("refloat.dask.correct: a record array's fields name their branches; do not give branch=")
    # the record's own float32 fields (refloat.correct_events also walks nested records)
    fields = [p[0] for p in refloat._float_paths(array._meta) if len(p) == 1]
    if not fields:
        raise refloat.Error(f"refloat.dask.correct: no float32 field among {array.fields}")
    priors = dict(prior or {})
    resolutions = dict(resolution or {})
    for name, given in (("prior", priors), ("resolution", resolutions)):
        if not isinstance(given, dict):
            raise refloat.Error(f"refloat.dask.correct: for a record array, {name}= is a dict {{field: ...}}")
    method = refloat._method(method)
    if method not in refloat.METHODS:
        raise refloat.Error(f"unknown correction method '{method}' (expected {', '.join(refloat.METHODS)})")
    missing = [f for f in fields if f not in priors]
    if method == "prior-mean" and missing:
        raise refloat.Error(f"refloat.dask.correct: prior-mean needs prior= for every float field; missing {missing}")
    refloat._seed(seed)
    b = None if bits is None else refloat._bits(bits)
    parts = array.to_delayed()
    firsts = [[0] * len(fields) for _ in parts]
    if method == "dither" or any(f not in resolutions for f in fields):
        stats = dask.compute(*[dask.delayed(_record_stats)(p, fields) for p in parts])
        for j, f in enumerate(fields):
            counts = [s[j][0] for s in stats]
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            for i in range(len(parts)):
                firsts[i][j] = int(starts[i])
            if f not in resolutions:
                resolutions[f] = refloat.Resolution(
                    refloat._refloat.resolve_evidence(
                        [s[j][1] for s in stats], b, refloat._mode(mode), refloat._format(format), f, bool(leave_exact)
                    )
                )
    options = [
        dict(method=method, seed=seed, branch=f, resolution=resolutions[f],
             prior=None if f not in priors else refloat._flat(priors[f], "prior", (np.float32,), "refloat.dask.correct"))
        for f in fields
    ]
    corrected = [dask.delayed(_correct_record)(p, first, fields, options) for p, first in zip(parts, firsts)]
    return dak.from_delayed(corrected, meta=array._meta, divisions=array.divisions)
