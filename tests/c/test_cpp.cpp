// The C++ layers on the real data: cpp/refloat.hpp (header-only over the C API; std::vector,
// std::span, refloat::Error) and cpp/refloat_cxx.hpp (the cxx bridge), per event as an xAOD aux
// branch hands a std::vector<float>, and per branch. Every result is compared bit for bit with
// the Rust core (expected .npy files written by tests/ffi_c.rs). Built with -Wall -Wextra
// -Werror and run under ASan/UBSan.
//
// usage: test_cpp CASES_FILE VERSION   (same cases file as test_capi)
#include "refloat.hpp"
#include "refloat_cxx.hpp"

#include "npy.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifdef REFLOAT_TEST_HOOKS
extern "C" void refloat_test_inject_panic(int on);  // debug builds only, not in the header
#endif

namespace {

int failures = 0;

#define CHECK(cond, msg)                                                                               \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed: " << msg << "\n"; \
            ++failures;                                                                                \
        }                                                                                              \
    } while (0)

template <class T>
std::vector<T> load(const std::string& path, const char* descr) {
    std::size_t n = 0;
    std::unique_ptr<T, decltype(&std::free)> p(static_cast<T*>(npy_read(path.c_str(), descr, &n)), &std::free);
    if (!p) {
        std::cerr << "cannot read " << path << "\n";
        std::exit(2);
    }
    return std::vector<T>(p.get(), p.get() + n);
}

long first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return -2;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return static_cast<long>(i);
    return -1;
}

// Expect `f` to throw refloat::Error with `status` and a message containing `needle`.
template <class F>
void expect_error(F&& f, int status, const std::string& needle, const char* what) {
    try {
        f();
        CHECK(false, what << ": no exception");
    } catch (const refloat::Error& e) {
        CHECK(e.status() == status, what << ": status " << e.status() << " (" << e.what() << "), expected " << status);
        CHECK(std::string(e.what()).find(needle) != std::string::npos, what << ": message '" << e.what() << "'");
    }
}

struct Case {
    std::string values, counts, prefix;
    unsigned bits;
    int mode, method;
    std::uint64_t seed;
};

void run_case(const Case& c) {
    const auto mode = static_cast<refloat::Rounding>(c.mode);
    const auto method = static_cast<refloat::Method>(c.method);
    const auto original = load<float>(c.values, "<f4");
    const auto counts = load<std::int64_t>(c.counts, "<i8");
    const auto expect = [&](const char* what) { return load<float>(c.prefix + "." + what + ".npy", "<f4"); };

    // refloat.hpp, whole branch: std::vector overloads
    std::vector<float> stored = original;
    refloat::quantise(stored, c.bits, mode);
    CHECK(first_difference(stored, expect("quantised")) == -1, c.values << ": quantise");
    const refloat::Intervals iv = refloat::intervals(stored, c.bits, mode);
    CHECK(first_difference(iv.lo, expect("lo")) == -1, c.values << ": intervals lo");
    CHECK(first_difference(iv.hi, expect("hi")) == -1, c.values << ": intervals hi");
    CHECK(first_difference(refloat::residuals(original, stored), expect("residual")) == -1, c.values << ": residuals");
    std::vector<float> branch = stored;
    const refloat::CorrectionReport report = refloat::correct(branch, c.bits, mode, method, c.seed);
    CHECK(first_difference(branch, expect("corrected")) == -1, c.values << ": correct (branch)");
    CHECK(report.corrected + report.left_exact + report.non_finite == branch.size(), "report counts");
    refloat::verify(branch, stored, c.bits, mode);

    // the same through the cxx bridge
    CHECK(first_difference(refloat::cxx::intervals(stored, c.bits, mode).lo, iv.lo) == -1, "bridge intervals");
    CHECK(first_difference(refloat::cxx::residuals(original, stored), expect("residual")) == -1, "bridge residuals");
    std::vector<float> via_bridge = stored;
    const auto summary = refloat::cxx::correct(via_bridge, c.bits, mode, method, c.seed);
    CHECK(first_difference(via_bridge, branch) == -1, c.values << ": bridge correct (branch)");
    CHECK(summary.corrected == report.corrected && summary.left_exact == report.left_exact, "bridge summary");

    // per event, as an xAOD aux branch hands it: a std::vector<float> per event, in place
    const auto per_event = expect("corrected_events");
    std::vector<float> hpp_events, cxx_events;
#ifdef REFLOAT_HPP_HAS_SPAN
    std::vector<float> span_events = stored;
#endif
    std::size_t start = 0;
    for (std::int64_t n : counts) {
        std::vector<float> event(stored.begin() + start, stored.begin() + start + n);
        std::vector<float> event2 = event;
        refloat::correct(event, c.bits, mode, method, c.seed);
        refloat::cxx::correct(event2, c.bits, mode, method, c.seed);
        hpp_events.insert(hpp_events.end(), event.begin(), event.end());
        cxx_events.insert(cxx_events.end(), event2.begin(), event2.end());
#ifdef REFLOAT_HPP_HAS_SPAN
        refloat::correct(std::span<float>(span_events).subspan(start, n), c.bits, mode, method, c.seed);
#endif
        start += n;
    }
    CHECK(start == stored.size(), "counts do not add up");
    CHECK(first_difference(hpp_events, per_event) == -1, c.values << ": refloat.hpp per event");
    CHECK(first_difference(cxx_events, per_event) == -1, c.values << ": bridge per event");
#ifdef REFLOAT_HPP_HAS_SPAN
    CHECK(first_difference(span_events, per_event) == -1, c.values << ": span per event");
#endif
    std::vector<float> jagged = stored;
    std::vector<std::uint64_t> ucounts(counts.begin(), counts.end());
    refloat::cxx::correct_events(jagged, ucounts, c.bits, mode, method, c.seed);
    // a whole jagged branch at once: indexed over the branch, density of the whole branch
    CHECK(first_difference(jagged, branch) == -1, c.values << ": bridge correct_events");

    // errors: the original values are not stored values (when they differ from them)
    if (first_difference(original, stored) >= 0) {
        std::vector<float> orig = original;
        expect_error([&] { refloat::correct(orig, c.bits, mode, method, c.seed); }, REFLOAT_NOT_QUANTISED,
                     "is not a stored value", "hpp not quantised");
        expect_error([&] { refloat::cxx::correct(orig, c.bits, mode, method, c.seed); }, REFLOAT_NOT_QUANTISED,
                     "is not a stored value", "bridge not quantised");
        CHECK(first_difference(orig, original) == -1, "data written although an exception was thrown");
    }
}

