"""Correct a branch over several files on a Dask cluster, with the same bits as one process.

    python python/examples/dask_correct.py [OUT_DIR]

Rounds both real PHYSLITE files to 10 kept bits (ATLAS's rule, as a DL10 derivation would
store them), then opens them as one dask-awkward array with `uproot.dask`, split into
partitions of a few events, and corrects `AnalysisJetsAuxDyn.pt` with dither on a
`distributed.LocalCluster` of 2 worker processes (`refloat.dask.correct`). It checks that the
result equals `refloat.correct` on the whole branch in this process, bit for bit, and that a
different partitioning gives the same bits again. Does the same for NanoAOD's `Jet_pt`
(stored by CMS, mode "cms", bits inferred).

On a real cluster only the client changes, e.g. with dask-jobqueue on HTCondor or SLURM:

    from dask_jobqueue import HTCondorCluster          # or SLURMCluster
    cluster = HTCondorCluster(cores=1, memory="2 GB", disk="1 GB")
    cluster.scale(jobs=50)
    client = Client(cluster)

with `refloat` installed in the workers' environment (`pip install ./python`).
"""

from __future__ import annotations

import os
import pathlib
import sys

import awkward as ak
import numpy as np
import uproot
from distributed import Client, LocalCluster

import refloat
import refloat.dask

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("REFLOAT_DATA_DIR", REPO.parent / "shared" / "data"))


def dataset(files: dict, step: int) -> dict:
    """`uproot.dask`'s description of `files` ({path: tree}) in partitions of `step` entries.
    With explicit steps and `open_files=False` the workers open the files themselves and the
    task graph stays small (PHYSLITE trees have thousands of branches)."""
    out = {}
    for path, tree in files.items():
        with uproot.open(path) as f:
            n = f[tree].num_entries
        out[path] = {"object_path": tree, "steps": [[a, min(a + step, n)] for a in range(0, n, step)]}
    return out


def lazy_branch(files: dict, branch: str, step: int):
    """One branch of `files` as a dask-awkward array of `step`-entry partitions."""
    return uproot.dask(dataset(files, step), filter_name=[branch], open_files=False)[branch]


def correct_on_cluster(client: Client, files: dict, branch: str, step: int, **options):
    """(distributed result, single-process result, partitions) of dither on `branch`."""
    lazy = lazy_branch(files, branch, step)
    corrected = refloat.dask.correct(lazy, method="dither", branch=branch, **options)
    distributed = client.compute(corrected).result()
    whole = uproot.concatenate(files, [branch])[branch]
    local = refloat.correct(whole, method="dither", branch=branch, **options)
    return distributed, local, lazy.npartitions


def same_bits(a, b) -> bool:
    fa = ak.to_numpy(ak.flatten(a, axis=None)).view(np.uint32)
    fb = ak.to_numpy(ak.flatten(b, axis=None)).view(np.uint32)
    return bool(ak.all(ak.num(a) == ak.num(b))) and np.array_equal(fa, fb)


def main(out_dir: pathlib.Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = {}
    for name in ("DAOD_PHYSLITE_21.2.108.0.art.pool.root", "PHYSLITE_example.root"):
        path = out_dir / name.replace(".root", ".dl10.root")
        refloat.compress_file(DATA / name, path, bits=10, branches="AnalysisJetsAuxDyn.*")
        stored[str(path)] = "CollectionTree"
    ok = True
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        for files, branch, opts in (
            (stored, "AnalysisJetsAuxDyn.pt", dict(bits=10, mode="nearest", seed=1)),
            ({str(DATA / "nano_dy.root"): "Events"}, "Jet_pt", dict(mode="cms", seed=1)),
        ):
            for step in (9, 1000):
                got, local, parts = correct_on_cluster(client, files, branch, step, **opts)
                same = same_bits(got, local)
                ok &= same
                n = len(ak.flatten(got, axis=None))
                print(f"{branch}: {len(files)} file(s), {parts} partitions on {len(client.scheduler_info()['workers'])} workers, "
                      f"{n} values: {'identical to' if same else 'DIFFERENT FROM'} one process")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/python")))
