// correct_branch.C: ROOT macro that corrects one float branch of a (lossy-compressed) ATLAS
// file with refloat, event by event, and optionally writes the corrected branch to a new file
// (a friend tree with the same entries).
//
//   export LD_LIBRARY_PATH=$REFLOAT_PREFIX/lib:$LD_LIBRARY_PATH      # finds librefloat.so
//   export ROOT_INCLUDE_PATH=$REFLOAT_PREFIX/include:$ROOT_INCLUDE_PATH  # finds refloat.hpp
//   root -l -b -q '$REFLOAT_PREFIX/share/refloat/examples/correct_branch.C("DAOD_PHYSLITE.root", "AnalysisJetsAuxDyn.pt")'
//
// Arguments: file, branch, kept mantissa bits (-1: resolved from the whole branch), rounding
// of the compression ("detect": resolved, the values' scheme else the format's producer's;
// "nearest" for ATLAS, "cms" for NanoAOD, "root-float16", "truncate", "nearest-even",
// "bitround"), method ("midpoint", "dither", "prior-mean"), seed (dither), tree name (""
// = CollectionTree, else Events), output file ("" = do not write). The branch is resolved
// by refloat's resolver exactly as `refloat correct` resolves it (bits, scheme, values exact
// by nature left alone), so the corrected values are those of `refloat correct`. Returns 0
// on success, 1 on error (with a message); a failed run leaves no output file behind.
// Branches of type std::vector<float> (jagged, xAOD aux), float[n] (NanoAOD's Jet_pt[nJet])
// and float are supported, any other type is refused, naming it; the output friend tree
// holds jagged branches as std::vector<float> (attach it under an alias:
// tree->AddFriend("corr=CollectionTree", "out.root"), then corr.AnalysisJetsAuxDyn.pt).
//
// The correction body lives in correct_branch.hpp (ROOT-free). Tests: tests/root_macro.rs runs
// this macro in real ROOT (`root -l -b -q` and PyROOT's gROOT->ProcessLine) on real branches
// and checks every written value against the Rust core; tests/ffi_c.rs compiles the body as a
// normal C++ program.
#include "TBranch.h"
#include "TError.h"
#include "TFile.h"
#include "TInterpreter.h"
#include "TString.h"
#include "TSystem.h"
#include "TTree.h"
#include "TLeaf.h"
#include "TTreeReader.h"
#include "TTreeReaderArray.h"
#include "TTreeReaderValue.h"

#include <exception>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "correct_branch.hpp"

