#!/usr/bin/env bash
# Setup and tests of refloat's learned models (issue 5, cargo feature `torch`, via tch 0.26).
#
# 1. A virtual environment at .venv (ignored by git) with the pinned PyPI wheel
#    torch==2.13.0 (the CUDA build, ~4.7 GB; it runs on machines without a GPU too).
# 2. Build with LIBTORCH_USE_PYTORCH=1 and that Python first on PATH, into the shared target/ (only refloat's crates and tch are rebuilt)
#    (ignored) so that the libtorch build does not fight over target/. build.rs writes an
#    rpath to the venv's torch/lib into every binary, test and librefloat.so: nothing below
#    sets LD_LIBRARY_PATH.
# 3. The model tests: unit tests and doc tests of src/model, tests/model_*.rs (train on a
#    slice of the development file, save, reload through Rust, C and C++, invariants,
#    broken baselines, CLI train/evaluate/correct on the held-out file, Python loads the
#    TorchScript file and agrees, the C++ model check in real ROOT after gSystem->Load), and
#    the Python package built with the feature (python/tests/test_model.py).
#
# Idempotent; runs as root on a fresh Debian machine with the Rust toolchain. Needs
# ../shared/data beside the repository (or REFLOAT_DATA_DIR). Set REFLOAT_TORCH_VENV to use
# another venv.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
VENV=${REFLOAT_TORCH_VENV:-$PWD/.venv}

if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip g++ >/dev/null
    else
        echo "tests/ci/torch.sh: need python3 with venv and a C++ compiler (apt-get not available)" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
# Exact versions of everything (tests/ci/pins/torch.txt): pip resolves nothing by itself.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/ci/pins/torch.txt
"$VENV/bin/python" -c 'import torch; print("torch", torch.__version__, "from", torch.__file__)' 2>/dev/null

# tests/model_cpp.rs also runs the model in real ROOT, from the venv of tests/ci/root.sh.

export PATH="$VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
# The same target directory as the rest of .ci/run: the dependencies built there are reused,
# only refloat's own crates (and tch) are built again with the feature.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# tests/model_inpainting.rs has Python load the saved TorchScript file and compare outputs.
export REFLOAT_TORCH_PYTHON="$VENV/bin/python"
unset LD_LIBRARY_PATH

start=$(date +%s)
# --lib builds the cdylib and staticlib too, which tests/model_cpp.rs and tests/model_cxx.rs link.
# `torch` of the library (the C model API) and of the command (train, model:PATH). Every
# cargo call names the same packages and features, so that they share one feature
# resolution and nothing is built twice.
PKGS=(-p refloat -p refloat-cli -p refloat-model --features refloat/torch,refloat-cli/torch)
# (Only the tests run below are built, by `cargo test`: each test binary links the library.)
cargo build --locked --release "${PKGS[@]}" --lib --bins
echo "build: $(( $(date +%s) - start )) s"

cargo test --locked --release "${PKGS[@]}" --lib --bins \
    --test model_inpainting --test model_autoencoder --test model_cpp --test model_cxx --test model_cli \
    --test model_fallback
cargo test --locked --release "${PKGS[@]}" --doc

for f in "$CARGO_TARGET_DIR/release/refloat" "$CARGO_TARGET_DIR/release/librefloat.so"; do
    if ldd "$f" | grep -q 'not found'; then
        echo "tests/ci/torch.sh: $f does not find its libraries without LD_LIBRARY_PATH:" >&2
        ldd "$f" | grep 'not found' >&2
        exit 1
    fi
done
# The Python package with the feature (refloat.Model), in this venv beside torch: the release
# build of tch and the crates above is reused, only the extension module is added. A small
# model trained by the command on the development file is used on the held-out file.
DATA=${REFLOAT_DATA_DIR:-$PWD/../shared/data}
MODEL_DIR=$(mktemp -d)
trap 'rm -rf "$MODEL_DIR"' EXIT
"$CARGO_TARGET_DIR/release/refloat" train "$DATA/DAOD_PHYSLITE_21.2.108.0.art.pool.root" --bits 10 \
    --mode truncate --epochs 30 --patience 6 --hidden 16 --seed 3 --cpu --out "$MODEL_DIR/jets.pt" >/dev/null
# The bench's model rows (issue 16), once, quick: both per-value kinds on one CPU core next to
# prior-mean, so the table cannot rot.
"$CARGO_TARGET_DIR/release/refloat" train "$DATA/DAOD_PHYSLITE_21.2.108.0.art.pool.root" --bits 10 \
    --kind denoise-per-value --epochs 3 --hidden 16 --seed 3 --cpu --out "$MODEL_DIR/ae.pt" >/dev/null
"$CARGO_TARGET_DIR/release/refloat" bench "$DATA/DAOD_PHYSLITE_21.2.108.0.art.pool.root" --repeat 1 \
    --memory-values 0 --model "$MODEL_DIR/jets.pt" --model "$MODEL_DIR/ae.pt" --model-seconds 0.05 \
    --json "$MODEL_DIR/bench.json"
"$VENV/bin/python" - "$MODEL_DIR/bench.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["models"]
kinds = {r["method"] for r in rows}
assert {"model:inpainting", "model:denoise-per-value", "prior-mean"} <= kinds, kinds
assert all(r["values_per_second"] > 0 and r["device"] for r in rows), rows
assert {r["batch"] >= 1000 for r in rows} == {True}, rows
print(f"bench model rows: {len(rows)}, kinds {sorted(kinds)}")
PY
VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" develop --release --features torch -m python/Cargo.toml
REFLOAT_MODEL="$MODEL_DIR/jets.pt" "$VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests/test_model.py

echo "torch tests: $(( $(date +%s) - start )) s in all"
