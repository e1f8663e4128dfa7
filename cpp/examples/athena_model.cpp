// athena_model.cpp: a learned correction through the cxx bridge (refloat_cxx_model.hpp), as an
// Athena algorithm would apply it to the jets of each event.
//
// A model file written by `refloat train` names its variables (e.g. AnalysisJetsAuxDyn.pt,
// .eta, .phi), the kept bits and the rounding of the data it was made for. In Athena each
// variable of an event reaches the algorithm as a std::vector<float> owned by the aux store;
// this example plays that role with the flat copies of the branches (NAME.values.npy +
// NAME.counts.npy). The compression the derivation applied is simulated first (BITS kept bits,
// the rounding given); the model must have been made for it. Then, event by event, the algorithm corrects the event's variables jointly
// in place (one model call per event). It checks:
//   * the invariant on every event (each corrected value re-quantises to its stored value);
//   * that the whole file corrected in one call gives the same bits as event by event;
// and prints, per variable, the estimator the model uses (the network, or its prior-mean
// fallback and why) and the MSE of the corrected values against the originals relative to the
// stored values'. With OUT it writes the corrected values, all of the first variable then all
// of the second ..., as raw little-endian float32.
//
// usage: athena_model MODEL FLAT_DIR BITS nearest|truncate [OUT]
#include "refloat.hpp"
#include "refloat_cxx_model.hpp"

#include "npy.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace athena_model {

refloat::Rounding rounding_of(const std::string& name) {
    if (name == "nearest") return refloat::Rounding::Nearest;
    if (name == "truncate") return refloat::Rounding::Truncate;
    if (name == "nearest-even") return refloat::Rounding::NearestEven;
    throw std::runtime_error("rounding '" + name + "' is not nearest, truncate or nearest-even");
}

/// The algorithm: load the model in initialize(), correct each event in execute().
int run(const std::string& model_path, const std::string& flat_dir, unsigned bits, const std::string& rounding,
        const std::string& out_path) {
    try {
        const refloat::Rounding mode = rounding_of(rounding);
        // initialize(): a model made for other bits or another rounding throws REFLOAT_MODEL
        const refloat::cxx::Model model(model_path, bits, mode);
        const std::vector<std::string> vars = model.variables();
        const std::size_t nv = vars.size();

        // the input: each variable per event, and the derivation's compression of it
        std::vector<std::vector<std::vector<float>>> original(nv), events(nv);
        for (std::size_t j = 0; j < nv; ++j) {
            original[j] = npy::events(flat_dir, vars[j]);
            if (original[j].size() != original[0].size()) throw std::runtime_error(vars[j] + ": other events");
            events[j] = original[j];
            for (auto& ev : events[j]) refloat::quantise(ev, bits, mode);
        }
        const auto stored = events;
        const std::size_t n_events = original[0].size();

        // the event loop: one joint correction per event, in place
        std::size_t corrected = 0;
        for (std::size_t e = 0; e < n_events; ++e) {
            std::vector<std::vector<float>*> columns;
            for (std::size_t j = 0; j < nv; ++j) columns.push_back(&events[j][e]);
            const auto summary = model.correct(columns);
            corrected += summary.corrected;
            for (std::size_t j = 0; j < nv; ++j)
                refloat::verify(events[j][e], stored[j][e], bits, mode);  // throws if the invariant broke
        }

        // the whole file in one call (blocks per variable, events by offsets): the same bits
        std::vector<std::uint64_t> offsets{0};
        for (const auto& ev : stored[0]) offsets.push_back(offsets.back() + ev.size());
        const std::size_t n = offsets.back();
        std::vector<float> block, per_event;
        for (std::size_t j = 0; j < nv; ++j)
            for (std::size_t e = 0; e < n_events; ++e) {
                block.insert(block.end(), stored[j][e].begin(), stored[j][e].end());
                per_event.insert(per_event.end(), events[j][e].begin(), events[j][e].end());
            }
        model.correct(block.data(), n, offsets);
        if (std::memcmp(block.data(), per_event.data(), block.size() * sizeof(float)) != 0) {
            std::cerr << "the whole file corrected in one call differs from event by event\n";
            return 1;
        }

        std::cout << "refloat " << refloat::cxx::version() << " model " << model.kind() << " (" << bits << " bits, "
                  << rounding << "): " << n_events << " events, " << n << " objects x " << nv << " variables, "
                  << corrected << " values corrected event by event, invariant holds, same bits as one call\n";
        for (std::size_t j = 0; j < nv; ++j) {
            double mse_stored = 0, mse_corrected = 0;
            for (std::size_t e = 0; e < n_events; ++e)
                for (std::size_t i = 0; i < original[j][e].size(); ++i) {
                    const double ds = double(stored[j][e][i]) - original[j][e][i];
                    const double dc = double(events[j][e][i]) - original[j][e][i];
                    mse_stored += ds * ds;
                    mse_corrected += dc * dc;
                }
            std::cout << "  " << vars[j] << ": " << model.estimator(j) << ", MSE corrected/stored "
                      << (mse_stored > 0 ? mse_corrected / mse_stored : 1.0) << "\n";
            const std::string why = model.explain(j);
            if (!why.empty()) std::cout << "    " << why << "\n";
        }
        if (!out_path.empty()) {
            std::ofstream out(out_path, std::ios::binary);
            out.write(reinterpret_cast<const char*>(per_event.data()),
                      static_cast<std::streamsize>(per_event.size() * sizeof(float)));
            if (!out) throw std::runtime_error("cannot write " + out_path);
        }
    } catch (const refloat::Error& e) {
        std::cerr << "refloat error " << e.status() << ": " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace athena_model

#ifndef ATHENA_MODEL_NO_MAIN
int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: " << argv[0] << " MODEL FLAT_DIR BITS nearest|truncate [OUT]\n";
        return 2;
    }
    return athena_model::run(argv[1], argv[2], static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)), argv[4],
                             argc > 5 ? argv[5] : "");
}
#endif
