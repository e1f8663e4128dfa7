#!/usr/bin/env bash
# Short libFuzzer runs of refloat's cargo-fuzz targets (issue 6): `root_reader` (arbitrary
# bytes as a ROOT file) and `capi` (every C API function with arbitrary arguments).
# Idempotent on a fresh Debian machine with the stable Rust toolchain: installs cargo-fuzz
# if missing, builds with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z sanitizer flags, which
# only nightly accepts), writes synthetic seed files, then fuzzes each target for
# FUZZ_SECONDS (default 60). A crash fails the script; libFuzzer's reproducer is left in
# fuzz/artifacts/<target>/ — check it in under tests/corpus/<target>/ with a regression test.
#
#   bash tests/ci/fuzz.sh                 # 60 s per target (+ ~10 min first build on 2 cores)
#   FUZZ_SECONDS=120 bash tests/ci/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-60}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

# C++ toolchain for libFuzzer (built by libfuzzer-sys) and for refloat's cxx bridge.
if ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq g++ >/dev/null
    fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi

cargo fuzz build -O

# Seeds: small ROOT files written by refloat's own writer, and the checked-in crash inputs.
target_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"
mkdir -p fuzz/corpus/root_reader fuzz/corpus/capi
"$target_dir/make_seeds" fuzz/corpus/root_reader
for t in root_reader capi; do
    if [ -d "tests/corpus/$t" ]; then
        find "tests/corpus/$t" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "fuzz/corpus/$t/" \;
    fi
done

# Every checked-in regression input must still pass (runs each input once).
for t in root_reader capi; do
    if [ -d "tests/corpus/$t" ] && [ -n "$(find "tests/corpus/$t" -maxdepth 1 -type f ! -name '*.md')" ]; then
        "$target_dir/$t" -rss_limit_mb=4096 -malloc_limit_mb="${FUZZ_MALLOC_LIMIT_MB:-16400}" $(find "tests/corpus/$t" -maxdepth 1 -type f ! -name '*.md')
    fi
done

# -malloc_limit_mb: a single allocation above it is reported as a crash (unbounded
# allocation from a size read from the input); -timeout: one input running longer is a hang.
# The default limit tolerates the KNOWN unchecked allocations in vendored oxyroot (sizes are
# 32-bit fields read from the file, so at most 2^31 elements of <= 8 bytes = 16 GiB, zeroed
# lazily): riofs/file.rs RootFileReader::read_at `vec![0; len]`, riofs/key.rs Key::load
# `vec![0; obj_len]`, rtree/branch/tbranch.rs TBranch::unmarshal `vec![0; max_baskets]`
# (tests/corpus/README.md). Set FUZZ_MALLOC_LIMIT_MB=256 once oxyroot caps them.
cargo fuzz run -O root_reader fuzz/corpus/root_reader -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
    -malloc_limit_mb="${FUZZ_MALLOC_LIMIT_MB:-16400}" -print_final_stats=1
cargo fuzz run -O capi fuzz/corpus/capi -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
echo "fuzz: no crash in ${seconds}s per target"
