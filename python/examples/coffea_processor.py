"""A coffea processor that histograms CMS NanoAOD jet pT, stored and corrected by refloat.

What it shows
-------------
``nano_dy.root`` holds ``Jet_pt`` as CMS wrote it: rounded to 10 kept mantissa bits with
CMS's rule (refloat mode ``"cms"``). The processor (``coffea.processor.ProcessorABC``, coffea
2026.x) reads ``events.Jet.pt`` through ``NanoAODSchema`` and fills one ``hist.Hist`` with a
``version`` category axis:

* ``stored``: the values in the file,
* ``midpoint``: ``refloat.correct(pt, bits=10, mode="cms", method="midpoint")``. CMS rounds
  half up, so each interval is centred on its stored value and the midpoint *is* the stored
  value, except for the top mantissa codes of each binade (CMS does not round them up, so
  their interval is one-sided): expect almost no change,
* ``dither``: ``method="dither", seed=1, branch="Jet_pt"`` with ``first_index`` = the number
  of jets before the chunk's first event, so that the draws do not depend on the chunking
  (run with ``--chunksize 7`` and compare: the dither histogram is the same bin for bin).

It runs the processor twice:

1. with ``coffea.processor.Runner`` + ``IterativeExecutor`` (NanoEvents in *virtual* mode,
   chunked by ``--chunksize`` entries): midpoint and dither,
2. in *dask* mode (``NanoEventsFactory.from_root(..., mode="dask")``), where the correction is
   ``dask_awkward.map_partitions(refloat.correct, events.Jet.pt, bits=10, mode="cms",
   method="midpoint")`` (refloat.correct returns its input unchanged on dask-awkward's
   typetracer pass); skip with ``--no-dask``. Without ``dask-histogram`` installed the two
   flat pT columns are computed with ``dask.compute`` and filled eagerly. The dask result
   must equal the Runner's for ``stored`` and ``midpoint``.

It prints the histogram sums and writes ``coffea_jet_pt.png`` (coarse pT over the whole
range, and bins of a quarter of the 10-bit step over 15-16 GeV, where stored values form a
comb and dithered ones fill it).

Run (from the repository root)::

    python python/examples/coffea_processor.py [nano_dy.root] [OUTDIR] [--chunksize N] [--no-dask]

The file defaults to ``nano_dy.root`` in the data directory (``$REFLOAT_DATA_DIR``, else
``<repository>/../shared/data``); ``OUTDIR`` to ``./out/python``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import awkward as ak  # noqa: E402
import dask  # noqa: E402
import dask_awkward as dak  # noqa: E402
import hist  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402
from coffea import processor  # noqa: E402
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory  # noqa: E402

import refloat  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TREE = "Events"
DATASET = "DYJetsToLL"
BITS = 10  # Jet_pt in NanoAOD
MODE = "cms"
SEED = 1
FINE = (15.0, 16.0)  # GeV; the 10-bit step is 2**(3-10) GeV = 7.8 MeV here
VERSIONS = ("stored", "midpoint", "dither")


def data_dir() -> Path:
    """``$REFLOAT_DATA_DIR``, else ``<repository>/../shared/data``."""
    env = os.environ.get("REFLOAT_DATA_DIR")
    return Path(env) if env else (REPO.parent / "shared" / "data")


def new_hists() -> dict:
    step = 2.0 ** (np.floor(np.log2(FINE[0])) - BITS)
    width = step / 4
    nfine = int(round((FINE[1] - FINE[0]) / width))
    lo = FINE[0] - width / 2  # bins centred on the stored grid
    cat = hist.axis.StrCategory(list(VERSIONS), name="version", label="values")
    return {
        "pt": hist.Hist(cat, hist.axis.Regular(29, 15.0, 160.0, name="pt", label="jet $p_T$ [GeV]")),
        "pt_fine": hist.Hist(cat, hist.axis.Regular(nfine, lo, lo + nfine * width, name="pt", label="jet $p_T$ [GeV]")),
    }


def jets_before(filename: str, treename: str, entry: int) -> int:
    """Number of Jet_pt values in entries ``[0, entry)``: dither's ``first_index`` for a
    chunk starting at ``entry`` (refloat's seeding rule counts the branch's values)."""
    if entry == 0:
        return 0
    with uproot.open(filename) as f:
        return int(np.sum(f[treename]["nJet"].array(entry_stop=entry, library="np")))


class JetRefloatProcessor(processor.ProcessorABC):
    """Fill Jet pT as stored, midpoint-corrected and dithered (eager/virtual NanoEvents), or
    as stored and midpoint-corrected (dask NanoEvents)."""

    def process(self, events):
        dataset = events.metadata.get("dataset", DATASET)
        pt = events.Jet.pt
        out = new_hists()
        if isinstance(pt, dak.Array):
            # dask mode: the correction is one more task per partition
            mid = dak.map_partitions(refloat.correct, pt, bits=BITS, mode=MODE, method="midpoint")
            # no dask-histogram here: compute both flat columns in one graph, fill eagerly
            # (the event count comes from the jet counts: dak.num(events.Jet.pt, axis=0) alone
            # fails in this dask-awkward/coffea, its offsets being projected away)
            stored, corrected, counts = dask.compute(dak.flatten(pt), dak.flatten(mid), dak.num(pt, axis=1))
            columns = {"stored": ak.to_numpy(stored), "midpoint": ak.to_numpy(corrected)}
            nevents = len(counts)
        else:
            # eager / virtual mode (coffea.processor.Runner): plain Awkward Arrays
            meta = events.metadata
            first = jets_before(meta["filename"], meta["treename"], meta["entrystart"]) if "entrystart" in meta else 0
            mid = refloat.correct(pt, bits=BITS, mode=MODE, method="midpoint")
            dit = refloat.correct(
                pt, bits=BITS, mode=MODE, method="dither", seed=SEED, branch="Jet_pt", first_index=first
            )
            for c in (mid, dit):
                refloat.verify(c, pt, bits=BITS, mode=MODE)
            columns = {k: ak.to_numpy(ak.flatten(v)) for k, v in zip(VERSIONS, (pt, mid, dit))}
            nevents = len(events)
        for version, values in columns.items():
            for h in out.values():
                h.fill(version=version, pt=values)
        out["entries"] = nevents
        out["jets"] = int(columns["stored"].size)
        out["chunks"] = 1
        out["midpoint_changed"] = int(np.count_nonzero(columns["midpoint"] != columns["stored"]))
        out["sum_pt"] = {k: float(np.sum(v, dtype=np.float64)) for k, v in columns.items()}
        return {dataset: out}

    def postprocess(self, accumulator):
        return accumulator


def summary(label: str, res: dict, versions) -> None:
    h, hf = res["pt"], res["pt_fine"]
    print(f"{label}: {res['entries']} events, {res['jets']} jets, {res['chunks']} chunk(s); "
          f"midpoint changed {res['midpoint_changed']} value(s)")
    print(
        f"  {'version':<9} {'h.sum()':>8} {'flow incl.':>10} {'sum pT [GeV]':>14} {'fine-bin sum':>12} "
        f"{'non-empty fine bins':>20}"
    )
    for v in versions:
        print(
            f"  {v:<9} {h[{'version': v}].sum():8.0f} {h[{'version': v}].sum(flow=True):10.0f} "
            f"{res['sum_pt'][v]:14.6f} {hf[{'version': v}].sum():12.0f} "
            f"{np.count_nonzero(hf[{'version': v}].values()):20d}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=None, help="NanoAOD file (default: <data dir>/nano_dy.root)")
    ap.add_argument("outdir", nargs="?", default="out/python", help="output directory (default: ./out/python)")
    ap.add_argument("--chunksize", type=int, default=100_000, help="entries per chunk for the Runner (default 100000)")
    ap.add_argument("--no-dask", action="store_true", help="skip the dask-mode run")
    args = ap.parse_args(argv)

    path = Path(args.file) if args.file else data_dir() / "nano_dy.root"
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    # NanoAODSchema warns about cross-references this small test file lacks
    warnings.filterwarnings("ignore", module="coffea.nanoevents.schemas.nanoaod")

    # 1. coffea.processor.Runner, iterative executor, virtual NanoEvents
    runner = processor.Runner(
        executor=processor.IterativeExecutor(), schema=NanoAODSchema, chunksize=args.chunksize, savemetrics=False
    )
    result = runner({DATASET: {"files": {str(path): TREE}}}, processor_instance=JetRefloatProcessor())
    res = result[DATASET]
    summary(f"Runner (IterativeExecutor, virtual mode, chunksize {args.chunksize})", res, VERSIONS)

    # 2. dask mode
    if not args.no_dask:
        events = NanoEventsFactory.from_root(
            {str(path): TREE}, schemaclass=NanoAODSchema, mode="dask", metadata={"dataset": DATASET}
        ).events()
        if importlib.util.find_spec("dask_histogram") is None:
            print("dask mode: dask-histogram is not installed: computing the columns, filling eagerly")
        res_d = JetRefloatProcessor().process(events)[DATASET]
        summary("dask mode (dask_awkward.map_partitions(refloat.correct, ...))", res_d, ("stored", "midpoint"))
        for v in ("stored", "midpoint"):
            for k in ("pt", "pt_fine"):
                a = res_d[k][{"version": v}].values(flow=True)
                b = res[k][{"version": v}].values(flow=True)
                assert np.array_equal(a, b), f"dask and Runner histograms differ: {k} {v}"
        print("dask mode == Runner for stored and midpoint: OK")

    # plot
    hep.style.use("CMS")
    colours = {"stored": "tab:red", "midpoint": "tab:green", "dither": "tab:blue"}
    fig, axes = plt.subplots(4, 1, figsize=(11, 15), gridspec_kw={"height_ratios": [1.6, 1, 1, 1]})
    ax1 = axes[0]
    for v, style in (("stored", "-"), ("midpoint", ":"), ("dither", "--")):
        hep.histplot(res["pt"][{"version": v}], ax=ax1, color=colours[v], linestyle=style, linewidth=2, yerr=False,
                     label=f"{v} ({res['pt'][{'version': v}].sum():.0f} jets)")
    ax1.set_yscale("log")
    ax1.set_ylabel("jets / 5 GeV")
    ax1.legend(fontsize=12)
    ax1.set_title(
        f"{path.name}: Jet_pt stored by CMS ({BITS} bits) and corrected by refloat (coffea Runner)", fontsize=12
    )
    hf = res["pt_fine"]
    edges = hf.axes["pt"].edges
    width = edges[1] - edges[0]
    step = 4 * width
    for ax, v in zip(axes[1:], VERSIONS):
        for g in np.arange(np.ceil(edges[0] / step) * step, edges[-1], step):
            ax.axvline(g, color="0.85", linewidth=0.6, zorder=0)
        h = hf[{"version": v}]
        hep.histplot(h, ax=ax, color=colours[v], histtype="fill", alpha=0.9, yerr=False,
                     label=f"{v} ({h.sum():.0f} jets in range)")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0, 3)
        ax.set_ylabel("jets / bin")
        ax.legend(fontsize=12, loc="upper right")
    axes[1].set_title(
        f"bins of {width * 1000:.2f} MeV = 1/4 of the {BITS}-bit step (grey lines: the stored grid)", fontsize=12
    )
    fig.tight_layout()
    out_png = outdir / "coffea_jet_pt.png"
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    print(f"wrote {out_png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
