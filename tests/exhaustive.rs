//! Exhaustive checks over all 2^32 `f32` bit patterns, against a reference computed a
//! different way (scaling by the exact quantum in `f64` and rounding there; NaN payloads,
//! which the producers' schemes CMS, ROOT `Float16_t` and netCDF BitRound also round, from
//! the bit rule written over the mantissa field), and of the intervals of `bounds` (every
//! finite original lies in the interval of its stored value; the interval is tight). They
//! run in release builds (`cargo test --release`, as `.ci/run` does); debug builds ignore them. The
//! correction loops are checked against the per-value reference on every stored pattern.

use rayon::prelude::*;
use refloat::{Quantiser32, RoundingMode};

/// Reference quantiser: `|x| = a`, quantum `2^(e − n)` with `e` the binade of `a`
/// (−126 for subnormals), rounding done on `a / quantum` in `f64`; a result that would
/// overflow `f32` is truncated instead (ATLAS's guard, stated as its effect).
fn reference(x: f32, n: u32, mode: RoundingMode) -> f32 {
    if n == 23 {
        return x;
    }
    if !x.is_finite() {
        return reference_non_finite(x, n, mode);
    }
    let a = x.abs() as f64;
    if a == 0.0 {
        // ROOT takes the sign from `f < 0`: −0.0 is written as +0.0.
        return if mode == RoundingMode::RootFloat16 {
            0.0
        } else {
            x
        };
    }
    let e = (a.to_bits() >> 52) as i32 - 1023; // exact binade of a (f64 has room for f32 subnormals)
    let quantum = pow2(e.max(-126) - n as i32);
    let t = a * pow2(n as i32 - e.max(-126)); // a / quantum, exact: power-of-two scaling
                                              // The kept code within the binade: the significand's integer part less the implicit bit.
    let implicit = if a >= f32::MIN_POSITIVE as f64 {
        pow2(n as i32)
    } else {
        0.0
    };
    let top_code = pow2(n as i32) - 1.0;
    let rounded = match mode {
        RoundingMode::Truncate => floor(t),
        RoundingMode::Nearest | RoundingMode::BitRound => floor(t + 0.5),
        RoundingMode::Cms => {
            // Half up unless the code is one of the top two; never past the binade.
            let code = floor(t) - implicit;
            if t - floor(t) >= 0.5 && code < top_code - 1.0 {
                floor(t) + 1.0
            } else {
                floor(t)
            }
        }
        RoundingMode::RootFloat16 => (floor(t + 0.5)).min(implicit + top_code),
        RoundingMode::NearestEven => {
            // Ties go to the neighbour whose last kept bit is 0 (for n = 0 that bit is the
            // exponent's lowest bit, the significand having no explicit bit left).
            let f = floor(t);
            let d = t - f;
            let kept_lsb = |m: f64| ((((m * quantum) as f32).to_bits() >> (23 - n)) & 1) as u8;
            if d > 0.5 || (d == 0.5 && kept_lsb(f) == 1) {
                f + 1.0
            } else {
                f
            }
        }
    };
    let mut y = rounded * quantum;
    if y > f32::MAX as f64 && mode != RoundingMode::BitRound {
        y = floor(t) * quantum;
    }
    (y as f32).copysign(x)
}

/// `⌊t⌋` for `0 <= t < 2^53` (here `t < 2^25`), through an integer: `f64::floor` is a libm
/// call on the baseline x86-64 target, a fifth of the run.
fn floor(t: f64) -> f64 {
    (t as u64) as f64
}

/// `2^i` for a normal `f64` exponent, from its bits (exact; `powi` costs as much as the rest
/// of the reference).
fn pow2(i: i32) -> f64 {
    f64::from_bits(((i + 1023) as u64) << 52)
}

