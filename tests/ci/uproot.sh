#!/usr/bin/env bash
# Setup for refloat's ROOT I/O and CLI tests (issue 3): the Python side of the uproot
# round-trip tests (tests/io_uproot.rs runs tests/python/*.py). Idempotent; run as root on a
# fresh Debian machine or as a user with pip. Fonts are not needed: the plots embed DejaVu
# Sans (crate `dejavu`).
set -euo pipefail

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
    else
        echo "tests/ci/uproot.sh: python3 is missing and apt-get is not available" >&2
        exit 1
    fi
fi

# Exact versions (tests/ci/pins/system.txt): pip resolves nothing by itself. Debian marks the
# system Python as externally managed (PEP 668).
PINS=tests/ci/pins/system.txt
cd "$(dirname "$0")/../.."
"$PY" -m pip install --quiet --disable-pip-version-check -r "$PINS" 2>/dev/null \
    || "$PY" -m pip install --quiet --disable-pip-version-check --break-system-packages -r "$PINS"

"$PY" -c 'import uproot, awkward, numpy; print("uproot", uproot.__version__, "awkward", awkward.__version__, "numpy", numpy.__version__)'
