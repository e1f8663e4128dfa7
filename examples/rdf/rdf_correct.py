"""refloat in ROOT's RDataFrame, from PyROOT.

    LD_LIBRARY_PATH=$REFLOAT_PREFIX/lib ROOT_INCLUDE_PATH=$REFLOAT_PREFIX/include \
        python rdf_correct.py comp.root AnalysisJetsAuxDyn.pt 42 [THREADS]

Loads librefloat and refloat_rdf.hpp into ROOT's interpreter, resolves the column's branch as
`refloat correct` does (refloat::rdf::corrector: kept bits, scheme, and the values exact by
nature left alone), defines its midpoint and dither corrections (the bits of `refloat correct
--method midpoint` and `--method dither:SEED` on the same file and branch, with or without
ROOT.EnableImplicitMT), and prints their sums; `--npy PREFIX` also writes PREFIX.midpoint.npy
and PREFIX.dither.npy: the corrected values in entry order (their bit patterns as uint32), for
comparison with refloat's own output.
"""
import argparse
import warnings

warnings.filterwarnings("ignore", message=".*alpha stage.*")
import numpy as np  # noqa: E402
import ROOT  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("column")
    p.add_argument("seed", type=int)
    p.add_argument("threads", type=int, nargs="?", default=0)
    p.add_argument("--tree", default="CollectionTree")
    p.add_argument("--npy")
    a = p.parse_args()

    if ROOT.gSystem.Load("librefloat.so") < 0:
        raise SystemExit("cannot load librefloat.so: add its directory to LD_LIBRARY_PATH")
    ROOT.gInterpreter.Declare('#include "refloat_rdf.hpp"')
    if a.threads > 0:
        ROOT.EnableImplicitMT(a.threads)
    df = ROOT.RDataFrame(a.tree, a.file)
    rdf, method = ROOT.refloat.rdf, ROOT.refloat.Method
    node = ROOT.RDF.AsRNode(df)
    midpoint = rdf.corrector(node, a.file, a.column, method.Midpoint)
    dither = rdf.corrector(node, a.file, a.column, method.Dither, a.seed)
    out = (
        df.Define("midpoint", midpoint, ["rdfentry_", a.column])
        .Define("dither", dither, ["rdfentry_", a.column])
        .Define("entry", "rdfentry_")
    )
    sums = {c: out.Sum[ROOT.RVecF](c) for c in (a.column, "midpoint", "dither")}
    columns = out.AsNumpy(["entry", "midpoint", "dither"]) if a.npy else None
    print(
        f"rdf_correct.py: {a.column}: "
        + ", ".join(f"sum {c} {s.GetValue():.10g}" for c, s in sums.items())
        + f" ({ROOT.GetThreadPoolSize()} threads)"
    )
    if a.npy:
        order = np.argsort(columns["entry"], kind="stable")
        for name in ("midpoint", "dither"):
            values = [np.asarray(columns[name][i], dtype=np.float32) for i in order]
            flat = np.concatenate(values) if values else np.zeros(0, np.float32)
            np.save(f"{a.npy}.{name}.npy", flat.view(np.uint32))


if __name__ == "__main__":
    main()