/// NaN and ±Inf: unchanged, except under the schemes that round every pattern's mantissa
/// field (its code `M >> k` and dropped part `M mod 2^k`, as the producers' C code sees it).
fn reference_non_finite(x: f32, n: u32, mode: RoundingMode) -> f32 {
    let u = x.to_bits();
    let k = 23 - n;
    let field = u & 0x007F_FFFF;
    let (code, dropped) = (field >> k, field & ((1 << k) - 1));
    let half = 1u32 << (k - 1);
    let top_code = (1u32 << n) - 1;
    let with_code = |c: u32| f32::from_bits((u & 0xFF80_0000) | (c << k));
    match mode {
        RoundingMode::Cms if dropped >= half && code + 1 < top_code => with_code(code + 1),
        RoundingMode::Cms => with_code(code),
        RoundingMode::RootFloat16 => {
            let c = (code + u32::from(dropped >= half)).min(top_code);
            let y = f32::from_bits((u & 0x7F80_0000) | (c << k));
            if x < 0.0 {
                -y
            } else {
                y
            }
        }
        // `u + half` in 32-bit arithmetic: the carry may leave the exponent, even the sign.
        RoundingMode::BitRound => f32::from_bits(u.wrapping_add(half) & !((1 << k) - 1)),
        _ => x,
    }
}

/// Runs of consecutive patterns mostly share their stored value: its interval is computed
/// once per run.
type LastInterval = Option<(u32, Option<refloat::Interval<f32>>)>;

/// Whether pattern `u` is wrong: its stored bits against the reference, its value inside the
/// interval of its stored value, that interval tight (checked once, at its lower end).
fn pattern_fails(
    q: &Quantiser32,
    n: u32,
    mode: RoundingMode,
    u: u32,
    last: &mut LastInterval,
) -> bool {
    let x = f32::from_bits(u);
    let got = q.quantise_bits(u);
    if got != reference(x, n, mode).to_bits() {
        return true;
    }
    let stored = f32::from_bits(got);
    if x.is_nan() || !stored.is_finite() {
        // Intervals of NaN and ±Inf are points by convention; a value is still stored.
        return !q.is_stored(stored);
    }
    let iv = match *last {
        Some((g, iv)) if g == got => iv,
        _ => {
            let iv = q.interval(stored);
            *last = Some((got, iv));
            iv
        }
    };
    let Some(iv) = iv else {
        return true;
    };
    if !(iv.contains(x) || (x.is_infinite() && iv.lo == x)) {
        return true;
    }
    if x.is_finite() && u == iv.lo.to_bits() {
        for nb in [next_down(iv.lo), next_up(iv.hi)] {
            if nb.is_finite() && q.quantise(nb).to_bits() == got {
                return true;
            }
        }
    }
    false
}

/// Every pattern, against the reference. The negative half is checked through the sign
/// symmetry every scheme has for finite non-zero values whose stored value is finite and
/// non-zero (the reference rounds `|x|` and keeps the sign there): `−x` must store the
/// sign-flipped bits of `x`'s stored value, and the interval of a negative stored value must
/// be the mirror of its positive twin's (checked once per stored value; ±0 ends compare equal). Zeros, NaN, ±Inf
/// and values stored as 0 or ±Inf, where the schemes differ by sign (`Float16_t` stores −0 as
/// +0, BitRound's carry can reach the sign), are checked against the reference directly.
fn check_all(n: u32, mode: RoundingMode) {
    let q = Quantiser32::new(n, mode).unwrap();
    const SIGN: u32 = 0x8000_0000;
    // One task per 2^16 positive patterns (and their negatives), the first mismatch of each
    // reported.
    let bad = (0u32..1 << 15)
        .into_par_iter()
        .filter_map(|hi| {
            let (mut last, mut last_neg) = (None, None);
            let mut mirrored: Option<u32> = None;
            (0u32..1 << 16).map(|lo| hi << 16 | lo).find_map(|u| {
                if pattern_fails(&q, n, mode, u, &mut last) {
                    return Some(u);
                }
                let x = f32::from_bits(u);
                let got = q.quantise_bits(u);
                let stored = f32::from_bits(got);
                let neg = u | SIGN;
                if x.is_finite() && x != 0.0 && stored.is_finite() && stored != 0.0 {
                    if q.quantise_bits(neg) != got | SIGN {
                        return Some(neg);
                    }
                    if mirrored != Some(got) {
                        mirrored = Some(got);
                        let (Some(p), Some(m)) = (q.interval(stored), q.interval(-stored)) else {
                            return Some(neg);
                        };
                        if m.lo != -p.hi || m.hi != -p.lo {
                            return Some(neg);
                        }
                    }
                    None
                } else {
                    pattern_fails(&q, n, mode, neg, &mut last_neg).then_some(neg)
                }
            })
        })
        .take_any(5)
        .collect::<Vec<u32>>();
    assert!(
        bad.is_empty(),
        "n = {n}, {mode}: mismatches at bit patterns {:08x?} (got {:08x?}, reference {:08x?})",
        bad,
        bad.iter().map(|&u| q.quantise_bits(u)).collect::<Vec<_>>(),
        bad.iter()
            .map(|&u| reference(f32::from_bits(u), n, mode).to_bits())
            .collect::<Vec<_>>()
    );
}

