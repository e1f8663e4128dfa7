// correct_branch.hpp: the correction body of the ROOT macro correct_branch.C, free of ROOT so
// that the very same code runs in ROOT's interpreter (cling), in compiled programs and in
// tests. It needs only refloat.hpp (the C API of librefloat.so).
//
// A branch is corrected in two steps, as the macro does:
//   1. resolve: refloat's resolver reads the whole branch once (refloat::Resolution::of_file)
//      and decides its kept bits, its scheme, per-value precisions and the values exact by
//      nature (sentinels, spikes, lattices) -- exactly as `refloat correct` does;
//   2. correct_event: correct each event's values in place under that resolution.
#ifndef REFLOAT_CORRECT_BRANCH_HPP
#define REFLOAT_CORRECT_BRANCH_HPP

#include "refloat.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace refloat_macro {

/// How a branch is corrected.
struct Settings {
    refloat::Method method = refloat::Method::Midpoint;
    std::uint64_t seed = 0;  ///< for Method::Dither only
    std::string branch;      ///< full branch name (seeds Method::Dither)
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

/// The resolve options of the macro's arguments: `bits` -1 and rounding "detect" leave them
/// to the resolver.
inline refloat::ResolveOptions resolve_options(int bits, refloat::Rounding rounding) {
    refloat::ResolveOptions o = refloat::default_resolve_options();
    o.mantissa_bits = bits;
    o.mode = static_cast<refloat_rounding>(rounding);
    return o;
}

/// Correct one event's values in place (what an xAOD aux branch or TTreeReaderValue hands);
/// `first_index` is the index of the event's first value in the whole branch (the values of
/// all earlier entries). The resolution and Method::Dither's seeding rule (seed, branch name,
/// index in the whole branch) are refloat's, so the macro gives the bits of `refloat correct`.
/// Every corrected value re-quantises to its stored value. Throws refloat::Error (and leaves
/// `values` untouched) if a value cannot have been stored under the resolution.
///
/// Method::PriorMean estimates its density from the values of this one call (one event):
/// with a handful of objects that is close to the midpoint. `refloat correct` estimates it
/// from the whole branch.
inline refloat::CorrectionReport correct_event(std::vector<float>& values, const refloat::Resolution& resolution,
                                               const Settings& s, std::uint64_t first_index,
                                               Summary* summary = nullptr) {
    std::vector<float> before;
    if (summary) before = values;
    refloat::CorrectionReport r = resolution.correct(values, s.method, s.seed, s.branch, first_index);
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

/// Parse "detect", "nearest", "truncate", "nearest-even", "cms", "root-float16" or "bitround".
inline refloat::Rounding parse_rounding(const std::string& name) {
    if (name == "detect" || name.empty()) return refloat::Rounding::Detect;
    if (name == "nearest") return refloat::Rounding::Nearest;
    if (name == "truncate") return refloat::Rounding::Truncate;
    if (name == "nearest-even") return refloat::Rounding::NearestEven;
    if (name == "cms") return refloat::Rounding::Cms;
    if (name == "root-float16") return refloat::Rounding::RootFloat16;
    if (name == "bitround") return refloat::Rounding::BitRound;
    throw refloat::Error(REFLOAT_INVALID_ARGUMENT,
                         "unknown rounding '" + name +
                             "' (detect, nearest, truncate, nearest-even, cms, root-float16, bitround)");
}

/// Parse "midpoint", "dither" or "prior-mean".
inline refloat::Method parse_method(const std::string& name) {
    if (name == "midpoint") return refloat::Method::Midpoint;
    if (name == "dither") return refloat::Method::Dither;
    if (name == "prior-mean") return refloat::Method::PriorMean;
    throw refloat::Error(REFLOAT_INVALID_ARGUMENT, "unknown method '" + name + "' (midpoint, dither, prior-mean)");
}

/// Whether a branch of this type can be corrected: `float`, `float[n]` / `float[N]` or
/// `std::vector<float>`. `class_name` is TBranch::GetClassName() (empty for leaf branches),
/// `leaf_type` the type name of its only leaf ("Float_t", ...; empty if it has several).
/// Otherwise throws refloat::Error naming the type.
inline void check_float_branch(const std::string& branch, const std::string& class_name,
                               const std::string& leaf_type) {
    if (class_name == "vector<float>" || class_name == "std::vector<float>") return;
    if (class_name.empty() && (leaf_type == "Float_t" || leaf_type == "float")) return;
    const std::string type = class_name.empty() ? (leaf_type.empty() ? "several leaves" : leaf_type) : class_name;
    throw refloat::Error(REFLOAT_INVALID_ARGUMENT, "branch '" + branch + "' holds " + type +
                                                       ", not float, float[n] or std::vector<float>: "
                                                       "refloat corrects float branches only");
}

}  // namespace refloat_macro

#endif  // REFLOAT_CORRECT_BRANCH_HPP
