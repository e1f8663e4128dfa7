#!/usr/bin/env python3
"""An independent check of corrected files against the precision their producer declared.

It shares nothing with refloat's own inference: the rounding rules are written here in
numpy from the producers' sources (CMS's MiniFloatConverter::reduceMantissaToNbitsRounding,
ATLAS's CxxUtils::FloatCompressor), the precision comes from the producer's declaration
(a table built from the CMSSW sources, tests/fixtures/declared/), or from the bits a file was
compressed with, and spikes are found with a plain rule of their own.

    check_declared.py STORED CORRECTED --tree T --rule cms|atlas (--table TSV | --bits N)
                      [--json OUT] [--branches A,B,...]

For every float branch (float, float[n], vector<float>) of tree T:
  * every corrected value re-rounds, under the rule, to its stored value at the declared
    precision (per value where the declaration is an expression, evaluated on the file's
    branches);
  * every stored value of -999 is unchanged, and so is every spike: a stored value seen at
    least 5 times whose 4 neighbouring codes on each side (at the declared precision) hold
    together fewer than a quarter of its count;
  * the corrected file has the same structure (entries, counts) as the stored one.
Prints a summary and exits 1 on any violation (naming branch, index and values).
"""
import argparse
import json
import sys

import awkward as ak
import numpy as np
import uproot

FLOAT_TYPES = ("float", "float[]", "std::vector<float>")


def cms_round(x, bits):
    """MiniFloatConverter::reduceMantissaToNbitsRounding, per value (bits: int or array)."""
    u = x.view(np.uint32).astype(np.uint64)
    bits = np.broadcast_to(np.asarray(bits, dtype=np.int64), u.shape)
    out = u.copy()
    rounded = bits < 23
    shift = np.where(rounded, 23 - bits, 1).astype(np.uint64)
    mask = (np.uint64(0xFFFFFFFF) >> shift) << shift
    test = np.uint64(1) << (shift - np.uint64(1))
    maxn = (np.uint64(1) << bits.clip(1, 22).astype(np.uint64)) - np.uint64(2)
    up = (u & test) != 0
    m = (u & np.uint64(0x7FFFFF)) >> shift
    m = np.where(up & (m < maxn), m + np.uint64(1), m)
    r_up = (u & np.uint64(0xFF800000)) | (m << shift)
    r_dn = u & mask
    out = np.where(rounded, np.where(up, r_up, r_dn), u)
    return out.astype(np.uint32)


def atlas_round(x, bits):
    """CxxUtils::FloatCompressor (round half away from zero with carry, overflow guard)."""
    u = x.view(np.uint32).astype(np.uint64)
    bits = np.broadcast_to(np.asarray(bits, dtype=np.int64), u.shape)
    rounded = bits < 23
    k = np.where(rounded, 23 - bits, 1).astype(np.uint64)
    rounding = np.uint64(1) << (k - np.uint64(1))
    mask = (np.uint64(0xFFFFFFFF) >> k) << k
    vmax = np.uint64(0x7F7FFFFF) - rounding
    mag = u & np.uint64(0x7FFFFFFF)
    finite = mag < np.uint64(0x7F800000)
    v = np.where(mag < vmax, u + rounding, u) & mask
    return np.where(rounded & finite, v, u).astype(np.uint32)


def read_table(path):
    rows = {}
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        rows[cols[0]] = (cols[1], cols[2] if len(cols) > 2 else "")
    return rows


def flat(tree, name, dtype=np.float32):
    return np.asarray(ak.flatten(tree[name].array(), axis=None), dtype=dtype)


