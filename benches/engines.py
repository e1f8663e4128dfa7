"""The distributed paths at dataset scale: Dask from Python (``refloat.dask.correct`` over
``uproot.dask``) and distributed RDataFrame on Dask (``refloat::rdf::correct`` in a ``Define``),
each on a ``distributed.LocalCluster`` of 1 and 2 worker processes, on merged real inputs.

Inputs are those of ``benches/scaling.py`` (the held-out PHYSLITE file merged with ``hadd``
and rounded by ``refloat compress --bits 10``, and CMS's ``nano_dy.root`` merged as it is);
they are made here when missing. Every run is its own process and its own cluster, with the
same partitions whatever the number of workers, so the work is the same and only its spread
changes. Rows:

* ``dask``: every jet float branch corrected with dither (seed 1) by ``refloat.dask.correct``
  on the record of branches ``uproot.dask`` gives (its resolving pass over the partitions
  included), then one exact checksum of the corrected bits per partition; PHYSLITE at the bits ATLAS used (10), NanoAOD with CMS's scheme and each
  branch's bits inferred, as ``refloat correct`` does;
* ``rdf``: the PHYSLITE jet float columns corrected (midpoint, 10 bits, ATLAS's rule) in
  ``Define``s, their sums and one histogram, by ``ROOT.RDF.Experimental.Distributed.Dask``;
  ``rdf local`` is the same graph in one process without Dask (``ROOT.RDataFrame``).

``start s`` is the cluster's start (and, for RDataFrame, loading refloat on the workers);
``wall s`` the work after it. The checksums of 1 and 2 workers must agree (exit status 1 if
not): the bits do not depend on where a partition runs.

    python benches/engines.py                          # the table of docs/speed.md
    python benches/engines.py --sizes 1 --repeat 1 --inputs nano_dy   # what .ci/run does

Needs the release CLI and library (``cargo build --release``), ``target/py-venv`` (refloat,
uproot, dask-awkward, distributed) and ``target/root-venv`` (ROOT, distributed), as .ci/run
makes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

PARTITIONS = 8


def jet_floats(path: str, tree: str, prefix: str) -> list[str]:
    """The branches of `path` named `prefix*` that hold one float per jet."""
    import uproot

    with uproot.open(path) as f:
        return [k for k, v in f[tree].items() if k.startswith(prefix) and v.typename in ("std::vector<float>", "float[]")]


def steps(path: str, tree: str, parts: int) -> list[list[int]]:
    import uproot

    with uproot.open(path) as f:
        n = f[tree].num_entries
    size = -(-n // parts)
    return [[a, min(a + size, n)] for a in range(0, n, size)]


def bits_checksum(part) -> int:
    """An exact checksum of a partition's float32 bits (sum of the words, as integers)."""
    import awkward as ak
    import numpy as np

    total = 0
    for f in part.fields:
        flat = ak.to_numpy(ak.flatten(part[f], axis=None))
        total += int(flat.astype(np.float32).view(np.uint32).astype(np.uint64).sum())
    return total


def child_dask(a) -> dict:
    import dask
    import uproot
    from distributed import Client, LocalCluster

    import refloat.dask

    t0 = time.perf_counter()
    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
        started = time.perf_counter()
        dataset = {a.file: {"object_path": a.tree, "steps": steps(a.file, a.tree, PARTITIONS)}}
        events = uproot.dask(dataset, filter_name=a.branches, open_files=False)
        # One record of all the branches: one resolving and one correcting pass, each
        # partition read once per pass.
        corrected = refloat.dask.correct(events, method="dither", seed=1, **json.loads(a.options))
        sums = [dask.delayed(bits_checksum)(p) for p in corrected.to_delayed()]
        total = sum(dask.compute(*sums))
        done = time.perf_counter()
    return {"start": started - t0, "wall": done - started, "checksum": total}


def book(df, columns: list[str], bits: int) -> list:
    results = []
    for i, c in enumerate(columns):
        name = f"corrected_{i}"
        df = df.Define(name, f"refloat::rdf::correct({c}, {bits}, refloat::Rounding::Nearest, refloat::Method::Midpoint)")
        results.append(df.Sum(name))
    results.append(df.Histo1D(("h", "corrected jet pt", 64, 0.0, 2.0e5), "corrected_0"))
    return results


def load_refloat():
    """Run in every process that evaluates a refloat Define (as examples/rdf/rdf_dask.py)."""
    import ROOT

    if "librefloat" not in str(ROOT.gSystem.GetLibraries()):
        if ROOT.gSystem.Load("librefloat.so") < 0:
            raise RuntimeError("cannot load librefloat.so: add its directory to LD_LIBRARY_PATH")
    ROOT.gInterpreter.Declare('#include "refloat_rdf.hpp"')


