"""refloat on distributed RDataFrame: ROOT's RDataFrame over several files on a Dask cluster.

    LD_LIBRARY_PATH=$REFLOAT_PREFIX/lib ROOT_INCLUDE_PATH=$REFLOAT_PREFIX/include \
        python rdf_dask.py COLUMN BITS FILE.root [FILE.root ...] [--workers 2] [--tree CollectionTree]

Every worker loads librefloat.so and refloat_rdf.hpp in an initialisation function
(ROOT.RDF.Experimental.Distributed.initialize); the same Define (the midpoint correction of a
jagged float column, and its quantisation back to the stored values) then runs on a
dask.distributed.LocalCluster of worker processes and, for comparison, locally. Prints both
runs' sums and histogram contents; exit status 1 if they differ. On a real cluster, replace
the LocalCluster by the cluster's client (e.g. dask_jobqueue.HTCondorCluster), and make
librefloat.so and the header reachable from the workers (a shared file system, or the job's
environment).
"""
import argparse
import os
import sys
import warnings

warnings.filterwarnings("ignore")


def load_refloat():
    """Run in every process that evaluates a refloat Define: the client and each worker."""
    import ROOT

    if "librefloat" not in str(ROOT.gSystem.GetLibraries()):
        if ROOT.gSystem.Load("librefloat.so") < 0:
            raise RuntimeError("cannot load librefloat.so: add its directory to LD_LIBRARY_PATH")
    ROOT.gInterpreter.Declare('#include "refloat_rdf.hpp"')


def book(df, column, bits):
    corrected = f"refloat::rdf::correct({column}, {bits}, refloat::Rounding::Nearest, refloat::Method::Midpoint)"
    requantised = f"refloat::rdf::quantise(corrected, {bits}, refloat::Rounding::Nearest)"
    d = df.Define("corrected", corrected).Define("requantised", requantised)
    return {
        "sum stored": d.Sum(column),
        "sum corrected": d.Sum("corrected"),
        "sum requantised": d.Sum("requantised"),
        "entries": d.Count(),
        "histogram": d.Histo1D(("h", "corrected", 64, 0.0, 2.0e5), "corrected"),
    }


def values(results):
    out = {}
    for k, r in results.items():
        v = r.GetValue()
        out[k] = [v.GetBinContent(i) for i in range(v.GetNbinsX() + 2)] if k == "histogram" else v
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("column")
    p.add_argument("bits", type=int)
    p.add_argument("files", nargs="+")
    p.add_argument("--tree", default="CollectionTree")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()

    import ROOT
    from dask.distributed import Client, LocalCluster

    load_refloat()
    local = values(book(ROOT.RDataFrame(a.tree, a.files), a.column, a.bits))

    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            ROOT.RDF.Experimental.Distributed.initialize(load_refloat)
            RDataFrame = ROOT.RDF.Experimental.Distributed.Dask.RDataFrame
            df = RDataFrame(a.tree, a.files, executor=client, npartitions=2 * len(a.files))
            distributed = values(book(df, a.column, a.bits))
            pids = client.run(os.getpid)

    same = local == distributed
    for k in local:
        shown = (lambda v: f"{sum(v):.10g} in {sum(1 for x in v if x)} bins") if k == "histogram" else (lambda v: f"{v:.10g}")
        print(f"{k}: local {shown(local[k])}, distributed {shown(distributed[k])}")
    print(f"rdf_dask.py: {len(pids)} worker processes; local and distributed runs {'agree' if same else 'DIFFER'}")
    # The midpoint correction re-quantises to the stored values: their sums agree too.
    return 0 if same and local["sum requantised"] == local["sum stored"] else 1


if __name__ == "__main__":
    sys.exit(main())
