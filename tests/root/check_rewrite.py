"""Checks, in real ROOT, a file refloat rewrote (compress or correct) against its input.

usage: python check_rewrite.py INPUT.root OUTPUT.root TREE

- TFile opens OUTPUT without recovery and without any error or warning beyond those opening
  INPUT gives (PHYSLITE files name xAOD classes ROOT has no dictionary for);
- the keys (name, class, cycle) of every directory equal INPUT's;
- TTree::GetEntry of every entry reads as many bytes as on INPUT, over the branches of plain
  types (numbers, their C arrays and std::vector): ROOT 6.40 itself crashes in GetEntry of
  the development file's xAOD object branches, whose classes it has no dictionary for, on
  the input as on any copy;
- every float, float[] and std::vector<float> branch read through ROOT (RDataFrame::AsNumpy)
  equals what uproot reads, bit for bit, and its values are as many as INPUT's.
Prints one summary line; exit status 0 when every check passed.
"""
import re
import sys
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import ROOT  # noqa: E402
import uproot  # noqa: E402

ROOT.gROOT.SetBatch(True)
PLAIN = re.compile(
    r"^(std::vector<)?(bool|char|unsigned char|u?int(8|16|32|64)_t|float|double)>?(\[\d*\])?$"
)
ROOT.gInterpreter.Declare(
    r"""
#include "TError.h"
#include <string>
#include <vector>
namespace refloat_check {
std::vector<std::string> messages;
void capture(int level, Bool_t, const char* location, const char* message) {
    if (level >= kWarning) messages.push_back(std::string(location) + ": " + message);
}
void install() { SetErrorHandler(capture); }
}
"""
)
ROOT.refloat_check.install()


def opened(path):
    ROOT.refloat_check.messages.clear()
    f = ROOT.TFile.Open(path, "READ")
    return f, sorted({str(m) for m in ROOT.refloat_check.messages})


def keys(directory, prefix=""):
    out = []
    for k in directory.GetListOfKeys():
        out.append((prefix + k.GetName(), k.GetClassName(), k.GetCycle()))
        if k.GetClassName() in ("TDirectory", "TDirectoryFile"):
            out += keys(directory.Get(k.GetName()), prefix + k.GetName() + "/")
    return out


def flat(values):
    """Values of a column as one float32 array (entries concatenated)."""
    if values.dtype != object:
        return np.asarray(values, dtype=np.float32)
    parts = [np.asarray(v, dtype=np.float32) for v in values]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def main(argv):
    inp, out, tree_name = argv[1], argv[2], argv[3]
    fin, warn_in = opened(inp)
    fout, warn_out = opened(out)
    problems = []
    if not fout or fout.IsZombie():
        print(f"{out}: ROOT cannot open it: {warn_out}")
        return 1
    if fout.TestBit(ROOT.TFile.kRecovered):
        problems.append("ROOT recovered the file")
    extra = [w for w in warn_out if w not in warn_in and w.replace(out, inp) not in warn_in]
    if extra:
        problems.append(f"messages opening it: {extra}")
    if keys(fin) != keys(fout):
        problems.append(f"keys differ: {keys(fin)} vs {keys(fout)}")

    tin, tout = fin.Get(tree_name), fout.Get(tree_name)
    up_in, up_out = uproot.open(inp)[tree_name], uproot.open(out)[tree_name]
    plain = [b.name for b in up_in.values(recursive=True) if PLAIN.match(b.typename)]
    for t in (tin, tout):
        t.SetBranchStatus("*", 0)
        for name in plain:
            t.SetBranchStatus(name, 1)
    if tin.GetEntries() != tout.GetEntries():
        problems.append(f"entries {tin.GetEntries()} vs {tout.GetEntries()}")
    for i in range(tin.GetEntries()):
        a, b = tin.GetEntry(i), tout.GetEntry(i)
        if a != b or a <= 0:
            problems.append(f"GetEntry({i}) read {b} bytes, the input {a}")
            break

    names = [
        b.name
        for b in up_out.values(recursive=True)
        if b.typename in ("float", "std::vector<float>", "float[]")
    ]
    df = ROOT.RDataFrame(tree_name, out)
    by_root = df.AsNumpy(names) if names else {}
    checked = 0
    for name in names:
        r = flat(by_root[name])
        u = np.asarray(uproot_flat(up_out[name]), dtype=np.float32)
        n_in = len(uproot_flat(up_in[name]))
        if r.view(np.uint32).tolist() != u.view(np.uint32).tolist():
            problems.append(f"{name}: ROOT and uproot read different values")
        elif len(r) != n_in:
            problems.append(f"{name}: {len(r)} values, the input has {n_in}")
        checked += len(r)
    print(
        f"ROOT {ROOT.gROOT.GetVersion()}: {out}: opened without recovery or new messages, "
        f"{len(keys(fout))} keys as the input's, {tout.GetEntries()} entries read as many bytes "
        f"({len(plain)} plain branches), "
        f"{len(names)} float branches ({checked} values) equal to uproot's"
        if not problems
        else f"{out}: " + "; ".join(problems)
    )
    return 0 if not problems else 1


def uproot_flat(branch):
    import awkward as ak

    a = branch.array(library="ak")
    return np.asarray(ak.flatten(a, axis=None), dtype=np.float32) if a.ndim > 1 else np.asarray(a, dtype=np.float32)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
