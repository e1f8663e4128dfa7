#!/usr/bin/env python3
"""Read every float branch of a TTree with uproot and dump it for a bit-for-bit comparison.

usage: read_with_uproot.py FILE.root TREE OUTDIR

For each branch whose type is float, std::vector<float>, float[] or float[N] writes
OUTDIR/NAME.bits.npy (uint32 bit patterns, entries concatenated) and OUTDIR/NAME.counts.npy
(int64 values per entry; all ones for flat float), and OUTDIR/manifest.json with the
branch names, their uproot typenames and the tree's entry count.
"""
import json
import os
import sys

import awkward as ak
import numpy as np
import uproot


def main() -> int:
    path, tree_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    tree = uproot.open(path)[tree_name]
    manifest = {"entries": int(tree.num_entries), "branches": {}}
    for branch in tree.values(recursive=True):
        typename = branch.typename
        fixed = typename.startswith("float[") and typename[6:-1].isdigit()
        if typename not in ("float", "std::vector<float>", "float[]") and not fixed:
            continue
        array = branch.array(library="ak")
        if array.ndim == 1:
            values = np.asarray(array, dtype=np.float32)
            counts = np.ones(len(values), dtype=np.int64)
        else:
            values = np.asarray(ak.flatten(array, axis=None), dtype=np.float32)
            counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
        np.save(os.path.join(out, branch.name + ".bits.npy"), values.view(np.uint32))
        np.save(os.path.join(out, branch.name + ".counts.npy"), counts)
        manifest["branches"][branch.name] = typename
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
