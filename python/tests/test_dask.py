"""Scale-out on Dask: a LocalCluster of 2 worker processes runs refloat over several files
through uproot.dask and dask-awkward, with the same bits as one process, dither included,
for any partitioning."""

import pathlib
import runpy
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

import refloat
import refloat.dask

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dask_correct.py"


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as client:
        yield client


@pytest.fixture(scope="module")
def stored_files(tmp_path_factory, dev, held_out):
    d = tmp_path_factory.mktemp("dask")
    files = {}
    for src in (dev, held_out):
        out = d / src.name
        refloat.compress_file(src, out, bits=10, branches="AnalysisJetsAuxDyn.*")
        files[str(out)] = "CollectionTree"
    return files


def flat_bits(a):
    return ak.to_numpy(ak.flatten(a, axis=None)).view(np.uint32)


@pytest.mark.parametrize("method", ["dither", "midpoint", "prior-mean"])
def test_cluster_equals_one_process_for_any_partitioning(cluster_client, stored_files, method):
    ex = runpy.run_path(str(EXAMPLE))
    branch = "AnalysisJetsAuxDyn.pt"
    whole = uproot.concatenate(stored_files, [branch])[branch]
    prior = whole if method == "prior-mean" else None
    local = refloat.correct(whole, method=method, seed=5, branch=branch)
    results = []
    for step in (9, 1000):
        lazy = ex["lazy_branch"](stored_files, branch, step)
        got = cluster_client.compute(refloat.dask.correct(lazy, method=method, seed=5, branch=branch, prior=prior)).result()
        assert ex["same_bits"](got, local), (method, step, lazy.npartitions)
        results.append(lazy.npartitions)
    assert results[0] > 10 and results[-1] == 2  # really split: many partitions, then one per file
    # the workers ran it: every partition was a task on the cluster
    assert len(cluster_client.scheduler_info()["workers"]) == 2


def test_quantise_on_partitions(cluster_client, dev, held_out):
    branch = "AnalysisJetsAuxDyn.eta"
    files = {str(dev): "CollectionTree", str(held_out): "CollectionTree"}
    lazy = runpy.run_path(str(EXAMPLE))["lazy_branch"](files, branch, 11)
    got = cluster_client.compute(refloat.dask.quantise(lazy, bits=7)).result()
    whole = uproot.concatenate(files, [branch])[branch]
    assert np.array_equal(flat_bits(got), flat_bits(refloat.quantise(whole, bits=7)))


def test_map_partitions_with_refloat_directly(cluster_client, nano):
    import dask_awkward as dak

    files = {str(nano): "Events"}
    lazy = runpy.run_path(str(EXAMPLE))["lazy_branch"](files, "Jet_pt", 9)
    mid = dak.map_partitions(refloat.correct, lazy, bits=10, mode="cms", method="midpoint")
    got = cluster_client.compute(mid).result()
    stored = uproot.concatenate(files, ["Jet_pt"])["Jet_pt"]
    assert np.array_equal(flat_bits(got), flat_bits(refloat.correct(stored, bits=10, mode="cms")))
    # the type pass marks the values as needed: a result that only counts still reads them
    counts = cluster_client.compute(dak.num(mid, axis=1)).result()
    assert ak.all(counts == ak.num(stored))


def test_dask_errors(stored_files):
    lazy = runpy.run_path(str(EXAMPLE))["lazy_branch"](stored_files, "AnalysisJetsAuxDyn.pt", 50)
    with pytest.raises(refloat.Error, match="prior="):
        refloat.dask.correct(lazy, method="prior-mean")
    with pytest.raises(refloat.Error, match="24"):
        refloat.dask.correct(lazy, bits=24)
    with pytest.raises(refloat.Error, match="unknown correction method"):
        refloat.dask.correct(lazy, method="median")


def test_the_example_runs(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("identical to one process") == 4, r.stdout


def test_record_of_branches_equals_one_call_per_branch(cluster_client, stored_files, nano):
    """A record array (several branches, as uproot.dask gives them) is corrected field by field
    as one call per branch would, in one resolving and one correcting pass; int fields pass."""
    ex = runpy.run_path(str(EXAMPLE))
    for files, branches, opts in (
        (stored_files, ["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta", "AnalysisJetsAuxDyn.m"], dict(bits=10, mode="nearest")),
        ({str(nano): "Events"}, ["Jet_pt", "Jet_eta", "Jet_jetId", "MET_phi"], dict(mode="cms")),
    ):
        lazy = uproot.dask(ex["dataset"](files, 7), filter_name=branches, open_files=False)
        got = cluster_client.compute(refloat.dask.correct(lazy, method="dither", seed=3, **opts)).result()
        assert sorted(got.fields) == sorted(branches)
        whole = uproot.concatenate(files, branches)
        for b in branches:
            if str(whole[b].type).endswith("float32"):
                expected = refloat.correct(whole[b], method="dither", seed=3, branch=b, **opts)
            else:
                expected = whole[b]
            assert len(got[b]) == len(whole) and got[b].ndim == whole[b].ndim, b
            if whole[b].ndim > 1:
                assert ak.all(ak.num(got[b]) == ak.num(whole[b])), b
            assert np.array_equal(flat_bits(got[b]), flat_bits(expected)), b
    with pytest.raises(refloat.Error, match="fields name their branches"):
        refloat.dask.correct(lazy, branch="Jet_pt")
    with pytest.raises(refloat.Error, match="prior= for every float field"):
        refloat.dask.correct(lazy, method="prior-mean", mode="cms")
