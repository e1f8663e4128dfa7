"""How refloat's file commands scale: wall time, CPU time and peak memory against input size,
at 1 and 2 threads, beside the I/O floor and a ROOT macro doing Athena's rounding.

Inputs are real files merged with the ROOT wheel's ``hadd``: 1x, 8x and 64x the held-out
PHYSLITE file and CMS's ``nano_dy.root``. Rows, each its own process (wall, user + system
CPU and peak resident memory of that process, from ``wait4``; best of ``--repeat``):

* ``compress --bits 10`` of PHYSLITE; ``correct`` (midpoint, verified) of that output and
  of NanoAOD (already rounded by CMS);
* the rewrite floor: ``compress --bits 23`` (every float basket decompressed, left as it is,
  compressed again; every other record decoded and copied), and ``cp`` of the file;
* the anchor: ``benches/athena_anchor.C`` compiled by ACLiC (``-O``), the loop a ROOT user
  would write (SetBranchAddress on the float branches, Athena's rule, a new tree of the
  float branches only), timed as a whole ROOT process like the others.

    python benches/scaling.py                       # the table and figure of docs/speed.md
    python benches/scaling.py --sizes 1 2 --repeat 1 --no-anchor   # what .ci/run does

Needs the release CLI (``cargo build --release -p refloat-cli``), the ROOT venv
(``target/root-venv``, as .ci/run makes it) and matplotlib for the figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MiB of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.decode(errors='replace')}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def best(cmd: list[str], repeat: int, env: dict | None = None) -> tuple[float, float, float]:
    runs = [run(cmd, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def merged(hadd: str, source: Path, times: int, work: Path) -> Path:
    """``source`` merged ``times`` times with hadd (made once)."""
    out = work / f"{source.stem}.x{times}.root"
    if out.exists():
        return out
    if times == 1:
        shutil.copyfile(source, out)
        return out
    links = []
    for i in range(times):
        link = work / f"part{i}.root"
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(source)
        links.append(str(link))
    subprocess.run([hadd, "-f", str(out), *links], check=True, stdout=subprocess.DEVNULL)
    for link in links:
        os.unlink(link)
    return out


def hadd_of(root_python: str) -> str:
    """The ``hadd`` of the ROOT wheel installed for ``root_python``."""
    root_dir = subprocess.run(
        [root_python, "-c", "import ROOT, os; print(os.path.dirname(ROOT.__file__))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    return str(Path(root_dir) / "bin" / "hadd")


def cpu_name() -> str:
    """This machine's CPU model."""
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    return cpu or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REFLOAT_DATA_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--refloat", default=str(REPO / "target" / "release" / "refloat"))
    ap.add_argument("--root-venv", default=str(REPO / "target" / "root-venv"))
    ap.add_argument("--work", default=str(REPO / "target" / "scaling"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-anchor", action="store_true", help="skip the ROOT macro")
    ap.add_argument("--figure", default=str(REPO / "docs" / "figures" / "scaling.png"))
    args = ap.parse_args(argv)

    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    root_python = str(Path(args.root_venv) / "bin" / "python")
    hadd = hadd_of(root_python)
    refloat = args.refloat
    if not Path(refloat).exists():
        sys.exit(f"{refloat}: build it first (cargo build --release -p refloat-cli)")

    anchor_env = dict(os.environ, PYTHONWARNINGS="ignore")
    anchor_lib = work / "athena_anchor_C.so"
    if not args.no_anchor:
        # Compiled once, outside the timings (ACLiC writes the library beside a copy).
        shutil.copyfile(REPO / "benches" / "athena_anchor.C", work / "athena_anchor.C")
        subprocess.run(
            [root_python, "-c", f"import ROOT; assert ROOT.gSystem.CompileMacro('{work / 'athena_anchor.C'}', 'kO') == 1"],
            check=True, env=anchor_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; refloat {refloat}; best of {args.repeat}")
    print()
    print("| input | MB | step | threads | wall s | CPU s | peak MiB | x floor (same threads) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for stem in ["PHYSLITE_example", "nano_dy"]:
        source = data / f"{stem}.root"
        if not source.exists():
            sys.exit(f"{source}: no such file (see ../shared/data/README.md)")
        for times in args.sizes:
            src = merged(hadd, source, times, work)
            mb = src.stat().st_size / 1e6
            label = f"{stem} x{times}"
            cp = best(["cp", str(src), str(work / "cp.root")], args.repeat)
            print(f"| {label} | {mb:.1f} | cp | | {cp[0]:.2f} | {cp[1]:.2f} | {cp[2]:.0f} | |")
            rows.append((stem, times, mb, "cp", 0, *cp))
            for t in args.threads:
                threads = ["--threads", str(t)]
                floor = best([refloat, "compress", str(src), str(work / "floor.root"), "--bits", "23", *threads], args.repeat)
                steps = [("rewrite floor (compress --bits 23)", floor)]
                if stem == "PHYSLITE_example":
                    stored = work / f"{stem}.x{times}.b10.root"
                    steps.append(("compress --bits 10", best(
                        [refloat, "compress", str(src), str(stored), "--bits", "10", *threads], args.repeat)))
                    corrected_from = stored
                else:
                    corrected_from = src
                steps.append(("correct (midpoint, verified)", best(
                    [refloat, "correct", str(corrected_from), str(work / "corrected.root"), "--method", "midpoint", *threads], args.repeat)))
                for name, (wall, cpu_s, rss) in steps:
                    print(f"| {label} | {mb:.1f} | {name} | {t} | {wall:.2f} | {cpu_s:.2f} | {rss:.0f} | {wall / floor[0]:.2f} |")
                    rows.append((stem, times, mb, name, t, wall, cpu_s, rss))
            if not args.no_anchor and stem == "PHYSLITE_example":
                code = (f"import ROOT; ROOT.gSystem.Load('{anchor_lib}'); "
                        f"assert ROOT.athena_anchor('{src}', '{work / 'anchor.root'}', 10) > 0")
                a = best([root_python, "-c", code], args.repeat, anchor_env)
                print(f"| {label} | {mb:.1f} | ROOT macro, Athena's rule (ACLiC -O) | 1 | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.0f} | |")
                rows.append((stem, times, mb, "ROOT macro", 1, *a))
    print()

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not found: no figure")
        return 0
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, stem in zip(axes, ["PHYSLITE_example", "nano_dy"]):
        steps = sorted({(r[3], r[4]) for r in rows if r[0] == stem and r[3] != "cp"})
        for name, t in steps:
            pts = sorted((r[2], r[5]) for r in rows if r[0] == stem and r[3] == name and r[4] == t)
            style = "--" if "floor" in name else ("-." if "macro" in name else "-")
            ax.plot(*zip(*pts), style, marker="o", label=f"{name}" + ("" if "macro" in name else f", {t} thread{'s' if t > 1 else ''}"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("input size [MB]")
        ax.set_ylabel("wall time [s]")
        ax.set_title(f"{stem} merged {', '.join(f'{s}x' for s in args.sizes)}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=110)
    print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
