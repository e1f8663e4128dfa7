"""refloat's numeric core from Python, on the real data: bit-exact against independent numpy
references, the invariant, tight intervals, the one seeding rule, Awkward structure, errors."""

import numpy as np
import pytest

import refloat
import reference


def bits_of(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("n", [0, 1, 5, 7, 10, 12, 15, 22, 23])
def test_quantise_equals_numpy_references(held_out_values, edge_values, n):
    x = np.concatenate([held_out_values, edge_values])
    finite = np.isfinite(x)
    for mode, ref in (("nearest", reference.nearest), ("truncate", reference.truncate)):
        got = refloat.quantise(x, bits=n, mode=mode)
        assert np.array_equal(bits_of(got)[finite], bits_of(ref(x, n))[finite]), (mode, n)
        assert np.array_equal(bits_of(got)[~finite], bits_of(x)[~finite])  # NaN, Inf untouched
    if 1 <= n < 23:
        assert np.array_equal(bits_of(refloat.quantise(x, bits=n, mode="cms")), bits_of(reference.cms(x, n)))


def test_quantise_returns_new_array_or_writes_out(held_out_values):
    x = held_out_values.copy()
    before = x.copy()
    q = refloat.quantise(x, bits=10)
    assert q is not x and np.array_equal(bits_of(x), bits_of(before))  # input untouched
    same = refloat.quantise(x, bits=10, out=x)  # in place: no copy
    assert same is x and np.array_equal(bits_of(x), bits_of(q))
    buf = np.empty_like(x)
    assert refloat.quantise(before, bits=10, out=buf) is buf and np.array_equal(bits_of(buf), bits_of(q))
    assert refloat.quantise(np.float32(1.2345), bits=10) == np.float32(1.234375)
    assert refloat.quantise(x[:8].reshape(4, 2), bits=10).shape == (4, 2)  # any shape
    d = refloat.quantise(held_out_values.astype(np.float64), bits=20)
    assert d.dtype == np.float64


def test_out_errors(held_out_values):
    x = held_out_values.copy()
    with pytest.raises(refloat.Error, match="C-contiguous"):
        refloat.quantise(x[::2].copy(), bits=10, out=x[::2])
    with pytest.raises(refloat.Error, match="dtype float64"):
        refloat.quantise(x, bits=10, out=np.empty(len(x)))
    with pytest.raises(refloat.Error, match="shape"):
        refloat.correct(refloat.quantise(x, bits=10), bits=10, out=np.empty(3, np.float32))


@pytest.mark.parametrize("mode", ["nearest", "truncate", "nearest-even", "cms", "root-float16", "bitround"])
@pytest.mark.parametrize("n", [4, 7, 10, 16])
def test_intervals_are_exact_and_tight(held_out_values, mode, n):
    stored = refloat.quantise(held_out_values, bits=n, mode=mode)
    lo, hi = refloat.interval(stored, bits=n, mode=mode)
    assert np.all(lo <= stored) and np.all(stored <= hi)
    assert np.all(held_out_values >= lo) and np.all(held_out_values <= hi)  # the originals are inside
    for edge in (lo, hi):
        assert np.array_equal(bits_of(refloat.quantise(edge, bits=n, mode=mode)), bits_of(stored))
    below = np.nextafter(lo, np.float32(-np.inf))
    above = np.nextafter(hi, np.float32(np.inf))
    for outside in (below, above):
        ok = np.isfinite(outside)
        moved = bits_of(refloat.quantise(outside[ok], bits=n, mode=mode)) != bits_of(stored[ok])
        assert moved.all(), f"{mode} n={n}: interval not tight at {np.flatnonzero(~moved)[:5]}"


@pytest.mark.parametrize("mode", ["nearest", "truncate", "cms", "root-float16"])
@pytest.mark.parametrize("method", ["midpoint", "dither", "prior-mean"])
def test_correct_keeps_the_invariant_on_real_data(held_out_values, mode, method):
    n = 7
    stored = refloat.quantise(held_out_values, bits=n, mode=mode)
    best, rep = refloat.correct(stored, bits=n, mode=mode, method=method, seed=11, branch="b", report=True)
    assert np.array_equal(bits_of(refloat.quantise(best, bits=n, mode=mode)), bits_of(stored))
    refloat.verify(best, stored, bits=n, mode=mode)
    exact = (stored == 0) | (np.abs(stored) == 1)
    assert np.array_equal(bits_of(best[exact]), bits_of(stored[exact]))  # exact values left alone
    assert rep.corrected + rep.left_exact + rep.non_finite == len(stored)
    assert rep.mantissa_bits == n and rep.mode == mode


def test_corrections_improve_real_data(held_out_values):
    """Truncated data: the midpoint's error is about a quarter of the stored value's; nearest
    data: dither doubles it (uniform on the interval), midpoint is the identity off edges."""
    x = held_out_values.astype(np.float64)
    st = refloat.quantise(held_out_values, bits=7, mode="truncate")
    mid = refloat.correct(st, bits=7, mode="truncate")
    ratio = np.mean((mid - x) ** 2) / np.mean((st - x) ** 2)
    assert 0.2 < ratio < 0.3, ratio
    sn = refloat.quantise(held_out_values, bits=7)
    dith = refloat.correct(sn, bits=7, mode="nearest", method="dither", seed=1)
    ratio = np.mean((dith - x) ** 2) / np.mean((sn - x) ** 2)
    assert 1.7 < ratio < 2.3, ratio


def test_leave_exact_false_corrects_short_mantissas(held_out_values):
    stored = refloat.quantise(held_out_values, bits=10)
    short = (stored != 0) & (np.abs(stored) == np.float32(2.0) ** np.round(np.log2(np.abs(stored) + (stored == 0))))
    assert short.sum() > 0  # real values that land on powers of two
    kept = refloat.correct(stored, bits=10, mode="nearest", method="dither", seed=2)
    moved = refloat.correct(stored, bits=10, mode="nearest", method="dither", seed=2, leave_exact=False)
    assert np.array_equal(bits_of(kept[short]), bits_of(stored[short]))
    assert np.all(moved[short] != stored[short])
    refloat.verify(moved, stored, bits=10)
    assert np.all(moved[stored == 0] == 0)


def test_bits_inferred_and_detected(held_out_values):
    stored = refloat.quantise(held_out_values, bits=9)
    assert refloat.infer_bits(stored) == 9
    with pytest.warns(UserWarning, match="cannot tell their rounding scheme"):
        _, rep = refloat.correct(stored, report=True)
    assert rep.mantissa_bits == 9 and rep.bits_source == "detected"
    assert rep.mode == "nearest" and rep.mode_source == "format"
    d = refloat.detect(stored)
    assert d.bits == 9 and d.bit_clusters == [9]
    assert dict(d.posterior).keys() >= {"nearest", "truncate", "cms"}
    with pytest.raises(refloat.Error, match="cannot infer"):
        refloat.infer_bits(np.zeros(10, np.float32))


def test_dither_seeding_rule(held_out_values):
    """Chunks corrected under the whole branch's resolution, each with its first index, give
    the whole branch's correction bit for bit."""
    stored = refloat.quantise(held_out_values, bits=10)
    whole, rep = refloat.correct(
        stored, bits=10, mode="nearest", method="dither", seed=42, branch="AnalysisJetsAuxDyn.pt", report=True
    )
    pieces = np.concatenate([
        refloat.correct(
            stored[a:b], method="dither", seed=42, branch="AnalysisJetsAuxDyn.pt", first_index=a, resolution=rep.resolution
        )
        for a, b in ((0, 1000), (1000, 1001), (1001, len(stored)))
    ])
    assert np.array_equal(bits_of(whole), bits_of(pieces))
    other = refloat.correct(stored, bits=10, mode="nearest", method="dither", seed=42, branch="AnalysisJetsAuxDyn.eta")
    assert not np.array_equal(bits_of(whole), bits_of(other))
    assert refloat.dither_stream_seed(42, "") == 42
    assert refloat.dither_stream_seed(42, "x") != 42


def test_awkward_arrays_keep_their_structure(held_out):
    import awkward as ak
    import uproot

    with uproot.open(held_out) as f:
        t = f["CollectionTree"]
        pt = t["AnalysisJetsAuxDyn.pt"].array()
        nested = t["AnalysisJetsAuxDyn.SumPtTrkPt500"].array()  # vector<vector<float>>
    for arr in (pt, nested):
        stored = refloat.quantise(arr, bits=10)
        assert ak.type(stored) == ak.type(arr)
        best = refloat.correct(stored, bits=10, mode="nearest", method="dither", seed=3, branch="b")
        assert ak.type(best) == ak.type(arr)
        assert ak.all(ak.ravel(ak.num(best, axis=-1) == ak.num(arr, axis=-1)))
        flat_s = ak.to_numpy(ak.flatten(stored, axis=None))
        flat_b = ak.to_numpy(ak.flatten(best, axis=None))
        # the jagged array's values are the flat buffer's, under the whole-branch index
        assert np.array_equal(
            bits_of(flat_b), bits_of(refloat.correct(flat_s, bits=10, mode="nearest", method="dither", seed=3, branch="b"))
        )
        r = refloat.residual(arr, stored)
        assert ak.to_numpy(ak.flatten(r, axis=None)).dtype == np.float64  # exact residuals
        assert np.max(np.abs(ak.to_numpy(ak.flatten(r, axis=None)))) > 0
    # chunked reading with first_index, under the whole branch's resolution, gives the
    # one-call bits
    stored = refloat.quantise(pt, bits=10)
    whole = refloat.resolve(stored, bits=10, mode="nearest")
    one = ak.flatten(refloat.correct(stored, method="dither", seed=9, branch="p", resolution=whole))
    first, chunks = 0, []
    for start in range(0, len(stored), 13):
        part = stored[start:start + 13]
        chunks.append(
            ak.flatten(refloat.correct(part, method="dither", seed=9, branch="p", first_index=first, resolution=whole))
        )
        first += int(ak.sum(ak.num(part)))
    assert ak.all(ak.concatenate(chunks) == one)
    rec = ak.zip({"pt": stored, "eta": refloat.quantise(pt * np.float32(0.001), bits=10)})
    assert ak.fields(refloat.correct(rec, bits=10, mode="nearest")) == ["pt", "eta"]
    with pytest.raises(refloat.Error, match="one field"):
        refloat.correct(rec, bits=10, method="dither")


def test_errors_are_named(held_out_values):
    stored = refloat.quantise(held_out_values, bits=10)
    assert issubclass(refloat.Error, ValueError)
    with pytest.raises(refloat.Error, match="float64"):
        refloat.correct(stored.astype(np.float64), bits=10)
    with pytest.raises(refloat.Error, match="int32"):
        refloat.correct(np.arange(4, dtype=np.int32), bits=10)
    with pytest.raises(refloat.Error, match="mantissa bits 24 out of range"):
        refloat.quantise(stored, bits=24)
    with pytest.raises(refloat.Error, match="mantissa bits -1 out of range"):
        refloat.correct(stored, bits=-1)
    with pytest.raises(refloat.Error, match="integer number of kept mantissa bits"):
        refloat.quantise(stored, bits="10")
    with pytest.raises(refloat.Error, match="not a stored value at 10 kept mantissa bits"):
        refloat.correct(held_out_values, bits=10)
    with pytest.raises(refloat.Error, match="index 0 is NaN"):
        refloat.residual(np.float32([np.nan, 1.0]), np.float32([1.0, 1.0]))
    with pytest.raises(refloat.Error, match="length mismatch"):
        refloat.residual(stored[:3], stored[:4])
    with pytest.raises(refloat.Error, match="unknown rounding mode 'atlas'"):
        refloat.quantise(stored, bits=10, mode="atlas")
    with pytest.raises(refloat.Error, match="unknown correction method 'median'"):
        refloat.correct(stored, bits=10, method="median")
    with pytest.raises(refloat.Error, match="re-quantises"):
        refloat.verify(stored * np.float32(1.01), stored, bits=10)
    with pytest.raises(refloat.Error, match="seed"):
        refloat.correct(stored, bits=10, method="dither", seed=-1)
    with pytest.raises(refloat.Error, match="NaN"):
        refloat.shift_metrics(np.float32([1, 2, np.nan]), np.float32([1, 2, 3]))
    with pytest.raises(refloat.Error):
        refloat.correct("not an array", bits=10)
    # NaN and Inf are left alone by the corrections
    s = np.float32([np.nan, np.inf, 1.5])
    out, rep = refloat.correct(s, bits=10, report=True)
    assert np.isnan(out[0]) and out[1] == np.inf and rep.non_finite == 2


def test_shift_metrics_see_coarse_rounding(held_out_values):
    x = held_out_values[np.abs(held_out_values) > 2]  # the momenta and masses (MeV)
    fine = refloat.shift_metrics(x, refloat.quantise(x, bits=10))
    coarse = refloat.shift_metrics(x, refloat.quantise(x, bits=2))
    assert fine.ks.p_value > 0.5 and fine.classifier_auc < 0.55
    assert coarse.wasserstein1 > 20 * fine.wasserstein1
    assert coarse.js_divergence > fine.js_divergence
    assert coarse.original.mean == pytest.approx(float(np.mean(x.astype(np.float64))))
    try:
        from scipy.stats import ks_2samp
    except ImportError:  # pragma: no cover - scipy is installed with coffea
        return
    a, b = x.astype(np.float64), refloat.quantise(x, bits=2).astype(np.float64)
    assert coarse.ks.statistic == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_nanoaod_bits_and_scheme(nano):
    import awkward as ak
    import uproot

    with uproot.open(nano) as f:
        t = f["Events"]
        pt, eta = t["Jet_pt"].array(), t["Jet_eta"].array()
    assert refloat.infer_bits(pt) == 10 and refloat.infer_bits(eta) == 12
    best = refloat.correct(pt, mode="cms", method="dither", seed=1, branch="Jet_pt")
    refloat.verify(best, pt, bits=10, mode="cms")
    assert ak.all(ak.num(best) == ak.num(pt))
    moved = ak.to_numpy(ak.flatten(best)) != ak.to_numpy(ak.flatten(pt))
    assert moved.mean() > 0.9


def test_misaligned_buffers(held_out_values):
    """numpy arrays over a byte buffer at an odd offset (as serialisers can make) are copied
    for reading; as out= they are refused, never read through a misaligned pointer."""
    raw = np.zeros(4 * 64 + 1, np.uint8)
    mis = np.frombuffer(raw.data, dtype=np.float32, count=64, offset=1)
    assert not mis.flags.aligned
    assert np.array_equal(refloat.quantise(mis, bits=10), np.zeros(64, np.float32))
    with pytest.raises(refloat.Error, match="aligned"):
        refloat.quantise(np.zeros(64, np.float32), bits=10, out=mis)


def test_replicas_are_the_dither_correction_and_requantise(held_out_values):
    stored = refloat.quantise(held_out_values, bits=7)
    branch = "AnalysisJetsAuxDyn.pt"
    seen = []
    for r, rep in enumerate(refloat.replicas(stored, 3, bits=7, seed=11, branch=branch)):
        refloat.verify(rep, stored, bits=7)
        one = refloat.replica(stored, 7, "nearest", 11, r, branch)
        same = refloat.correct(stored, bits=7, method="dither", seed=refloat.replica_seed(11, r), branch=branch)
        assert np.array_equal(bits_of(rep), bits_of(one)) and np.array_equal(bits_of(rep), bits_of(same))
        seen.append(rep)
    assert not np.array_equal(seen[0], seen[1])
    # bits inferred from the branch: the same replica
    assert np.array_equal(bits_of(refloat.replica(stored, None, seed=11, replica=2, branch=branch)), bits_of(seen[2]))


def test_histogram_spread(held_out_values):
    stored = refloat.quantise(held_out_values, bits=7)
    finite = stored[np.isfinite(stored)]
    edges = np.linspace(np.quantile(finite, 0.01), np.quantile(finite, 0.99), 21)
    s = refloat.histogram_spread(stored, edges, n=20, bits=7, seed=3)
    h = s.histogram
    assert h.nominal.shape == (20,) and h.std.shape == (20,)
    in_range = finite[(finite >= edges[0]) & (finite <= edges[-1])]
    assert h.nominal.sum() == len(in_range)
    assert np.all(h.std >= 0) and np.any(h.std > 0) and np.all(h.q16 <= h.q84)
    assert s.mean.replicas == 20 and s.mean.min <= s.mean.mean <= s.mean.max


def test_replica_errors(held_out_values):
    stored = refloat.quantise(held_out_values, bits=7)
    with pytest.raises(refloat.Error, match="dtype float64"):
        refloat.replica(stored.astype(np.float64), bits=7)
    with pytest.raises(refloat.Error, match="out of range"):
        refloat.replica(stored, bits=24)
    with pytest.raises(refloat.Error, match="not a stored value"):
        refloat.replica(held_out_values, bits=7)
    with pytest.raises(refloat.Error, match="replicas must be at least 1"):
        refloat.histogram_spread(stored, np.array([0.0, 1.0]), n=0, bits=7)
    with pytest.raises(refloat.Error, match="strictly increasing"):
        refloat.histogram_spread(stored, np.array([0.0, np.nan, 2.0]), n=3, bits=7)
    with pytest.raises(refloat.Error, match="dtype int32"):
        refloat.histogram_spread(stored, np.array([0, 1], dtype=np.int32), n=3, bits=7)