def child_rdf(a) -> dict:
    import ROOT

    t0 = time.perf_counter()
    load_refloat()
    if a.workers == 0:
        started = time.perf_counter()
        results = book(ROOT.RDataFrame(a.tree, a.file), a.branches, 10)
        values = [r.GetValue() for r in results]
        done = time.perf_counter()
    else:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        ROOT.RDF.Experimental.Distributed.initialize(load_refloat)
        started = time.perf_counter()
        df = ROOT.RDF.Experimental.Distributed.Dask.RDataFrame(a.tree, a.file, executor=client, npartitions=PARTITIONS)
        results = book(df, a.branches, 10)
        values = [r.GetValue() for r in results]
        done = time.perf_counter()
        client.close()
        cluster.close()
    h = values[-1]
    sums = [float(v) for v in values[:-1]] + [h.GetBinContent(i) for i in range(h.GetNbinsX() + 2)]
    return {"start": started - t0, "wall": done - started, "checksum": repr(sums)}


def child(kind: str, python: str, workers: int, file: Path, tree: str, branches: list[str], options: dict, env: dict) -> dict:
    cmd = [python, __file__, "--child", kind, "--workers", str(workers), "--file", str(file), "--tree", tree,
           "--options", json.dumps(options), "--branches", *branches]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REFLOAT_DATA_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--refloat", default=str(REPO / "target" / "release" / "refloat"))
    ap.add_argument("--lib-dir", default=str(REPO / "target" / "release"), help="where librefloat.so is")
    ap.add_argument("--py-venv", default=str(REPO / "target" / "py-venv"))
    ap.add_argument("--root-venv", default=str(REPO / "target" / "root-venv"))
    ap.add_argument("--work", default=str(REPO / "target" / "scaling"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--inputs", nargs="+", choices=["PHYSLITE_example", "nano_dy"], default=["PHYSLITE_example", "nano_dy"],
                    help="which merged inputs (RDataFrame runs on PHYSLITE)")
    ap.add_argument("--child", choices=["dask", "rdf"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    ap.add_argument("--branches", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        import warnings

        warnings.filterwarnings("ignore")
        a.workers = a.workers[0]
        out = child_dask(a) if a.child == "dask" else child_rdf(a)
        print(json.dumps(out))
        return 0

    from scaling import cpu_name, hadd_of, merged

    data, work = Path(a.data), Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    py, root_py = str(Path(a.py_venv) / "bin" / "python"), str(Path(a.root_venv) / "bin" / "python")
    hadd = hadd_of(root_py)
    env = dict(os.environ, PYTHONWARNINGS="ignore", LD_LIBRARY_PATH=a.lib_dir,
               ROOT_INCLUDE_PATH=f"{REPO / 'include'}:{REPO / 'cpp'}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {PARTITIONS} partitions per input; best of {a.repeat}")
    print()
    print("| input | MB | engine | branches | workers | start s | wall s | speed-up vs 1 worker |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for times in a.sizes:
        phys = merged(hadd, data / "PHYSLITE_example.root", times, work)
        stored = work / f"PHYSLITE_example.x{times}.b10.root"
        if not stored.exists():
            subprocess.run([a.refloat, "compress", str(phys), str(stored), "--bits", "10"], check=True, stdout=subprocess.DEVNULL)
        nano = merged(hadd, data / "nano_dy.root", times, work)
        jobs = [
            (stored, "CollectionTree", "AnalysisJetsAuxDyn.", "dask", py, {"bits": 10, "mode": "nearest"}),
            (nano, "Events", "Jet_", "dask", py, {"mode": "cms"}),
            (stored, "CollectionTree", "AnalysisJetsAuxDyn.", "rdf", root_py, {}),
        ]
        jobs = [j for j in jobs if j[0].name.split(".")[0] in a.inputs]
        for file, tree, prefix, kind, python, options in jobs:
            branches = jet_floats(str(file), tree, prefix)
            mb = file.stat().st_size / 1e6
            label = f"{file.name.split('.')[0]} x{times}"
            counts = ([0] if kind == "rdf" else []) + a.workers
            base, sums = None, set()
            for w in counts:
                runs = [child(kind, python, w, file, tree, branches, options, env) for _ in range(a.repeat)]
                r = min(runs, key=lambda r: r["wall"])
                sums.update(str(x["checksum"]) for x in runs)
                if w == 1:
                    base = r["wall"]
                speed = f"{base / r['wall']:.2f}" if base and w >= 1 else ""
                engine = f"{kind} local" if w == 0 else kind
                print(f"| {label} | {mb:.1f} | {engine} | {len(branches)} | {w or ''} | {r['start']:.1f} | {r['wall']:.2f} | {speed} |",
                      flush=True)
            if len(sums) != 1:
                ok = False
                print(f"{label} {kind}: results differ between runs: {sorted(sums)}")
    print()
    print("every run's result identical across worker counts" if ok else "RESULTS DIFFER across worker counts")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
