// The correction body of correct_branch.C as a normal compiled C++ program (see body_check.hpp).
#include "body_check.hpp"

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CASES_FILE\n", argv[0]);
        return 2;
    }
    int failures = refloat_body_check::check_cases(argv[1]);
    return failures == 0 ? 0 : 1;
}
