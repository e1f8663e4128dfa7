#!/usr/bin/env python3
"""Reference values for tests/metrics.rs and tests/residual.rs, computed independently of the
Rust code with numpy / scipy, written to tests/vectors/reference.json (committed).

Rerun (from the repository root, with the real data at ../shared/data or $REFLOAT_DATA_DIR):

    pip install 'numpy>=2' 'scipy>=1.13'
    python3 tests/vectors/make_vectors.py

CI does not rerun this script; the tests only read the JSON. Generated with numpy 2.4.6 and
scipy 1.17.1 (recorded in the JSON). Synthetic samples are drawn here with a seeded numpy
generator and stored in the JSON next to their expected values; real-data entries store only
results (the Rust tests load the same flat .npy files and quantise them with refloat).

Conventions mirrored from the Rust docs (src/metrics.rs, src/residual.rs):
* quantise: ATLAS CxxUtils::FloatCompressor bit arithmetic, n = 10 kept bits, written here in
  numpy integer arithmetic (independent of src/quantise.rs).
* moments: np.mean, np.std (ddof=0), scipy.stats.skew(bias=True), scipy.stats.kurtosis
  (fisher=True, bias=True).
* KL: scipy.stats.entropy(p, q) (nats) on p_i = (c_i/N + eps)/(1 + K eps) over the bins plus
  3 extra cells (underflow, overflow, zeros), eps = 1e-10; JS: jensenshannon(p, q)**2 (nats).
  Histograms: np.histogram(x, 100, range=(min, max of both samples)).
* W1: scipy.stats.wasserstein_distance. KS: scipy.stats.ks_2samp(method='exact').
* MMD^2: unbiased estimator, RBF exp(-d^2 / (2 s^2)), s = np.median of pairwise |z_i - z_j|
  (i < j) of the pooled sample (median of the non-zero distances if that is 0).
* AUC: scipy.stats.mannwhitneyu(pos, neg).statistic / (n_pos n_neg).
* peaks: scipy.signal.find_peaks + peak_prominences; significance = prom / sqrt(h + h - prom).
"""
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy
from scipy import signal, stats
from scipy.spatial.distance import jensenshannon
from scipy.stats._stats_py import _attempt_exact_2kssamp  # private: only for the p > 1 case

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("REFLOAT_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = Path(__file__).resolve().parent / "reference.json"
FILES = ["DAOD_PHYSLITE_21.2.108.0.art.pool", "PHYSLITE_example"]
BITS = 10
KL_EPS = 1e-10
HIST_BINS = 100
STEP_BIN_WIDTH = 0.02
MIN_SIGNIFICANCE = 3.0


def num(x):
    """JSON-safe float: NaN / inf become None."""
    x = float(x)
    return x if math.isfinite(x) else None


def quantise_nearest(x, n):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    k = 23 - n
    rounding = 1 << (k - 1)
    mask = (~((1 << k) - 1)) & 0xFFFFFFFF
    vmax = 0x7F7FFFFF - rounding
    mag = u & 0x7FFFFFFF
    finite = mag < 0x7F800000
    u2 = np.where(mag < vmax, u + rounding, u) & mask
    u2 = np.where(finite, u2, u)
    return u2.astype(np.uint32).view(np.float32)


def moments(x):
    x = np.asarray(x, dtype=np.float64)
    with warnings.catch_warnings():
        # a constant branch (electron m) warns; scipy then returns NaN, stored as null
        warnings.simplefilter("ignore", RuntimeWarning)
        return _moments(x)


def _moments(x):
    return {
        "n": int(len(x)),
        "mean": num(np.mean(x)),
        "std": num(np.std(x)),
        "skewness": num(stats.skew(x, bias=True)),
        "kurtosis": num(stats.kurtosis(x, fisher=True, bias=True)),
    }


def smoothed(c, eps):
    c = np.asarray(c, dtype=np.float64)
    return (c / c.sum() + eps) / (1.0 + len(c) * eps)


def kl_js_counts(p, q, eps):
    return {
        "kl": num(stats.entropy(smoothed(p, eps), smoothed(q, eps))),
        "js": num(jensenshannon(np.asarray(p, float), np.asarray(q, float)) ** 2),
    }


def common_hist_kl_js(a, b):
    lo = min(a.min(), b.min())
    hi = max(a.max(), b.max())
    ha, _ = np.histogram(a, HIST_BINS, range=(lo, hi))
    hb, _ = np.histogram(b, HIST_BINS, range=(lo, hi))
    extra = [0, 0, 0]  # underflow, overflow, zeros: always empty for a covering range
    return kl_js_counts(list(ha) + extra, list(hb) + extra, KL_EPS)


def median_heuristic(z):
    d = np.abs(z[:, None] - z[None, :])[np.triu_indices(len(z), 1)]
    m = np.median(d)
    if m == 0:
        nz = d[d > 0]
        m = np.median(nz) if len(nz) else 0.0
    return float(m)


def mmd2_unbiased(a, b, s):
    g = -0.5 / (s * s)
    kaa = np.exp(g * (a[:, None] - a[None, :]) ** 2)
    kbb = np.exp(g * (b[:, None] - b[None, :]) ** 2)
    kab = np.exp(g * (a[:, None] - b[None, :]) ** 2)
    m, n = len(a), len(b)
    return float(
        (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
        + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
        - 2 * kab.mean()
    )


def mmd(a, b):
    s = median_heuristic(np.concatenate([a, b]))
    return {"bandwidth": s, "mmd2": mmd2_unbiased(a, b, s) if s > 0 else 0.0}


def ks(a, b):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = stats.ks_2samp(a, b, method="exact")
    p = float(r.pvalue)
    if caught:
        # scipy's exact p came out a rounding error above 1 (e.g. D = 1/n for equal sizes,
        # where P(D >= 1/n) = 1) and scipy fell back to 'asymp'; keep the exact value.
        n1, n2 = len(a), len(b)
        _, _, p = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), float(r.statistic), "two-sided")
        assert 1.0 <= p <= 1.0 + 1e-12, p
        p = 1.0
    return {"statistic": float(r.statistic), "pvalue": p}


