#!/usr/bin/env python3
"""Validate cmssw_nanoaod_precision.tsv against real NanoAOD files.

    target/root-venv/bin/python crates/refloat-core/data/check_precision_table.py [--table T] [--verbose] [FILE.root ...]

With no files given: nano_dy.root from $REFLOAT_DATA_DIR (default ../shared/data beside the
repository) and, where $REFLOAT_NANO_DIR names a folder, its nano_dimuon, nano_tree, pfnano,
scouting_nano, nano_dy_SpecialTree and nanoAOD_2015_CMS_Open_Data_ttbar .root files (coffea's and
scikit-hep-testdata's test samples), those that exist (tree "Events").

For every float branch (`float`, `float[]`) of every file, the bits seen in the data are
23 minus the fewest trailing zero mantissa bits among the values with a non-zero mantissa
(0 if there is none). They must be <= the table's `declared`, and the branch must be in the
table. The table is also checked for form (5 tab-separated columns, declared in 1..23,
expr in {0,1}, no duplicates).

Prints a summary; exit status 0 if all is consistent, 1 on any violation or missing branch,
2 on a malformed table or when no file could be read.
"""
import argparse
import os
import sys

import numpy as np
import uproot

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TABLE = os.path.join(HERE, "cmssw_nanoaod_precision.sources.tsv")
_DATA = os.environ.get("REFLOAT_DATA_DIR", os.path.join(HERE, "..", "..", "..", "..", "shared", "data"))
_MORE = os.environ.get("REFLOAT_NANO_DIR", "")  # more NanoAOD files (coffea's, scikit-hep-testdata's)
DEFAULT_FILES = [os.path.join(_DATA, "nano_dy.root")] + [
    os.path.join(_MORE, f)
    for f in ("nano_dimuon.root", "nano_tree.root", "pfnano.root", "scouting_nano.root",
              "nano_dy_SpecialTree.root", "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    if _MORE
]
FLOAT_TYPES = ("float", "float[]")


def read_table(path):
    rows = {}
    bad = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 5:
                bad.append(f"{path}:{n}: expected 5 tab-separated columns, got {len(cols)}")
                continue
            branch, declared, expr, versions, source = cols
            if branch in rows:
                bad.append(f"{path}:{n}: duplicate branch {branch}")
            if not declared.isdigit() or not 1 <= int(declared) <= 23:
                bad.append(f"{path}:{n}: bad declared value {declared!r}")
                continue
            if expr not in ("0", "1"):
                bad.append(f"{path}:{n}: bad expr value {expr!r}")
            if not source:
                bad.append(f"{path}:{n}: empty source")
            rows[branch] = (int(declared), expr == "1", versions, source)
    return rows, bad


def seen_bits(values):
    """23 - fewest trailing zero mantissa bits over values with a non-zero mantissa (0 if none)."""
    m = np.asarray(values, dtype=np.float32).ravel().view(np.uint32) & np.uint32(0x7FFFFF)
    m = m[m != 0].astype(np.int64)
    if m.size == 0:
        return 0, 0
    low = m & -m  # lowest set bit
    tz = np.log2(low).astype(np.int64)
    return int(23 - tz.min()), int(m.size)


def branch_values(branch):
    arr = branch.array(library="np")
    if arr.dtype == object:  # jagged: one array per event
        arr = np.concatenate([np.asarray(a, dtype=np.float32) for a in arr]) if len(arr) else np.zeros(0, np.float32)
    return np.asarray(arr, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--table", default=DEFAULT_TABLE)
    ap.add_argument("--verbose", "-v", action="store_true", help="print every branch")
    args = ap.parse_args()

    rows, bad = read_table(args.table)
    if bad:
        print("MALFORMED TABLE:")
        for b in bad:
            print("  " + b)
        return 2
    files = args.files or [f for f in DEFAULT_FILES if os.path.exists(f)]
    if not files:
        print("no input file found")
        return 2

    failures, checked_files = [], 0
    by_source = {}
    for _, (_, _, _, src) in rows.items():
        kind = "data" if src.startswith("data:") else "declared"
        by_source[kind] = by_source.get(kind, 0) + 1
    print(f"table {args.table}: {len(rows)} branches ({by_source.get('declared', 0)} from declarations, "
          f"{by_source.get('data', 0)} from data), {sum(1 for r in rows.values() if r[1])} with a precision expression")
    for path in files:
        try:
            tree = uproot.open(path)["Events"]
        except Exception as e:  # noqa: BLE001
            failures.append(f"{path}: cannot read Events tree ({e})")
            continue
        checked_files += 1
        nfloat = nmissing = nviol = nfewer = nempty = 0
        for name, br in tree.items():
            if br.typename not in FLOAT_TYPES:
                continue
            nfloat += 1
            if name not in rows:
                nmissing += 1
                failures.append(f"{os.path.basename(path)}: {name}: float branch missing from the table")
                continue
            declared = rows[name][0]
            bits, nnz = seen_bits(branch_values(br))
            if bits > declared:
                nviol += 1
                failures.append(f"{os.path.basename(path)}: {name}: data shows {bits} bits, table declares {declared}")
                status = "MORE THAN DECLARED"
            elif nnz == 0:
                nempty += 1
                status = "ok (no non-zero mantissa)"
            elif bits < declared:
                nfewer += 1
                status = "ok (fewer in data)"
            else:
                status = "ok"
            if args.verbose:
                print(f"  {name:45s} declared {declared:2d} seen {bits:2d}  {status}")
        print(f"{path}: {nfloat} float branches, {nviol} violations, {nmissing} missing, "
              f"{nfewer} with fewer bits than declared, {nempty} without non-zero mantissa")
    if checked_files == 0:
        print("no input file could be read")
        return 2
    if failures:
        print(f"FAILURES ({len(failures)}):")
        for f in failures:
            print("  " + f)
        return 1
    print(f"OK: {checked_files} files, every float branch is in the table and no value shows more bits than declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
