#!/usr/bin/env python3
"""uproot side of refloat's compression tests (tests/compression_*.rs).

Subcommands (all paths are given by the Rust tests; nothing is written into the repository):

  make DATA_DIR OUT_DIR
      For each real data file and each of ZLIB, LZMA, LZ4, ZSTD, write
      OUT_DIR/<stem>.<algo>.root: tree "jagged" holding every float branch of the file's flat
      copy (<stem>.flat/*.values.npy, *.counts.npy) as a jagged float array (uproot writes
      `float[n]` counted by an int32 branch), in two baskets per branch (two extends).
      Also OUT_DIR/big.<algo>.root: tree "big", branch "x", one basket of BIG_VALUES floats
      (> 16 MiB, so ROOT's block framing needs two blocks) made by tiling the development
      file's real values; the values are saved to OUT_DIR/big.values.npy. And
      OUT_DIR/subdirs.root (tree sub/deeper/t with a float and an int branch, a string in
      sub) and OUT_DIR/rntuple.root, an RNTuple (refloat must refuse to rewrite it).

  check-written FILE SPEC_JSON
      Checks a file written by oxyroot: SPEC_JSON lists {"tree", "branch", "values" (.npy),
      "counts" (.npy or null), "compression" (ROOT fCompress), "magic" (2 letters or null)}.
      Every branch must read back bit for bit, the header and branch fCompress must be the
      expected setting and every basket must start with the expected block magic.

  check-rewrite INPUT OUTPUT BITS TREE
      Checks a file rewritten by refloat: the same keys (and classes) as INPUT, and in TREE
      the same branches; every branch of TREE uproot can read is equal to INPUT's, except
      the float and vector<float> branches, which must equal INPUT's values rounded to BITS
      kept mantissa bits with ATLAS's rule (round half away from zero in magnitude, no
      overflow to infinity). BITS = 23 means nothing was rounded.

Exit status 0 on success; an AssertionError (status 1) says what differs.
"""

import json
import os
import sys

import numpy as np
import uproot

BIG_VALUES = 4_500_000  # 18 MB of float32: more than one 16 MiB - 1 compression block
ALGORITHMS = {
    "zlib": lambda: uproot.ZLIB(5),
    "lzma": lambda: uproot.LZMA(1),
    "lz4": lambda: uproot.LZ4(4),
    "zstd": lambda: uproot.ZSTD(5),
}
STEMS = ["DAOD_PHYSLITE_21.2.108.0.art.pool", "PHYSLITE_example"]


def flat_branches(data_dir, stem):
    with open(os.path.join(data_dir, stem + ".flat", "manifest.json")) as f:
        names = sorted(json.load(f)["branches"])
    out = {}
    for name in names:
        base = os.path.join(data_dir, stem + ".flat", name)
        out[name] = (np.load(base + ".values.npy"), np.load(base + ".counts.npy"))
    return out


def make(data_dir, out_dir):
    import awkward as ak

    os.makedirs(out_dir, exist_ok=True)
    for stem in STEMS:
        branches = flat_branches(data_dir, stem)
        arrays = {name: ak.unflatten(v, c) for name, (v, c) in branches.items()}
        n = len(next(iter(arrays.values())))
        half = n // 2
        for algo, comp in ALGORITHMS.items():
            path = os.path.join(out_dir, f"{stem}.{algo}.root")
            with uproot.recreate(path, compression=comp()) as f:
                # mktree: a TTree (assigning a dict would make an RNTuple in recent uproot).
                tree = f.mktree("jagged", {k: "var * float32" for k in arrays})
                tree.extend({k: a[:half] for k, a in arrays.items()})
                tree.extend({k: a[half:] for k, a in arrays.items()})
    dev = flat_branches(data_dir, STEMS[0])
    values = np.concatenate([v for v, _ in dev.values()]).astype(">f4").astype(np.float32)
    big = np.resize(values, BIG_VALUES)
    np.save(os.path.join(out_dir, "big.values.npy"), big)
    for algo, comp in ALGORITHMS.items():
        with uproot.recreate(os.path.join(out_dir, f"big.{algo}.root"), compression=comp()) as f:
            f.mktree("big", {"x": "float32"}).extend({"x": big})
    # Nested directories, a tree and a string in them (directory pointers to relocate).
    with uproot.recreate(os.path.join(out_dir, "subdirs.root"), compression=uproot.ZLIB(5)) as f:
        deeper = f.mkdir("sub").mkdir("deeper")
        n = min(5000, len(values))
        deeper.mktree("t", {"x": "float32", "n": "int32"}).extend({"x": values[:n], "n": np.arange(n, dtype=np.int32)})
        f["sub/note"] = "kept as it is"
    # An RNTuple (what assigning a dict makes in recent uproot), which refloat cannot rewrite.
    with uproot.recreate(os.path.join(out_dir, "rntuple.root")) as f:
        f["ntuple"] = {"x": values[:1000]}


