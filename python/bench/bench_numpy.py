"""refloat vs the numpy an analyst would write: quantise, midpoint and dither on 16 Mi real floats.

What it measures
----------------
The values are every float32 value of the held-out ATLAS PHYSLITE file
(``PHYSLITE_example.root``: all its ``float``, ``std::vector<float>`` and
``std::vector<std::vector<float>>`` branches, read with uproot, NaN/±Inf dropped),
concatenated and then tiled to 16 Mi = 16 * 2**20 values, the copies smeared by up to 2 %
(``smeared_tiles``): the file holds far fewer, and a long branch has a smooth density, where
plain copies would make every stored value a spike to the resolver that ``correct`` runs.

Operations, at 10 kept bits, ATLAS rule (``nearest``):

* ``quantise``: numpy: the ATLAS rule on a ``uint32`` view (add half the dropped bits below
  the overflow guard, mask, NaN/±Inf unchanged), a new array. refloat:
  ``refloat.quantise(x, bits=10, out=x)`` in place; each repetition starts from a fresh copy
  of the values made *before* the timer starts (the copy is not timed).
* ``midpoint``: numpy: interval ends from the bit patterns (``lo = q - rounding``,
  ``hi = q + rounding - 1``, the binade and overflow subtleties ignored), ``(lo + hi) / 2`` in
  float64, cast to float32, 0 and ±1 left alone with ``np.where``. refloat:
  ``refloat.correct(s, bits=10, method="midpoint", out=buf)`` (it copies ``s`` into ``buf``
  and corrects ``buf``: the copy *is* in refloat's time).
* ``dither``: numpy: ``lo + rng.random(n) * (hi - lo)`` with ``np.random.default_rng(seed)``,
  same interval and exact values. refloat: ``method="dither"``, ``seed=1``, same ``out=buf``.

Each timing is the best of ``--reps`` repetitions (``time.perf_counter``). numpy runs on one
core; refloat uses all cores (this machine's count is printed). A memcpy baseline
(``np.copyto`` of 16 Mi float32) is printed for scale. Targets (from the issue): refloat
>= 5x numpy for quantise, >= 10x for the corrections; they are printed as PASS/MISS, not
asserted. What *is* asserted: numpy's quantise equals refloat's bit for bit on these
values, and refloat's corrections keep the invariant (``refloat.verify``).

Run (from the repository root)::

    python python/bench/bench_numpy.py [FILE.root] [--reps N] [--n VALUES] [--threads N]

``FILE.root`` defaults to ``PHYSLITE_example.root`` in the data directory
(``$REFLOAT_DATA_DIR``, else ``<repository>/../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

import refloat

REPO = Path(__file__).resolve().parents[2]
HELD_OUT = "PHYSLITE_example.root"
BITS = 10
SEED = 1
N_DEFAULT = 16 * 2**20
TARGETS = {"quantise": 5.0, "midpoint": 10.0, "dither": 10.0}


def smeared_tiles(real: np.ndarray, n: int) -> np.ndarray:
    """``real`` tiled to ``n`` values, the copies past the first smeared by up to 2 %
    (integers, sentinels among them, kept): a long branch has a smooth density, where plain
    copies would repeat each value thousands of times and make every stored value a spike to
    the resolver (as ``benches/capi_kernels.c`` does)."""
    x = np.resize(real, n).astype(np.float32)
    u = np.random.default_rng(1).uniform(-1.0, 1.0, n).astype(np.float32)
    smear = (np.arange(n) >= real.size) & (x != np.floor(x))
    x[smear] *= np.float32(1.0) + np.float32(0.02) * u[smear]
    return np.ascontiguousarray(x)


def data_dir() -> Path:
    env = os.environ.get("REFLOAT_DATA_DIR")
    return Path(env) if env else (REPO.parent / "shared" / "data")


# ---------------------------------------------------------------------------------------
# data


def real_values(path: Path) -> tuple[np.ndarray, int]:
    """All finite float32 values of every float branch of ``path`` (any tree), concatenated."""
    pieces, nbranches = [], 0
    with uproot.open(path) as f:
        for tname, cls in f.classnames().items():
            if cls != "TTree":
                continue
            tree = f[tname]
            for name, branch in tree.iteritems():
                if len(branch.branches) or ">f4" not in str(branch.interpretation):
                    continue
                try:
                    arr = branch.array()
                except Exception:  # noqa: BLE001 - a branch uproot cannot read is not a float branch for us
                    continue
                v = ak.to_numpy(ak.flatten(arr, axis=None)) if isinstance(arr, ak.Array) else np.asarray(arr)
                if v.dtype != np.float32 or v.size == 0:
                    continue
                pieces.append(v.reshape(-1))
                nbranches += 1
    x = np.concatenate(pieces)
    return x[np.isfinite(x)], nbranches


# ---------------------------------------------------------------------------------------
# the numpy an analyst would write


def np_quantise(x: np.ndarray, bits: int) -> np.ndarray:
    """ATLAS ``CxxUtils::FloatCompressor`` rule with numpy bit operations (a new array)."""
    k = 23 - bits
    rounding = np.uint32(1 << (k - 1))
    mask = np.uint32(~((1 << k) - 1) & 0xFFFFFFFF)
    vmax = np.uint32(0x7F7FFFFF - int(rounding))
    u = x.view(np.uint32)
    mag = u & np.uint32(0x7FFFFFFF)
    q = u + (mag < vmax).astype(np.uint32) * rounding
    q &= mask
    special = mag >= np.uint32(0x7F800000)  # NaN / ±Inf unchanged
    if special.any():
        q[special] = u[special]
    return q.view(np.float32)


def np_interval(s: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Interval ends from the bit patterns (binade/overflow subtleties ignored), float64."""
    rounding = np.uint32(1 << (23 - bits - 1))
    u = s.view(np.uint32)
    lo = (u - rounding).view(np.float32).astype(np.float64)
    hi = (u + (rounding - np.uint32(1))).view(np.float32).astype(np.float64)
    return lo, hi


