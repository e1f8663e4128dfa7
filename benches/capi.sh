#!/usr/bin/env bash
# The C API's kernels against memcpy and a vectorised Athena-style quantise loop, in one
# process (benches/capi_kernels.c): builds the release library (portable, as users build it,
# with its own run-time dispatch), compiles the C program with -O3 -march=native and
# runs it on the real values of ../shared/data tiled to 16 Mi values (best of 7 runs).
#
#   bash benches/capi.sh            # the full table, as in the README
#   bash benches/capi.sh --quick    # 1 Mi values, 2 runs: what .ci/run does, so it cannot rot
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${REFLOAT_DATA_DIR:-$repo/../shared/data}
target=${CARGO_TARGET_DIR:-$repo/target}
values=16777216; runs=7
[ "${1:-}" = --quick ] && { values=1048576; runs=2; }
cargo build --locked --release -p refloat --lib --manifest-path "$repo/Cargo.toml"
cc -O3 -march=native -o "$target/capi_kernels" "$repo/benches/capi_kernels.c" -I"$repo/include" \
    -L"$target/release" -lrefloat -Wl,-rpath,"$target/release"
"$target/capi_kernels" "$data" "$values" "$runs"
