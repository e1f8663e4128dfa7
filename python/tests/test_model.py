"""refloat.Model (builds with the torch feature): a model trained by `refloat train` on the
development file, used on the held-out file from Python. tests/ci/torch.sh builds the
package with the feature and sets REFLOAT_MODEL; without that build the tests are skipped
(the default wheel has no libtorch)."""

import os

import awkward as ak
import numpy as np
import pytest
import uproot

import refloat

pytestmark = pytest.mark.skipif(not refloat.has_torch(), reason="refloat built without the torch feature")

JETS = [f"AnalysisJetsAuxDyn.{v}" for v in ("pt", "eta", "phi", "m")]


@pytest.fixture(scope="module")
def model():
    path = os.environ.get("REFLOAT_MODEL")
    if not path:
        pytest.fail("REFLOAT_MODEL is not set (tests/ci/torch.sh trains one)")
    return refloat.Model(path)


def test_model_metadata(model):
    assert model.variables == JETS
    assert model.mantissa_bits == 10 and model.mode == "truncate"
    assert model.meta.kind and model.meta.mantissa_bits == 10
    with pytest.raises(refloat.Error, match="bits|10"):
        refloat.Model(os.environ["REFLOAT_MODEL"], bits=7)
    with pytest.raises(refloat.Error):
        refloat.Model(os.environ["REFLOAT_MODEL"], variables=JETS[::-1])
    with pytest.raises(refloat.Error, match="missing.pt"):
        refloat.Model("missing.pt")


def test_model_on_held_out_jets(model, held_out, tmp_path):
    with uproot.open(held_out) as f:
        orig = f["CollectionTree"].arrays(JETS)
    stored = {v: refloat.quantise(orig[v], bits=10, mode="truncate") for v in JETS}
    best, rep = model.correct(stored, report=True)
    assert list(best) == JETS and rep.corrected > 0
    for v in JETS:
        assert ak.all(ak.num(best[v]) == ak.num(stored[v]))
        refloat.verify(best[v], stored[v], bits=10, mode="truncate")  # the invariant
    # truncated data: the model (or its prior-mean/midpoint floor) beats the stored values
    x = ak.to_numpy(ak.flatten(orig["AnalysisJetsAuxDyn.pt"])).astype(np.float64)
    s = ak.to_numpy(ak.flatten(stored["AnalysisJetsAuxDyn.pt"])).astype(np.float64)
    b = ak.to_numpy(ak.flatten(best["AnalysisJetsAuxDyn.pt"])).astype(np.float64)
    assert np.mean((b - x) ** 2) < 0.5 * np.mean((s - x) ** 2)
    # the same bits as the file pipeline (the command's --method model:PATH)
    comp, out = tmp_path / "t10.root", tmp_path / "model.root"
    refloat.compress_file(held_out, comp, bits=10, mode="truncate", branches="AnalysisJetsAuxDyn.*")
    r = model.correct_file(comp, out)
    assert [b.name for b in r.branches] == JETS and r.verified_values == r.values
    with uproot.open(out) as f:
        from_file = f["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array()
    assert np.array_equal(
        ak.to_numpy(ak.flatten(from_file)).view(np.uint32),
        ak.to_numpy(ak.flatten(best["AnalysisJetsAuxDyn.pt"])).view(np.uint32),
    )
    with pytest.raises(refloat.Error, match="AnalysisJetsAuxDyn.m"):
        model.correct({v: stored[v] for v in JETS[:3]})
