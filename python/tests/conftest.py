"""Fixtures of refloat's Python tests: the real data (../shared/data beside the repository,
or REFLOAT_DATA_DIR) and the `refloat` command built by cargo (for cross-checks between
front doors). Under CI (CI=true) nothing is skipped: missing data or binaries fail."""

import os
import pathlib
import shutil

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("REFLOAT_DATA_DIR", REPO.parent / "shared" / "data"))
DEV = DATA / "DAOD_PHYSLITE_21.2.108.0.art.pool.root"
HELD_OUT = DATA / "PHYSLITE_example.root"
if not HELD_OUT.exists():  # the repository's committed copy (examples/data/README.md)
    HELD_OUT = REPO / "examples" / "data" / "PHYSLITE_example.root"
NANO = DATA / "nano_dy.root"
IN_CI = os.environ.get("CI") == "true"


def _need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests run on the real data in ../shared/data (or REFLOAT_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def dev():
    return _need(DEV)


@pytest.fixture(scope="session")
def held_out():
    return _need(HELD_OUT)


@pytest.fixture(scope="session")
def nano():
    return _need(NANO)


@pytest.fixture(scope="session")
def cli():
    """The `refloat` command of the same checkout (built by `cargo build`/`cargo test`)."""
    for cand in (os.environ.get("REFLOAT_BIN"), REPO / "target" / "debug" / "refloat", REPO / "target" / "release" / "refloat", shutil.which("refloat")):
        if cand and pathlib.Path(cand).exists():
            return str(cand)
    if IN_CI:
        pytest.fail("the refloat command is not built (cargo build -p refloat-cli)")
    pytest.skip("the refloat command is not built")


JET_BRANCHES = [f"AnalysisJetsAuxDyn.{v}" for v in ("pt", "eta", "phi", "m")]
OBJECT_BRANCHES = JET_BRANCHES + [
    f"Analysis{o}AuxDyn.{v}" for o in ("Electrons", "Muons", "Photons") for v in ("pt", "eta", "phi")
]


@pytest.fixture(scope="session")
def held_out_values(held_out):
    """Every value of the held-out file's object pt/eta/phi/m branches, flat float32."""
    import awkward as ak
    import uproot

    with uproot.open(held_out) as f:
        arrays = f["CollectionTree"].arrays(OBJECT_BRANCHES)
    flat = np.concatenate([ak.to_numpy(ak.flatten(arrays[b])) for b in OBJECT_BRANCHES])
    assert flat.dtype == np.float32 and len(flat) > 3000
    return flat


@pytest.fixture(scope="session")
def edge_values():
    """Bit patterns where the rules differ: binade edges, the top codes, subnormals, the
    largest finite values, zeros, ±1, NaN and ±Inf."""
    pats = []
    for e in (0, 1, 100, 126, 127, 128, 200, 253, 254):
        for m in (0, 1, 2, 0x7FF, 0x800, 0xFFF, 0x1000, 0x3FFFFF, 0x400000, 0x7FEFFF, 0x7FF000, 0x7FF800, 0x7FFFFF):
            pats.append((e << 23) | m)
    pats += [0x7F800000, 0x7FC00000, 0x7F800001]
    u = np.array(pats, dtype=np.uint32)
    return np.concatenate([u, u | np.uint32(0x80000000)]).view(np.float32)
