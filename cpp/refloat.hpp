// refloat.hpp: header-only C++ layer over the refloat C API (refloat.h).
//
// Undo as much as physics allows of ATLAS's lossy float compression (mantissa rounding to
// `mantissa_bits` kept bits, CxxUtils::FloatCompressor). Everything here is inline and calls
// only the C functions of librefloat, so it works with the shared or the static library, in
// compiled code and in ROOT's interpreter (cling) alike. C++17; std::span overloads with C++20.
//
// Errors throw refloat::Error (a std::runtime_error) carrying the C status (refloat_status)
// and the library's message. Buffers are corrected in place and are left untouched when an
// exception is thrown. The invariant of every correction: re-quantising a corrected value
// gives back the stored value, bit for bit.
//
//   std::vector<float> pt = ...;                       // one event's values, as stored
//   refloat::correct(pt, 10, refloat::Rounding::Nearest, refloat::Method::Midpoint);
#ifndef REFLOAT_HPP
#define REFLOAT_HPP

#include "refloat.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#define REFLOAT_HPP_HAS_SPAN 1
#endif
#endif

namespace refloat {

/// How the dropped mantissa bits were removed when the data was stored.
enum class Rounding : std::uint32_t {
    Nearest = REFLOAT_NEAREST,          ///< half away from zero: ATLAS FloatCompressor
    Truncate = REFLOAT_TRUNCATE,        ///< toward zero: ROOT RNTuple Real32Trunc
    NearestEven = REFLOAT_NEAREST_EVEN,  ///< IEEE half to even on the kept bits
    Cms = REFLOAT_CMS,                   ///< CMS NanoAOD: no carry, top two codes kept
    RootFloat16 = REFLOAT_ROOT_FLOAT16,  ///< ROOT Float16_t [0,0,n]: saturating top code
    BitRound = REFLOAT_BITROUND,         ///< netCDF-4 BITROUND: no overflow guard
    Detect = REFLOAT_DETECT              ///< correcting: the scheme the values show, else the format's
};

/// The estimator a correction uses inside each value's interval of originals.
enum class Method : std::uint32_t {
    Midpoint = REFLOAT_MIDPOINT,    ///< centre of the interval
    Dither = REFLOAT_DITHER,        ///< uniform in the interval, from (seed, index)
    PriorMean = REFLOAT_PRIOR_MEAN  ///< conditional mean under the buffer's own density
};

/// What a correction did: values corrected, left alone as exact, non-finite.
using CorrectionReport = refloat_correction_report;

/// A failed refloat call: `status()` is the C status (a refloat_status), `what()` the message.
class Error : public std::runtime_error {
public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    /// The refloat_status number (REFLOAT_NULL_PARAMETER, REFLOAT_NOT_QUANTISED, ...).
    int status() const noexcept { return status_; }

private:
    int status_;
};

/// Intervals of originals: every original stored as value i lies in [lo[i], hi[i]].
struct Intervals {
    std::vector<float> lo;
    std::vector<float> hi;
};

namespace detail {
inline void check(int status) {
    if (status != REFLOAT_OK) throw Error(status, refloat_last_error());
}
inline void check_same_size(std::size_t a, std::size_t b, const char* what) {
    if (a != b)
        throw Error(REFLOAT_LENGTH_MISMATCH, std::string("length mismatch: ") + what + " (" +
                                                 std::to_string(a) + " vs " + std::to_string(b) + ")");
}
inline refloat_rounding c(Rounding m) { return static_cast<refloat_rounding>(m); }
inline refloat_method c(Method m) { return static_cast<refloat_method>(m); }
}  // namespace detail

/// The library version, e.g. "0.1.0".
inline const char* version() { return refloat_version(); }

// ---- pointer + length ------------------------------------------------------------------

/// Quantise in place to `mantissa_bits` kept bits (0..23), as the compression did.
inline void quantise(float* data, std::size_t n, unsigned mantissa_bits, Rounding mode) {
    detail::check(refloat_quantise_f32(data, n, mantissa_bits, detail::c(mode)));
}
/// Quantise doubles in place to `mantissa_bits` kept bits (0..52).
inline void quantise(double* data, std::size_t n, unsigned mantissa_bits, Rounding mode) {
    detail::check(refloat_quantise_f64(data, n, mantissa_bits, detail::c(mode)));
}

/// Correct stored values in place; each result re-quantises to its stored value. Values exact
/// by nature (0, ±1, -999 and other sentinels, and the spikes and lattice the buffer's own
/// values show) and NaN/Inf are left alone: for a branch corrected event by event, resolve it
/// once with Resolution::of_file. `mode` may be Rounding::Detect. Throws (REFLOAT_NOT_QUANTISED)
/// if a value cannot have been stored with `mantissa_bits` and `mode`; `data` is untouched then.
inline CorrectionReport correct(float* data, std::size_t n, unsigned mantissa_bits, Rounding mode,
                                Method method = Method::Midpoint, std::uint64_t seed = 0) {
    CorrectionReport report{};
    detail::check(refloat_correct_report_f32(data, n, mantissa_bits, detail::c(mode), detail::c(method),
                                             seed, &report));
    return report;
}

/// `correct` for a piece of branch `branch` under refloat's one seeding rule: Method::Dither
/// draws value i from (seed mixed with `branch`, first_index + i), `first_index` being the
/// index of data[0] in the whole branch (entries flattened). Correcting event by event with
/// each event's offset gives the bits of `refloat correct --method dither:SEED`.
inline CorrectionReport correct_branch(float* data, std::size_t n, unsigned mantissa_bits, Rounding mode,
                                       Method method, std::uint64_t seed, const std::string& branch,
                                       std::uint64_t first_index) {
    CorrectionReport report{};
    detail::check(refloat_correct_branch_f32(data, n, mantissa_bits, detail::c(mode), detail::c(method), seed,
                                             branch.c_str(), first_index, &report));
    return report;
}

/// The kept mantissa bits of compressed data (pass a whole branch, not one event).
inline unsigned infer_mantissa_bits(const float* data, std::size_t n) {
    std::uint32_t bits = 0;
    detail::check(refloat_infer_mantissa_bits_f32(data, n, &bits));
    return bits;
}

/// Intervals of originals of `stored[0..n)` into `lo[0..n)` and `hi[0..n)`.
inline void intervals(const float* stored, std::size_t n, unsigned mantissa_bits, Rounding mode,
                      float* lo, float* hi) {
    detail::check(refloat_interval_f32(stored, n, mantissa_bits, detail::c(mode), lo, hi));
}

/// `residual[i] = original[i] − stored[i]` (computed in double, rounded once to float).
inline void residuals(const float* original, const float* stored, std::size_t n, float* residual) {
    detail::check(refloat_residual_f32(original, stored, n, residual));
}

/// Throw (REFLOAT_INVALID_INPUT) unless every corrected value re-quantises to its stored value.
inline void verify(const float* corrected, const float* stored, std::size_t n, unsigned mantissa_bits,
                   Rounding mode) {
    detail::check(refloat_verify_f32(corrected, stored, n, mantissa_bits, detail::c(mode)));
}

// ---- std::vector -----------------------------------------------------------------------

inline void quantise(std::vector<float>& v, unsigned mantissa_bits, Rounding mode) {
    quantise(v.data(), v.size(), mantissa_bits, mode);
}
inline void quantise(std::vector<double>& v, unsigned mantissa_bits, Rounding mode) {
    quantise(v.data(), v.size(), mantissa_bits, mode);
}
inline CorrectionReport correct(std::vector<float>& v, unsigned mantissa_bits, Rounding mode,
                                Method method = Method::Midpoint, std::uint64_t seed = 0) {
    return correct(v.data(), v.size(), mantissa_bits, mode, method, seed);
}
inline CorrectionReport correct_branch(std::vector<float>& v, unsigned mantissa_bits, Rounding mode, Method method,
                                       std::uint64_t seed, const std::string& branch, std::uint64_t first_index) {
    return correct_branch(v.data(), v.size(), mantissa_bits, mode, method, seed, branch, first_index);
}
inline unsigned infer_mantissa_bits(const std::vector<float>& v) { return infer_mantissa_bits(v.data(), v.size()); }
inline Intervals intervals(const std::vector<float>& stored, unsigned mantissa_bits, Rounding mode) {
    Intervals out{std::vector<float>(stored.size()), std::vector<float>(stored.size())};
    intervals(stored.data(), stored.size(), mantissa_bits, mode, out.lo.data(), out.hi.data());
    return out;
}
inline std::vector<float> residuals(const std::vector<float>& original, const std::vector<float>& stored) {
    detail::check_same_size(original.size(), stored.size(), "original vs stored");
    std::vector<float> out(original.size());
    residuals(original.data(), stored.data(), original.size(), out.data());
    return out;
}
inline void verify(const std::vector<float>& corrected, const std::vector<float>& stored, unsigned mantissa_bits,
                   Rounding mode) {
    detail::check_same_size(corrected.size(), stored.size(), "corrected vs stored");
    verify(corrected.data(), stored.data(), stored.size(), mantissa_bits, mode);
}

// ---- files -----------------------------------------------------------------------------

/// Options of compress_file / correct_file (the C struct; start from default_file_options()).
using FileOptions = refloat_file_options;
/// What a file pipeline did.
using FileReport = refloat_file_report;

/// The `refloat` command's defaults: the analysis tree ("CollectionTree", else "Events"), every
/// float branch, bits and scheme resolved per branch (-1, Detect), midpoint, seed 0, the input's
/// compression, verify on, the tree's format, values exact by nature left alone.
inline FileOptions default_file_options() { return refloat_file_options_default(); }

/// A drop-in copy of `input` with its float branches rounded to `options.mantissa_bits`
/// (required); no output on error.
inline FileReport compress_file(const std::string& input, const std::string& output, const FileOptions& options) {
    FileReport report{};
    detail::check(refloat_compress_file(input.c_str(), output.c_str(), &options, &report));
    return report;
}

/// A verified drop-in copy of the compressed `input` with its float branches corrected; no
/// output on error.
inline FileReport correct_file(const std::string& input, const std::string& output, const FileOptions& options) {
    FileReport report{};
    detail::check(refloat_correct_file(input.c_str(), output.c_str(), &options, &report));
    return report;
}

/// How many kept bits each float branch of `input` needs (`refloat advise`): the sweep and
/// each branch's recommended_bits written as JSON to `json_output` (options.tree, branches,
/// mode and progress apply); no output on error.
inline FileReport advise_file(const std::string& input, const std::string& json_output, const FileOptions& options) {
    FileReport report{};
    detail::check(refloat_advise_file(input.c_str(), json_output.c_str(), &options, &report));
    return report;
}

// ---- the resolver ----------------------------------------------------------------------

/// Options of the resolver (the C struct; start from default_resolve_options()).
using ResolveOptions = refloat_resolve_options;
/// Kept bits, scheme, precisions, spikes and lattice of a resolution, in numbers.
using ResolutionInfo = refloat_resolution_info;

/// Bits and scheme resolved, the tree's format (unknown for a buffer), exact values left alone.
inline ResolveOptions default_resolve_options() { return refloat_resolve_options_default(); }

/// How a branch was rounded and what in it is exact, decided once by refloat's resolver (the
/// one `refloat correct` uses), then applied event by event: `correct` gives each piece of the
/// branch the bits the file pipeline gives it. Movable, not copyable; thread-safe to use.
///
///   auto r = refloat::Resolution::of_file("nano.root", "", "Jet_pt");
///   r.correct(pt, refloat::Method::Dither, 42, "Jet_pt", first_index);   // per event
class Resolution {
public:
    /// Resolve branch `branch` of tree `tree` ("" : the analysis tree) of a ROOT file.
    static Resolution of_file(const std::string& path, const std::string& tree, const std::string& branch,
                              const ResolveOptions& options = default_resolve_options()) {
        refloat_resolution* r = nullptr;
        detail::check(refloat_resolve_file(path.c_str(), tree.empty() ? nullptr : tree.c_str(), branch.c_str(),
                                           &options, &r));
        return Resolution(r);
    }
    /// Resolve stored values on their own (pass a whole branch).
    static Resolution of_values(const float* data, std::size_t n,
                                const ResolveOptions& options = default_resolve_options()) {
        refloat_resolution* r = nullptr;
        detail::check(refloat_resolve_f32(data, n, &options, &r));
        return Resolution(r);
    }
    static Resolution of_values(const std::vector<float>& v, const ResolveOptions& options = default_resolve_options()) {
        return of_values(v.data(), v.size(), options);
    }