void error_paths(const std::string& version) {
    std::vector<float> v{1.5f, -2.25f, 3.0f, 0.1f};
    const std::vector<float> before = v;
    expect_error([&] { refloat::quantise(v, 24, refloat::Rounding::Nearest); }, REFLOAT_MANTISSA_BITS_OUT_OF_RANGE,
                 "24", "hpp bits");
    expect_error([&] { refloat::cxx::correct(v, 99, refloat::Rounding::Nearest); }, REFLOAT_MANTISSA_BITS_OUT_OF_RANGE,
                 "99", "bridge bits");
    expect_error([&] { refloat::correct(nullptr, 3, 10, refloat::Rounding::Nearest); }, REFLOAT_NULL_PARAMETER,
                 "data is NULL", "hpp null");
    expect_error([&] { refloat::cxx::correct(nullptr, 3, 10, refloat::Rounding::Nearest); }, REFLOAT_NULL_PARAMETER,
                 "data is NULL", "bridge null");
    CHECK(refloat::cxx::correct(nullptr, 0, 10, refloat::Rounding::Nearest).corrected == 0, "bridge NULL, 0 values");
    expect_error([&] { refloat::quantise(v, 10, static_cast<refloat::Rounding>(7)); }, REFLOAT_INVALID_ARGUMENT,
                 "rounding mode 7", "hpp enum");
    expect_error([&] { refloat::cxx::correct(v, 10, static_cast<refloat::Rounding>(7)); }, REFLOAT_INVALID_ARGUMENT,
                 "rounding mode 7", "bridge enum");
    expect_error([&] { refloat::residuals(v, std::vector<float>(3)); }, REFLOAT_LENGTH_MISMATCH, "3", "hpp lengths");
    expect_error([&] { refloat::cxx::residuals(v, std::vector<float>(3)); }, REFLOAT_LENGTH_MISMATCH, "3",
                 "bridge lengths");
    expect_error([&] { refloat::cxx::correct_events(v, {1, 1}, 10, refloat::Rounding::Nearest); },
                 REFLOAT_LENGTH_MISMATCH, "sum of counts", "bridge counts");
    expect_error([&] { refloat::infer_mantissa_bits(std::vector<float>{0.0f, 1.0f}); }, REFLOAT_CANNOT_INFER_BITS,
                 "cannot infer", "hpp infer");
    CHECK(first_difference(v, before) == -1, "data written although an exception was thrown");
    CHECK(refloat::infer_mantissa_bits(v) == 23u, "0.1f keeps all 23 bits");
    CHECK(refloat::cxx::infer_mantissa_bits(v) == 23u, "bridge infer");
    CHECK(version == refloat::version() && version == refloat::cxx::version(), "version");
#ifdef REFLOAT_TEST_HOOKS
    refloat_test_inject_panic(1);
    expect_error([&] { refloat::cxx::correct(v, 23, refloat::Rounding::Nearest); }, REFLOAT_PANIC, "panic",
                 "bridge panic");
    refloat_test_inject_panic(1);
    expect_error([&] { refloat::correct(v, 23, refloat::Rounding::Nearest); }, REFLOAT_PANIC, "panic", "hpp panic");
    CHECK(first_difference(v, before) == -1, "data written by a call that panicked first");
    refloat::cxx::correct(v, 23, refloat::Rounding::Nearest);  // still works
    std::cout << "panic boundary (C and cxx bridge): checked\n";
#endif
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " CASES_FILE VERSION\n";
        return 2;
    }
    error_paths(argv[2]);
    std::ifstream in(argv[1]);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        std::istringstream s(line);
        Case c;
        long inferred;
        std::size_t a, b, d;
        if (!(s >> c.values >> c.counts >> c.bits >> c.mode >> c.method >> c.seed >> c.prefix >> inferred >> a >> b >> d))
            continue;
        run_case(c);
        ++n;
    }
    std::cout << n << " real-data cases, " << failures << " failures\n";
    if (n == 0) return 2;
    return failures == 0 ? 0 : 1;
}
