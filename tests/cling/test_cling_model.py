"""refloat::Model (cpp/refloat_model.hpp) in ROOT's C++ interpreter, as a ROOT macro uses it.

cppyy ships cling, the interpreter ROOT macros run in. This script does what a macro does:
include the header, `gSystem->Load("librefloat.so")` (a build with the torch feature; libtorch
comes through the library's rpath), then let cling compile and run the C++ check of
tests/model_cpp.rs (the model trained from Rust, reloaded here, must give the Rust corrections
bit for bit, per batch and per event, and refuse a model of other bits or variables).

usage: python3 test_cling_model.py LIBREFLOAT_SO INCLUDE_DIR... -- CHECK_CPP DIR
Exit status 0 when every check passed.
"""
import sys


def main(argv):
    sep = argv.index("--")
    lib, include_dirs, (check_cpp, data_dir) = argv[1], argv[2:sep], argv[sep + 1:]
    import cppyy  # noqa: E402 (import after argument checks: it takes a few seconds)

    for d in include_dirs:
        cppyy.add_include_path(d)
    cppyy.cppdef('#include "TSystem.h"')
    assert "librefloat" not in str(cppyy.gbl.gSystem.GetLibraries())
    if cppyy.gbl.gSystem.Load(lib) < 0:
        print(f"gSystem->Load({lib}) failed")
        return 1
    with open(check_cpp) as f:
        cppyy.cppdef(f.read())
    status = cppyy.gbl.refloat_model_check(data_dir)
    print(f"cling (cppyy {cppyy.__version__}): refloat_model_check returned {status}")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