def np_exact(s: np.ndarray) -> np.ndarray:
    return (s == 0) | (np.abs(s) == 1)


def np_midpoint(s: np.ndarray, bits: int) -> np.ndarray:
    lo, hi = np_interval(s, bits)
    mid = ((lo + hi) * 0.5).astype(np.float32)
    return np.where(np_exact(s), s, mid)


def np_dither(s: np.ndarray, bits: int, seed: int) -> np.ndarray:
    lo, hi = np_interval(s, bits)
    r = np.random.default_rng(seed).random(s.size)
    d = (lo + r * (hi - lo)).astype(np.float32)
    return np.where(np_exact(s), s, d)


def build_note() -> str:
    """Whether the installed extension looks like a dev build: Rust's debug-assertion
    precondition checks (``unsafe precondition(s) violated``) are compiled out of release
    builds. A heuristic, printed, never asserted."""
    so = Path(refloat._refloat.__file__)
    try:
        debug = b"unsafe precondition(s) violated" in so.read_bytes()
    except OSError:
        return f"{so.name}: could not be read"
    return (
        f"{so.name}: DEBUG-ASSERTION (dev profile) build, e.g. `maturin develop` without --release: "
        "refloat's timings are not representative"
        if debug
        else f"{so.name}: release-style build (no debug-assertion checks found)"
    )


# ---------------------------------------------------------------------------------------
# timing