def spikes(stored, bits):
    """Stored values (bit patterns) that are spikes by this script's own rule."""
    u = stored.view(np.uint32)
    finite = (u & 0x7FFFFFFF) < 0x7F800000
    vals, counts = np.unique(u[finite & ((u & 0x7FFFFFFF) != 0)], return_counts=True)
    count_of = dict(zip(vals.tolist(), counts.tolist()))
    per_value = np.broadcast_to(np.asarray(bits), u.shape)
    out = set()
    for v, c in count_of.items():
        if c < 5:
            continue
        b = int(per_value[np.nonzero(u == v)[0][0]])
        step = 1 << (23 - min(b, 23))
        near = sum(count_of.get(v + j * step, 0) + count_of.get(v - j * step, 0) for j in range(1, 5))
        if near * 4 < c:
            out.add(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stored")
    ap.add_argument("corrected")
    ap.add_argument("--tree", required=True)
    ap.add_argument("--rule", choices=["cms", "atlas"], required=True)
    ap.add_argument("--table")
    ap.add_argument("--bits", type=int, help="the bits every branch was stored with; -1: each branch's own (the most any of its values uses)")
    ap.add_argument("--json")
    ap.add_argument("--branches")
    a = ap.parse_args()
    rnd = cms_round if a.rule == "cms" else atlas_round
    table = read_table(a.table) if a.table else None
    s_tree = uproot.open(a.stored)[a.tree]
    c_tree = uproot.open(a.corrected)[a.tree]
    names = [k for k, b in s_tree.items() if b.typename in FLOAT_TYPES]
    if a.branches:
        names = [n for n in names if n in a.branches.split(",")]
    failures, summary = [], {"branches": 0, "values": 0, "changed": 0, "sentinels": 0, "spikes": 0}
    cache = {}

    def column(name):
        if name not in cache:
            cache[name] = flat(s_tree, name, dtype=None)
        return cache[name]

    for name in names:
        s = flat(s_tree, name)
        c = flat(c_tree, name)
        if len(s) != len(c):
            failures.append(f"{name}: {len(c)} corrected values for {len(s)} stored")
            continue
        sc = ak.num(s_tree[name].array(), axis=-1) if s_tree[name].typename != "float" else None
        cc = ak.num(c_tree[name].array(), axis=-1) if c_tree[name].typename != "float" else None
        if sc is not None and not ak.all(sc == cc):
            failures.append(f"{name}: the corrected entries hold other counts than the stored ones")
            continue
        if table is not None:
            if name not in table:
                failures.append(f"{name}: not in the declared table")
                continue
            declared, rule = table[name]
            if declared == "expr":
                env = {"np": np}
                for word in set(__import__("re").findall(r"[A-Za-z_][A-Za-z_0-9]*", rule)):
                    if word in s_tree.keys():
                        env[word] = column(word)
                bits = np.asarray(eval(rule, env), dtype=np.int64)
            elif declared == "unknown":
                failures.append(f"{name}: declared precision unknown")
                continue
            else:
                bits = int(declared)
        elif a.bits is not None and a.bits >= 0:
            bits = a.bits
        else:
            # The kept bits of the branch: the most any stored value uses.
            m = s.view(np.uint32)[np.isfinite(s)] & 0x7FFFFF
            low = (m & (~m + 1)).astype(np.float64)
            tz = np.where(m == 0, 23, np.log2(np.maximum(low, 1)).astype(int))
            bits = int(23 - tz.min()) if len(tz) else 23
        su, cu = s.view(np.uint32), c.view(np.uint32)
        changed = su != cu
        summary["branches"] += 1
        summary["values"] += len(s)
        summary["changed"] += int(changed.sum())
        back = rnd(c, bits)
        bad = np.nonzero(changed & (back != su))[0]
        if len(bad):
            i = bad[0]
            b = bits if np.isscalar(bits) else int(bits[i])
            failures.append(
                f"{name}: {len(bad)} of {len(s)} corrected values leave their interval at the declared {b} bits "
                f"(first: index {i}, stored {s[i]!r}, corrected {c[i]!r})"
            )
        sentinel = su == np.float32(-999.0).view(np.uint32)
        summary["sentinels"] += int(sentinel.sum())
        if (sentinel & changed).any():
            failures.append(f"{name}: {int((sentinel & changed).sum())} values of -999 moved")
        sp = spikes(s, bits)
        if sp:
            on = np.isin(su, np.fromiter(sp, dtype=np.uint32))
            summary["spikes"] += int(on.sum())
            if (on & changed).any():
                i = np.nonzero(on & changed)[0][0]
                failures.append(f"{name}: {int((on & changed).sum())} spike values moved (first {s[i]!r} -> {c[i]!r})")
    print(
        f"{a.corrected}: {summary['branches']} float branches, {summary['values']} values, "
        f"{summary['changed']} changed; {summary['sentinels']} values of -999 and {summary['spikes']} spike values; "
        f"{len(failures)} violations"
    )
    for f in failures[:40]:
        print("  " + f)
    if a.json:
        json.dump({"summary": summary, "failures": failures}, open(a.json, "w"), indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
