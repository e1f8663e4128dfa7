#!/usr/bin/env bash
# The CMake package end to end: configure and build refloat with CMake (cargo underneath),
# install it into a fresh prefix, check the installed tree, then build the downstream project
# tests/cmake-consumer against it (find_package(refloat 0.1 REQUIRED); C and C++ examples,
# shared and static) and run its CTest suite on the real data.
#
# Idempotent; needs root only to apt-get install cmake/g++ when they are missing.
# Environment: REFLOAT_CMAKE_BUILD_TYPE (default Release: the cargo release profile, which
# `.ci/run` tests, so that its library in target/ is reused; Debug builds the dev profile),
# CARGO_TARGET_DIR (default: the repository's target/), REFLOAT_DATA_DIR (default ../shared/data).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v cmake >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmake g++
fi
export PATH="$HOME/.cargo/bin:$PATH"

build_type=${REFLOAT_CMAKE_BUILD_TYPE:-Release}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
data_dir=${REFLOAT_DATA_DIR:-$repo/../shared/data}
work="$target_dir/cmake-ci"
rm -rf "$work"
mkdir -p "$work"
jobs=$(nproc 2>/dev/null || echo 2)

echo "== configure, build, install refloat ($build_type)"
cmake -S "$repo" -B "$work/build" -DCMAKE_BUILD_TYPE="$build_type" -DREFLOAT_CARGO_TARGET_DIR="$target_dir"
cmake --build "$work/build" -j "$jobs"
cmake --install "$work/build" --prefix "$work/prefix"

echo "== installed tree"
prefix="$work/prefix"
for f in lib/librefloat.so lib/librefloat.a include/refloat.h include/refloat.hpp include/refloat_cxx.hpp include/refloat_rdf.hpp \
         include/rust/cxx.h include/refloat/src/ffi/bridge.rs.h \
         lib/cmake/refloat/refloatConfig.cmake lib/cmake/refloat/refloatConfigVersion.cmake \
         share/refloat/examples/correct_branch.C share/refloat/examples/correct_branch.hpp \
         share/refloat/examples/rdf/rdf_correct.C share/refloat/examples/rdf/rdf_correct.py share/refloat/examples/rdf/rdf_dask.py; do
    test -e "$prefix/$f" || { echo "missing from the install: $f"; exit 1; }
done
soname=$(readelf -d "$prefix/lib/librefloat.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "librefloat.so.0.1" ] || { echo "unexpected SONAME '$soname'"; exit 1; }
exports=$(nm -D --defined-only "$prefix/lib/librefloat.so" | awk '{print $3}')
for sym in refloat_correct_f32 refloat_last_error refloat_version _ZN7refloat6bridge14correct_vector; do
    echo "$exports" | grep -q "^$sym" || { echo "librefloat.so does not export $sym"; exit 1; }
done
if echo "$exports" | grep -q '^_ZN[0-9]*\(std\|core\|alloc\|rayon\)'; then
    echo "librefloat.so exports Rust internals"; exit 1
fi
echo "SONAME $soname; $(echo "$exports" | grep -c '^refloat_') C functions exported"
for sym in refloat_correct_file refloat_compress_file refloat_correct_branch_f32 refloat_file_options_default; do
    echo "$exports" | grep -q "^$sym\$" || { echo "librefloat.so does not export $sym"; exit 1; }
done
# lean: no command-line code in the library, and installed stripped (Release builds)
installed=$(readlink -f "$prefix/lib/librefloat.so")
if strings "$installed" | grep -qiE 'clap|indicatif|plotters|dejavu'; then
    echo "librefloat.so holds command-line code"; exit 1
fi
bytes=$(stat -c %s "$installed")
static_bytes=$(stat -c %s "$prefix/lib/librefloat.a")
echo "installed: librefloat.so $bytes bytes, librefloat.a $static_bytes bytes ($build_type)"
if [ "$build_type" = Release ]; then
    [ "$bytes" -lt 4000000 ] || { echo "the installed librefloat.so is $bytes bytes, not under 4 MB"; exit 1; }
    if readelf -S "$installed" | grep -qE '\.debug_|\.symtab'; then
        echo "the installed librefloat.so is not stripped"; exit 1
    fi
    if readelf -S "$prefix/lib/librefloat.a" 2>/dev/null | grep -q '\.debug_info'; then
        echo "the installed librefloat.a carries debug information"; exit 1
    fi
fi

echo "== downstream project"
cmake -S "$repo/tests/cmake-consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DREFLOAT_DATA_DIR="$data_dir"
cmake --build "$work/consumer" -j "$jobs"
ctest --test-dir "$work/consumer" --output-on-failure

echo "== downstream project with ROOT (find_package(ROOT) from the wheel of tests/ci/root.sh)"
root_venv=${REFLOAT_ROOT_VENV:-$repo/target/root-venv}
if [ -x "$root_venv/bin/python" ]; then
    site=$("$root_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    # The wheel vendors ROOT's own dependencies in root.libs; the linker needs to see them.
    cmake -S "$repo/tests/root-consumer" -B "$work/root-consumer" \
        -DCMAKE_PREFIX_PATH="$prefix;$site/ROOT/cmake" -DREFLOAT_DATA_DIR="$data_dir" \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$site/root.libs"
    cmake --build "$work/root-consumer" -j "$jobs"
    ctest --test-dir "$work/root-consumer" --output-on-failure
elif [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; then
    echo "CI is set but there is no ROOT venv at $root_venv (run tests/ci/root.sh)"; exit 1
else
    echo "SKIPPED: no ROOT venv at $root_venv (run tests/ci/root.sh)"
fi
echo "cmake.sh: OK"
