// refloat_rdf.hpp: refloat in ROOT's RDataFrame. Functions usable directly in `Define` on
// `ROOT::RVecF` (jagged: std::vector<float>, float[n]) and `float` columns, over the C API
// (refloat.hpp, librefloat.so). Needs ROOT (ROOT/RVec.hxx, ROOT/RDataFrame.hxx).
//
//   #include "refloat_rdf.hpp"
//   ROOT::RDataFrame df("CollectionTree", "comp.root");
//   auto q = df.Define("pt_q", [](const ROOT::RVecF& pt) {
//       return refloat::rdf::quantise(pt, 10, refloat::Rounding::Nearest); }, {"AnalysisJetsAuxDyn.pt"});
//   auto c = df.Define("pt_c", [](const ROOT::RVecF& pt) {
//       return refloat::rdf::correct(pt, 10, refloat::Rounding::Nearest, refloat::Method::Midpoint); },
//       {"AnalysisJetsAuxDyn.pt"});
//   // dither, the same bits as `refloat correct --method dither:42` on this file and branch,
//   // whatever the threads (ROOT::EnableImplicitMT()) and the order they see the entries in:
//   auto d = refloat::rdf::dither(df, "AnalysisJetsAuxDyn.pt", 10, refloat::Rounding::Nearest, 42);
//   auto out = df.Define("pt_d", d, {"rdfentry_", "AnalysisJetsAuxDyn.pt"});
//   // the branch resolved as `refloat correct` resolves it (bits, scheme, -999 and other
//   // values exact by nature left alone), then corrected entry by entry:
//   auto c = refloat::rdf::corrector(df, "comp.root", "AnalysisJetsAuxDyn.pt", refloat::Method::Dither, 42);
//   auto out2 = df.Define("pt_c", c, {"rdfentry_", "AnalysisJetsAuxDyn.pt"});
//   // one line for the analyst: every float column the resolver finds rounded, corrected
//   // under its own scheme and bits (the bits `refloat correct` writes for each branch):
//   auto all = refloat::rdf::CorrectAll(df, "comp.root", refloat::Method::Midpoint);
//
// Only float columns are corrected: a double column is refused at compile time (producers
// round floats; narrowing a double would lose more than refloat restores).
//
// From PyROOT: ROOT.gSystem.Load("librefloat.so"); ROOT.gInterpreter.Declare('#include "refloat_rdf.hpp"'),
// then the same calls in string expressions or through ROOT.refloat.rdf.
#ifndef REFLOAT_RDF_HPP
#define REFLOAT_RDF_HPP

