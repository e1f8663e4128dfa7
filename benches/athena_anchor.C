// What a ROOT user would write instead of `refloat compress`: a compiled macro (ACLiC, -O)
// that reads every `float` and `std::vector<float>` branch of a tree with SetBranchAddress,
// rounds each value with Athena's rule (CxxUtils::FloatCompressor: add half a step below
// the overflow guard, clear the dropped bits, NaN/Inf unchanged) and writes them to a new
// tree. It writes the float branches only; refloat writes the whole file. The anchor of
// `benches/scaling.py`.
//
//   root -b -q 'benches/athena_anchor.C+O("in.root", "out.root", 10)'
#include <TFile.h>
#include <TLeaf.h>
#include <TObjArray.h>
#include <TTree.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

inline float athena_round(float x, unsigned bits) {
    const uint32_t dropped = 23 - bits;
    const uint32_t rounding = dropped ? 1u << (dropped - 1) : 0;
    const uint32_t mask = ~((1u << dropped) - 1);
    const uint32_t vmax = 0x7f7fffffu - rounding;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;  // NaN, Inf
    u = (u + ((u & 0x7fffffffu) < vmax ? rounding : 0)) & mask;
    std::memcpy(&x, &u, 4);
    return x;
}

}  // namespace

// Returns the number of values rounded, or -1 on a bad input.
long long athena_anchor(const char *input, const char *output, unsigned bits,
                        const char *tree_name = "CollectionTree") {
    std::unique_ptr<TFile> in(TFile::Open(input, "READ"));
    if (!in || in->IsZombie()) return -1;
    auto *tree = in->Get<TTree>(tree_name);
    if (!tree) return -1;
    tree->SetBranchStatus("*", false);
    std::vector<std::string> scalar_names, vector_names;
    for (auto *obj : *tree->GetListOfLeaves()) {
        auto *leaf = static_cast<TLeaf *>(obj);
        if (!leaf->GetTypeName() || !leaf->GetBranch()->GetName()) continue;
        const std::string type = leaf->GetTypeName();
        const std::string name = leaf->GetBranch()->GetName();
        if (leaf->GetBranch()->GetListOfBranches()->GetEntries() > 0) continue;
        if (type == "Float_t" && !leaf->GetLeafCount() && leaf->GetLen() == 1)
            scalar_names.push_back(name);
        else if (type == "vector<float>")
            vector_names.push_back(name);
    }
    // Members of split xAOD objects (METAssoc_AnalysisMETAux.*) cannot be bound without
    // their class's dictionary: they are left out, as a ROOT user without Athena would.
    size_t unbound = 0;
    auto bind = [&](std::vector<std::string> &names, auto &addresses) {
        std::vector<std::string> kept;
        for (auto &name : names) {
            tree->SetBranchStatus(name.c_str(), true);
            if (tree->SetBranchAddress(name.c_str(), &addresses[kept.size()]) < 0) {
                tree->SetBranchStatus(name.c_str(), false);
                ++unbound;
                continue;
            }
            kept.push_back(name);
        }
        names = kept;
    };
    std::vector<float> scalars(scalar_names.size());
    std::vector<std::vector<float> *> vectors(vector_names.size(), nullptr);
    bind(scalar_names, scalars);
    bind(vector_names, vectors);
    // (The address arrays keep their size: ROOT holds pointers into them.)
    const size_t n_scalars = scalar_names.size();
    // A member of a split object can be bound and still not be read: found on entry 0.
    std::vector<size_t> live;
    if (tree->GetEntries() > 0) tree->GetEntry(0);
    for (size_t i = 0; i < vector_names.size(); ++i) {
        if (vectors[i]) {
            live.push_back(i);
        } else {
            tree->SetBranchStatus(vector_names[i].c_str(), false);
            ++unbound;
        }
    }
    std::unique_ptr<TFile> out(TFile::Open(output, "RECREATE"));
    if (!out || out->IsZombie()) return -1;
    out->SetCompressionSettings(in->GetCompressionSettings());
    auto *copy = new TTree(tree_name, tree->GetTitle() ? tree->GetTitle() : "");
    std::vector<std::vector<float>> outs(vector_names.size());
    std::vector<std::vector<float> *> out_ptrs(vector_names.size());
    for (size_t i = 0; i < n_scalars; ++i) copy->Branch(scalar_names[i].c_str(), &scalars[i]);
    for (size_t i : live) {
        out_ptrs[i] = &outs[i];
        copy->Branch(vector_names[i].c_str(), &out_ptrs[i]);
    }
    long long values = 0;
    const Long64_t entries = tree->GetEntries();
    for (Long64_t e = 0; e < entries; ++e) {
        tree->GetEntry(e);
        for (size_t i = 0; i < n_scalars; ++i) scalars[i] = athena_round(scalars[i], bits);
        for (size_t i : live) {
            const std::vector<float> &v = *vectors[i];
            outs[i].resize(v.size());
            for (size_t j = 0; j < v.size(); ++j) outs[i][j] = athena_round(v[j], bits);
            values += (long long)v.size();
        }
        values += (long long)n_scalars;
        copy->Fill();
    }
    copy->Write();
    out->Close();
    std::printf("athena_anchor: %zu float and %zu vector<float> branches (%zu not bound), %lld "
                "entries, %lld values\n",
                n_scalars, live.size(), unbound, (long long)entries, values);
    return values;
}
