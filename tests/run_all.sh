#!/usr/bin/env bash
# Every test of refloat, on a fresh Debian machine with the Rust toolchain: installs what the
# tests need (apt, pip), then runs the Rust suite (unit, integration, doc tests), the
# exhaustive 2^32-pattern checks in release mode, the Python package (pip install ./python,
# pytest, Dask, the numpy bench), the C/C++/CMake tests, the tests in real
# ROOT (macro, files, RDataFrame, distributed RDataFrame, a compiled ROOT+refloat consumer)
# and the libtorch model tests. Needs ../shared/data beside the repository (or REFLOAT_DATA_DIR).
#
#   bash tests/run_all.sh            # everything
#   REFLOAT_SKIP_TORCH=1 bash tests/run_all.sh   # without the libtorch install (~5 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# Disk: CI's disk is small and this run builds debug, release, libtorch and fuzz trees. No
# debug information (cargo then strips it from the binaries too: a test binary is a few MB
# instead of ~80; a panic still names its file and line), no incremental caches (a single
# build has no use for them), no pip download cache (the torch wheel alone is GBs). Every
# cargo call below inherits these, so none rebuilds for a changed profile.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_PROFILE_RELEASE_DEBUG=0
export PIP_NO_CACHE_DIR=1
export REFLOAT_CMAKE_BUILD_TYPE=${REFLOAT_CMAKE_BUILD_TYPE:-Release}
# Each step prints its start and the previous step's duration; the total is printed last.
T0=$(date +%s); T_STEP=$T0; STEP_NAME=""
step() {
    local now; now=$(date +%s)
    [ -n "$STEP_NAME" ] && printf '=== %s: %d s (disk: %s used by target/, %s free)\n' "$STEP_NAME" \
        $((now - T_STEP)) "$(du -sh target 2>/dev/null | cut -f1)" "$(df -h --output=avail . | tail -1 | tr -d ' ')"
    STEP_NAME=$1; T_STEP=$now
    printf '\n=== %s (%s)\n' "$1" "$(date +%T)"
}

step "python reference readers (numpy, scipy, uproot)"
for s in tests/ci/uproot.sh tests/ci/compression.sh; do
    [ -f "$s" ] && bash "$s"
done

step "real ROOT (PyPI wheel root==0.1a12) in target/root-venv"
bash tests/ci/root.sh

step "Rust: unit, integration and doc tests, with the exhaustive checks over all 2^32 f32 patterns (release)"
# One profile for the whole run: the release build tested here is the one the benches, the
# Python package, CMake and the libtorch step reuse (a debug build of everything took as
# long again, and its tests ran slower). The C/C++ tests link the staticlib / cdylib, which
# `cargo test` alone does not build.
cargo build --locked --release -p refloat --lib
# cargo-nextest (on every machine of this kind) runs the test binaries side by side: most
# of them wait on ROOT, Python or a C compiler on one core. Doc tests go through cargo test.
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --release --no-fail-fast --failure-output final
    cargo test --locked --release --doc
else
    cargo test --locked --release --no-fail-fast
fi

step "Rust: the criterion bench, once through (criterion's --test mode, then its ratio table); the C API kernels bench, quick"
cargo bench --locked --bench quantise -- --test
bash benches/capi.sh --quick

step "Python: pip install ./python, pytest on the real data, Dask LocalCluster, numpy bench"
bash tests/ci/python.sh

# Fuzzing: 20 s per target here (the 60-minute budget); FUZZ_SECONDS=60 or more by hand.
export FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
for s in tests/ci/cmake.sh tests/ci/fuzz.sh; do
    if [ -f "$s" ]; then step "$s"; bash "$s"; fi
done
# Under CI, the fuzz build (its own target tree) is not used again: its disk goes to libtorch.
if [ -n "${CI:-}" ] && [ "${CI:-}" != false ] && [ "${CI:-}" != 0 ]; then rm -rf fuzz/target; fi

if [ -z "${REFLOAT_SKIP_TORCH:-}" ] && [ -f tests/ci/torch.sh ]; then
    step "libtorch models (feature torch)"
    bash tests/ci/torch.sh
fi
step "all tests passed"
printf '=== whole run: %d s\n' $(( $(date +%s) - T0 ))
