//! Fixed edge cases of the `f64` quantiser and its intervals: the overflow guard at
//! `f64::MAX`, subnormals, exact ties in every mode, the mantissa carry into the exponent,
//! and interval tightness on real values (widened to `f64`) plus edge values.
//!
//! Expected values are derived here from the documented rules (real-number grids and bit
//! patterns), not from the quantiser's own code path.

mod common;

use refloat::{Quantiser64, RoundingMode};

/// The modes whose carry runs into the exponent and which spare NaN: this file's edge rules
/// are theirs (the producers' schemes are checked exhaustively in `exhaustive.rs`).
const CARRY_MODES: [RoundingMode; 3] = [
    RoundingMode::Nearest,
    RoundingMode::Truncate,
    RoundingMode::NearestEven,
];

const EXPLICIT: u32 = 52;
const SIGN: u64 = 1 << 63;

/// The next `f64` toward +∞ (on the bit pattern; ±0 both step to the smallest subnormal).
fn next_up(x: f64) -> f64 {
    let u = x.to_bits();
    if x == 0.0 {
        f64::from_bits(1)
    } else if u & SIGN == 0 {
        f64::from_bits(u + 1)
    } else {
        f64::from_bits(u - 1)
    }
}

/// The next `f64` toward −∞.
fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// `2^p` exactly, subnormals included (`2f64.powi(p)` gives 0 below `2^−1023`).
fn pow2(p: i32) -> f64 {
    if p >= -1022 {
        f64::from_bits(((p + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (p + 1074))
    }
}

/// Mask clearing the `k` dropped bits.
fn mask(n: u32) -> u64 {
    !((1u64 << (EXPLICIT - n)) - 1)
}

fn check_residual_and_interval(q: &Quantiser64, x: f64, what: &str) {
    let y = q.quantise(x);
    assert!(
        y.is_finite(),
        "{what}: {x:e} -> {y:e} ({} n={})",
        q.mode(),
        q.mantissa_bits()
    );
    // Sterbenz: x and y are within a factor 2 (or y = 0), so the difference is exact.
    let r = (x - y).abs();
    assert!(
        r <= q.max_abs_residual(x),
        "{what}: {} n={} x={x:e} residual {r:e} > bound {:e}",
        q.mode(),
        q.mantissa_bits(),
        q.max_abs_residual(x)
    );
    let iv = q.interval(y).expect("a quantised value is stored");
    assert!(iv.contains(x), "{what}: {x:e} not in {iv:?}");
}

#[test]
fn f64_max_is_truncated_never_infinite() {
    for mode in CARRY_MODES {
        for n in 0..=EXPLICIT {
            let q = Quantiser64::new(n, mode).unwrap();
            let top = f64::from_bits(f64::MAX.to_bits() & mask(n));
            for s in [1.0, -1.0] {
                // Every mode ends at the largest finite stored value: Nearest by its guard,
                // NearestEven because rounding up would give ±Inf, Truncate by definition.
                assert_eq!(q.quantise(s * f64::MAX), s * top, "{mode} n={n}");
                if n == EXPLICIT {
                    continue; // the identity: nothing is dropped, no guard
                }
                let vmax = q.vmax();
                for m in [
                    vmax - 1,
                    vmax,
                    (vmax + 1).min(f64::MAX.to_bits()),
                    f64::MAX.to_bits(),
                ] {
                    let x = s * f64::from_bits(m);
                    check_residual_and_interval(&q, x, "near vmax");
                    if m >= top.to_bits() {
                        assert_eq!(q.quantise(x).abs(), top, "{mode} n={n} {x:e}");
                    }
                }
                let iv = q.interval(s * top).unwrap();
                assert_eq!(if s > 0.0 { iv.hi } else { -iv.lo }, f64::MAX);
            }
        }
    }
}

#[test]
fn subnormals() {
    let largest_sub = f64::from_bits(f64::MIN_POSITIVE.to_bits() - 1);
    let smallest_sub = f64::from_bits(1);
    for mode in CARRY_MODES {
        for n in 0..EXPLICIT {
            let k = EXPLICIT - n;
            let q = Quantiser64::new(n, mode).unwrap();
            for s in [1.0, -1.0] {
                // Largest subnormal: (2^52 − 1)·2^−1074. Its dropped bits are all ones, so it is
                // above the half-way point for k ≥ 2 and a tie for k = 1, whose lower neighbour
                // has an odd last kept bit: both nearest modes carry into the smallest normal.
                let want = match mode {
                    RoundingMode::Truncate => f64::from_bits(largest_sub.to_bits() & mask(n)),
                    _ => f64::MIN_POSITIVE,
                };
                assert_eq!(q.quantise(s * largest_sub), s * want, "{mode} n={n}");
                // Smallest subnormal 2^−1074 on the grid of multiples of 2^(k−1074): below
                // half a step for k ≥ 2 (→ ±0); for k = 1 a tie between 0 and 2^−1073, which
                // Nearest takes away from zero and NearestEven to the even multiple 0.
                let want = match (mode, k) {
                    (RoundingMode::Nearest, 1) => 2.0 * smallest_sub,
                    _ => 0.0,
                };
                let got = q.quantise(s * smallest_sub);
                assert_eq!(got.to_bits(), (s * want).to_bits(), "{mode} n={n}");
                for x in [largest_sub, smallest_sub, f64::MIN_POSITIVE] {
                    check_residual_and_interval(&q, s * x, "subnormal");
                }
            }
        }
    }
}

/// Stored values to build ties around: ordinary, odd last kept bit, top of a binade,
/// large, tiny normal, subnormal.
fn tie_bases(n: u32) -> Vec<f64> {
    let k = EXPLICIT - n;
    let step = 1u64 << k;
    [
        1.0f64.to_bits(),
        1.0f64.to_bits() + step, // odd last kept bit (for n ≥ 1)
        3.0f64.to_bits() & mask(n),
        123456.789f64.to_bits() & mask(n),
        2.0f64.to_bits() - step, // top of the binade [1, 2): its upper neighbour is 2.0
        1e300f64.to_bits() & mask(n),
        f64::MIN_POSITIVE.to_bits(),
        (f64::MIN_POSITIVE.to_bits() >> 1) & mask(n), // subnormal
    ]
    .into_iter()
    .map(f64::from_bits)
    .collect()
}

#[test]
fn exact_ties_in_every_mode() {
    for n in [0u32, 1, 5, 10, 23, 30, 51] {
        let k = EXPLICIT - n;
        for base in tie_bases(n) {
            let lo_bits = base.to_bits();
            let hi_bits = lo_bits + (1u64 << k); // the next stored value (may be 2^(e+1))
            let (lo, hi) = (f64::from_bits(lo_bits), f64::from_bits(hi_bits));
            // The real half-way point, exact in f64 (it lies in lo's binade).
            let tie = lo + 0.5 * (hi - lo);
            assert_eq!(tie.to_bits(), lo_bits + (1u64 << (k - 1)), "n={n} {base:e}");
            // NearestEven: the neighbour whose last kept bit (bit k of the pattern) is 0.
            let even = if (lo_bits >> k) & 1 == 0 { lo } else { hi };
            for s in [1.0, -1.0] {
                for mode in CARRY_MODES {
                    let q = Quantiser64::new(n, mode).unwrap();
                    let want = match mode {
                        RoundingMode::Nearest => hi, // away from zero
                        RoundingMode::Truncate => lo,
                        RoundingMode::NearestEven => even,
                        _ => unreachable!("carry modes only"),
                    };
                    assert_eq!(q.quantise(s * tie), s * want, "{mode} n={n} tie {tie:e}");
                    // One ulp either side of the tie is no longer a tie.
                    let (below, above) = (next_down(tie), next_up(tie));
                    let want_below = lo;
                    let want_above = if mode == RoundingMode::Truncate && above != hi {
                        lo
                    } else {
                        hi // for k = 1 the tie's upper neighbour is hi itself
                    };
                    assert_eq!(q.quantise(s * below), s * want_below, "{mode} n={n} below");
                    assert_eq!(q.quantise(s * above), s * want_above, "{mode} n={n} above");
                    for x in [tie, below, above] {
                        check_residual_and_interval(&q, s * x, "tie");
                    }
                }
            }
        }
    }
}

#[test]
fn mantissa_carry_moves_into_the_exponent() {
    for n in [0u32, 3, 10, 23, 40, 51] {
        for p in [-1022i32, -500, -1, 0, 1, 100, 1000] {
            let two_p = 2f64.powi(p);
            let just_below = next_down(two_p); // all mantissa bits one, binade p − 1
            for mode in CARRY_MODES {
                let q = Quantiser64::new(n, mode).unwrap();
                let want = match mode {
                    RoundingMode::Truncate => f64::from_bits(just_below.to_bits() & mask(n)),
                    _ => two_p, // the carry gives the next binade's first value
                };
                assert_eq!(q.quantise(just_below), want, "{mode} n={n} 2^{p}");
                assert_eq!(q.quantise(-just_below), -want, "{mode} n={n} -2^{p}");
                if mode != RoundingMode::Truncate {
                    // The interval of 2^p reaches below it, by half the finer step below.
                    let iv = q.interval(two_p).unwrap();
                    assert!(iv.contains(just_below), "{mode} n={n} 2^{p}: {iv:?}");
                    // (Below 2^−1022 the subnormals keep the lowest binade's step.)
                    let below_step = pow2(p - (p > -1022) as i32 - n as i32);
                    let tie_below = two_p - 0.5 * below_step;
                    assert!(iv.lo >= tie_below, "{mode} n={n} 2^{p}: {iv:?}");
                    if mode == RoundingMode::Nearest {
                        assert_eq!(iv.lo, tie_below, "{mode} n={n} 2^{p}"); // tie goes up
                    }
                }
                check_residual_and_interval(&q, just_below, "carry");
            }
        }
    }
}

/// A few thousand real values (every branch of the development file, strided), widened to
/// `f64`, once as they are and once with their 29 low `f64` bits filled deterministically
/// (so that n > 23 has bits to drop), plus edge values.
fn test_values() -> Vec<f64> {
    let mut out = Vec::new();
    for b in common::flat_branches(common::DEV) {
        let (v, _) = common::load_flat(common::DEV, &b);
        let stride = (v.len() / 60).max(1);
        out.extend(v.iter().step_by(stride).map(|&x| x as f64));
    }
    let filled: Vec<f64> = out
        .iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite() && **x != 0.0)
        .map(|(i, &x)| {
            let noise = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 35; // 29 bits
            f64::from_bits(x.to_bits() | noise)
        })
        .collect();
    out.extend(filled);
    for m in [
        f64::MAX.to_bits(),
        f64::MIN_POSITIVE.to_bits(),
        f64::MIN_POSITIVE.to_bits() - 1,
        1,
        0,
        1.0f64.to_bits(),
        2.0f64.to_bits() - 1,
    ] {
        out.push(f64::from_bits(m));
        out.push(-f64::from_bits(m));
    }
    out
}

#[test]
fn intervals_are_exact_and_tight_on_real_values() {
    let values = test_values();
    assert!(values.len() > 2000, "{} values", values.len());
    let mut checked = 0usize;
    for mode in CARRY_MODES {
        for n in [0u32, 7, 10, 15, 22, 23, 30, 45, 51] {
            let q = Quantiser64::new(n, mode).unwrap();
            for &x in &values {
                let s = q.quantise(x);
                let iv = q.interval(s).expect("stored");
                assert!(iv.contains(x), "{mode} n={n}: {x:e} not in {iv:?}");
                assert_eq!(q.quantise(iv.lo).to_bits(), s.to_bits());
                assert_eq!(q.quantise(iv.hi).to_bits(), s.to_bits());
                // Tight: the neighbours just outside map elsewhere (beyond ±f64::MAX the
                // neighbour is ±Inf, which maps only to itself).
                for outside in [next_down(iv.lo), next_up(iv.hi)] {
                    assert_ne!(
                        q.quantise(outside).to_bits(),
                        s.to_bits(),
                        "{mode} n={n}: interval {iv:?} of {s:e} is not tight at {outside:e}"
                    );
                }
                check_residual_and_interval(&q, x, "real");
                checked += 1;
            }
        }
    }
    assert!(checked > 50_000, "{checked}");
}
