"""refloat::Model (cpp/refloat_model.hpp) in real ROOT, as a ROOT macro uses it.

What a macro does: `gSystem->Load("librefloat.so")` (a build with the torch feature; libtorch
comes through the library's rpath), include the header, then let ROOT's interpreter compile and
run the C++ check of tests/model_cpp.rs (the model trained from Rust, reloaded here, must give
the Rust corrections bit for bit, per batch and per event, and refuse a model of other bits or
variables).

usage: python run_model_check.py LIBREFLOAT_SO INCLUDE_DIR... -- CHECK_CPP DIR
Exit status 0 when every check passed.
"""
import sys
import warnings

warnings.filterwarnings("ignore", message=".*alpha stage.*")


def main(argv):
    sep = argv.index("--")
    lib, include_dirs, (check_cpp, data_dir) = argv[1], argv[2:sep], argv[sep + 1:]
    import ROOT  # noqa: E402 (import after argument checks: it takes a second)

    ROOT.gROOT.SetBatch(True)
    for d in include_dirs:
        ROOT.gInterpreter.AddIncludePath(d)
    assert "librefloat" not in str(ROOT.gSystem.GetLibraries())
    if ROOT.gSystem.Load(lib) < 0:
        print(f"gSystem->Load({lib}) failed")
        return 1
    with open(check_cpp) as f:
        if not ROOT.gInterpreter.Declare(f.read()):
            print("ROOT could not compile the check")
            return 1
    status = ROOT.refloat_model_check(data_dir)
    print(f"ROOT {ROOT.gROOT.GetVersion()}: refloat_model_check returned {status}")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