def auc(neg, pos):
    u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


def peaks(counts):
    counts = np.asarray(counts)
    pk, _ = signal.find_peaks(counts)
    prom = signal.peak_prominences(counts, pk)[0] if len(pk) else np.array([])
    sig = [p / math.sqrt(2 * counts[i] - p) for i, p in zip(pk, prom)]
    return [int(i) for i in pk], [int(p) for p in prom], sig


def load(stem):
    d = DATA / f"{stem}.flat"
    names = sorted(json.loads((d / "manifest.json").read_text())["branches"])
    return {b: np.load(d / f"{b}.values.npy") for b in names}


def synthetic():
    rng = np.random.default_rng(20240601)
    out = {}
    samples = {
        "normal": rng.normal(3.0, 2.0, 500),
        "lognormal": rng.lognormal(0.0, 1.0, 300),
        "uniform_small": rng.uniform(-1, 1, 7),
        "ties": rng.integers(0, 6, 200).astype(float),
        "three": np.array([1.0, 2.0, 4.5]),
    }
    out["moments"] = [{"x": list(map(float, x)), **moments(x)} for x in samples.values()]

    pairs = [
        (rng.normal(0, 1, 5), rng.normal(0, 1, 7)),
        (rng.normal(0, 1, 37), rng.normal(0.3, 1, 53)),
        (rng.integers(0, 10, 40).astype(float), rng.integers(0, 12, 60).astype(float)),
        (rng.normal(0, 1, 100), rng.normal(0.1, 1, 100)),
        (rng.normal(0, 1, 300), rng.normal(0.4, 1.2, 450)),
        (rng.exponential(1.0, 1500), rng.exponential(1.1, 2500)),
        (rng.normal(0, 1, 64), rng.normal(5, 1, 96)),  # disjoint: tiny p
        (rng.normal(0, 1, 999), rng.normal(0, 1, 1000)),
    ]
    out["two_sample"] = []
    for a, b in pairs:
        e = {"a": list(map(float, a)), "b": list(map(float, b)), "w1": float(stats.wasserstein_distance(a, b))}
        e["ks"] = ks(a, b)
        if len(a) <= 400 and len(b) <= 500:
            e["mmd"] = mmd(a, b)
        out["two_sample"].append(e)

    out["kstwobign"] = [{"x": x, "sf": float(stats.kstwobign.sf(x))} for x in [0.05, 0.3, 0.5, 0.8, 0.82, 0.83, 1.0, 1.3581, 2.0, 3.0, 5.0]]

    out["kl_js"] = []
    for k in [2, 5, 50]:
        p = rng.integers(0, 20, k)
        q = rng.integers(0, 20, k)
        p[0] = max(p[0], 1)
        q[0] = max(q[0], 1)
        if k > 2:
            p[1] = 0  # an empty bin on one side
            q[2] = 0
        for eps in [0.0, 1e-10, 1e-3]:
            if eps == 0.0 and np.any((q == 0) & (p > 0)):
                continue
            out["kl_js"].append({"p": list(map(int, p)), "q": list(map(int, q)), "epsilon": eps, **kl_js_counts(p, q, eps)})

    out["auc"] = []
    for neg, pos in [
        (rng.normal(0, 1, 50), rng.normal(0.5, 1, 70)),
        (rng.integers(0, 4, 30).astype(float), rng.integers(0, 5, 40).astype(float)),
        (np.ones(10), np.ones(12)),
    ]:
        out["auc"].append({"neg": list(map(float, neg)), "pos": list(map(float, pos)), "auc": auc(neg, pos)})

    out["histogram"] = []
    vals = np.concatenate([rng.normal(0, 1, 300), np.linspace(-2, 2, 21), [-3.0, 3.0, 2.0, -2.0]])
    for lo, hi, n in [(-2.0, 2.0, 20), (-1.0, 2.5, 7), (0.0, 0.3, 3)]:
        c, _ = np.histogram(vals, n, range=(lo, hi))
        out["histogram"].append({
            "values": list(map(float, vals)), "lo": lo, "hi": hi, "bins": n, "counts": list(map(int, c)),
            "underflow": int(np.sum(vals < lo)), "overflow": int(np.sum(vals > hi)),
        })

    out["peaks"] = []
    for counts in [rng.poisson(20, 200), np.array([0, 3, 3, 3, 1, 5, 5, 2, 2, 7, 7, 7, 7, 0, 4]), rng.poisson(3, 50)]:
        pk, prom, sig = peaks(counts)
        out["peaks"].append({"counts": list(map(int, counts)), "peaks": pk, "prominences": prom, "significance": sig})
    return out