    /// Kept bits, scheme, precisions, spikes, lattice.
    ResolutionInfo info() const {
        ResolutionInfo i{};
        detail::check(refloat_resolution_get_info(handle_.get(), &i));
        return i;
    }
    /// Kept bits the branch is corrected at; -1: left as stored.
    int mantissa_bits() const { return info().mantissa_bits; }
    /// The scheme.
    Rounding mode() const { return static_cast<Rounding>(info().mode); }
    /// The whole resolution as JSON (as `refloat inspect --json` gives it per branch).
    std::string json() const { return refloat_resolution_json(handle_.get()); }

    /// Correct a piece of the branch in place: data[0] is value `first_index` of the branch
    /// (entries flattened); `branch` seeds Method::Dither under the one seeding rule.
    CorrectionReport correct(float* data, std::size_t n, Method method = Method::Midpoint, std::uint64_t seed = 0,
                             const std::string& branch = "", std::uint64_t first_index = 0) const {
        CorrectionReport report{};
        detail::check(refloat_correct_resolved_f32(handle_.get(), data, n, detail::c(method), seed, branch.c_str(),
                                                   first_index, &report));
        return report;
    }
    CorrectionReport correct(std::vector<float>& v, Method method = Method::Midpoint, std::uint64_t seed = 0,
                             const std::string& branch = "", std::uint64_t first_index = 0) const {
        return correct(v.data(), v.size(), method, seed, branch, first_index);
    }