/// The next float toward +Inf (across zero: −0 → +min subnormal).
fn next_up(x: f32) -> f32 {
    let u = x.to_bits();
    if x == 0.0 {
        f32::from_bits(1)
    } else if u >> 31 == 0 {
        f32::from_bits(u + 1)
    } else {
        f32::from_bits(u - 1)
    }
}

/// The next float toward −Inf.
fn next_down(x: f32) -> f32 {
    -next_up(-x)
}

macro_rules! exhaustive {
    ($($name:ident: $n:expr, $mode:expr;)*) => {$(
        #[test]
        #[cfg_attr(debug_assertions, ignore = "exhaustive over 2^32 patterns: run with --release")]
        fn $name() {
            check_all($n, $mode);
        }
    )*};
}

exhaustive! {
    nearest_0: 0, RoundingMode::Nearest;
    nearest_7: 7, RoundingMode::Nearest;
    nearest_10: 10, RoundingMode::Nearest;
    nearest_15: 15, RoundingMode::Nearest;
    nearest_22: 22, RoundingMode::Nearest;
    truncate_10: 10, RoundingMode::Truncate;
    truncate_0: 0, RoundingMode::Truncate;
    nearest_even_10: 10, RoundingMode::NearestEven;
    nearest_even_0: 0, RoundingMode::NearestEven;
    cms_1: 1, RoundingMode::Cms;
    cms_10: 10, RoundingMode::Cms;
    cms_22: 22, RoundingMode::Cms;
    root_float16_0: 0, RoundingMode::RootFloat16;
    root_float16_10: 10, RoundingMode::RootFloat16;
    root_float16_14: 14, RoundingMode::RootFloat16;
    bitround_10: 10, RoundingMode::BitRound;
}

/// The slice loops (`quantise_slice`, specialised per mode) give `quantise_bits`'s bits for
/// every pattern.
fn check_slices(n: u32, mode: RoundingMode) {
    let q = Quantiser32::new(n, mode).unwrap();
    let bad = (0u32..1 << 12)
        .into_par_iter()
        .filter_map(|hi| {
            let mut v: Vec<f32> = (0u32..1 << 20)
                .map(|lo| f32::from_bits(hi << 20 | lo))
                .collect();
            q.quantise_slice(&mut v);
            (0u32..1 << 20)
                .find(|&lo| v[lo as usize].to_bits() != q.quantise_bits(hi << 20 | lo))
                .map(|lo| hi << 20 | lo)
        })
        .take_any(5)
        .collect::<Vec<u32>>();
    assert!(
        bad.is_empty(),
        "n = {n}, {mode}: quantise_slice differs at {bad:08x?}"
    );
}

macro_rules! exhaustive_slices {
    ($($name:ident: $n:expr, $mode:expr;)*) => {$(
        #[test]
        #[cfg_attr(debug_assertions, ignore = "exhaustive over 2^32 patterns: run with --release")]
        fn $name() {
            check_slices($n, $mode);
        }
    )*};
}

