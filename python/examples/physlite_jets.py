"""ATLAS PHYSLITE jet pT: round to 10 kept mantissa bits, then correct with refloat.

What it shows
-------------
The held-out PHYSLITE file holds jet pT (``AnalysisJetsAuxDyn.pt``, MeV) at full float32
precision, so it is the *original*. The script

1. makes the *stored* values as ATLAS writes them: ``refloat.quantise(original, bits=10)``
   (``CxxUtils::FloatCompressor``, mode ``"nearest"``),
2. corrects the stored values with ``method="midpoint"`` and with ``method="dither"``
   (``seed=1``, ``branch="AnalysisJetsAuxDyn.pt"``),
3. checks the invariant with ``refloat.verify`` (every corrected value re-quantises to its
   stored value, bit for bit),
4. prints a table: mean squared error against the original (relative to the stored
   values' MSE) and ``refloat.shift_metrics`` (KS p-value, Wasserstein-1 distance) of
   stored, midpoint and dithered values against the original,
5. plots, with hist + mplhep:

   * ``physlite_jets_pt_fine.png``: original / stored / dithered pT on bins of a quarter of
     the 10-bit step over a narrow range (default 20.000-20.512 GeV, 32 steps of 16 MeV), and
     every jet folded onto one step (position of the value relative to the nearest 10-bit
     grid point, in steps): stored values are a comb / a spike at 0, original and dithered
     values fill the step,
   * ``physlite_jets_pt_residual.png``: the residuals original - stored, original - midpoint
     and original - dithered, in MeV and in units of the 10-bit step.

Run (from the repository root)::

    python python/examples/physlite_jets.py [FILE.root] [OUTDIR]

``FILE.root`` defaults to the held-out file ``PHYSLITE_example.root`` in the data directory
(``$REFLOAT_DATA_DIR``, else ``<repository>/../shared/data``); ``OUTDIR`` defaults to
``./out/python``. Needs numpy, awkward, uproot, hist, mplhep and matplotlib.
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
HELD_OUT = "PHYSLITE_example.root"
TREE = "CollectionTree"
BRANCH = "AnalysisJetsAuxDyn.pt"
BITS = 10
MODE = "nearest"
SEED = 1


def data_dir() -> Path:
    """``$REFLOAT_DATA_DIR``, else ``<repository>/../shared/data``."""
    env = os.environ.get("REFLOAT_DATA_DIR")
    return Path(env) if env else (REPO.parent / "shared" / "data")


def step_of(q: np.ndarray, bits: int) -> np.ndarray:
    """The spacing of ``bits``-bit stored values around each (non-zero) value ``q``:
    ``2**(floor(log2|q|) - bits)``, as float64."""
    _, e = np.frexp(np.abs(q.astype(np.float64)))  # |q| = m * 2**e, m in [0.5, 1)
    return np.ldexp(1.0, e - 1 - bits)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=None, help=f"PHYSLITE file (default: <data dir>/{HELD_OUT})")
    ap.add_argument("outdir", nargs="?", default="out/python", help="output directory (default: ./out/python)")
    ap.add_argument("--lo", type=float, default=20_000.0, help="fine plot range start, MeV (default 20000)")
    ap.add_argument("--hi", type=float, default=20_512.0, help="fine plot range end, MeV (default 20512)")
    args = ap.parse_args(argv)

    path = Path(args.file) if args.file else data_dir() / HELD_OUT
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    # ---- read (jagged: one list of jets per event) -------------------------------------
    with uproot.open(path) as f:
        original = f[TREE][BRANCH].array()
    n = int(ak.count(original))
    print(f"{path}: {TREE}/{BRANCH}: {len(original)} events, {n} jets, type {ak.type(original)}")

    # ---- stored, corrected ------------------------------------------------------------
    stored = refloat.quantise(original, bits=BITS, mode=MODE)  # as ATLAS writes it
    midpoint, rep_mid = refloat.correct(stored, bits=BITS, mode=MODE, method="midpoint", report=True)
    dither, rep_dit = refloat.correct(
        stored, bits=BITS, mode=MODE, method="dither", seed=SEED, branch=BRANCH, report=True
    )
    for name, c in (("midpoint", midpoint), ("dither", dither)):
        refloat.verify(c, stored, bits=BITS, mode=MODE)  # raises refloat.Error if broken
        assert ak.all(ak.num(c) == ak.num(original)), "structure changed"
    print(f"invariant quantise(corrected, {BITS}, {MODE!r}) == stored: OK for midpoint and dither")
    print(
        f"correct report: midpoint corrected={rep_mid.corrected} left_exact={rep_mid.left_exact}; "
        f"dither corrected={rep_dit.corrected} left_exact={rep_dit.left_exact}"
    )

    x = ak.to_numpy(ak.flatten(original))
    s = ak.to_numpy(ak.flatten(stored))
    m = ak.to_numpy(ak.flatten(midpoint))
    d = ak.to_numpy(ak.flatten(dither))
    exact = s[d == s]
    if exact.size:
        print(f"values left as stored by dither (treated as exact): {exact.size} -> {np.sort(exact).tolist()} MeV")

    # ---- table ------------------------------------------------------------------------
    grid = step_of(s, BITS)  # the 10-bit step around each stored value, MeV

    def mse(v):
        r = refloat.residual(x, v)  # exact original - v, float64
        return float(np.mean(r * r)), float(np.mean((r / grid) ** 2))

    mse_s = mse(s)[0]
    rows = []
    for name, v in (("stored", s), ("midpoint", m), ("dither", d)):
        sm = refloat.shift_metrics(x, v)
        e, e_step = mse(v)
        rows.append((name, e, e / mse_s, e_step, sm.ks.p_value, sm.ks.statistic, sm.wasserstein1))
    print(f"vs original ({n} jets); MSE/step^2: 1/12 = 0.083 for uniform rounding error, 1/6 = 0.167 for dither")
    print(
        f"{'values':<10} {'MSE [MeV^2]':>12} {'MSE/stored':>10} {'MSE/step^2':>10} "
        f"{'KS p':>8} {'KS D':>8} {'W1 [MeV]':>9}"
    )
    for name, e, rel, e_step, p, ks, w1 in rows:
        print(f"{name:<10} {e:12.2f} {rel:10.3f} {e_step:10.4f} {p:8.4f} {ks:8.4f} {w1:9.3f}")
    print()

    # ---- plots ------------------------------------------------------------------------
    hep.style.use("ATLAS")
    colours = {"original": "black", "stored": "tab:red", "dither": "tab:blue", "midpoint": "tab:green"}
    series = (("original", x), ("stored", s), ("dither", d))

    # (a) fine binning over a narrow range (bins a quarter of the step, grid lines at the
    # stored values) + every jet folded onto one step
    step_lo = float(step_of(np.float32([args.lo]), BITS)[0])
    width = step_lo / 4  # bins narrower than the step
    nbins = int(round((args.hi - args.lo) / width))
    lo = args.lo - width / 2  # bins centred on the grid points: stored values sit on the grey lines
    hi = lo + nbins * width
    fig, axes = plt.subplots(4, 1, figsize=(11, 13), gridspec_kw={"height_ratios": [1, 1, 1, 1.5]})
    for ax, (name, v) in zip(axes[:3], series):
        h = hist.Hist(hist.axis.Regular(nbins, lo, hi, name="pt", label="jet $p_T$ [MeV]"))
        h.fill(pt=v)
        for g in np.arange(np.ceil(lo / step_lo) * step_lo, hi, step_lo):
            ax.axvline(g, color="0.85", linewidth=0.8, zorder=0)
        hep.histplot(h, ax=ax, color=colours[name], histtype="fill", alpha=0.9, yerr=False,
                     label=f"{name} ({int(h.sum())} jets in range)")
        ax.set_ylabel(f"jets / {width:g} MeV")
        ax.legend(loc="upper right", fontsize=11)
        ax.set_xlim(lo, hi)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.set_ylim(0, max(2.5, 1.4 * h.values().max()))
        ax.set_xlabel("")
    axes[0].set_title(
        f"{BRANCH} ({path.name}): grey lines = {BITS}-bit grid, step {step_lo:g} MeV; bins of {width:g} MeV",
        fontsize=12,
    )
    axes[2].set_xlabel("jet $p_T$ [MeV]")
    # folded: position relative to the nearest stored-grid point, in units of the step
    hf = {}
    for name, v in series:
        u = v.astype(np.float64) / grid
        h = hist.Hist(hist.axis.Regular(41, -0.5 - 1 / 80, 0.5 + 1 / 80, name="phase"))
        h.fill(phase=u - np.round(u))
        hf[name] = h
    hep.histplot(
        [hf["original"], hf["dither"]],
        ax=axes[3],
        color=[colours["original"], colours["dither"]],
        label=["original", "dither"],
        histtype="step",
        linewidth=2,
        yerr=False,
    )
    hep.histplot(
        hf["stored"], ax=axes[3], color=colours["stored"], histtype="step", linewidth=2, yerr=False,
        label="stored (all at 0)",
    )
    axes[3].set_ylabel(f"jets / {1 / 40:g} step")
    axes[3].set_xlabel(f"(value - nearest {BITS}-bit grid point) / step")
    axes[3].set_title(f"all {n} jets folded onto one {BITS}-bit step", fontsize=12)
    axes[3].legend(loc="upper right", fontsize=11)
    axes[3].set_yscale("log")
    axes[3].set_ylim(0.5, 2 * n)
    fig.tight_layout()
    out_fine = outdir / "physlite_jets_pt_fine.png"
    fig.savefig(out_fine, dpi=110)
    plt.close(fig)

    # (b) residuals: MeV and units of the step
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 6))
    res = {name: refloat.residual(x, v) for name, v in (("stored", s), ("midpoint", m), ("dither", d))}
    lim = float(np.max(np.abs(np.concatenate(list(res.values())))))
    lim = 2.0 ** np.ceil(np.log2(lim))
    hr = {k: hist.Hist(hist.axis.Regular(64, -lim, lim, name="r", label="residual [MeV]")).fill(r=v)
          for k, v in res.items()}
    hu = {
        k: hist.Hist(hist.axis.Regular(40, -1, 1, name="r", label="residual / 10-bit step")).fill(r=v / grid)
        for k, v in res.items()
    }
    for ax, hh in ((ax1, hr), (ax2, hu)):
        for k, style in (("stored", "-"), ("midpoint", "--"), ("dither", "-")):
            hep.histplot(
                hh[k],
                ax=ax,
                color=colours[k],
                histtype="step",
                linewidth=2,
                linestyle=style,
                yerr=False,
                label=f"original - {k}{' (= stored)' if k == 'midpoint' else ''}  "
                f"(rms {np.sqrt(np.mean(res[k] ** 2)):.2f} MeV)",
            )
        ax.set_ylabel("jets")
        ax.legend(loc="upper right", fontsize=10)
    ax1.set_yscale("log")
    ax1.set_ylim(0.5, 5 * n)
    ax2.set_ylim(0, ax2.get_ylim()[1] * 1.35)
    ax1.set_title(f"{BRANCH}: residuals (MeV)", fontsize=12)
    ax2.set_title("residuals in units of the step", fontsize=12)
    fig.tight_layout()
    out_res = outdir / "physlite_jets_pt_residual.png"
    fig.savefig(out_res, dpi=110)
    plt.close(fig)

    for p in (out_fine, out_res):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
