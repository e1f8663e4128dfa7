"""Independent numpy references of the producers' bit rules, written from
../shared/ATLAS_COMPRESSION.md (not from refloat's code)."""

import numpy as np


def _u(x):
    return np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)


def nearest(x, n):
    """ATLAS CxxUtils::FloatCompressor: half up in magnitude with carry, overflow guard."""
    u = _u(x)
    if n >= 23:
        return np.array(x, dtype=np.float32)
    k = 23 - n
    rounding = 1 << (k - 1)
    mask = (~((1 << k) - 1)) & 0xFFFFFFFF
    vmax = 0x7F7FFFFF - rounding
    mag = u & 0x7FFFFFFF
    out = np.where(mag < vmax, u + rounding, u) & mask
    out = np.where(mag < 0x7F800000, out, u)
    return out.astype(np.uint32).view(np.float32)


def truncate(x, n):
    """RNTuple Real32Trunc: drop the low bits (finite values)."""
    u = _u(x)
    mask = (~((1 << (23 - n)) - 1)) & 0xFFFFFFFF
    out = np.where((u & 0x7FFFFFFF) < 0x7F800000, u & mask, u)
    return out.astype(np.uint32).view(np.float32)


def cms(x, n):
    """CMS MiniFloatConverter::reduceMantissaToNbitsRounding, on every pattern."""
    u = _u(x)
    shift = 23 - n
    test = 1 << (shift - 1)
    maxn = (1 << n) - 2
    mask = (~((1 << shift) - 1)) & 0xFFFFFFFF
    m = (u & 0x7FFFFF) >> shift
    m = np.where(m < maxn, m + 1, m)
    up = (u & 0xFF800000) | (m << shift)
    out = np.where(u & test, up, u & mask)
    return out.astype(np.uint32).view(np.float32)


def midpoint_nearest(stored, n):
    """An analyst's midpoint for nearest-rounded values away from binade edges: the stored
    value itself (the interval [q - h, q + h) is symmetric)."""
    return np.array(stored, dtype=np.float32)