def best_of(reps: int, fn, setup=None) -> float:
    """Best wall time of ``fn()`` in ms over ``reps`` runs; ``setup()`` runs before each, untimed."""
    best = float("inf")
    for _ in range(reps):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=None, help=f"PHYSLITE file (default: <data dir>/{HELD_OUT})")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per timing, best kept (default 5)")
    ap.add_argument("--n", type=int, default=N_DEFAULT, help="values (default 16 Mi = 16777216)")
    ap.add_argument("--threads", type=int, default=None, help="refloat's threads (RAYON_NUM_THREADS; default: all cores)")
    args = ap.parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when refloat first runs in parallel
    threads = os.environ.get("RAYON_NUM_THREADS") or f"all {os.cpu_count()}"
    path = Path(args.file) if args.file else data_dir() / HELD_OUT
    n = args.n

    t0 = time.perf_counter()
    real, nbranches = real_values(path)
    x = smeared_tiles(real, n)
    print(f"{path.name}: {real.size} finite float32 values from {nbranches} branches, tiled to {n} "
          f"({n / real.size:.1f}x, {x.nbytes / 2**20:.0f} MiB); read in {time.perf_counter() - t0:.1f} s")
    print(f"numpy {np.__version__} (one core), refloat {refloat.__version__} ({threads} threads); "
          f"best of {args.reps}; bits={BITS}, mode=nearest (ATLAS); load average {os.getloadavg()[0]:.1f}")

    print(build_note())

    # correctness first
    q_np = np_quantise(x, BITS)
    q_rf = refloat.quantise(x, bits=BITS)
    diff = np.count_nonzero(q_np.view(np.uint32) != q_rf.view(np.uint32))
    assert diff == 0, f"numpy quantise differs from refloat.quantise on {diff} values"
    print(f"numpy quantise == refloat.quantise bit for bit on all {n} values: OK")
    s = q_rf
    buf = np.empty_like(s)
    mid_rf = refloat.correct(s, bits=BITS, method="midpoint", out=np.empty_like(s))
    dit_rf = refloat.correct(s, bits=BITS, method="dither", seed=SEED, out=np.empty_like(s))
    refloat.verify(mid_rf, s, bits=BITS)
    refloat.verify(dit_rf, s, bits=BITS)
    mid_np = np_midpoint(s, BITS)
    dit_np = np_dither(s, BITS, SEED)
    bad_mid = np.count_nonzero(refloat.quantise(mid_np, bits=BITS).view(np.uint32) != s.view(np.uint32))
    bad_dit = np.count_nonzero(refloat.quantise(dit_np, bits=BITS).view(np.uint32) != s.view(np.uint32))
    same_mid = np.count_nonzero(mid_np.view(np.uint32) == mid_rf.view(np.uint32))
    print(f"refloat midpoint and dither keep the invariant (refloat.verify): OK")
    print(f"numpy midpoint: {same_mid / n:.4%} bit-identical to refloat's; values breaking the invariant: "
          f"numpy midpoint {bad_mid}, numpy dither {bad_dit}")
    del q_np, q_rf, mid_rf, dit_rf, mid_np, dit_np

    # timings
    work = np.empty_like(x)
    dst = np.empty_like(x)
    t_copy = best_of(args.reps, lambda: np.copyto(dst, x))

    def fresh():
        np.copyto(work, x)

    rows = [
        ("quantise", best_of(args.reps, lambda: np_quantise(x, BITS)),
         best_of(args.reps, lambda: refloat.quantise(work, bits=BITS, out=work), setup=fresh)),
        ("midpoint", best_of(args.reps, lambda: np_midpoint(s, BITS)),
         best_of(args.reps, lambda: refloat.correct(s, bits=BITS, method="midpoint", out=buf))),
        ("dither", best_of(args.reps, lambda: np_dither(s, BITS, SEED)),
         best_of(args.reps, lambda: refloat.correct(s, bits=BITS, method="dither", seed=SEED, out=buf))),
    ]
    # The same with the branch resolved once (what correcting it piece by piece pays per piece).
    r = refloat.resolve(s, bits=BITS)
    t_resolve = best_of(args.reps, lambda: refloat.resolve(s, bits=BITS))
    rows += [
        ("midpoint, resolved", rows[1][1],
         best_of(args.reps, lambda: refloat.correct(s, method="midpoint", resolution=r, out=buf))),
        ("dither, resolved", rows[2][1],
         best_of(args.reps, lambda: refloat.correct(s, method="dither", seed=SEED, resolution=r, out=buf))),
    ]

    print()
    print(f"{'operation':<18} {'numpy ms':>9} {'refloat ms':>10} {'speed-up':>9} {'target':>7}  result")
    for name, t_np, t_rf in rows:
        sp = t_np / t_rf
        tgt = TARGETS[name.split(",")[0]]
        print(f"{name:<18} {t_np:9.1f} {t_rf:10.1f} {sp:8.1f}x {tgt:6.0f}x  {'PASS' if sp >= tgt else 'MISS'}")
    print(f"{'resolve':<18} {'':>9} {t_resolve:10.1f} {'':>9} {'':>7}  refloat.resolve(s, bits=10): the pass "
          "refloat.correct(s, bits=10) makes first")
    print(f"{'memcpy':<18} {t_copy:9.1f} {'':>10} {'':>9} {'':>7}  "
          f"np.copyto of {n} float32 ({x.nbytes / 2**20:.0f} MiB)")
    print()
    print("quantise: refloat in place (out=x) on a fresh copy made before the timer (copy not timed); "
          "numpy returns a new array.")
    print("midpoint/dither: refloat.correct(s, out=buf) copies s into buf inside the timed call; "
          "'resolved': with resolution= of the branch, resolved once before the timer.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