#include "refloat.hpp"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RVec.hxx>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace refloat {
namespace rdf {

/// The values `v` quantised to `mantissa_bits` kept bits with `mode` (a new RVecF).
inline ROOT::RVecF quantise(const ROOT::RVecF& v, unsigned mantissa_bits, Rounding mode) {
    ROOT::RVecF out(v.begin(), v.end());
    refloat::quantise(out.data(), out.size(), mantissa_bits, mode);
    return out;
}

/// One value quantised.
inline float quantise(float x, unsigned mantissa_bits, Rounding mode) {
    refloat::quantise(&x, 1, mantissa_bits, mode);
    return x;
}

/// The stored values `v` corrected with `method` (a new RVecF; each value re-quantises to its
/// stored value). Method::PriorMean estimates its density from `v` alone (one entry); for
/// Method::Dither with the bits of `refloat correct`, use `Dither`.
inline ROOT::RVecF correct(const ROOT::RVecF& v, unsigned mantissa_bits, Rounding mode,
                           Method method = Method::Midpoint) {
    ROOT::RVecF out(v.begin(), v.end());
    refloat::correct(out.data(), out.size(), mantissa_bits, mode, method, 0);
    return out;
}

/// One stored value corrected.
inline float correct(float x, unsigned mantissa_bits, Rounding mode, Method method = Method::Midpoint) {
    refloat::correct(&x, 1, mantissa_bits, mode, method, 0);
    return x;
}

/// `double` values are refused, not narrowed to float: producers round float branches, and a
/// double rounded to float here would lose more than any correction restores.
template <typename T, typename std::enable_if<std::is_same<T, double>::value, int>::type = 0>
T correct(T, unsigned, Rounding, Method = Method::Midpoint) {
    static_assert(!std::is_same<T, double>::value,
                  "refloat::rdf::correct takes float columns; this column is double (refloat corrects "
                  "the float branches producers round; read it as float only if it was written as float)");
    return T{};
}
template <typename T, typename std::enable_if<std::is_same<T, double>::value, int>::type = 0>
ROOT::RVec<T> correct(const ROOT::RVec<T>&, unsigned, Rounding, Method = Method::Midpoint) {
    static_assert(!std::is_same<T, double>::value,
                  "refloat::rdf::correct takes float columns (RVecF); this column is RVecD (refloat corrects "
                  "the float branches producers round)");
    return {};
}

/// For each jagged column (RVecF) of `columns` and every entry of `df`, the index of the
/// entry's first value in the whole branch (entries flattened): one event loop for all of
/// them, any number of threads.
inline std::vector<std::shared_ptr<const std::vector<ULong64_t>>> first_indices_of(ROOT::RDF::RNode df,
                                                                                 const std::vector<std::string>& columns) {
    auto entries = df.Take<ULong64_t>("rdfentry_");
    std::vector<ROOT::RDF::RResultPtr<std::vector<ULong64_t>>> sizes;
    for (std::size_t k = 0; k < columns.size(); ++k) {
        const std::string name = "refloat_rdf_size_" + std::to_string(k) + "_";
        sizes.push_back(
            df.Define(name, [](const ROOT::RVecF& v) { return ULong64_t(v.size()); }, {columns[k]}).Take<ULong64_t>(name));
    }
    const auto& e = *entries;  // one event loop fills every result booked above
    ULong64_t last = 0;
    for (ULong64_t x : e) last = std::max(last, x + 1);
    std::vector<std::shared_ptr<const std::vector<ULong64_t>>> out;
    for (auto& size : sizes) {
        const auto& n = *size;
        std::vector<ULong64_t> count(last, 0);
        for (std::size_t i = 0; i < e.size(); ++i) count[e[i]] = n[i];
        auto first = std::make_shared<std::vector<ULong64_t>>(last, 0);
        ULong64_t at = 0;
        for (ULong64_t k = 0; k < last; ++k) {
            (*first)[k] = at;
            at += count[k];
        }
        out.push_back(std::move(first));
    }
    return out;
}

/// For every entry of `df`, the index of its first value of `column` in the whole branch
/// (entries flattened): one event loop over the column's sizes, any number of threads.
/// `column` is jagged (RVecF); for a `float` column the index is the entry itself.
inline std::shared_ptr<const std::vector<ULong64_t>> first_indices(ROOT::RDF::RNode df, const std::string& column) {
    return first_indices_of(std::move(df), {column}).front();
}

/// Dither of a jagged column under refloat's one seeding rule (seed mixed with the branch
/// name, each value's index in the whole branch): the bits of `refloat correct --method
/// dither:SEED` on the same file and branch, with ROOT::EnableImplicitMT() or without. Use in
/// `Define(name, dither, {"rdfentry_", column})`.
class Dither {
public:
    Dither(unsigned mantissa_bits, Rounding mode, std::uint64_t seed, std::string branch,
           std::shared_ptr<const std::vector<ULong64_t>> first_index)
        : bits_(mantissa_bits), mode_(mode), seed_(seed), branch_(std::move(branch)), first_(std::move(first_index)) {}

