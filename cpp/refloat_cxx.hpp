// refloat_cxx.hpp: the cxx bridge (src/ffi/bridge.rs) for C++ code, with std::vector /
// std::span in and refloat::Error out.
//
// The generated bridge header "refloat/src/ffi/bridge.rs.h" declares refloat::bridge::* with
// rust::Slice / rust::Vec and throws rust::Error; this header wraps those calls so that they
// take standard containers and throw refloat::Error (status + message) like refloat.hpp.
// Needs librefloat built with the bridge: the CMake targets refloat::refloat and
// refloat::refloat_static both provide it (cargo's own cdylib does not export the C++ half;
// link cargo's librefloat.a instead). Include paths: the installed include/ directory, or
// include/, cpp/ and target/cxxbridge/ of a cargo build. C++17 (spans with C++20).
//
//   std::vector<float>& pt = ...;   // an xAOD aux branch's per-event vector
//   auto summary = refloat::cxx::correct(pt, 10, refloat::Rounding::Nearest);
#ifndef REFLOAT_CXX_HPP
#define REFLOAT_CXX_HPP

#include "refloat.hpp"
#include "rust/cxx.h"
#include "refloat/src/ffi/bridge.rs.h"

#include <cstdint>
#include <string>
#include <vector>

namespace refloat {
namespace cxx {

using bridge::CorrectionSummary;

namespace detail {
inline bridge::Rounding b(Rounding m) { return static_cast<bridge::Rounding>(static_cast<std::uint32_t>(m)); }
inline bridge::Method b(Method m) { return static_cast<bridge::Method>(static_cast<std::uint32_t>(m)); }

/// Call a bridge function, turning rust::Error into refloat::Error with the C status.
template <class F>
auto call(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const rust::Error& e) {
        int status = bridge::last_error_status();
        throw Error(status != REFLOAT_OK ? status : REFLOAT_OTHER, e.what());
    }
}
}  // namespace detail

/// The library version, e.g. "0.1.0" (from the Rust side of the bridge).
inline std::string version() { return std::string(bridge::version()); }

/// Correct an event's std::vector<float> in place (see refloat::correct); the vector is
/// handed to Rust as it is, nothing is copied.
inline CorrectionSummary correct(std::vector<float>& v, unsigned mantissa_bits, Rounding mode,
                                 Method method = Method::Midpoint, std::uint64_t seed = 0) {
    return detail::call([&] { return bridge::correct_vector(v, mantissa_bits, detail::b(mode), detail::b(method), seed); });
}

/// Correct a float buffer in place. Throws refloat::Error (REFLOAT_NULL_PARAMETER) if `data`
/// is null with `n` > 0 (NULL with 0 values is an empty buffer).
inline CorrectionSummary correct(float* data, std::size_t n, unsigned mantissa_bits, Rounding mode,
                                 Method method = Method::Midpoint, std::uint64_t seed = 0) {
    // rust::Slice requires a non-null pointer unless it is empty (cxx asserts, else UB)
    if (data == nullptr && n != 0)
        throw Error(REFLOAT_NULL_PARAMETER, "data is NULL but its length is " + std::to_string(n));
    return detail::call([&] {
        return bridge::correct(rust::Slice<float>(data, n), mantissa_bits, detail::b(mode), detail::b(method), seed);
    });
}

/// Correct a piece of branch `branch` in place under refloat's one seeding rule (dither draws
/// value i from the seed mixed with `branch` and first_index + i, the index in the whole
/// branch): the bits of `refloat correct` and of refloat::correct_branch.
inline CorrectionSummary correct_branch(std::vector<float>& v, unsigned mantissa_bits, Rounding mode, Method method,
                                        std::uint64_t seed, const std::string& branch, std::uint64_t first_index) {
    return detail::call([&] {
        return bridge::correct_branch(rust::Slice<float>(v.data(), v.size()), mantissa_bits, detail::b(mode),
                                      detail::b(method), seed, rust::Str(branch.data(), branch.size()), first_index);
    });
}

/// Correct a whole jagged branch `branch`: `values` holds all events concatenated, `counts[e]`
/// the number of values of event e. Dither follows the one seeding rule over the whole branch
/// and prior-mean's density comes from the whole branch, so the result equals
/// correct_branch() on the concatenated values from index 0 (and `refloat correct`'s bits).
/// Checked as a whole first: nothing is written on error.
inline CorrectionSummary correct_events(std::vector<float>& values, const std::vector<std::uint64_t>& counts,
                                        unsigned mantissa_bits, Rounding mode, Method method = Method::Midpoint,
                                        std::uint64_t seed = 0, const std::string& branch = "") {
    return detail::call([&] {
        return bridge::correct_events(rust::Slice<float>(values.data(), values.size()),
                                      rust::Slice<const std::uint64_t>(counts.data(), counts.size()),
                                      mantissa_bits, detail::b(mode), detail::b(method), seed,
                                      rust::Str(branch.data(), branch.size()));
    });
}

/// Options of the resolver, as the bridge defines them.
using ResolveOptions = bridge::ResolveOptions;

/// Bits and scheme resolved, the tree's format (unknown for a buffer), exact values left alone.
inline ResolveOptions default_resolve_options() { return bridge::default_resolve_options(); }

/// A branch resolved by refloat's resolver (see refloat::Resolution, the same decision over
/// the C API): kept bits, scheme, per-value precisions and values exact by nature.
class Resolution {
public:
    /// Resolve branch `branch` of tree `tree` ("": the analysis tree) of a ROOT file.
    static Resolution of_file(const std::string& path, const std::string& tree, const std::string& branch,
                              const ResolveOptions& options = default_resolve_options()) {
        return Resolution(detail::call([&] { return bridge::resolve_file(path, tree, branch, options); }));
    }
    /// Resolve stored values on their own (pass a whole branch).
    static Resolution of_values(const std::vector<float>& v, const ResolveOptions& options = default_resolve_options()) {
        return Resolution(detail::call(
            [&] { return bridge::resolve_buffer(rust::Slice<const float>(v.data(), v.size()), options); }));
    }
    /// Kept bits the branch is corrected at; -1: left as stored.
    int mantissa_bits() const { return r_->mantissa_bits(); }
    /// The scheme.
    Rounding mode() const { return static_cast<Rounding>(static_cast<std::uint32_t>(r_->mode())); }
    /// The whole resolution as JSON.
    std::string json() const { return std::string(r_->json()); }
    /// Correct a piece of the branch in place (v[0] is value `first_index` of the branch).
    CorrectionSummary correct(std::vector<float>& v, Method method = Method::Midpoint, std::uint64_t seed = 0,
                              const std::string& branch = "", std::uint64_t first_index = 0) const {
        return detail::call([&] {
            return r_->correct(rust::Slice<float>(v.data(), v.size()), detail::b(method), seed,
                               rust::Str(branch.data(), branch.size()), first_index);
        });
    }

private:
    explicit Resolution(rust::Box<bridge::BranchResolution> r) : r_(std::move(r)) {}
    rust::Box<bridge::BranchResolution> r_;
};

/// Options and report of the file pipelines, as the bridge defines them.
using FileOptions = bridge::FileOptions;
using FileReport = bridge::FileReport;

/// The `refloat` command's defaults (see refloat::default_file_options).
inline FileOptions default_file_options() { return bridge::default_file_options(); }

/// A drop-in copy of `input` with its float branches rounded (see refloat::compress_file).
inline FileReport compress_file(const std::string& input, const std::string& output, const FileOptions& options) {
    return detail::call([&] { return bridge::compress_file(input, output, options); });
}

/// A verified, corrected drop-in copy of `input` (see refloat::correct_file).
inline FileReport correct_file(const std::string& input, const std::string& output, const FileOptions& options) {
    return detail::call([&] { return bridge::correct_file(input, output, options); });
}

/// The kept mantissa bits of compressed data (pass a whole branch).
inline unsigned infer_mantissa_bits(const std::vector<float>& v) {
    return detail::call([&] { return bridge::infer_mantissa_bits(rust::Slice<const float>(v.data(), v.size())); });
}

/// Intervals of originals of every stored value.
inline Intervals intervals(const std::vector<float>& stored, unsigned mantissa_bits, Rounding mode) {
    bridge::Intervals iv = detail::call(
        [&] { return bridge::intervals(rust::Slice<const float>(stored.data(), stored.size()), mantissa_bits, detail::b(mode)); });
    return Intervals{std::vector<float>(iv.lo.begin(), iv.lo.end()), std::vector<float>(iv.hi.begin(), iv.hi.end())};
}

/// `original − stored` (double arithmetic, rounded once to float).
inline std::vector<float> residuals(const std::vector<float>& original, const std::vector<float>& stored) {
    rust::Vec<float> r = detail::call([&] {
        return bridge::residuals(rust::Slice<const float>(original.data(), original.size()),
                                 rust::Slice<const float>(stored.data(), stored.size()));
    });
    return std::vector<float>(r.begin(), r.end());
}

#ifdef REFLOAT_HPP_HAS_SPAN
inline CorrectionSummary correct(std::span<float> v, unsigned mantissa_bits, Rounding mode,
                                 Method method = Method::Midpoint, std::uint64_t seed = 0) {
    return refloat::cxx::correct(v.data(), v.size(), mantissa_bits, mode, method, seed);
}
#endif

}  // namespace cxx
}  // namespace refloat

#endif  // REFLOAT_CXX_HPP
