// One branch through the C++ front doors (tests/ffi_c.rs, one_branch_through_every_front_door):
// the branch resolved from the file by the cxx bridge (refloat::cxx::Resolution) and by the
// header over the C API (refloat::Resolution), then corrected event by event with each event's
// offset; the ROOT macro's body (refloat_macro::correct_event, what correct_branch.C calls per
// entry); and the bridge's file pipeline with its defaults.
//
//   seeding_doors STORED.root OUT_DIR TREE BRANCH VALUES.f32 COUNTS.u64 SEED
// writes OUT_DIR/{bridge_events,hpp_events,macro_events}.f32, OUT_DIR/{bridge,hpp}.json (the
// resolutions) and OUT_DIR/bridge_file.root.
#include "correct_branch.hpp"
#include "refloat.hpp"
#include "refloat_cxx.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

template <typename T>
static std::vector<T> read_raw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
}

static void write_raw(const std::string& path, const std::vector<float>& v) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

static void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

int main(int argc, char** argv) {
    if (argc != 8) {
        std::cerr << "usage: seeding_doors STORED.root OUT_DIR TREE BRANCH VALUES.f32 COUNTS.u64 SEED\n";
        return 2;
    }
    const std::string stored_file = argv[1], out = argv[2], tree = argv[3], branch = argv[4];
    const std::vector<float> stored = read_raw<float>(argv[5]);
    const std::vector<std::uint64_t> counts = read_raw<std::uint64_t>(argv[6]);
    const std::uint64_t seed = std::strtoull(argv[7], nullptr, 10);
    try {
        const auto bridge = refloat::cxx::Resolution::of_file(stored_file, tree, branch);
        const auto hpp = refloat::Resolution::of_file(stored_file, tree, branch);
        write_text(out + "/bridge.json", bridge.json());
        write_text(out + "/hpp.json", hpp.json());

        refloat_macro::Settings s;
        s.method = refloat::Method::Dither;
        s.seed = seed;
        s.branch = branch;
        std::vector<float> by_bridge, by_hpp, by_macro;
        std::uint64_t first = 0;
        for (std::uint64_t n : counts) {
            std::vector<float> a(stored.begin() + first, stored.begin() + first + n), b = a, c = a;
            bridge.correct(a, refloat::Method::Dither, seed, branch, first);
            hpp.correct(b, refloat::Method::Dither, seed, branch, first);
            refloat_macro::correct_event(c, hpp, s, first);
            by_bridge.insert(by_bridge.end(), a.begin(), a.end());
            by_hpp.insert(by_hpp.end(), b.begin(), b.end());
            by_macro.insert(by_macro.end(), c.begin(), c.end());
            first += n;
        }
        write_raw(out + "/bridge_events.f32", by_bridge);
        write_raw(out + "/hpp_events.f32", by_hpp);
        write_raw(out + "/macro_events.f32", by_macro);

        // the bridge's file pipeline, with the command's defaults
        refloat::cxx::FileOptions o = refloat::cxx::default_file_options();
        o.branches.push_back(branch);
        o.tree = tree;
        o.method = refloat::bridge::Method::Dither;  // the bridge's own enum (same numbers)
        o.seed = seed;
        refloat::cxx::FileReport r = refloat::cxx::correct_file(stored_file, out + "/bridge_file.root", o);
        std::cout << "bridge correct_file: " << r.values << " values, " << r.verified_values << " verified, "
                  << r.left_exact << " left exact (" << r.left_sentinel << " sentinels, " << r.left_spike
                  << " spikes, " << r.left_lattice << " lattice)\n";
    } catch (const std::exception& e) {
        std::cerr << "seeding_doors: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
