#!/usr/bin/env bash
# Setup for the compression tests (tests/compression_*.rs, issue 7): Python 3 with uproot
# (and what uproot needs to read and write ZLIB, LZMA, LZ4 and ZSTD: cramjam, xxhash; the
# zstandard and lz4 modules for older uproot versions), awkward and numpy.
# Idempotent: pip leaves already installed packages alone. Works as root on a fresh Debian.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pip
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip
fi

# Debian's system Python refuses global pip installs (PEP 668) unless told otherwise.
pip_install() {
    "$PYTHON" -m pip install --quiet "$@" 2>/dev/null \
        || "$PYTHON" -m pip install --quiet --break-system-packages "$@"
}
# Exact versions (tests/ci/pins/system.txt, shared with tests/ci/uproot.sh).
pip_install -r "$(dirname "$0")/pins/system.txt"

"$PYTHON" -c "import uproot, awkward, numpy, cramjam, xxhash; print('uproot', uproot.__version__, 'ready for the compression tests')"
