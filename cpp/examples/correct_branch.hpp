// correct_branch.hpp: the correction body of the ROOT macro correct_branch.C, free of ROOT so
// that the very same code runs in ROOT's interpreter (cling), in compiled programs and in
// tests. It needs only refloat.hpp (the C API of librefloat.so).
//
// A branch is corrected in two passes, as the macro does with TTreeReader:
//   1. BranchBits: infer the kept mantissa bits from ALL events (the bit count is not
//      written in ATLAS files, and a single event can share extra zero bits by chance);
//   2. correct_event: correct each event's std::vector<float> in place.
#ifndef REFLOAT_CORRECT_BRANCH_HPP
#define REFLOAT_CORRECT_BRANCH_HPP

#include "refloat.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace refloat_macro {

/// How a branch was stored and how to correct it.
struct Settings {
    unsigned mantissa_bits = 0;                            ///< kept bits (from BranchBits)
    refloat::Rounding mode = refloat::Rounding::Nearest;   ///< ATLAS FloatCompressor rounds to nearest
    refloat::Method method = refloat::Method::Midpoint;
    std::uint64_t seed = 0;                                ///< for Method::Dither only
    std::string branch;                                    ///< full branch name (seeds Method::Dither)
};

/// Infers a branch's kept mantissa bits event by event: the bits of the whole branch are the
/// largest of the events' bits (the trailing zeros common to all values are the fewest of the
/// events'). Events without an informative value (empty, zeros, powers of two) are skipped.
class BranchBits {
public:
    void add(const std::vector<float>& values) { add(values.data(), values.size()); }
    void add(const float* values, std::size_t n) {
        try {
            unsigned b = refloat::infer_mantissa_bits(values, n);
            if (!known_ || b > bits_) bits_ = b;
            known_ = true;
        } catch (const refloat::Error& e) {
            if (e.status() != REFLOAT_CANNOT_INFER_BITS) throw;
        }
    }
    /// Whether any event had an informative value.
    bool known() const { return known_; }
    /// The inferred kept bits; throws refloat::Error if no event had an informative value.
    unsigned bits() const {
        if (!known_) throw refloat::Error(REFLOAT_CANNOT_INFER_BITS, "cannot infer the kept mantissa bits: no event has a value with a non-zero mantissa");
        return bits_;
    }

private:
    unsigned bits_ = 0;
    bool known_ = false;
};

/// Totals over the events of a branch.
struct Summary {
    std::size_t events = 0;
    std::size_t values = 0;
    std::size_t corrected = 0;
    std::size_t left_exact = 0;
    std::size_t non_finite = 0;
    std::size_t changed = 0;  ///< values whose bits the correction changed
};

/// Correct one event's values in place (what an xAOD aux branch or TTreeReaderValue hands);
/// `first_index` is the index of the event's first value in the whole branch (the values of
/// all earlier entries). Method::Dither follows refloat's one seeding rule (seed, branch
/// name, index in the whole branch), so the macro gives the bits of `refloat correct`. Every
/// corrected value re-quantises to its stored value. Throws refloat::Error (and leaves
/// `values` untouched) if a value cannot have been stored with `s`.
///
/// Method::PriorMean estimates its density from the values of this one call (one event):
/// with a handful of objects that is close to the midpoint. `refloat correct` estimates it
/// from the whole branch.
inline refloat::CorrectionReport correct_event(std::vector<float>& values, const Settings& s, std::uint64_t first_index,
                                               Summary* summary = nullptr) {
    std::vector<float> before;
    if (summary) before = values;
    refloat::CorrectionReport r =
        refloat::correct_branch(values, s.mantissa_bits, s.mode, s.method, s.seed, s.branch, first_index);
    if (summary) {
        summary->events += 1;
        summary->values += values.size();
        summary->corrected += r.corrected;
        summary->left_exact += r.left_exact;
        summary->non_finite += r.non_finite;
        for (std::size_t i = 0; i < values.size(); ++i)
            if (std::memcmp(&values[i], &before[i], sizeof(float)) != 0) summary->changed += 1;
    }
    return r;
}

/// Parse "nearest", "truncate" or "nearest-even".
inline refloat::Rounding parse_rounding(const std::string& name) {
    if (name == "nearest") return refloat::Rounding::Nearest;
    if (name == "truncate") return refloat::Rounding::Truncate;
    if (name == "nearest-even") return refloat::Rounding::NearestEven;
    if (name == "cms") return refloat::Rounding::Cms;
    if (name == "root-float16") return refloat::Rounding::RootFloat16;
    if (name == "bitround") return refloat::Rounding::BitRound;
    throw refloat::Error(REFLOAT_INVALID_ARGUMENT,
                         "unknown rounding '" + name + "' (nearest, truncate, nearest-even, cms, root-float16, bitround)");
}

/// Parse "midpoint", "dither" or "prior-mean".
inline refloat::Method parse_method(const std::string& name) {
    if (name == "midpoint") return refloat::Method::Midpoint;
    if (name == "dither") return refloat::Method::Dither;
    if (name == "prior-mean") return refloat::Method::PriorMean;
    throw refloat::Error(REFLOAT_INVALID_ARGUMENT, "unknown method '" + name + "' (midpoint, dither, prior-mean)");
}

}  // namespace refloat_macro

#endif  // REFLOAT_CORRECT_BRANCH_HPP
