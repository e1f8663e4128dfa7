"""The file pipelines from Python: outputs read back with uproot, the same bits as the
`refloat` command (the other front door over the same library), clear errors and no
partial output."""

import json
import subprocess

import awkward as ak
import numpy as np
import pytest
import uproot

import refloat

JETS = "AnalysisJetsAuxDyn.*"


def flat(a):
    return ak.to_numpy(ak.flatten(a, axis=None)).view(np.uint32)


@pytest.fixture(scope="module")
def compressed(tmp_path_factory, held_out):
    out = tmp_path_factory.mktemp("files") / "held10.root"
    rep = refloat.compress_file(held_out, out, bits=10, branches=JETS)
    return out, rep


def test_compress_file_read_back_with_uproot(held_out, compressed):
    out, rep = compressed
    assert rep.mantissa_bits == 10 and rep.mode == "nearest" and rep.tree == "CollectionTree"
    names = [b.name for b in rep.branches]
    assert "AnalysisJetsAuxDyn.pt" in names and rep.values > 881
    with uproot.open(held_out) as fi, uproot.open(out) as fo:
        ti, to = fi["CollectionTree"], fo["CollectionTree"]
        assert to.num_entries == ti.num_entries == 100
        for name in ("AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"):
            orig, stored = ti[name].array(), to[name].array()
            assert ak.all(ak.num(orig) == ak.num(stored))
            assert np.array_equal(flat(stored), flat(refloat.quantise(orig, bits=10)))
        # vector<vector<float>> is not a float branch of the pipeline: listed as skipped, copied
        assert any(s["name"] == "AnalysisJetsAuxDyn.SumPtTrkPt500" for s in rep.skipped)
        nested = "AnalysisJetsAuxDyn.SumPtTrkPt500"
        assert np.array_equal(flat(ti[nested].array()), flat(to[nested].array()))
        # a branch outside the selection is copied as it was
        assert np.array_equal(flat(ti["AnalysisElectronsAuxDyn.pt"].array()), flat(to["AnalysisElectronsAuxDyn.pt"].array()))
    info = refloat.inspect(out, tree="CollectionTree", branches="AnalysisJetsAuxDyn.pt")
    (b,) = info.trees[0].branches
    assert b.mantissa_bits == 10 and b.values == 881 and b.type_name == "vector<float>"


def test_threads_give_the_same_bytes(held_out, compressed, tmp_path):
    """Baskets compressed on one thread or several: the same file, byte for byte."""
    outs = {}
    for t in (1, 2, 0):
        c = tmp_path / f"c{t}.root"
        refloat.compress_file(held_out, c, bits=10, compression="lzma:5", threads=t)
        k = tmp_path / f"k{t}.root"
        refloat.correct_file(compressed[0], k, method="dither", seed=3, threads=t)
        outs[t] = (c.read_bytes(), k.read_bytes())
    assert outs[1] == outs[2] == outs[0]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(refloat.Error, match="threads"):
            refloat.compress_file(held_out, tmp_path / "bad.root", bits=10, threads=bad)
    assert not (tmp_path / "bad.root").exists()


