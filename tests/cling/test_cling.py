"""Runs the ROOT macro cpp/examples/correct_branch.C itself in ROOT's C++ interpreter.

cppyy ships cling, the interpreter ROOT macros run in, and ROOT's core (gSystem, gInterpreter)
but not ROOT's tree classes: those come from tests/cling/mockroot, a small working stand-in
that reads and writes text dumps of real branches (written by tests/ffi_c.rs). cppyy keeps its
own ROOT headers (TFile.h, TString.h, TError.h; classes in namespace CppyyLegacy) first on the
include path, so the stand-in is included first, by path; the macro's own `#include "TFile.h"`
then adds nothing global.

This script does what `root -l -b -q 'correct_branch.C(...)'` does: `.L` the macro, then call
correct_branch(...) once per job; the macro itself does `gSystem->Load("librefloat.so")`
(found through LD_LIBRARY_PATH, which the caller sets) and runs its loops through
`gInterpreter->ProcessLine`. Before the jobs, one call runs with a dynamic path that does not
hold librefloat.so, to check the macro's error for a library it cannot load.

usage: python3 test_cling.py MACRO EXPECTED_LIB MOCKROOT_DIR INCLUDE_DIR... -- JOBS_JSON RESULTS_JSON
JOBS_JSON: [{"id": ..., "args": [path, branch, bits, rounding, method, seed, tree, out]}, ...];
RESULTS_JSON gets [{"id", "status", "messages"}, ...]: the macro's return value and the
::Error / ::Info lines of each call. Exit status 0 when the script's own checks passed.
"""
import json
import os
import sys


def main(argv):
    sep = argv.index("--")
    macro, expected_lib, mockroot = argv[1], argv[2], argv[3]
    include_dirs = argv[4:sep]
    jobs_file, results_file = argv[sep + 1], argv[sep + 2]
    import cppyy  # noqa: E402 (import after argument checks: it takes a few seconds)

    gbl = cppyy.gbl
    for d in [mockroot] + include_dirs:
        cppyy.add_include_path(d)
    # ROOT's global tree classes, TString, ::Error and ::Info (the stand-in), and ROOT's real
    # TSystem / TInterpreter from cppyy (gSystem, gInterpreter)
    cppyy.cppdef(
        '#include "%s"\n#include "TSystem.h"\n#include "TInterpreter.h"\n'
        % os.path.join(os.path.abspath(mockroot), "mockroot.hpp")
    )
    assert "librefloat" not in str(gbl.gSystem.GetLibraries()), "librefloat loaded before the macro"

    # .L correct_branch.C, as ROOT does for `root 'correct_branch.C(...)'`
    gbl.gInterpreter.ProcessLine(".L " + macro)
    if not hasattr(gbl, "correct_branch"):
        print(f"cling could not load the macro {macro}")
        return 1
    ok = True

    # librefloat.so not on the dynamic path: the macro says so and returns 1
    dynamic_path = str(gbl.gSystem.GetDynamicPath())
    gbl.gSystem.SetDynamicPath("/nonexistent-refloat-dir")
    gbl.mockroot.messages().clear()
    status = gbl.correct_branch("unused.root", "unused")
    errors = [str(m) for m in gbl.mockroot.messages()]
    gbl.gSystem.SetDynamicPath(dynamic_path)
    if status != 1 or not any("cannot load librefloat.so" in m for m in errors):
        print(f"missing library: status {status}, messages {errors}")
        ok = False
    else:
        print("missing librefloat.so: error reported")

    with open(jobs_file) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        gbl.mockroot.messages().clear()
        status = gbl.correct_branch(*job["args"])
        results.append({"id": job["id"], "status": int(status), "messages": [str(m) for m in gbl.mockroot.messages()]})
    with open(results_file, "w") as f:
        json.dump(results, f, indent=1)

    loaded = [p for p in str(gbl.gSystem.GetLibraries()).split() if "librefloat" in p]
    if [os.path.realpath(p) for p in loaded] != [os.path.realpath(expected_lib)]:
        print(f"gSystem->Load(\"librefloat.so\") loaded {loaded}, expected {expected_lib}")
        ok = False
    print(f"cling (cppyy {cppyy.__version__}): correct_branch.C ran {len(jobs)} jobs, librefloat from {loaded}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