    /// The C handle (owned by this object).
    const refloat_resolution* get() const { return handle_.get(); }

private:
    struct Free {
        void operator()(refloat_resolution* r) const { refloat_resolution_free(r); }
    };
    explicit Resolution(refloat_resolution* r) : handle_(r, Free{}) {}
    std::shared_ptr<refloat_resolution> handle_;
};

// ---- std::span (C++20) -----------------------------------------------------------------
#ifdef REFLOAT_HPP_HAS_SPAN
inline void quantise(std::span<float> v, unsigned mantissa_bits, Rounding mode) {
    quantise(v.data(), v.size(), mantissa_bits, mode);
}
inline void quantise(std::span<double> v, unsigned mantissa_bits, Rounding mode) {
    quantise(v.data(), v.size(), mantissa_bits, mode);
}
inline CorrectionReport correct(std::span<float> v, unsigned mantissa_bits, Rounding mode,
                                Method method = Method::Midpoint, std::uint64_t seed = 0) {
    return correct(v.data(), v.size(), mantissa_bits, mode, method, seed);
}
inline unsigned infer_mantissa_bits(std::span<const float> v) { return infer_mantissa_bits(v.data(), v.size()); }
inline void intervals(std::span<const float> stored, unsigned mantissa_bits, Rounding mode, std::span<float> lo,
                      std::span<float> hi) {
    detail::check_same_size(lo.size(), stored.size(), "lo output vs stored");
    detail::check_same_size(hi.size(), stored.size(), "hi output vs stored");
    intervals(stored.data(), stored.size(), mantissa_bits, mode, lo.data(), hi.data());
}
inline void residuals(std::span<const float> original, std::span<const float> stored, std::span<float> residual) {
    detail::check_same_size(original.size(), stored.size(), "original vs stored");
    detail::check_same_size(residual.size(), stored.size(), "residual output vs stored");
    residuals(original.data(), stored.data(), stored.size(), residual.data());
}
inline void verify(std::span<const float> corrected, std::span<const float> stored, unsigned mantissa_bits,
                   Rounding mode) {
    detail::check_same_size(corrected.size(), stored.size(), "corrected vs stored");
    verify(corrected.data(), stored.data(), stored.size(), mantissa_bits, mode);
}
#endif

}  // namespace refloat

#endif  // REFLOAT_HPP
