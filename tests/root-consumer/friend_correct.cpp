// friend_correct: compiled ROOT + refloat code, as an analysis would use refloat.
//
//   friend_correct write INPUT.root FRIEND.root BRANCH BITS SEED
//     reads the std::vector<float> BRANCH of INPUT's CollectionTree with TTreeReader, rounds
//     each event as ATLAS's DL-style compression would (BITS kept bits, refloat::quantise:
//     the "stored" values), corrects them with refloat's dither under the one seeding rule
//     (refloat::correct_branch with the event's offset in the branch), and writes a friend
//     tree "refloat" with the branches "stored" and "corrected";
//   friend_correct check INPUT.root FRIEND.root BRANCH BITS SEED
//     reads INPUT with the friend tree attached and checks, entry by entry, that the stored
//     values are the rounded originals, that every corrected value re-quantises to its stored
//     value, and that the corrections are the library's (recomputed); prints the mean squared
//     errors of stored and corrected against the originals.
#include "refloat.hpp"

#include <TFile.h>
#include <TTree.h>
#include <TTreeReader.h>
#include <TTreeReaderValue.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

int usage() {
    std::cerr << "usage: friend_correct write|check INPUT.root FRIEND.root BRANCH BITS SEED\n";
    return 2;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

int write(const std::string& input, const std::string& friend_path, const std::string& branch, unsigned bits,
          std::uint64_t seed) {
    std::unique_ptr<TFile> in(TFile::Open(input.c_str(), "READ"));
    if (!in || in->IsZombie()) throw std::runtime_error(input + ": cannot open");
    TTreeReader reader("CollectionTree", in.get());
    TTreeReaderValue<std::vector<float>> values(reader, branch.c_str());
    std::unique_ptr<TFile> out(TFile::Open(friend_path.c_str(), "RECREATE"));
    if (!out || out->IsZombie()) throw std::runtime_error(friend_path + ": cannot create");
    auto* tree = new TTree("refloat", "refloat: stored and corrected values (friend of CollectionTree)");
    std::vector<float> stored, corrected;
    tree->Branch("stored", &stored);
    tree->Branch("corrected", &corrected);
    std::uint64_t first = 0;
    while (reader.Next()) {
        stored = *values;
        refloat::quantise(stored, bits, refloat::Rounding::Nearest);
        corrected = stored;
        refloat::correct_branch(corrected, bits, refloat::Rounding::Nearest, refloat::Method::Dither, seed, branch,
                                first);
        first += stored.size();
        tree->Fill();
    }
    out->cd();
    tree->Write();
    out->Close();
    std::cout << "friend tree written: " << friend_path << " (" << first << " values)\n";
    return 0;
}

int check(const std::string& input, const std::string& friend_path, const std::string& branch, unsigned bits,
          std::uint64_t seed) {
    std::unique_ptr<TFile> in(TFile::Open(input.c_str(), "READ"));
    if (!in || in->IsZombie()) throw std::runtime_error(input + ": cannot open");
    TTree* tree = nullptr;
    in->GetObject("CollectionTree", tree);
    if (!tree) throw std::runtime_error(input + ": no CollectionTree");
    if (!tree->AddFriend("refloat", friend_path.c_str())) throw std::runtime_error(friend_path + ": cannot attach");
    TTreeReader reader(tree);
    TTreeReaderValue<std::vector<float>> original(reader, branch.c_str());
    TTreeReaderValue<std::vector<float>> stored(reader, "refloat.stored");
    TTreeReaderValue<std::vector<float>> corrected(reader, "refloat.corrected");
    std::uint64_t first = 0, entries = 0;
    double se_stored = 0, se_corrected = 0;
    while (reader.Next()) {
        std::vector<float> expect = *original;
        refloat::quantise(expect, bits, refloat::Rounding::Nearest);
        if (expect.size() != stored->size() || corrected->size() != stored->size())
            throw std::runtime_error("entry " + std::to_string(entries) + ": sizes differ");
        std::vector<float> again = *stored;
        refloat::correct_branch(again, bits, refloat::Rounding::Nearest, refloat::Method::Dither, seed, branch, first);
        std::vector<float> requantised = *corrected;
        refloat::quantise(requantised, bits, refloat::Rounding::Nearest);
        for (std::size_t i = 0; i < expect.size(); ++i) {
            if (!same_bits(expect[i], (*stored)[i]) || !same_bits(requantised[i], (*stored)[i]) ||
                !same_bits(again[i], (*corrected)[i]))
                throw std::runtime_error("entry " + std::to_string(entries) + " value " + std::to_string(i) +
                                         ": not as refloat computes it");
            const double x = (*original)[i];
            se_stored += (x - (*stored)[i]) * (x - (*stored)[i]);
            se_corrected += (x - (*corrected)[i]) * (x - (*corrected)[i]);
        }
        first += stored->size();
        ++entries;
    }
    if (entries != static_cast<std::uint64_t>(tree->GetEntries())) throw std::runtime_error("entries differ");
    std::printf("friend tree checked: %llu entries, %llu values; MSE stored %.6g, dither-corrected %.6g\n",
                static_cast<unsigned long long>(entries), static_cast<unsigned long long>(first),
                se_stored / double(first), se_corrected / double(first));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 7) return usage();
    const std::string mode = argv[1];
    try {
        const unsigned bits = static_cast<unsigned>(std::stoul(argv[5]));
        const std::uint64_t seed = std::stoull(argv[6]);
        if (mode == "write") return write(argv[2], argv[3], argv[4], bits, seed);
        if (mode == "check") return check(argv[2], argv[3], argv[4], bits, seed);
        return usage();
    } catch (const std::exception& e) {
        std::cerr << "friend_correct " << mode << ": " << e.what() << "\n";
        return 1;
    }
}