    ROOT::RVecF operator()(ULong64_t entry, const ROOT::RVecF& v) const {
        if (!first_ || entry >= first_->size())
            throw refloat::Error(REFLOAT_INVALID_ARGUMENT,
                                 "refloat::rdf::Dither: entry " + std::to_string(entry) +
                                     " is beyond the entries its first indices were computed for");
        ROOT::RVecF out(v.begin(), v.end());
        refloat::correct_branch(out.data(), out.size(), bits_, mode_, Method::Dither, seed_, branch_, (*first_)[entry]);
        return out;
    }

private:
    unsigned bits_;
    Rounding mode_;
    std::uint64_t seed_;
    std::string branch_;
    std::shared_ptr<const std::vector<ULong64_t>> first_;
};

/// Dither of a `float` column under the one seeding rule (the index is the entry). Use in
/// `Define(name, dither, {"rdfentry_", column})`.
class DitherScalar {
public:
    DitherScalar(unsigned mantissa_bits, Rounding mode, std::uint64_t seed, std::string branch)
        : bits_(mantissa_bits), mode_(mode), seed_(seed), branch_(std::move(branch)) {}

    float operator()(ULong64_t entry, float x) const {
        refloat::correct_branch(&x, 1, bits_, mode_, Method::Dither, seed_, branch_, entry);
        return x;
    }

private:
    unsigned bits_;
    Rounding mode_;
    std::uint64_t seed_;
    std::string branch_;
};

/// A jagged column corrected under the resolution `refloat correct` gives its branch (a
/// refloat::Resolution, resolved once from the file): kept bits, scheme, per-value precision
/// and the values exact by nature are the file pipeline's, so the bits are those of
/// `refloat correct --method METHOD` on the same file and branch (Method::Dither with the
/// index of each entry's first value, from `first_indices`). Use in
/// `Define(name, corrector, {"rdfentry_", column})`; `ScalarCorrector` for a `float` column.
class Corrector {
public:
    Corrector(refloat::Resolution resolution, Method method, std::uint64_t seed, std::string branch,
              std::shared_ptr<const std::vector<ULong64_t>> first_index)
        : resolution_(std::move(resolution)), method_(method), seed_(seed), branch_(std::move(branch)),
          first_(std::move(first_index)) {}

    ROOT::RVecF operator()(ULong64_t entry, const ROOT::RVecF& v) const {
        ROOT::RVecF out(v.begin(), v.end());
        std::uint64_t first = 0;
        if (first_) {
            if (entry >= first_->size())
                throw refloat::Error(REFLOAT_INVALID_ARGUMENT,
                                     "refloat::rdf::Corrector: entry " + std::to_string(entry) +
                                         " is beyond the entries its first indices were computed for");
            first = (*first_)[entry];
        }
        resolution_.correct(out.data(), out.size(), method_, seed_, branch_, first);
        return out;
    }
    /// The resolution applied.
    const refloat::Resolution& resolution() const { return resolution_; }

private:
    refloat::Resolution resolution_;
    Method method_;
    std::uint64_t seed_;
    std::string branch_;
    std::shared_ptr<const std::vector<ULong64_t>> first_;
};

/// A `float` column corrected under its branch's resolution (the index of a value is its
/// entry). Use in `Define(name, corrector, {"rdfentry_", column})`.
class ScalarCorrector {
public:
    ScalarCorrector(refloat::Resolution resolution, Method method, std::uint64_t seed, std::string branch)
        : resolution_(std::move(resolution)), method_(method), seed_(seed), branch_(std::move(branch)) {}