def real():
    out = {"mantissa_bits": BITS, "mode": "nearest", "branches": {}, "steps": {}, "map": {}, "symlog": {}}
    for stem in FILES:
        branches = load(stem)
        all_x, all_r = [], []
        for name, x in branches.items():
            q = quantise_nearest(x, BITS)
            a = x.astype(np.float64)
            b = q.astype(np.float64)
            all_x.append(a)
            all_r.append(a - b)
            if len(a) < 2:
                continue
            e = {"n": int(len(a)), "original": moments(a), "quantised": moments(b),
                 "w1": float(stats.wasserstein_distance(a, b)), "ks": ks(a, b), **common_hist_kl_js(a, b)}
            if len(a) <= 400:
                e["mmd"] = mmd(a, b)
            out["branches"][f"{stem}:{name}"] = e
        x = np.concatenate(all_x)
        r = np.concatenate(all_r)
        nz = r[r != 0]
        l = np.log10(np.abs(nz))
        lo, hi = math.floor(l.min()), math.ceil(l.max())
        nb = int(round((hi - lo) / STEP_BIN_WIDTH))
        counts, edges = np.histogram(l, nb, range=(lo, hi))
        pk, prom, sig = peaks(counts)
        keep = [i for i, s in zip(pk, sig) if s >= MIN_SIGNIFICANCE]
        centres = 0.5 * (edges[1:] + edges[:-1])
        # Rayleigh periodogram on a fine grid (64x oversampled) for the best period.
        span = l.max() - l.min()
        lc = l - 0.5 * (l.max() + l.min())
        f = np.arange(1.0, 20.0, 1.0 / (64 * span))
        R = np.array([abs(np.mean(np.exp(2j * np.pi * fi * lc))) for fi in f])
        ib = int(np.argmax(R))
        out["steps"][stem] = {
            "lo": lo, "hi": hi, "bins": nb, "counts": list(map(int, counts)), "zeros": int(np.sum(r == 0)),
            "peaks": pk, "prominences": prom, "significant": keep,
            "median_spacing": float(np.median(np.diff(centres[keep]))) if len(keep) > 1 else None,
            "periodogram_spacing": float(1.0 / f[ib]), "periodogram_power": float(R[ib]),
            "periodogram_grid_step": float(1.0 / (64 * span)),
        }
        # Seed's residual map of the non-zero residuals.
        xm = np.log10(np.abs(x[r != 0]) + 1e-12)
        ym = np.sign(nz) * np.log10(np.abs(nz) + 1e-12)
        xr, yr, nx, ny = (-13.0, 7.0), (-13.0, 13.0), 80, 104
        H, _, _ = np.histogram2d(xm, ym, bins=[nx, ny], range=[xr, yr])
        cells = [[int(i), int(j), int(H[i, j])] for i, j in zip(*np.nonzero(H))]
        out["map"][stem] = {"x_range": xr, "y_range": yr, "nx": nx, "ny": ny, "cells": cells,
                            "outside": int(len(xm) - H.sum()), "zeros": int(np.sum(r == 0))}
        # Symmetric-log histogram, threshold = smallest non-zero |r|.
        c = float(np.abs(nz).min())
        a = np.abs(r)
        t = np.where(a <= c, r / c, np.sign(r) * (1.0 + np.log10(np.maximum(a, c) / c)))
        sh, _ = np.histogram(t, 240, range=(-12.0, 12.0))
        out["symlog"][stem] = {"linthresh": c, "lo": -12.0, "hi": 12.0, "bins": 240, "counts": list(map(int, sh)),
                               "underflow": int(np.sum(t < -12)), "overflow": int(np.sum(t > 12))}
    return out


def main():
    ref = {
        "generated_by": "tests/vectors/make_vectors.py",
        "numpy": np.__version__, "scipy": scipy.__version__, "python": sys.version.split()[0],
        "synthetic": synthetic(),
        "real": real(),
    }
    OUT.write_text(json.dumps(ref, indent=None, separators=(",", ":"), allow_nan=False) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
