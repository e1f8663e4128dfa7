// Runs the correction body of cpp/examples/correct_branch.C (correct_branch.hpp) over the real
// branches listed in a cases file written by tests/ffi_c.rs, event by event as TTreeReader hands
// them, and compares every value bit for bit with what the Rust core computed: the body
// compiled as a normal C++ program (tests/c/body_main.cpp). The macro itself, loops and
// entry point included, runs in real ROOT in tests/root_macro.rs.
#ifndef REFLOAT_BODY_CHECK_HPP
#define REFLOAT_BODY_CHECK_HPP

#include "correct_branch.hpp"
#include "npy.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace refloat_body_check {

template <class T>
inline std::vector<T> load(const std::string& path, const char* descr) {
    std::size_t n = 0;
    T* p = static_cast<T*>(npy_read(path.c_str(), descr, &n));
    if (!p) return {};
    std::vector<T> v(p, p + n);
    std::free(p);
    return v;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

/// Number of failed checks (0 = all passed), or -1 if the cases file has no case.
inline int check_cases(const char* cases_file) {
    static const char* const rounding[] = {"nearest", "truncate", "nearest-even"};
    static const char* const method[] = {"midpoint", "dither", "prior-mean"};
    std::ifstream in(cases_file);
    std::string line;
    int cases = 0, failures = 0;
    std::size_t values_checked = 0, changed = 0;
    while (std::getline(in, line)) {
        std::istringstream s(line);
        std::string values_path, counts_path, prefix;
        unsigned bits;
        int mode, meth;
        unsigned long long seed;
        long inferred;
        std::size_t nc, ne, nn;
        if (!(s >> values_path >> counts_path >> bits >> mode >> meth >> seed >> prefix >> inferred >> nc >> ne >> nn))
            continue;
        ++cases;
        const std::vector<float> original = load<float>(values_path, "<f4");
        const std::vector<std::int64_t> counts = load<std::int64_t>(counts_path, "<i8");
        const std::vector<float> expect_stored = load<float>(prefix + ".quantised.npy", "<f4");
        const std::vector<float> expect = load<float>(prefix + ".corrected_entries.npy", "<f4");
        if (original.empty() || expect.size() != original.size()) {
            std::printf("%s: cannot load the case\n", values_path.c_str());
            ++failures;
            continue;
        }

        refloat_macro::Settings settings;
        const refloat::Rounding rounding_mode = refloat_macro::parse_rounding(rounding[mode]);
        settings.method = refloat_macro::parse_method(method[meth]);
        settings.seed = seed;

        // the events, compressed as the derivation did
        std::vector<std::vector<float>> events;
        std::size_t start = 0;
        for (std::int64_t n : counts) {
            std::vector<float> ev(original.begin() + start, original.begin() + start + n);
            refloat::quantise(ev, bits, rounding_mode);
            events.push_back(ev);
            start += n;
        }
        std::vector<float> stored;
        for (const auto& ev : events) stored.insert(stored.end(), ev.begin(), ev.end());
        if (!same_bits(stored, expect_stored)) {
            std::printf("%s: quantised values differ from the Rust core\n", values_path.c_str());
            ++failures;
        }
        long got_bits = -1;
        try {
            got_bits = static_cast<long>(refloat::infer_mantissa_bits(stored));
        } catch (const refloat::Error&) {
        }
        if (got_bits != inferred) {
            std::printf("%s: inferred %ld bits, the Rust core %ld\n", values_path.c_str(), got_bits, inferred);
            ++failures;
        }

        // pass 1: the resolver over the whole branch (what Resolution::of_file does on a
        // file), with the bits and scheme of the compression given
        const refloat::Resolution resolution =
            refloat::Resolution::of_values(stored, refloat_macro::resolve_options(static_cast<int>(bits), rounding_mode));
        // pass 2: correct event by event, in place
        refloat_macro::Summary summary;
        std::vector<float> corrected;
        std::uint64_t first = 0;  // index of the event's first value in the branch
        for (auto& ev : events) {
            refloat_macro::correct_event(ev, resolution, settings, first, &summary);
            first += ev.size();
            corrected.insert(corrected.end(), ev.begin(), ev.end());
        }
        if (!same_bits(corrected, expect)) {
            std::printf("%s: corrected values differ from the Rust core (%s, %s)\n", values_path.c_str(),
                        rounding[mode], method[meth]);
            ++failures;
        }
        if (summary.corrected != nc || summary.left_exact + summary.corrected + summary.non_finite != original.size() ||
            summary.events != counts.size()) {
            std::printf("%s: summary %zu corrected, the Rust core %zu\n", values_path.c_str(), summary.corrected, nc);
            ++failures;
        }
        values_checked += summary.values;
        changed += summary.changed;
    }
    std::printf("macro body: %d real branches, %zu values (%zu changed by the correction), %d failures\n", cases,
                values_checked, changed, failures);
    return cases == 0 ? -1 : failures;
}

}  // namespace refloat_body_check

#endif
