#!/usr/bin/env bash
# The ROOT macro cpp/examples/correct_branch.C in cling, ROOT's C++ interpreter, as shipped by
# cppyy (ROOT itself cannot be installed here): installs cppyy with pip, then runs the cargo
# tests that run the macro itself in cling (its gSystem->Load("librefloat.so") and
# ProcessLine, over a working stand-in of ROOT's tree classes fed with real branches) and check
# every written value bit for bit against the Rust core, plus the macro body compiled on every
# real branch and the macro's syntax. Idempotent; works as root on a fresh Debian machine.
# Environment: PYTHON (default python3).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
python=${PYTHON:-python3}
cppyy_spec="cppyy==3.5.0"
mkdir -p "$repo/target"

if ! command -v "$python" >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-pip python3-venv g++
fi
# pip into this Python; if it is an "externally managed" system Python (PEP 668), use a venv.
if ! "$python" -m pip install -q "$cppyy_spec" 2>"$repo/target/cling-pip.log"; then
    if grep -q "externally-managed" "$repo/target/cling-pip.log" || ! "$python" -m pip --version >/dev/null 2>&1; then
        venv="$repo/target/cling-venv"
        if ! "$python" -m venv "$venv" 2>/dev/null; then
            apt-get update -q
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip
            "$python" -m venv "$venv"
        fi
        python="$venv/bin/python"
        "$python" -m pip install -q "$cppyy_spec"
    else
        cat "$repo/target/cling-pip.log"
        exit 1
    fi
fi
"$python" -c "import cppyy; print('cppyy', cppyy.__version__)"

cd "$repo"
REFLOAT_REQUIRE_CLING=1 PYTHON="$python" cargo test --test ffi_c macro_ -- --nocapture
echo "cling.sh: OK"
