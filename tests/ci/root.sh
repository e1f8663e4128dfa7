#!/usr/bin/env bash
# Real ROOT for the tests and examples: a virtual environment at target/root-venv (ignored by
# git; REFLOAT_ROOT_VENV names another) with the pinned PyPI wheel root==0.1a12 (ROOT 6.40.00,
# CPython 3.11, ~250 MB: `import ROOT`, the `root` executable, headers, libraries and ROOT's
# CMake config), plus uproot/awkward (the independent reader the tests compare ROOT with) and
# dask/distributed (distributed RDataFrame). The cargo tests find it (tests/common:
# root_venv); under CI a missing venv fails them. Idempotent; runs as root on a fresh Debian
# machine (installs python3-venv with apt when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
VENV=${REFLOAT_ROOT_VENV:-$PWD/target/root-venv}
ROOT_WHEEL="root==0.1a12"

if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "tests/ci/root.sh: the ROOT wheel $ROOT_WHEEL is built for CPython 3.11; $PY is $("$PY" --version)" >&2
    exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("root") == "0.1a12"; import uproot, awkward, dask, distributed; assert m.version("dask") == "2026.8.0"' >/dev/null 2>&1; then
    # Exact versions of everything (tests/ci/pins/root.txt): pip resolves nothing by itself.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/ci/pins/root.txt
fi
# The wheel's CMake config (ROOT/cmake) names its libraries and headers under
# lib/python3.11/mock_site_packages/ROOT, the path it was built in: point that at the
# installed package so that find_package(ROOT) works (a quirk of the alpha wheel).
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -e "$(dirname "$site")/mock_site_packages" ] || ln -s "$site" "$(dirname "$site")/mock_site_packages"
"$VENV/bin/python" -W ignore -c 'import ROOT; print("ROOT", ROOT.gROOT.GetVersion(), "in", ROOT.__file__)'
