"""Never worse, from Python: corrected values checked by tests/python/check_declared.py (CMS's
and ATLAS's rules in numpy, the precision CMSSW declares for each NanoAOD column, spikes by a
rule of its own), and the resolver's decisions as Python sees them: -999 and other exact
values left alone, lattices, per-value precision, the format's defaults said out loud,
resolutions reused event by event, pickled, and the same whole-branch result from pieces."""

import importlib.util
import pathlib
import pickle
import subprocess
import sys
import warnings

import awkward as ak
import numpy as np
import pytest
import uproot

import refloat

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECK = REPO / "tests" / "python" / "check_declared.py"
TABLE = REPO / "tests" / "fixtures" / "declared" / "nano_dy.precision.tsv"

spec = importlib.util.spec_from_file_location("check_declared", CHECK)
check_declared = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_declared)


def bits_of(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def declared():
    return check_declared.read_table(TABLE)


@pytest.mark.parametrize("method", ["midpoint", "dither", "prior-mean"])
def test_correct_file_keeps_the_declared_precision(nano, tmp_path, method):
    out = tmp_path / "c.root"
    rep = refloat.correct_file(nano, out, method, seed=3)
    assert rep.tree == "Events" and rep.verified_values == rep.values
    done = subprocess.run(
        [sys.executable, str(CHECK), str(nano), str(out), "--tree", "Events", "--rule", "cms", "--table", str(TABLE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # what the resolver did, per branch, is in the report
    by_name = {b.name: b for b in rep.branches}
    assert by_name["TrigObj_eta"].resolution.bits == 12  # declared; the data shows 11
    assert by_name["TrigObj_eta"].resolution.bits_source == "declared"
    assert by_name["TrigObj_l1pt"].resolution.lattice["step_log2"] == -1
    assert by_name["TrigObj_l1pt"].resolution.per_value == []


def test_correct_on_uproot_arrays_keeps_the_declared_precision(nano):
    """The buffer door: each branch as uproot hands it, corrected whole with the format named."""
    table = declared()
    with uproot.open(nano) as f:
        t = f["Events"]
        names = [k for k, b in t.items() if b.typename in ("float", "float[]")]
        columns = {}
        for name in names:
            stored = t[name].array()
            best, rep = refloat.correct(stored, format="cms", branch=name, method="dither", seed=5, report=True)
            flat_s = np.asarray(ak.flatten(stored, axis=None), dtype=np.float32)
            flat_c = np.asarray(ak.flatten(best, axis=None), dtype=np.float32)
            assert ak.all(ak.num(best, axis=-1) == ak.num(stored, axis=-1)) if stored.ndim > 1 else len(best) == len(stored)
            d, rule = table[name]
            if d == "expr":
                env = {"np": np}
                for w in set(__import__("re").findall(r"[A-Za-z_][A-Za-z_0-9]*", rule)):
                    if w in t.keys():
                        columns.setdefault(w, np.asarray(ak.flatten(t[w].array(), axis=None)))
                        env[w] = columns[w]
                bits = np.asarray(eval(rule, env), dtype=np.int64)
            else:
                bits = int(d)
            changed = bits_of(flat_c) != bits_of(flat_s)
            back = check_declared.cms_round(flat_c, bits)
            assert not (changed & (back != bits_of(flat_s))).any(), name
            assert not (changed & (flat_s == np.float32(-999))).any(), name
            if changed.any():
                assert rep.mode == "cms", (name, rep.mode, rep.mode_source)


def test_sentinels_spikes_and_the_report_of_what_was_left_alone(nano):
    with uproot.open(nano) as f:
        jet = np.asarray(ak.flatten(f["Events"]["Jet_btagCMVA"].array()), dtype=np.float32)
    stored = np.concatenate([jet, np.full(50, -999.0, np.float32)])
    best, rep = refloat.correct(stored, format="cms", method="dither", seed=1, report=True)
    assert np.all(best[stored == -999] == -999)
    assert rep.exact.sentinel == 50
    assert rep.exact.spike > 0  # Jet_btagCMVA's default values
    assert rep.left_exact == rep.exact.short_mantissa + rep.exact.sentinel + rep.exact.spike + rep.exact.lattice


def test_detect_says_what_it_used(held_out_values):
    stored = refloat.quantise(held_out_values[:50], bits=10, mode="cms")
    with pytest.warns(UserWarning, match="cannot tell their rounding scheme"):
        _, rep = refloat.correct(stored, bits=10, report=True)
    assert (rep.mode, rep.mode_source) == ("nearest", "format")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, rep = refloat.correct(stored, bits=10, format="cms", report=True)
    assert (rep.mode, rep.mode_source) == ("cms", "format")
    # too few values to tell the bits: left as stored, and said so
    same, rep = refloat.correct(stored[:3], format="cms", report=True)
    assert np.array_equal(bits_of(same), bits_of(stored[:3]))
    assert rep.mantissa_bits is None and "too few" in rep.note


def test_a_resolution_corrects_events_as_the_whole_branch(nano):
    with uproot.open(nano) as f:
        stored = f["Events"]["TrigObj_pt"].array()
    flat = np.asarray(ak.flatten(stored), dtype=np.float32)
    r = refloat.resolve_file(nano, "TrigObj_pt")
    assert r.bits == 12 and r.mode == "cms"
    assert r == refloat.resolve(flat, format="cms", branch="TrigObj_pt")
    whole = refloat.correct(flat, method="dither", seed=4, branch="TrigObj_pt", resolution=r)
    first, pieces = 0, []
    for event in stored:
        e = np.asarray(event, dtype=np.float32)
        pieces.append(refloat.correct(e, method="dither", seed=4, branch="TrigObj_pt", first_index=first, resolution=r))
        first += len(e)
    assert np.array_equal(bits_of(whole), bits_of(np.concatenate(pieces)))
    again = pickle.loads(pickle.dumps(r))
    assert again == r and again.describe() == r.describe()


def test_per_value_precision_only_where_shown(dev):
    """GenPart mass's expression: top masses at 20 bits, the rest at 8; and a lattice is not
    a second precision."""
    with uproot.open(dev) as f:
        t = f["CollectionTree"]
        tops = np.asarray(ak.flatten(t["TruthTopAuxDyn.m"].array()), dtype=np.float32) / 1000
        rest = np.asarray(ak.flatten(t["HardScatterParticlesAuxDyn.m"].array()), dtype=np.float32) / 1000
    rest = rest[rest > 0]
    mixed = np.concatenate([refloat.quantise(tops, bits=20, mode="cms"), refloat.quantise(rest, bits=8, mode="cms")])
    r = refloat.resolve(mixed, format="cms")
    assert r.per_value == [20, 8], r.describe()
    best = refloat.correct(mixed, method="dither", seed=2, resolution=r)
    n = len(tops)
    refloat.verify(best[:n], mixed[:n], bits=20, mode="cms")
    refloat.verify(best[n:], mixed[n:], bits=8, mode="cms")
    # L1-like steps of real jet pt (0.5 and 1 GeV), over many binades: a lattice, every
    # value of it exact, not a second precision
    with uproot.open(dev) as f:
        pt = np.asarray(ak.flatten(f["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array()), dtype=np.float32) / 1000
    for step in (0.5, 1.0):
        lattice = refloat.quantise((np.round(pt / step) * step).astype(np.float32), bits=8, mode="cms")
        r = refloat.resolve(lattice, format="cms")
        assert r.per_value == [] and r.lattice is not None and 2.0 ** r.lattice.step_log2 == step, r.describe()
        best = refloat.correct(lattice, method="dither", seed=1, resolution=r)
        assert np.array_equal(bits_of(best), bits_of(lattice))


def test_awkward_records_report_per_field(held_out):
    with uproot.open(held_out) as f:
        t = f["CollectionTree"]
        pt = t["AnalysisJetsAuxDyn.pt"].array()
        eta = t["AnalysisJetsAuxDyn.eta"].array()
    rec = ak.zip({"pt": refloat.quantise(pt, bits=10), "eta": refloat.quantise(eta, bits=10)})
    best, rep = refloat.correct(rec, bits=10, mode="nearest", report=True)
    assert ak.fields(best) == ["pt", "eta"]
    assert len(rep.per_field) == 2 and rep.corrected == sum(r.corrected for r in rep.per_field)


def test_big_endian_arrays_and_bytes_paths(held_out, tmp_path):
    stored = refloat.quantise(np.float32([1.2345, 47.11, 0.5, 3.25] * 50), bits=10)
    big = stored.astype(">f4")
    assert np.array_equal(
        bits_of(refloat.correct(big, bits=10, mode="nearest", method="midpoint")),
        bits_of(refloat.correct(stored, bits=10, mode="nearest", method="midpoint")),
    )
    rep = refloat.inspect(bytes(held_out), branches="AnalysisJetsAuxDyn.pt")
    assert rep.trees[0].branches[0].name == "AnalysisJetsAuxDyn.pt"
    with pytest.raises(refloat.Error, match="path must be"):
        refloat.inspect(12)


def test_compress_file_lists_the_floats_it_leaves_alone(held_out, tmp_path):
    rep = refloat.compress_file(held_out, tmp_path / "c.root", 10)
    nested = [s for s in rep.floats_left_alone if "vector<vector<float>>" in s.type_name]
    assert len(nested) == 30, [s.name for s in nested]
    assert all("nested" in s.reason for s in nested)
    assert rep.mode == "nearest"  # detect: the tree's producer, ATLAS
