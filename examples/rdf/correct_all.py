"""Every rounded float column of a file corrected in one line of RDataFrame, from PyROOT.

    LD_LIBRARY_PATH=$REFLOAT_PREFIX/lib ROOT_INCLUDE_PATH=$REFLOAT_PREFIX/include \
        python correct_all.py FILE.root [--tree Events] [--method dither] [--seed 42] [--threads 2] \
        [--check CORRECTED.root]

`refloat::rdf::CorrectAll(df, path, method, seed)` redefines every float column whose branch
the resolver finds rounded as corrected, under the branch's own scheme and bits (values exact
by nature left alone): the bits `refloat correct --method METHOD` writes. Prints how many
columns it found rounded and their corrected sums; `--check` compares every float column, bit
for bit, with a file `refloat correct` wrote (exit status 1 if one differs).
"""
import argparse
import warnings

warnings.filterwarnings("ignore", message=".*alpha stage.*")
import numpy as np  # noqa: E402
import ROOT  # noqa: E402

JAGGED = ("ROOT::VecOps::RVec<float>", "ROOT::VecOps::RVec<Float_t>", "ROOT::RVec<float>", "vector<float>",
          "std::vector<float>")


def float_columns(df) -> list:
    return [str(c) for c in df.GetColumnNames() if str(df.GetColumnType(c)) in JAGGED + ("float", "Float_t")]


def bits(df, columns: list) -> dict:
    """Every value of each column, in entry order, as its float32 bit pattern."""
    arrays = df.AsNumpy(columns)
    out = {}
    for c in columns:
        a = arrays[c]
        if a.dtype == object:
            a = np.concatenate([np.asarray(v, dtype=np.float32) for v in a]) if len(a) else np.zeros(0, np.float32)
        out[c] = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--tree", default="")
    p.add_argument("--method", choices=["midpoint", "dither", "prior-mean"], default="midpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--check")
    a = p.parse_args()

    if ROOT.gSystem.Load("librefloat.so") < 0:
        raise SystemExit("cannot load librefloat.so: add its directory to LD_LIBRARY_PATH")
    ROOT.gInterpreter.Declare('#include "refloat_rdf.hpp"')
    if a.threads > 0:
        ROOT.EnableImplicitMT(a.threads)
    tree = a.tree
    if not tree:  # the file's analysis tree, as refloat correct chooses it
        f = ROOT.TFile.Open(a.file)
        tree = "CollectionTree" if f.GetListOfKeys().FindObject("CollectionTree") else "Events"
        f.Close()
    method = {"midpoint": ROOT.refloat.Method.Midpoint, "dither": ROOT.refloat.Method.Dither,
              "prior-mean": ROOT.refloat.Method.PriorMean}[a.method]
    df = ROOT.RDataFrame(tree, a.file)
    corrected = ROOT.refloat.rdf.CorrectAll(ROOT.RDF.AsRNode(df), a.file, method, a.seed)
    columns = float_columns(df)
    redefined = [str(c) for c in corrected.GetDefinedColumnNames() if str(c) in columns]
    print(f"correct_all.py: {tree}: {len(columns)} float columns, {len(redefined)} found rounded and corrected "
          f"({a.method}, {a.threads or 1} thread{'s' if a.threads > 1 else ''})")
    if not a.check:
        return 0
    got = bits(corrected, columns)
    expected = bits(ROOT.RDataFrame(tree, a.check), columns)
    stored = bits(df, redefined)
    differ = [c for c in columns if not np.array_equal(got[c], expected[c])]
    changed = sum(not np.array_equal(got[c], stored[c]) for c in redefined)
    print(f"correct_all.py: {len(columns) - len(differ)} of {len(columns)} float columns equal to {a.check} bit for bit; "
          f"{changed} columns changed by the correction")
    if differ:
        print("differ: " + ", ".join(differ[:10]))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
