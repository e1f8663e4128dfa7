// rdf_correct.C: refloat in ROOT's RDataFrame, from C++ (a ROOT macro).
//
//   export LD_LIBRARY_PATH=$REFLOAT_PREFIX/lib:$LD_LIBRARY_PATH
//   export ROOT_INCLUDE_PATH=$REFLOAT_PREFIX/include:$ROOT_INCLUDE_PATH
//   root -l -b -q 'rdf_correct.C("comp.root", "AnalysisJetsAuxDyn.pt", 42, "friend.root", 2)'
//
// Reads jagged float column `column` of the compressed file `path` (tree CollectionTree),
// resolves its branch as `refloat correct` does (refloat::rdf::corrector: kept bits, scheme,
// values exact by nature left alone), defines its midpoint and dither corrections (the bits
// of `refloat correct --method midpoint` and `--method dither:SEED` on the same file and
// branch), prints the sums with `threads` threads
// (ROOT::EnableImplicitMT; 0: one), and writes the dithered column as a friend tree with the
// input's entries in order, as COLUMN_dither with '.' turned into '_' (Snapshot runs
// single-threaded so that the entry order is kept).
R__LOAD_LIBRARY(librefloat)
#include "refloat_rdf.hpp"

#include <ROOT/RDataFrame.hxx>
#include <TROOT.h>

#include <iostream>
#include <string>
#include <vector>

int rdf_correct(const char* path, const char* column, unsigned long long seed, const char* friend_path = "",
                unsigned threads = 0, const char* tree = "CollectionTree") {
    using refloat::Method;
    try {
        if (threads > 0) ROOT::EnableImplicitMT(threads);
        ROOT::RDataFrame df(tree, path);
        const std::string c = column;
        auto by_midpoint = refloat::rdf::corrector(df, path, c, Method::Midpoint);
        auto by_dither = refloat::rdf::corrector(df, path, c, Method::Dither, seed);
        auto out = df.Define("midpoint", by_midpoint, {"rdfentry_", c}).Define("dither", by_dither, {"rdfentry_", c});
        auto stored = out.Sum<ROOT::RVecF>(c);
        auto midpoint = out.Sum<ROOT::RVecF>("midpoint");
        auto dithered = out.Sum<ROOT::RVecF>("dither");
        std::cout.precision(10);
        std::cout << "rdf_correct: " << c << ": sum stored " << *stored << ", midpoint " << *midpoint
                  << ", dither " << *dithered << " (" << ROOT::GetThreadPoolSize() << " threads)\n";
        if (friend_path && friend_path[0]) {
            ROOT::DisableImplicitMT();
            ROOT::RDataFrame one(tree, path);
            auto d = refloat::rdf::corrector(one, path, c, Method::Dither, seed);
            std::string name = c + "_dither";  // a C++ identifier: '.' of xAOD names becomes '_'
            for (char& ch : name)
                if (ch == '.') ch = '_';
            // written as std::vector<float>, the type of the input's aux branches
            auto as_vector = [d](ULong64_t entry, const ROOT::RVecF& v) {
                const ROOT::RVecF r = d(entry, v);
                return std::vector<float>(r.begin(), r.end());
            };
            one.Define(name, as_vector, {"rdfentry_", c}).Snapshot(tree, friend_path, {name});
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "rdf_correct: " << e.what() << "\n";
        return 1;
    }
}
