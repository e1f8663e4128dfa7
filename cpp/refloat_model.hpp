// refloat_model.hpp: header-only C++ RAII wrapper of refloat's learned models (the
// refloat_model_* C functions; librefloat built with the cargo feature `torch`).
//
// A model file is written by `refloat train` (TorchScript with refloat's metadata). Loading
// checks that it was made for the data's kept mantissa bits, rounding and variables; a
// mismatch throws refloat::Error with status REFLOAT_MODEL and a message saying what
// differs. Correction keeps the invariant: every corrected value re-quantises to its stored
// value, bit for bit. Inference runs on CUDA when libtorch sees a GPU, else on the CPU.
//
//   refloat::Model jets("jets.pt", 10, refloat::Rounding::Nearest,
//                       {"AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta",
//                        "AnalysisJetsAuxDyn.phi", "AnalysisJetsAuxDyn.m"});
//   // one event: the std::vector<float> of each branch, in the model's order
//   jets.correct({&pt, &eta, &phi, &m});
//
// Include this header before refloat.h / refloat.hpp (it defines REFLOAT_TORCH, which
// enables the model declarations of refloat.h), or define REFLOAT_TORCH yourself. In ROOT:
//   gSystem->Load("librefloat.so"); gInterpreter->AddIncludePath("include");
//   gInterpreter->AddIncludePath("cpp"); #include "refloat_model.hpp"
#ifndef REFLOAT_MODEL_HPP
#define REFLOAT_MODEL_HPP

#if defined(REFLOAT_H) && !defined(REFLOAT_TORCH)
#error "refloat_model.hpp: refloat.h was included without REFLOAT_TORCH; include refloat_model.hpp first or define REFLOAT_TORCH"
#endif
#ifndef REFLOAT_TORCH
#define REFLOAT_TORCH 1
#endif

#include "refloat.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace refloat {

/// A learned correction loaded from a model file; movable, not copyable; freed on
/// destruction. `correct` is const and may run from several threads at once.
class Model {
public:
    /// Load `path` and check it was made for `mantissa_bits` kept bits, rounding `mode` and,
    /// unless `variables` is empty, exactly these variables in this order. Throws
    /// refloat::Error (REFLOAT_MODEL, REFLOAT_IO, ...) on failure.
    Model(const std::string& path, unsigned mantissa_bits, Rounding mode,
          const std::vector<std::string>& variables = {}) {
        std::vector<const char*> names;
        names.reserve(variables.size());
        for (const auto& v : variables) names.push_back(v.c_str());
        detail::check(refloat_model_load(path.c_str(), mantissa_bits, detail::c(mode),
                                         names.empty() ? nullptr : names.data(), names.size(), &model_));
    }

    ~Model() { refloat_model_free(model_); }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;
    Model(Model&& other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
    Model& operator=(Model&& other) noexcept {
        if (this != &other) {
            refloat_model_free(model_);
            model_ = std::exchange(other.model_, nullptr);
        }
        return *this;
    }

    /// Number of variables the model takes.
    std::size_t n_variables() const {
        std::size_t n = 0;
        detail::check(refloat_model_n_variables(model_, &n));
        return n;
    }

    /// The variables (branch names), in the order `correct` expects them.
    std::vector<std::string> variables() const {
        std::vector<std::string> out;
        const std::size_t n = n_variables();
        for (std::size_t i = 0; i < n; ++i) {
            const char* name = nullptr;
            detail::check(refloat_model_variable(model_, i, &name));
            out.emplace_back(name);
        }
        return out;
    }

    /// Kept mantissa bits of the data the model was made for.
    unsigned mantissa_bits() const {
        std::uint32_t bits = 0;
        detail::check(refloat_model_mantissa_bits(model_, &bits));
        return bits;
    }

    /// Correct in place `data`: `n_variables` blocks of `n_objects` floats (one block per
    /// model variable, in the model's order). `event_offsets[0..n_offsets)` are the
    /// events' object offsets (events + 1 of them, first 0, last n_objects); nullptr and 0
    /// mean one event. Throws (data untouched) on any error.
    void correct(float* data, std::size_t n_objects, std::size_t n_variables,
                 const std::uint64_t* event_offsets = nullptr, std::size_t n_offsets = 0) const {
        detail::check(refloat_model_correct_f32(model_, data, n_objects, n_variables, event_offsets, n_offsets));
    }

    /// Correct one event in place: one vector per model variable (same lengths), e.g. the
    /// jets' pt, eta, phi and m of one entry.
    void correct(std::initializer_list<std::vector<float>*> columns) const {
        correct(std::vector<std::vector<float>*>(columns));
    }

    /// As above, for any number of columns; with `event_offsets` (events + 1) the columns
    /// may hold several events.
    void correct(const std::vector<std::vector<float>*>& columns,
                 const std::vector<std::uint64_t>& event_offsets = {}) const {
        const std::size_t n = columns.empty() ? 0 : columns.front()->size();
        for (const auto* c : columns) detail::check_same_size(c->size(), n, "model columns");
        std::vector<float> block;
        block.reserve(n * columns.size());
        for (const auto* c : columns) block.insert(block.end(), c->begin(), c->end());
        correct(block.data(), n, columns.size(), event_offsets.empty() ? nullptr : event_offsets.data(),
                event_offsets.size());
        for (std::size_t j = 0; j < columns.size(); ++j)
            std::copy(block.begin() + static_cast<std::ptrdiff_t>(j * n),
                      block.begin() + static_cast<std::ptrdiff_t>((j + 1) * n), columns[j]->begin());
    }

    /// The C handle (owned by this object).
    const refloat_model* get() const noexcept { return model_; }

private:
    refloat_model* model_ = nullptr;
};

}  // namespace refloat

#endif  // REFLOAT_MODEL_HPP
