"""The correction body of cpp/examples/correct_branch.C in ROOT's C++ interpreter.

cppyy ships cling, the interpreter ROOT macros run in. This script does what the macro does:
include the headers, `gSystem->Load("librefloat.so")`, then run the correction body (compiled
by cling only after the load, through `gInterpreter->ProcessLine`) over the real branches of a
cases file written by tests/ffi_c.rs, checking every value bit for bit against the Rust core.

usage: python3 test_cling.py LIBREFLOAT_SO INCLUDE_DIR... -- CASES_FILE
Exit status 0 when every check passed.
"""
import sys


def main(argv):
    sep = argv.index("--")
    lib, include_dirs, cases = argv[1], argv[2:sep], argv[sep + 1]
    import cppyy  # noqa: E402 (import after argument checks: it takes a few seconds)

    for d in include_dirs:
        cppyy.add_include_path(d)
    # as in the macro: ROOT headers, then the body header (declarations; inline bodies are
    # compiled only when called)
    cppyy.cppdef('#include "TSystem.h"\n#include "TInterpreter.h"\n#include "body_check.hpp"\n#include <string>')
    libs_before = str(cppyy.gbl.gSystem.GetLibraries())
    assert "librefloat" not in libs_before, "librefloat already loaded before the macro"
    # the macro's entry point, verbatim in structure: Load, then run the body
    cppyy.cppdef(
        r"""
        long refloat_macro_entry(const char* lib, const char* cases) {
            if (gSystem->Load(lib) < 0) return -100;
            std::string line = std::string("refloat_body_check::check_cases(\"") + cases + "\");";
            int error = 0;
            long failures = gInterpreter->ProcessLine(line.c_str(), &error);
            return error ? -200 : failures;
        }
        """
    )
    failures = cppyy.gbl.refloat_macro_entry(lib, cases)
    print(f"cling (cppyy {cppyy.__version__}): refloat {cppyy.gbl.refloat.version()}, check_cases returned {failures}")
    assert "librefloat" in str(cppyy.gbl.gSystem.GetLibraries()), "gSystem did not load librefloat"
    if failures == -100:
        print(f"gSystem->Load({lib}) failed")
    elif failures == -200:
        print("the interpreter could not run the correction body")
    # errors come back as C++ exceptions (refloat::Error) through cling too
    v = cppyy.gbl.std.vector["float"]([0.1])
    try:
        cppyy.gbl.refloat_macro.correct_event(v, cppyy.gbl.refloat_macro.Settings())
        print("no exception for a value that is not stored at 0 bits")
        return 1
    except Exception as e:  # cppyy maps refloat::Error (a std::runtime_error)
        assert "is not a stored value" in str(e), str(e)
    assert v[0] == cppyy.gbl.std.vector["float"]([0.1])[0], "data written although the call failed"
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