exhaustive_slices! {
    slice_nearest_0: 0, RoundingMode::Nearest;
    slice_nearest_10: 10, RoundingMode::Nearest;
    slice_nearest_23: 23, RoundingMode::Nearest;
    slice_truncate_7: 7, RoundingMode::Truncate;
    slice_truncate_23: 23, RoundingMode::Truncate;
    slice_cms_10: 10, RoundingMode::Cms;
}

/// The correction loops (`Corrector::correct_in_place`, one loop per scheme and method, with
/// fused checks and a fallback to the reference) give `Corrector::estimate`'s bits, and the
/// reference's counts, for every stored pattern: all of them for `n <= 16`; above, every
/// mantissa of the binades at the edges (subnormals, the first normals, around 1, the top,
/// NaN and Inf), where the special cases are. Prior-mean takes its density from a sample.
fn check_corrections(n: u32, mode: RoundingMode) {
    use refloat::correct::{Corrector, ExactPolicy, Method};
    let q = Quantiser32::new(n, mode).unwrap();
    let k = 23 - n;
    let exponents: Vec<u32> = if n <= 16 {
        (0..256).collect()
    } else {
        vec![0, 1, 2, 100, 126, 127, 128, 253, 254, 255]
    };
    let sample: Vec<f32> = (1..20_000)
        .map(|i| q.quantise(-(1.0 - i as f32 / 20_000.0).ln() * 50.0 - 20.0))
        .collect();
    let mut methods = vec![Method::Midpoint, Method::Dither { seed: 5 }];
    if n <= 16 {
        methods.push(Method::PriorMean);
    }
    for method in methods {
        let c = Corrector::new(q, method, ExactPolicy::default(), &sample);
        let bad: Vec<String> = exponents
            .par_iter()
            .flat_map_iter(|&e| [0u32, 1].map(move |s| (s, e)))
            .filter_map(|(s, e)| {
                let stored: Vec<f32> = (0u32..1 << n)
                    .map(|m| f32::from_bits(s << 31 | e << 23 | m << k))
                    .filter(|x| q.is_stored(*x))
                    .collect();
                let first = u64::from(s << 8 | e) << 24;
                let mut v = stored.clone();
                let report = match c.correct_in_place(&mut v, first) {
                    Ok(r) => r,
                    Err(err) => return Some(format!("sign {s} exponent {e}: {err}")),
                };
                let mut want = stored.clone();
                let want_report = c.correct_reference(&mut want, first).unwrap();
                if report != want_report {
                    return Some(format!(
                        "sign {s} exponent {e}: {report:?} != {want_report:?}"
                    ));
                }
                (0..v.len())
                    .find(|&i| v[i].to_bits() != want[i].to_bits())
                    .map(|i| {
                        format!(
                            "stored {:08x}: {:08x}, reference {:08x}",
                            stored[i].to_bits(),
                            v[i].to_bits(),
                            want[i].to_bits()
                        )
                    })
            })
            .take_any(5)
            .collect();
        assert!(bad.is_empty(), "n = {n}, {mode}, {method}: {bad:?}");
    }
}

macro_rules! exhaustive_corrections {
    ($($name:ident: $mode:expr;)*) => {$(
        #[test]
        #[cfg_attr(debug_assertions, ignore = "exhaustive over the stored patterns: run with --release")]
        fn $name() {
            for n in [0, 1, 2, 4, 7, 10, 13, 16, 19, 22] {
                check_corrections(n, $mode);
            }
        }
    )*};
}

exhaustive_corrections! {
    corrections_nearest: RoundingMode::Nearest;
    corrections_truncate: RoundingMode::Truncate;
    corrections_nearest_even: RoundingMode::NearestEven;
    corrections_cms: RoundingMode::Cms;
    corrections_root_float16: RoundingMode::RootFloat16;
    corrections_bitround: RoundingMode::BitRound;
}
