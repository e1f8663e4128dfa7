"""refloat::cxx::Model (cpp/refloat_cxx_model.hpp, the cxx bridge) in real ROOT, as a macro uses it.

What a macro does: `gSystem->Load` a librefloat built with the torch feature that exports the
bridge's C++ half (as the CMake package's librefloat.so does), include the headers, and let
ROOT's interpreter compile the example cpp/examples/athena_model.cpp and call its
athena_model::run, which corrects the held-out jets event by event and writes what it got.

usage: python run_bridge_model.py LIBREFLOAT_SO INCLUDE_DIR... -- MODEL FLAT_DIR BITS ROUNDING OUT
Exit status: that of athena_model::run (0 when every check passed).
"""
import sys
import warnings

warnings.filterwarnings("ignore", message=".*alpha stage.*")


def main(argv):
    sep = argv.index("--")
    lib, include_dirs, args = argv[1], argv[2:sep], argv[sep + 1:]
    model, flat, bits, rounding, out = args
    import ROOT  # noqa: E402 (import after argument checks: it takes a second)

    ROOT.gROOT.SetBatch(True)
    for d in include_dirs:
        ROOT.gInterpreter.AddIncludePath(d)
    if ROOT.gSystem.Load(lib) < 0:
        print(f"gSystem->Load({lib}) failed")
        return 1
    if not ROOT.gInterpreter.Declare('#define ATHENA_MODEL_NO_MAIN\n#include "athena_model.cpp"\n'):
        print("ROOT could not compile cpp/examples/athena_model.cpp")
        return 1
    status = ROOT.athena_model.run(model, flat, int(bits), rounding, out)
    print(f"ROOT {ROOT.gROOT.GetVersion()}: athena_model::run returned {status}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
