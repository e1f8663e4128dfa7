#!/usr/bin/env bash
# The Python package (python/, PyO3 + maturin) as a new user installs it, and its tests:
#
# 1. A venv at target/py-venv (ignored by git) with the analysis stack the tests and
#    examples use: numpy, awkward, uproot, dask-awkward, distributed, coffea, hist, mplhep.
# 2. The README's command, `pip install ./python`: pip builds the abi3 wheel with maturin
#    (release profile) from this checkout, into the shared target/.
# 3. The README's one-liner, the pytest suite on the real data (bit-exactness against
#    independent numpy references and against the `refloat` command, invariants, Awkward
#    structure, errors, files read back with uproot, a 2-process Dask LocalCluster, the
#    examples), the numpy bench (prints ratios; targets are reported, not asserted), and
#    benches/scaling.py and benches/engines.py on small merged inputs.
#
# Idempotent; needs ../shared/data beside the repository (or REFLOAT_DATA_DIR) and, for the
# cross-check with the command, `cargo build -p refloat-cli` done first (run_all.sh does).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
VENV=${REFLOAT_PY_VENV:-$PWD/target/py-venv}
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# Exact versions of everything (tests/ci/pins/python.txt): pip resolves nothing by itself.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/ci/pins/python.txt

start=$(date +%s)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# The isolated build environment gets its maturin from the same pins (PIP_CONSTRAINT).
PIP_CONSTRAINT="$PWD/tests/ci/pins/python.txt" \
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
echo "pip install ./python: $(( $(date +%s) - start )) s"
"$VENV/bin/python" -c "import refloat, numpy as np; print(refloat.quantise(np.float32([1.2345]), bits=10))"

export MPLBACKEND=Agg
# From the repository root: `python -m` puts the working directory first on sys.path, and
# python/ holds the package sources without the built extension.
"$VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests
"$VENV/bin/python" python/bench/bench_numpy.py
# The scaling script on small merged inputs (hadd from target/root-venv, made by the ROOT
# step), so that the command that regenerates docs/speed.md's table cannot rot.
"$VENV/bin/python" benches/scaling.py --sizes 1 2 --repeat 1 --no-anchor \
    --figure "$CARGO_TARGET_DIR/scaling/scaling.png"
# The Dask path on 1 and 2 workers (NanoAOD, the quickest), so that the command that
# regenerates docs/speed.md's engines table cannot rot; fails if the bits differ between worker
# counts (distributed RDataFrame: tests/root_dask.rs).
"$VENV/bin/python" benches/engines.py --sizes 1 --repeat 1 --inputs nano_dy \
    --lib-dir "$CARGO_TARGET_DIR/release" --work "$CARGO_TARGET_DIR/scaling"
