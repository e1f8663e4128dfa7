"""CMS NanoAOD jets: detect how CMS rounded them, then dither them back to smooth values.

What it shows
-------------
``nano_dy.root`` is a real CMS NanoAOD file whose floats were *already* rounded by CMS's
producer (``MiniFloatConverter::reduceMantissaToNbitsRounding``, refloat mode ``"cms"``):
``Jet_pt`` keeps 10 mantissa bits, the jet energy fractions (``Jet_chEmEF``, ``Jet_neEmEF``,
``Jet_chHEF``, ...) 6. There are no originals, so the script compares *stored* with
*corrected* values only:

1. ``refloat.detect`` on each branch (kept bits; the rounding scheme, which a few hundred
   values usually cannot tell apart: then ``mode`` is ``None``) and ``refloat.infer_bits``,
2. ``refloat.correct(stored, mode="cms", method="dither", seed=1, branch=NAME)`` with the
   kept bits inferred from the values (``bits=None``), checked with ``refloat.verify``,
3. plots with hist + mplhep, for ``Jet_pt`` (``nanoaod_jet_pt.png``) and one 6-bit energy
   fraction (``nanoaod_<branch>.png``, default ``Jet_neEmEF``):

   * stored vs dithered on bins of a quarter of the step over a narrow range (grey lines:
     the stored grid): stored values sit on the grid, dithered ones fill it,
   * the whole branch (non-zero values) folded onto one step: position of each value
     relative to the nearest grid point, in steps. Stored values are a spike at 0,
     dithered values are uniform, except for the values refloat leaves alone as exact
     (0, ±1 and values with at most two significant mantissa bits: see the printout),
   * the full distribution on coarse bins: the correction does not move it.

Run (from the repository root)::

    python python/examples/nanoaod_jets.py [nano_dy.root] [OUTDIR] [--fraction Jet_chEmEF]

The file defaults to ``nano_dy.root`` in the data directory (``$REFLOAT_DATA_DIR``, else
``<repository>/../shared/data``); ``OUTDIR`` to ``./out/python``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402

import refloat  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TREE = "Events"
MODE = "cms"
SEED = 1


def data_dir() -> Path:
    """``$REFLOAT_DATA_DIR``, else ``<repository>/../shared/data``."""
    env = os.environ.get("REFLOAT_DATA_DIR")
    return Path(env) if env else (REPO.parent / "shared" / "data")


def step_of(q: np.ndarray, bits: int) -> np.ndarray:
    """Spacing of ``bits``-bit stored values around each non-zero ``q``: ``2**(floor(log2|q|) - bits)``."""
    _, e = np.frexp(np.abs(q.astype(np.float64)))  # |q| = m * 2**e, m in [0.5, 1)
    return np.ldexp(1.0, e - 1 - bits)


def describe(name: str, values) -> None:
    d = refloat.detect(values)
    post = ", ".join(f"{k} {p:.2f}" for k, p in d.posterior)
    print(
        f"  {name:<12} infer_bits={refloat.infer_bits(values):>2}  detect: bits={d.bits} clusters={d.bit_clusters} "
        f"mode={d.mode} evidence_values={d.evidence_values} posterior=[{post}]"
    )


def correct_branch(name: str, stored):
    """Dither ``stored`` (bits inferred, CMS rule), check the invariant, report what was left alone."""
    dith, rep = refloat.correct(stored, bits=None, mode=MODE, method="dither", seed=SEED, branch=name, report=True)
    bits = rep.mantissa_bits
    refloat.verify(dith, stored, bits=bits, mode=MODE)  # raises refloat.Error if broken
    assert ak.all(ak.num(dith) == ak.num(stored)), "structure changed"
    s = ak.to_numpy(ak.flatten(stored))
    d = ak.to_numpy(ak.flatten(dith))
    left = s[(d == s) & (s != 0)]
    print(
        f"  {name}: {s.size} values, bits={bits} (inferred), corrected={rep.corrected}, left_exact={rep.left_exact} "
        f"(zeros {int(np.count_nonzero(s == 0))}); invariant quantise(dithered, {bits}, {MODE!r}) == stored: OK"
    )
    if left.size:
        u, c = np.unique(left, return_counts=True)
        print(f"    non-zero values left as stored ({left.size}): " + ", ".join(f"{v:g} x{k}" for v, k in zip(u, c)))
    return s, d, bits


def plot_branch(name, s, d, bits, lo, hi, coarse, unit, path_png):
    colours = {"stored": "tab:red", "dither": "tab:blue"}
    step = float(step_of(np.float32([lo]), bits)[0])
    width = step / 4
    nbins = int(round((hi - lo) / width))
    lo_e = lo - width / 2  # bins centred on the stored grid
    hi_e = lo_e + nbins * width
    fig, axes = plt.subplots(4, 1, figsize=(11, 14), gridspec_kw={"height_ratios": [1, 1, 1.3, 1.3]})
    for ax, (k, v) in zip(axes[:2], (("stored", s), ("dither", d))):
        h = hist.Hist(hist.axis.Regular(nbins, lo_e, hi_e, name="x")).fill(x=v)
        for g in np.arange(np.ceil(lo_e / step) * step, hi_e, step):
            ax.axvline(g, color="0.85", linewidth=0.8, zorder=0)
        hep.histplot(
            h, ax=ax, color=colours[k], histtype="fill", alpha=0.9, yerr=False, label=f"{k} ({int(h.sum())} in range)"
        )
        ax.set_xlim(lo_e, hi_e)
        ax.set_ylim(0, max(2.5, 1.4 * h.values().max()))
        ax.set_ylabel("jets / bin")
        ax.set_xlabel(f"{name} {('[' + unit + ']') if unit else ''}")
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.legend(loc="upper right", fontsize=11)
    u = f" {unit}" if unit else ""
    axes[0].set_title(f"{name}: grey lines = {bits}-bit grid (step {step:g}{u}), bins of {width:g}{u}", fontsize=12)

    nz = s != 0
    grid = step_of(s[nz], bits)
    ax = axes[2]
    for k, v, lw in (("stored", s[nz], 2), ("dither", d[nz], 2)):
        u = v.astype(np.float64) / grid
        h = hist.Hist(hist.axis.Regular(41, -0.5 - 1 / 80, 0.5 + 1 / 80, name="p")).fill(p=u - np.round(u))
        hep.histplot(h, ax=ax, color=colours[k], histtype="step", linewidth=lw, yerr=False, label=k)
    ax.set_yscale("log")
    ax.set_ylim(0.5, 3 * nz.sum())
    ax.set_xlabel(f"(value - nearest {bits}-bit grid point) / step")
    ax.set_ylabel("jets / 0.025 step")
    ax.set_title(
        f"all {int(nz.sum())} non-zero values folded onto one step "
        "(dither's bin at 0 also holds the values left exact)",
        fontsize=12,
    )
    ax.legend(loc="upper right", fontsize=11)

    ax = axes[3]
    for k, v, style in (("stored", s, "-"), ("dither", d, "--")):
        h = hist.Hist(hist.axis.Regular(*coarse, name="x")).fill(x=v)
        hep.histplot(h, ax=ax, color=colours[k], histtype="step", linewidth=2, linestyle=style, yerr=False, label=k)
    ax.set_xlabel(f"{name} {('[' + unit + ']') if unit else ''}")
    ax.set_ylabel("jets")
    ax.set_title("whole branch, coarse bins", fontsize=12)
    ax.legend(loc="upper right", fontsize=11)
    fig.tight_layout()
    fig.savefig(path_png, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=None, help="NanoAOD file (default: <data dir>/nano_dy.root)")
    ap.add_argument("outdir", nargs="?", default="out/python", help="output directory (default: ./out/python)")
    ap.add_argument(
        "--fraction", default="Jet_neEmEF", help="6-bit energy fraction branch to plot (default Jet_neEmEF)"
    )
    ap.add_argument(
        "--pt-range", nargs=2, type=float, default=(15.0, 15.5), help="fine Jet_pt range, GeV (default 15 15.5)"
    )
    ap.add_argument(
        "--fraction-range", nargs=2, type=float, default=(0.125, 0.25), help="fine fraction range (default 0.125 0.25)"
    )
    args = ap.parse_args(argv)
    for lo, hi in (args.pt_range, args.fraction_range):
        if not 0 < lo < hi:
            ap.error("a fine range needs 0 < lo < hi")

    path = Path(args.file) if args.file else data_dir() / "nano_dy.root"
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    with uproot.open(path) as f:
        tree = f[TREE]
        fractions = sorted(k for k in tree.keys() if k.startswith("Jet_") and k.endswith("EF"))
        if args.fraction not in tree:
            raise SystemExit(f"{args.fraction} is not in {path}:{TREE}; energy fractions there: {fractions}")
        arrays = {b: tree[b].array() for b in ["Jet_pt", args.fraction] + fractions}
        njet = tree["nJet"].array()
    print(f"{path}: {TREE}: {len(njet)} events, {int(ak.sum(njet))} jets (nJet)")
    assert ak.all(ak.num(arrays["Jet_pt"]) == njet)

    print("detect (stored values only):")
    for b in ["Jet_pt"] + fractions:
        describe(b, arrays[b])
    print("energy fractions (zeros are exact by nature):")
    for b in fractions:
        x = ak.to_numpy(ak.flatten(arrays[b]))
        print(f"  {b:<12} {x.size} values, {int(np.count_nonzero(x == 0))} zeros, {int(np.count_nonzero(x == 1))} ones")

    print("dither:")
    s_pt, d_pt, bits_pt = correct_branch("Jet_pt", arrays["Jet_pt"])
    s_fr, d_fr, bits_fr = correct_branch(args.fraction, arrays[args.fraction])
    for name, s, d in (("Jet_pt", s_pt, d_pt), (args.fraction, s_fr, d_fr)):
        sm = refloat.shift_metrics(s, d)
        print(
            f"  {name}: dithered vs stored: mean {sm.original.mean:.6g} -> {sm.other.mean:.6g}, "
            f"KS p={sm.ks.p_value:.4f}, W1={sm.wasserstein1:.3g}, "
            f"distinct values {np.unique(s).size} -> {np.unique(d).size}"
        )

    hep.style.use("CMS")
    out_pt = outdir / "nanoaod_jet_pt.png"
    plot_branch("Jet_pt", s_pt, d_pt, bits_pt, args.pt_range[0], args.pt_range[1], (29, 15.0, 160.0), "GeV", out_pt)
    out_fr = outdir / f"nanoaod_{args.fraction}.png"
    lo, hi = args.fraction_range
    plot_branch(args.fraction, s_fr, d_fr, bits_fr, lo, hi, (20, 0.0, 1.0), "", out_fr)
    for p in (out_pt, out_fr):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