@pytest.mark.parametrize("method", ["midpoint", "dither", "prior-mean"])
def test_correct_file_read_back_and_verified(compressed, tmp_path, method):
    stored_path, _ = compressed
    out = tmp_path / f"{method}.root"
    rep = refloat.correct_file(stored_path, out, method=method, seed=7, branches=JETS)
    assert rep.verified_values == rep.values > 881
    pt = next(b for b in rep.branches if b.name == "AnalysisJetsAuxDyn.pt")
    assert pt.mantissa_bits == 10 and pt.bits_source == "detected" and pt.mode == "nearest"
    again = refloat.verify_file(stored_path, out, branches=JETS)
    assert again.values == rep.values
    with uproot.open(stored_path) as fs, uproot.open(out) as fo:
        stored = fs["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array()
        best = fo["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array()
    refloat.verify(best, stored, bits=10)
    # the file pipeline and the array function give the same bits (the one resolver, the one
    # seeding rule)
    r = refloat.resolve_file(stored_path, "AnalysisJetsAuxDyn.pt")
    assert r.to_dict() == pt.resolution.to_dict()
    same = refloat.correct(stored, method=method, seed=7, branch="AnalysisJetsAuxDyn.pt", resolution=r)
    if method != "prior-mean":  # the file's density sample is the pipeline's own
        assert np.array_equal(flat(best), flat(same))


def test_same_bits_as_the_refloat_command(compressed, tmp_path, cli):
    stored_path, _ = compressed
    py_out, cli_out = tmp_path / "py.root", tmp_path / "cli.root"
    refloat.correct_file(stored_path, py_out, method="dither", seed=123, branches=JETS)
    subprocess.run(
        [cli, "correct", str(stored_path), str(cli_out), "--method", "dither:123", "--branches", JETS],
        check=True, capture_output=True,
    )
    with uproot.open(py_out) as a, uproot.open(cli_out) as b:
        for name in ("AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.phi"):
            assert np.array_equal(flat(a["CollectionTree"][name].array()), flat(b["CollectionTree"][name].array()))


def test_nanoaod_file(nano, tmp_path):
    out = tmp_path / "nano_dither.root"
    rep = refloat.correct_file(nano, out, method="dither", seed=1, branches=["Jet_pt", "Jet_eta", "Jet_chEmEF"])
    assert rep.tree == "Events"
    by = {b.name: b for b in rep.branches}
    assert by["Jet_pt"].mantissa_bits == 10 and by["Jet_eta"].mantissa_bits == 12
    for b in by.values():
        assert b.mode == "cms" and b.mode_source in ("detected", "format")
    with uproot.open(nano) as fi, uproot.open(out) as fo:
        stored, best = fi["Events"]["Jet_pt"].array(), fo["Events"]["Jet_pt"].array()
        assert np.array_equal(fi["Events"]["nJet"].array(), fo["Events"]["nJet"].array())
    refloat.verify(best, stored, bits=10, mode="cms")
    same = refloat.correct(stored, bits=10, mode="cms", method="dither", seed=1, branch="Jet_pt")
    assert np.array_equal(flat(best), flat(same))


def test_file_errors_are_named_and_leave_no_output(held_out, compressed, tmp_path):
    stored_path, _ = compressed
    out = tmp_path / "never.root"
    with pytest.raises(refloat.Error, match="nope.root"):
        refloat.inspect(tmp_path / "nope.root")
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"this is not a ROOT file" * 100)
    with pytest.raises(refloat.Error, match="junk.root"):
        refloat.correct_file(junk, out)
    with pytest.raises(refloat.Error, match="no tree 'Nope'"):
        refloat.correct_file(stored_path, out, tree="Nope")
    with pytest.raises(refloat.Error, match="NoSuchBranch"):
        refloat.compress_file(held_out, out, bits=10, branches="NoSuchBranch")
    with pytest.raises(refloat.Error, match="replace the input"):
        refloat.correct_file(stored_path, stored_path)
    with pytest.raises(refloat.Error, match="out of range"):
        refloat.compress_file(held_out, out, bits=30)
    # a stored file checked against the wrong bits: the invariant check names the value
    with pytest.raises(refloat.Error, match="not a stored value|invariant|re-quantises"):
        refloat.correct_file(held_out, out, bits=10, mode="nearest", branches="AnalysisJetsAuxDyn.pt")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.root"]


def test_advise_and_compress_with_the_advice(held_out, tmp_path, cli):
    """The advisor from Python: the same recommendations as `refloat advise`, and
    compress_file rounding each branch to its advised bits (uproot reads them back)."""
    adv = refloat.advise_file(held_out, branches=["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"],
                              resolutions={"AnalysisJetsAuxDyn.eta": "0.001"})
    rec = {b.name: b.recommended_bits for b in adv.branches}
    assert set(rec) == {"AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"}
    assert rec["AnalysisJetsAuxDyn.eta"] >= 16  # a step below 1e-4 for |eta| < 4
    pt = next(b for b in adv.branches if b.name == "AnalysisJetsAuxDyn.pt")
    assert [p.mantissa_bits for p in pt.sweep] == list(range(4, 24))
    assert pt.sweep[-1].changed == 0 and pt.sweep[0].artefacts.kind != ""
    r = subprocess.run(
        [str(cli), "advise", str(held_out), "--branches", "AnalysisJetsAuxDyn.pt",
         "--branches", "AnalysisJetsAuxDyn.eta", "--resolution", "AnalysisJetsAuxDyn.eta=0.001",
         "--json", str(tmp_path / "cli.json")],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "cli.json") as f:
        want = {b["name"]: b["recommended_bits"] for b in json.load(f)["branches"]}
    assert want == rec
    out = tmp_path / "advised.root"
    rep = refloat.compress_file(held_out, out, advice=adv, branch_bits={"AnalysisElectronsAuxDyn.m": 7},
                                branches=["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta", "AnalysisElectronsAuxDyn.m"])
    got = {b.name: b.mantissa_bits for b in rep.branches}
    assert got == {**rec, "AnalysisElectronsAuxDyn.m": 7}
    with uproot.open(out) as f:
        v = flat(f["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array())
    assert np.all(v & ((1 << (23 - rec["AnalysisJetsAuxDyn.pt"])) - 1) == 0)
    with pytest.raises(refloat.Error, match="resolution"):
        refloat.advise_file(held_out, branches="AnalysisJetsAuxDyn.pt", resolutions={"*": "-1"})
    with pytest.raises(refloat.Error, match="recommended_bits|branches"):
        refloat.compress_file(held_out, tmp_path / "x.root", advice={"branches": [{"name": "x"}]})
    assert not (tmp_path / "x.root").exists()


def test_analyse_file_as_the_command(held_out, compressed, tmp_path, cli):
    """The main job's analysis from Python: the report `refloat analyse` writes, and its
    numbers against numpy on uproot's reading of both files."""
    stored, _ = compressed
    rep = refloat.analyse_file(held_out, stored, branches=JETS)
    r = subprocess.run(
        [str(cli), "analyse", str(held_out), str(stored), "--branches", JETS, "--no-plots",
         "--out", str(tmp_path / "cli")],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "cli" / "report.json") as f:
        want = json.load(f)
    got = rep.to_dict()
    assert [b["name"] for b in got["branches"]] == [b["name"] for b in want["branches"]]
    for a, b in zip(got["branches"], want["branches"]):
        assert (a["count"], a["changed"], a["residual"]) == (b["count"], b["changed"], b["residual"])
    assert got["pooled"]["within_interval"] == got["pooled"]["bound_checked"] > 0
    with uproot.open(held_out) as o, uproot.open(stored) as s:
        x = ak.to_numpy(ak.flatten(o["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array())).astype(np.float64)
        y = ak.to_numpy(ak.flatten(s["CollectionTree"]["AnalysisJetsAuxDyn.pt"].array())).astype(np.float64)
    pt = next(b for b in rep.branches if b.name == "AnalysisJetsAuxDyn.pt")
    assert pt.count == len(x) and pt.mantissa_bits == 10
    assert pt.residual.max_abs == np.max(np.abs(x - y)) > 0
    assert pt.residual.rms == pytest.approx(np.sqrt(np.mean((x - y) ** 2)), rel=1e-12)
    with pytest.raises(refloat.Error, match="missing.root"):
        refloat.analyse_file(held_out, tmp_path / "missing.root")


def test_compress_files_and_correct_files_over_a_directory(held_out, tmp_path):
    """A dataset: each file under its own name, a bad one stops the run or, with
    keep_going, is reported and skipped; the same bytes as compress_file of one file."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "b.root").write_bytes(open(held_out, "rb").read())
    real = (src / "b.root").read_bytes()
    (src / "a_bad.root").write_bytes(real[: len(real) // 3])
    stopped = refloat.compress_files(str(src / "*.root"), tmp_path / "stopped", bits=10)
    assert (stopped.done, stopped.failed, stopped.not_run) == (0, 1, 1)
    assert "a_bad.root" in stopped.files[0].error
    assert not (tmp_path / "stopped" / "a_bad.root").exists()
    kept = refloat.compress_files([src / "a_bad.root", src / "b.root"], tmp_path / "kept", bits=10,
                                  keep_going=True, branches=JETS)
    assert (kept.done, kept.failed, kept.not_run) == (1, 1, 0)
    assert kept.files[1].report.mantissa_bits == 10 and kept.files[1].report.values > 881
    one = tmp_path / "one.root"
    refloat.compress_file(src / "b.root", one, bits=10, branches=JETS)
    assert one.read_bytes() == (tmp_path / "kept" / "b.root").read_bytes()
    fixed = refloat.correct_files(tmp_path / "kept" / "b.root", tmp_path / "fixed", method="dither", seed=5)
    assert fixed.done == 1 and fixed.files[0].report.verified_values == fixed.files[0].report.values
    with pytest.raises(refloat.Error, match="matches no file"):
        refloat.compress_files(str(src / "*.nothing"), tmp_path / "none", bits=10)


def test_inspect_verify_analyse_over_a_directory(dev, held_out, tmp_path):
    """The pipelines that write nothing over a dataset: each file's report is that of the
    one-file call; verify and analyse pair each input with the file of its name in a
    directory, and a file that fails (damaged, missing) is reported, naming it."""
    stored = refloat.compress_files([dev, held_out], tmp_path / "stored", bits=10, branches=JETS)
    assert stored.done == 2
    fixed = refloat.correct_files(str(tmp_path / "stored" / "*.root"), tmp_path / "fixed", method="dither", seed=2)
    assert fixed.done == 2
    files = sorted((tmp_path / "stored").glob("*.root"))
    seen = refloat.inspect_files(str(tmp_path / "stored" / "*.root"), branches=JETS)
    assert (seen.done, seen.failed) == (2, 0) and [f.output for f in seen.files] == [None, None]
    for f, path in zip(seen.files, files):
        assert f.report.to_dict() == refloat.inspect(path, branches=JETS).to_dict()
    checked = refloat.verify_files(str(tmp_path / "stored" / "*.root"), tmp_path / "fixed")
    assert checked.done == 2
    for f, path in zip(checked.files, files):
        assert f.output == str(tmp_path / "fixed" / path.name)
        assert f.report.to_dict() == refloat.verify_file(path, f.output).to_dict()
        assert f.report.values > 881
    analysed = refloat.analyse_files([dev, held_out], tmp_path / "stored", branches=JETS)
    assert analysed.done == 2
    assert analysed.files[1].report.to_dict() == refloat.analyse_file(held_out, tmp_path / "stored" / held_out.name, branches=JETS).to_dict()
    # A damaged corrected file and a missing one: reported, named, the others still run.
    damaged = tmp_path / "fixed" / files[0].name
    damaged.write_bytes(damaged.read_bytes()[:5000])
    (tmp_path / "fixed" / files[1].name).unlink()
    bad = refloat.verify_files(files, tmp_path / "fixed", keep_going=True)
    assert (bad.done, bad.failed, bad.not_run) == (0, 2, 0)
    assert files[0].name in bad.files[0].error and files[1].name in bad.files[1].error
    stopped = refloat.verify_files(files, tmp_path / "fixed")
    assert (stopped.failed, stopped.not_run) == (1, 1)
    with pytest.raises(refloat.Error, match="not a directory"):
        refloat.verify_files(files, tmp_path / "nowhere")


def _bits(a):
    return ak.to_numpy(ak.flatten(a, axis=None)).astype(np.float32).view(np.uint32)


def test_correct_events_equals_the_file_pipeline(held_out, nano, tmp_path):
    """One line for the analyst: every float field of the events corrected as its branch,
    bit for bit as `correct_file` writes that branch; from uproot's arrays (PHYSLITE and
    NanoAOD) and from coffea's NanoEvents (events.Jet.pt is Jet_pt)."""
    stored = tmp_path / "stored.root"
    refloat.compress_file(held_out, stored, bits=10, branches=JETS)
    for path, tree, branches in ((stored, "CollectionTree", JETS), (nano, "Events", ["Jet_*", "MET_*", "nJet"])):
        fixed = tmp_path / f"fixed_{tree}.root"
        refloat.correct_file(path, fixed, "dither", seed=7)
        with uproot.open(path) as f:
            events = f[tree].arrays(filter_name=branches)
        got, reports = refloat.correct_events(events, "dither", seed=7, report=True)
        assert set(got.fields) == set(events.fields)
        with uproot.open(fixed) as f:
            expected = f[tree].arrays(filter_name=branches)
        changed = 0
        for b in events.fields:
            assert np.array_equal(_bits(got[b]), _bits(expected[b])), b
            changed += not np.array_equal(_bits(got[b]), _bits(events[b]))
        assert changed >= 4 and sum(r.corrected for r in reports.values()) > 1000, (changed, len(reports))
    # coffea's NanoEvents: nested collections, the same bits as the file pipeline's branches.
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    events = NanoEventsFactory.from_root({str(nano): "Events"}, schemaclass=NanoAODSchema, mode="eager").events()
    got = refloat.correct_events(events[["Jet", "MET"]], "dither", seed=7)
    with uproot.open(tmp_path / "fixed_Events.root") as f:
        expected = f["Events"].arrays(["Jet_pt", "Jet_eta", "MET_phi"])
    for coll, field in (("Jet", "pt"), ("Jet", "eta"), ("MET", "phi")):
        assert np.array_equal(_bits(got[coll][field]), _bits(expected[f"{coll}_{field}"])), (coll, field)
    assert not np.array_equal(_bits(got.Jet.pt), _bits(events.Jet.pt))
    with pytest.raises(refloat.Error, match="record array"):
        refloat.correct_events(np.float32([1.0]))