    float operator()(ULong64_t entry, float x) const {
        resolution_.correct(&x, 1, method_, seed_, branch_, entry);
        return x;
    }

private:
    refloat::Resolution resolution_;
    Method method_;
    std::uint64_t seed_;
    std::string branch_;
};

/// A Corrector for jagged column `column` of `df`, whose branch of the same name in ROOT file
/// `path` is resolved as `refloat correct` resolves it (Method::Dither needs each entry's
/// first index: one event loop over the sizes, `first_indices`).
inline Corrector corrector(ROOT::RDF::RNode df, const std::string& path, const std::string& column, Method method,
                           std::uint64_t seed = 0, const ResolveOptions& options = default_resolve_options()) {
    auto resolution = refloat::Resolution::of_file(path, "", column, options);
    std::shared_ptr<const std::vector<ULong64_t>> first;
    if (method == Method::Dither) first = first_indices(std::move(df), column);
    return Corrector(std::move(resolution), method, seed, column, std::move(first));
}

/// A ScalarCorrector for `float` column `column`, its branch in `path` resolved as `refloat
/// correct` resolves it.
inline ScalarCorrector scalar_corrector(const std::string& path, const std::string& column, Method method,
                                        std::uint64_t seed = 0,
                                        const ResolveOptions& options = default_resolve_options()) {
    return ScalarCorrector(refloat::Resolution::of_file(path, "", column, options), method, seed, column);
}

/// A `Dither` for jagged column `column` of `df` (runs the event loop of `first_indices`).
inline Dither dither(ROOT::RDF::RNode df, const std::string& column, unsigned mantissa_bits, Rounding mode,
                     std::uint64_t seed) {
    return Dither(mantissa_bits, mode, seed, column, first_indices(std::move(df), column));
}

/// Whether an RDataFrame column type is a jagged float column (std::vector<float>, float[n]).
inline bool is_jagged_float(const std::string& type) {
    return type == "ROOT::VecOps::RVec<float>" || type == "ROOT::VecOps::RVec<Float_t>" ||
           type == "ROOT::RVec<float>" || type == "ROOT::RVecF" || type == "vector<float>" ||
           type == "std::vector<float>";
}

/// One line for the analyst: `df` with every float column (`float`, `std::vector<float>`,
/// `float[n]`) whose branch in ROOT file `path` (tree `tree`; "": the file's analysis tree, as
/// `refloat correct`) the resolver finds rounded redefined as corrected with `method`, under
/// the branch's own scheme and bits, values exact by nature left alone: for each branch the
/// bits `refloat correct --method METHOD` writes. Columns at full precision, whose bits
/// cannot be told, that are not branches of the file (a `Define`) or not float are left as
/// they are. Resolving reads each float branch once; `Method::Dither` also runs one event
/// loop over the jagged columns' sizes (their values' indices in the whole branch).
inline ROOT::RDF::RNode CorrectAll(ROOT::RDF::RNode df, const std::string& path, Method method = Method::Midpoint,
                                   std::uint64_t seed = 0, const ResolveOptions& options = default_resolve_options(),
                                   const std::string& tree = "") {
    const auto defined = df.GetDefinedColumnNames();
    std::vector<std::string> jagged, scalar;
    std::vector<refloat::Resolution> jagged_res, scalar_res;
    for (const auto& column : df.GetColumnNames()) {
        if (std::find(defined.begin(), defined.end(), column) != defined.end()) continue;
        const auto type = df.GetColumnType(column);
        const bool is_jagged = is_jagged_float(type);
        if (!is_jagged && type != "float" && type != "Float_t") continue;
        auto resolution = refloat::Resolution::of_file(path, tree, column, options);
        const int bits = resolution.mantissa_bits();
        if (bits < 0 || bits >= 23) continue;
        (is_jagged ? jagged : scalar).push_back(column);
        (is_jagged ? jagged_res : scalar_res).push_back(std::move(resolution));
    }
    std::vector<std::shared_ptr<const std::vector<ULong64_t>>> first(jagged.size());
    if (method == Method::Dither && !jagged.empty()) first = first_indices_of(df, jagged);
    for (std::size_t k = 0; k < jagged.size(); ++k)
        df = df.Redefine(jagged[k], Corrector(std::move(jagged_res[k]), method, seed, jagged[k], first[k]),
                         {"rdfentry_", jagged[k]});
    for (std::size_t k = 0; k < scalar.size(); ++k)
        df = df.Redefine(scalar[k], ScalarCorrector(std::move(scalar_res[k]), method, seed, scalar[k]),
                         {"rdfentry_", scalar[k]});
    return df;
}

}  // namespace rdf
}  // namespace refloat

#endif  // REFLOAT_RDF_HPP
