#!/usr/bin/env python3
"""Write a TTree with uproot from real PHYSLITE float branches, for refloat to read.

usage: write_with_uproot.py SOURCE.root OUT.root BRANCH [BRANCH ...]

Copies the named branches of SOURCE's CollectionTree (float -> float, std::vector<float>
-> var * float32, which uproot writes as a C array float[] with a counter branch nNAME)
into a new TTree 'CollectionTree' of OUT.root, written in two baskets per branch
(two extend calls) so that readers must join baskets. With REFLOAT_FIXED=N in the
environment, each std::vector<float> branch NAME also gives NAME_fixedN, a fixed-size
float[N] array of each entry's first N values (padded with 0).
"""
import os
import sys

import awkward as ak
import numpy as np
import uproot


def main() -> int:
    source, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    tree = uproot.open(source)["CollectionTree"]
    arrays = {}
    types = {}
    for name in names:
        branch = tree[name]
        array = branch.array(library="ak")
        if branch.typename == "float":
            arrays[name] = np.asarray(array, dtype=np.float32)
            types[name] = np.float32
        elif branch.typename == "std::vector<float>":
            arrays[name] = ak.values_astype(array, np.float32)
            types[name] = "var * float32"
            fixed = int(os.environ.get("REFLOAT_FIXED", "0"))
            if fixed > 1:
                padded = ak.fill_none(ak.pad_none(arrays[name], fixed, clip=True), 0.0)
                arrays[f"{name}_fixed{fixed}"] = ak.to_numpy(padded).astype(np.float32)
                types[f"{name}_fixed{fixed}"] = np.dtype((np.float32, (fixed,)))
        else:
            raise SystemExit(f"{name}: unsupported type {branch.typename}")
    n = len(next(iter(arrays.values())))
    half = n // 2
    with uproot.recreate(out) as f:
        t = f.mktree("CollectionTree", types)
        t.extend({k: v[:half] for k, v in arrays.items()})
        t.extend({k: v[half:] for k, v in arrays.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