// The TTreeReader loops. `inline`, so that cling compiles this only when correct_branch()
// calls it through the interpreter, i.e. after librefloat.so is loaded (see below).
inline int correct_branch_run(const char* path, const char* branch, int bits, const char* rounding,
                              const char* method, unsigned long long seed, const char* tree_name,
                              const char* out_path) {
    bool created_output = false;
    // never leave a partly written output file: remove it on any error after creating it
    auto fail = [&]() {
        if (created_output) gSystem->Unlink(out_path);
        return 1;
    };
    try {
        std::unique_ptr<TFile> file(TFile::Open(path, "READ"));
        if (!file || file->IsZombie()) {
            ::Error("correct_branch", "%s: cannot open the file", path);
            return 1;
        }
        TTree* tree = nullptr;
        std::string tree_found = tree_name ? tree_name : "";
        if (tree_found.empty()) {  // the analysis tree, as refloat chooses it
            for (const char* name : {"CollectionTree", "Events"}) {
                file->GetObject(name, tree);
                if (tree) {
                    tree_found = name;
                    break;
                }
            }
        } else {
            file->GetObject(tree_found.c_str(), tree);
        }
        if (!tree) {
            ::Error("correct_branch", "%s: no tree '%s'", path, tree_found.empty() ? "CollectionTree or Events" : tree_found.c_str());
            return 1;
        }
        tree_name = tree_found.c_str();
        TBranch* br = tree->GetBranch(branch);
        if (!br) {
            ::Error("correct_branch", "%s: tree '%s' has no branch '%s'", path, tree_name, branch);
            return 1;
        }
        // std::vector<float>, or a C array float[n] / float[N] (one leaf with a count or a length)
        TLeaf* leaf = br->GetListOfLeaves()->GetEntries() == 1 ? static_cast<TLeaf*>(br->GetListOfLeaves()->At(0)) : nullptr;
        refloat_macro::check_float_branch(branch, br->GetClassName(), leaf ? leaf->GetTypeName() : "");
        const bool jagged = std::string(br->GetClassName()).find("vector") != std::string::npos ||
                            (leaf && (leaf->GetLeafCount() != nullptr || leaf->GetLenStatic() > 1));

        refloat_macro::Settings settings;
        settings.method = refloat_macro::parse_method(method);
        settings.seed = seed;
        settings.branch = branch;

        // Pass 1: the resolver reads the whole branch (its kept bits are not written in the file).
        const refloat::Resolution resolution = refloat::Resolution::of_file(
            path, tree_name, branch, refloat_macro::resolve_options(bits, refloat_macro::parse_rounding(rounding)));

        // Pass 2: correct event by event, in place, and write if asked.
        std::unique_ptr<TFile> out;
        TTree* out_tree = nullptr;
        std::vector<float> event;
        float scalar = 0;
        if (out_path && out_path[0]) {
            out.reset(TFile::Open(out_path, "RECREATE"));
            if (!out || out->IsZombie()) {
                ::Error("correct_branch", "%s: cannot create the output file", out_path);
                created_output = out != nullptr;
                out.reset();
                return fail();
            }
            created_output = true;
            out_tree = new TTree(tree_name, "refloat-corrected values (friend of the input tree)");
            TBranch* out_branch = jagged ? out_tree->Branch(branch, &event)
                                         : out_tree->Branch(branch, &scalar, (std::string(branch) + "/F").c_str());
            if (!out_branch) {
                ::Error("correct_branch", "%s: cannot create the branch '%s'", out_path, branch);
                out.reset();
                return fail();
            }
        }
        refloat_macro::Summary summary;
        TTreeReader reader(tree);
        std::uint64_t first = 0;  // index of the entry's first value in the whole branch
        if (jagged) {
            TTreeReaderArray<float> values(reader, branch);
            while (reader.Next()) {
                event.assign(values.begin(), values.end());  // corrected in place below
                refloat_macro::correct_event(event, resolution, settings, first, &summary);
                first += event.size();
                if (out_tree) out_tree->Fill();
            }
        } else {
            TTreeReaderValue<float> value(reader, branch);
            while (reader.Next()) {
                event.assign(1, *value);
                refloat_macro::correct_event(event, resolution, settings, first++, &summary);
                scalar = event[0];
                if (out_tree) out_tree->Fill();
            }
        }
        if (out) {
            out->cd();
            const bool written = out_tree->Write() > 0;
            out->Close();
            out.reset();
            if (!written) {
                ::Error("correct_branch", "%s: cannot write the tree '%s'", out_path, tree_name);
                return fail();
            }
        }
        const refloat::ResolutionInfo info = resolution.info();
        ::Info("correct_branch",
               "%s: %s at %d kept bits (-1: left as stored; rounding %u, %s): %zu events, %zu values, "
               "%zu corrected (%zu changed), %zu left as exact, %zu non-finite",
               path, branch, info.mantissa_bits, info.mode, method, summary.events, summary.values,
               summary.corrected, summary.changed, summary.left_exact, summary.non_finite);
        return 0;
    } catch (const std::exception& e) {  // refloat::Error and others; any output file is closed by now
        ::Error("correct_branch", "%s: %s: %s", path, branch, e.what());
        return fail();
    }
}

int correct_branch(const char* path = "DAOD_PHYSLITE.root", const char* branch = "AnalysisJetsAuxDyn.pt",
                    int bits = -1, const char* rounding = "detect", const char* method = "midpoint",
                    unsigned long long seed = 0, const char* tree_name = "",
                    const char* out_path = "") {
    if (gSystem->Load("librefloat.so") < 0) {
        ::Error("correct_branch", "cannot load librefloat.so: add its directory to LD_LIBRARY_PATH");
        return 1;
    }
    // Cling compiles a function, and resolves the symbols it calls, before running it; code
    // that calls into librefloat must therefore be compiled after the Load above. Running the
    // loops through the interpreter does that. (R__LOAD_LIBRARY(librefloat) at the top of a
    // macro is the other way.) The status comes back through `status` (-1: the interpreter
    // could not compile or run the loops; it has printed why).
    int status = -1;
    gInterpreter->ProcessLine(
        TString::Format("*(int*)%p = correct_branch_run(\"%s\", \"%s\", %d, \"%s\", \"%s\", %lluULL, \"%s\", \"%s\");",
                        static_cast<void*>(&status), path, branch, bits, rounding, method, seed, tree_name, out_path));
    if (status < 0) {
        ::Error("correct_branch", "the interpreter could not run correct_branch_run");
        return 1;
    }
    return status;
}
