"""Runs the ROOT macro cpp/examples/correct_branch.C in real ROOT, from PyROOT.

usage: python run_macro.py MACRO JOBS_JSON RESULTS_JSON

`.L MACRO` through `ROOT.gROOT.ProcessLine`, then `correct_branch(*args)` once per job, with
ROOT's error handler capturing the ::Error / ::Info lines of each call; the macro itself does
`gSystem->Load("librefloat.so")` (found through LD_LIBRARY_PATH, which the caller sets).
JOBS_JSON: [{"id": ..., "args": [path, branch, bits, rounding, method, seed, tree, out]}, ...];
RESULTS_JSON gets [{"id", "status", "messages"}, ...].
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore", message=".*alpha stage.*")
import ROOT  # noqa: E402

ROOT.gROOT.SetBatch(True)
ROOT.gInterpreter.Declare(
    r"""
#include "TError.h"
#include <string>
#include <vector>
namespace refloat_test {
std::vector<std::string> messages;
void capture(int level, Bool_t abort, const char* location, const char* message) {
    const char* kind = level >= kError ? "Error" : level >= kWarning ? "Warning" : "Info";
    if (level >= kInfo)
        messages.push_back(std::string(kind) + " in <" + location + ">: " + message);
    if (level >= kError) DefaultErrorHandler(level, abort, location, message);
}
void install() {
    gErrorIgnoreLevel = kInfo;
    SetErrorHandler(capture);
}
}
"""
)


def main(argv):
    macro, jobs_file, results_file = argv[1], argv[2], argv[3]
    ROOT.refloat_test.install()
    ROOT.gROOT.ProcessLine(".L " + macro)
    if not hasattr(ROOT, "correct_branch"):
        print(f"ROOT could not load the macro {macro}")
        return 1
    with open(jobs_file) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        ROOT.refloat_test.messages.clear()
        status = ROOT.correct_branch(*job["args"])
        messages = [str(m) for m in ROOT.refloat_test.messages]
        results.append({"id": job["id"], "status": int(status), "messages": messages})
    with open(results_file, "w") as f:
        json.dump(results, f, indent=1)
    loaded = [p for p in str(ROOT.gSystem.GetLibraries()).split() if "librefloat" in p]
    print(f"ROOT {ROOT.gROOT.GetVersion()}: correct_branch.C ran {len(jobs)} jobs, librefloat from {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
