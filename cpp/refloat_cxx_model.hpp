// refloat_cxx_model.hpp: learned corrections through the cxx bridge (src/ffi/bridge_model.rs,
// librefloat built with the cargo feature `torch`), with std::vector in and refloat::Error out.
//
// The same library functions as refloat_model.hpp (which goes through the C API): the file is
// checked against the bits, rounding and variables the caller expects (a mismatch throws
// refloat::Error with REFLOAT_MODEL saying what differs), and every corrected value
// re-quantises to its stored value. Per variable the model may fall back to prior-mean under
// the training density recorded in the file (estimator(j) says which, explain(j) why), so one
// event corrected alone gets the bits of the whole file.
//
//   refloat::cxx::Model jets("jets.pt", 10, refloat::Rounding::Nearest,
//                            {"AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"});
//   std::vector<float>& pt = ...; std::vector<float>& eta = ...;   // one event's jets
//   jets.correct({&pt, &eta});
//
// Include paths and libraries as refloat_cxx.hpp; libtorch is found through librefloat's rpath.
#ifndef REFLOAT_CXX_MODEL_HPP
#define REFLOAT_CXX_MODEL_HPP

#include "refloat_cxx.hpp"
#include "refloat/src/ffi/bridge_model.rs.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace refloat {
namespace cxx {

/// A learned correction loaded from a model file; movable, not copyable. `correct` is const
/// and may run from several threads at once.
class Model {
public:
    /// Load `path` and check it was made for `mantissa_bits` / `mode` and for `variables` in
    /// this order (empty: not checked).
    Model(const std::string& path, unsigned mantissa_bits, Rounding mode,
          const std::vector<std::string>& variables = {})
        : model_(detail::call([&] { return bridge::load_model(path, mantissa_bits, detail::b(mode), variables); })) {}

    /// The variables (branch names), in the order `correct` takes them.
    std::vector<std::string> variables() const {
        std::vector<std::string> out;
        for (const auto& v : model_->variables()) out.emplace_back(v.data(), v.size());
        return out;
    }
    std::size_t n_variables() const { return model_->variables().size(); }
    unsigned mantissa_bits() const { return model_->mantissa_bits(); }
    Rounding rounding() const { return static_cast<Rounding>(static_cast<std::uint32_t>(model_->rounding())); }
    /// "inpainting", "denoise-per-value", ...
    std::string kind() const { return std::string(model_->kind()); }
    /// What correct() uses for variable `j`: "model" or "prior-mean".
    std::string estimator(std::size_t j) const {
        return std::string(detail::call([&] { return model_->estimator(j); }));
    }
    /// Training's reason for that choice, one line ("" if the file records none).
    std::string explain(std::size_t j) const {
        return std::string(detail::call([&] { return model_->explain(j); }));
    }

    /// Correct in place: `data` holds n_variables() blocks of `n_objects` values, one per
    /// variable in the model's order; `event_offsets` holds events + 1 offsets into the
    /// objects (empty: one event). Nothing is written if it throws.
    CorrectionSummary correct(float* data, std::size_t n_objects,
                              const std::vector<std::uint64_t>& event_offsets = {}) const {
        const std::size_t total = n_objects * n_variables();
        if (data == nullptr && total != 0)
            throw Error(REFLOAT_NULL_PARAMETER, "data is NULL but holds " + std::to_string(total) + " values");
        return detail::call([&] {
            return model_->correct(rust::Slice<float>(data, total), n_objects,
                                   rust::Slice<const std::uint64_t>(event_offsets.data(), event_offsets.size()));
        });
    }

    /// Correct one event in place: one vector per model variable (same lengths), e.g. the jets'
    /// pt, eta and phi of one entry. With `event_offsets` the columns may hold several events.
    CorrectionSummary correct(const std::vector<std::vector<float>*>& columns,
                              const std::vector<std::uint64_t>& event_offsets = {}) const {
        const std::size_t n = columns.empty() ? 0 : columns.front()->size();
        for (const auto* c : columns) refloat::detail::check_same_size(c->size(), n, "model columns");
        if (columns.size() != n_variables())
            throw Error(REFLOAT_MODEL, std::to_string(columns.size()) + " columns for a model of " +
                                           std::to_string(n_variables()) + " variables");
        std::vector<float> block;
        block.reserve(n * columns.size());
        for (const auto* c : columns) block.insert(block.end(), c->begin(), c->end());
        CorrectionSummary s = correct(block.data(), n, event_offsets);
        for (std::size_t j = 0; j < columns.size(); ++j)
            std::copy(block.begin() + static_cast<std::ptrdiff_t>(j * n),
                      block.begin() + static_cast<std::ptrdiff_t>((j + 1) * n), columns[j]->begin());
        return s;
    }
    CorrectionSummary correct(std::initializer_list<std::vector<float>*> columns) const {
        return correct(std::vector<std::vector<float>*>(columns));
    }

private:
    rust::Box<bridge::LearnedModel> model_;
};

}  // namespace cxx
}  // namespace refloat

#endif  // REFLOAT_CXX_MODEL_HPP