def basket_magics(path, branch):
    """Block magic of each basket of an uproot branch (None if stored uncompressed)."""
    seeks = branch.member("fBasketSeek")[: branch.num_baskets]
    sizes = branch.member("fBasketBytes")[: branch.num_baskets]
    out = []
    with open(path, "rb") as f:
        for seek, size in zip(seeks, sizes):
            f.seek(int(seek))
            rec = f.read(int(size))
            objlen = int.from_bytes(rec[6:10], "big")
            keylen = int.from_bytes(rec[14:16], "big")
            out.append(None if objlen == size - keylen else rec[keylen : keylen + 2].decode("latin-1"))
    return out


def same_bits(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def check_written(path, spec_path):
    import awkward as ak

    with open(spec_path) as f:
        spec = json.load(f)
    f = uproot.open(path)
    checked = 0
    for s in spec:
        tree = f[s["tree"]]
        b = tree[s["branch"]]
        want = np.load(s["values"])
        if s["counts"] is None:
            got = b.array(library="np")
            assert b.typename == "float", f"{s['branch']}: type {b.typename}"
        else:
            arr = b.array(library="ak")
            got = ak.to_numpy(ak.flatten(arr))
            counts = np.load(s["counts"])
            assert np.array_equal(ak.to_numpy(ak.num(arr)), counts), f"{s['branch']}: counts differ"
            assert b.typename == "std::vector<float>", f"{s['branch']}: type {b.typename}"
        assert same_bits(got, want), f"{s['branch']}: values differ"
        assert f.file.fCompress == s["compression"], f"file fCompress {f.file.fCompress} != {s['compression']}"
        assert b.member("fCompress") == s["compression"], f"{s['branch']}: fCompress {b.member('fCompress')}"
        magics = basket_magics(path, b)
        if s["magic"] is not None:
            assert any(m == s["magic"] for m in magics), f"{s['branch']}: basket magics {magics}"
            assert all(m in (s["magic"], None) for m in magics), f"{s['branch']}: basket magics {magics}"
        checked += 1
    print(f"checked {checked} branches of {path}")


def quantise(a, bits):
    """ATLAS CxxUtils::FloatCompressor on float32 values (see ATLAS_COMPRESSION.md)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if bits >= 23:
        return a
    u = a.view(np.uint32).copy()
    rounding = np.uint32(1 << (23 - bits - 1))
    mask = np.uint32((~((1 << (23 - bits)) - 1)) & 0xFFFFFFFF)
    vmax = np.uint32(0x7F7FFFFF - (1 << (23 - bits - 1)))
    finite = np.isfinite(a)
    up = finite & ((u & np.uint32(0x7FFFFFFF)) < vmax)
    u[up] += rounding
    u[finite] &= mask
    return u.view(np.float32)


def check_rewrite(inp, out, bits, tree_name):
    import awkward as ak

    fi, fo = uproot.open(inp), uproot.open(out)
    assert set(fi.keys()) == set(fo.keys()), f"keys differ: {set(fi.keys()) ^ set(fo.keys())}"
    stats = {"equal": 0, "rounded": 0, "unreadable": 0}
    for key, cls in fi.classnames().items():
        assert fo.classnames()[key] == cls, f"{key}: class {fo.classnames()[key]} != {cls}"
        # Other trees are compared byte for byte by the Rust test (uproot can exhaust the
        # memory on some ATLAS metadata branches it cannot interpret).
        if cls != "TTree" or key.split(";")[0] != tree_name:
            continue
        ti, to = fi[key], fo[key]
        assert ti.keys() == to.keys(), f"{key}: branches differ"
        assert ti.num_entries == to.num_entries
        rewritten_tree = key.split(";")[0] == tree_name
        for name in ti.keys():
            bi, bo = ti[name], to[name]
            try:
                ai = bi.array(library="ak")
            except Exception:
                try:
                    bo.array(library="ak")
                except Exception:
                    stats["unreadable"] += 1
                    continue
                raise AssertionError(f"{key}/{name}: readable in the output but not in the input")
            ao = bo.array(library="ak")
            assert len(ai) == len(ao), f"{key}/{name}: entries differ"
            if rewritten_tree and bi.typename in ("float", "float[]", "std::vector<float>"):
                if bi.typename != "float":
                    assert ak.all(ak.num(ai) == ak.num(ao)), f"{key}/{name}: counts differ"
                fi_ = ak.to_numpy(ak.flatten(ai, axis=None))
                fo_ = ak.to_numpy(ak.flatten(ao, axis=None))
                assert same_bits(quantise(fi_, bits), fo_), f"{key}/{name}: values are not the rounded input"
                stats["rounded"] += 1
            else:
                same = ak.array_equal(ai, ao, equal_nan=True, dtype_exact=True, check_parameters=True)
                assert same, f"{key}/{name}: differs from the input"
                stats["equal"] += 1
    print(json.dumps(stats))


def main(argv):
    if len(argv) >= 3 and argv[1] == "make":
        make(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "check-written":
        check_written(argv[2], argv[3])
    elif len(argv) == 6 and argv[1] == "check-rewrite":
        check_rewrite(argv[2], argv[3], int(argv[4]), argv[5])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
