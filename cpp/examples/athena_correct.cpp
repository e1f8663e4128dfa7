// athena_correct.cpp: refloat as an Athena algorithm would use it on an xAOD aux branch.
//
// In Athena a jagged float variable (e.g. AnalysisJetsAuxDyn.pt) reaches an algorithm as one
// std::vector<float> per event, owned by the aux store. This example plays that role with the
// branch's flat copy (NAME.values.npy + NAME.counts.npy): per event it hands the algorithm a
// std::vector<float>, which the algorithm corrects in place through the cxx bridge
// (refloat_cxx.hpp) without copying. The compression the derivation applied is simulated first
// (CxxUtils::FloatCompressor: round to nearest, BITS kept bits), and the kept bits are inferred
// from the whole branch as a job would do before the event loop.
//
// Checks the invariant on every event (each corrected value re-quantises to its stored value,
// through refloat.hpp) and, for truncated data, that the midpoint cuts the error.
//
// usage: athena_correct FLAT_DIR BRANCH [BITS [nearest|truncate|nearest-even]]
#include "refloat.hpp"
#include "refloat_cxx.hpp"

#include "npy.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// The algorithm's execute(): correct this event's variable in place.
refloat::cxx::CorrectionSummary execute(std::vector<float>& pt, unsigned bits, refloat::Rounding mode) {
    return refloat::cxx::correct(pt, bits, mode, refloat::Method::Midpoint);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: " << argv[0] << " FLAT_DIR BRANCH [BITS [nearest|truncate|nearest-even]]\n";
        return 2;
    }
    const unsigned bits = argc > 3 ? static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)) : 10;
    const std::string rounding = argc > 4 ? argv[4] : "nearest";
    const refloat::Rounding mode = rounding == "truncate"       ? refloat::Rounding::Truncate
                                   : rounding == "nearest-even" ? refloat::Rounding::NearestEven
                                                                : refloat::Rounding::Nearest;
    try {
        const auto original = npy::events(argv[1], argv[2]);

        // the derivation's lossy compression, event by event
        auto events = original;
        std::vector<float> whole;
        for (auto& ev : events) {
            refloat::quantise(ev, bits, mode);
            whole.insert(whole.end(), ev.begin(), ev.end());
        }
        const auto stored = events;

        // initialize(): the kept bits of the branch (not written in the file)
        const unsigned kept = refloat::cxx::infer_mantissa_bits(whole);

        // the event loop
        double mse_stored = 0, mse_corrected = 0;
        std::size_t values = 0, corrected = 0;
        for (std::size_t e = 0; e < events.size(); ++e) {
            const auto summary = execute(events[e], kept, mode);
            corrected += summary.corrected;
            refloat::verify(events[e], stored[e], kept, mode);  // throws if the invariant broke
            for (std::size_t i = 0; i < events[e].size(); ++i) {
                const double ds = double(stored[e][i]) - original[e][i];
                const double dc = double(events[e][i]) - original[e][i];
                mse_stored += ds * ds;
                mse_corrected += dc * dc;
            }
            values += events[e].size();
        }
        const double ratio = mse_stored > 0 ? mse_corrected / mse_stored : 1.0;
        std::cout << "refloat " << refloat::cxx::version() << ": " << argv[2] << ", " << events.size() << " events, "
                  << values << " values, stored with " << bits << " bits (" << rounding << "), inferred " << kept
                  << "; " << corrected << " corrected in place; MSE ratio corrected/stored " << ratio << "\n";
        if (mode == refloat::Rounding::Truncate && kept == bits && !(ratio < 0.5)) {
            std::cerr << "the midpoint did not reduce the error of truncated data\n";
            return 1;
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
