// The one seeding rule through the C++ front doors (tests/ffi_c.rs,
// dither_bits_equal_through_every_front_door): the cxx bridge's correct_events and
// correct_file, the header over the C API (refloat::correct_branch event by event), and the
// ROOT macro's body (refloat_macro::correct_event, what correct_branch.C calls per entry).
//
//   seeding_doors STORED.root OUT_DIR BRANCH VALUES.f32 COUNTS.u64 BITS SEED
// writes OUT_DIR/{bridge_events,hpp_events,macro_events}.f32 and OUT_DIR/bridge_file.root.
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

int main(int argc, char** argv) {
    if (argc != 8) {
        std::cerr << "usage: seeding_doors STORED.root OUT_DIR BRANCH VALUES.f32 COUNTS.u64 BITS SEED\n";
        return 2;
    }
    const std::string stored_file = argv[1], out = argv[2], branch = argv[3];
    const std::vector<float> stored = read_raw<float>(argv[4]);
    const std::vector<std::uint64_t> counts = read_raw<std::uint64_t>(argv[5]);
    const unsigned bits = static_cast<unsigned>(std::atoi(argv[6]));
    const std::uint64_t seed = std::strtoull(argv[7], nullptr, 10);
    const auto mode = refloat::Rounding::Nearest;
    try {
        // cxx bridge: the whole branch at once
        std::vector<float> bridge = stored;
        refloat::cxx::correct_events(bridge, counts, bits, mode, refloat::Method::Dither, seed, branch);
        write_raw(out + "/bridge_events.f32", bridge);

        // header over the C API and the macro body: event by event, with each event's offset
        std::vector<float> hpp, macro;
        refloat_macro::Settings s;
        s.mantissa_bits = bits;
        s.mode = mode;
        s.method = refloat::Method::Dither;
        s.seed = seed;
        s.branch = branch;
        std::uint64_t first = 0;
        for (std::uint64_t n : counts) {
            std::vector<float> a(stored.begin() + first, stored.begin() + first + n), b = a;
            refloat::correct_branch(a, bits, mode, refloat::Method::Dither, seed, branch, first);
            refloat_macro::correct_event(b, s, first);
            hpp.insert(hpp.end(), a.begin(), a.end());
            macro.insert(macro.end(), b.begin(), b.end());
            first += n;
        }
        write_raw(out + "/hpp_events.f32", hpp);
        write_raw(out + "/macro_events.f32", macro);

        // the bridge's file pipeline
        refloat::cxx::FileOptions o = refloat::cxx::default_file_options();
        o.branches.push_back(branch);
        o.method = refloat::bridge::Method::Dither;  // the bridge's own enum (same numbers)
        o.seed = seed;
        refloat::cxx::FileReport r = refloat::cxx::correct_file(stored_file, out + "/bridge_file.root", o);
        std::cout << "bridge correct_file: " << r.values << " values, " << r.verified_values << " verified\n";
    } catch (const std::exception& e) {
        std::cerr << "seeding_doors: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
