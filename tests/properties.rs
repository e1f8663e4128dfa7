//! Property tests of the core invariants (proptest), for `f32` and `f64`.

use proptest::prelude::*;
use refloat::correct::{Corrector, ExactPolicy, Method};
use refloat::{Quantiser32, Quantiser64, RoundingMode};

fn mode() -> impl Strategy<Value = RoundingMode> {
    prop_oneof![
        Just(RoundingMode::Nearest),
        Just(RoundingMode::Truncate),
        Just(RoundingMode::NearestEven)
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Midpoint),
        any::<u64>().prop_map(|seed| Method::Dither { seed }),
        Just(Method::PriorMean)
    ]
}

/// `f64` reference on the integer significand: `x = m · 2^s` with `m` < 2^53 including the
/// implicit bit; drop `k` bits of `m` with the mode's rule, renormalise on carry.
fn reference_f64(x: f64, n: u32, mode: RoundingMode) -> f64 {
    if mode == RoundingMode::RootFloat16 && x == 0.0 && n < 52 {
        return 0.0; // the sign is `x < 0`
    }
    if !x.is_finite() || x == 0.0 || n == 52 {
        return x;
    }
    let bits = x.to_bits() & !(1 << 63);
    let biased = (bits >> 52) as i64;
    let (m, s) = if biased == 0 {
        (bits as u128, -1074i64)
    } else {
        ((bits & ((1 << 52) - 1) | 1 << 52) as u128, biased - 1075)
    };
    let k = 52 - n;
    let unit = 1u128 << k;
    let (q, rem) = (m / unit, m % unit);
    let half = unit / 2;
    let up = match mode {
        RoundingMode::Truncate => false,
        RoundingMode::Nearest => rem >= half,
        // The last kept bit of the pattern: for n = 0 it is the exponent's lowest bit.
        RoundingMode::NearestEven => {
            rem > half || (rem == half && if k == 52 { biased & 1 == 1 } else { q % 2 == 1 })
        }
        RoundingMode::BitRound => rem >= half,
        // The kept code is `q` less the implicit bit; no carry out of the binade.
        RoundingMode::Cms => rem >= half && (q % (1u128 << n)) + 2 < (1u128 << n),
        RoundingMode::RootFloat16 => rem >= half && (q % (1u128 << n)) + 1 < (1u128 << n),
    };
    // m·2^s in two power-of-two steps, each exact (a single 2^−1074 factor would underflow).
    let scale = |m: u128| m as f64 * 2f64.powi((s / 2) as i32) * 2f64.powi((s - s / 2) as i32);
    let mut value = scale((q + up as u128) * unit);
    if value.is_infinite() && mode != RoundingMode::BitRound {
        value = scale(q * unit);
    }
    value.copysign(x)
}

/// Any `f32` bit pattern, with a quarter of the draws in the top binade (around the overflow
/// guard) and a quarter among the subnormals, which uniform patterns almost never hit.
fn bits_f32() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => any::<u32>(),
        1 => (0x7F00_0000u32..=0x7F7F_FFFF, any::<bool>()).prop_map(|(m, s)| m | (s as u32) << 31),
        1 => (0u32..0x0080_0000, any::<bool>()).prop_map(|(m, s)| m | (s as u32) << 31),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn f32_idempotent_sign_preserving_and_short(u in bits_f32(), n in 0u32..=23, mode in mode()) {
        let q = Quantiser32::new(n, mode).unwrap();
        let x = f32::from_bits(u);
        let y = q.quantise(x);
        prop_assert_eq!(q.quantise(y).to_bits(), y.to_bits());
        if !x.is_nan() {
            prop_assert_eq!(x.is_sign_negative(), y.is_sign_negative());
        }
        // The overflow guard: a finite value never becomes ±Inf (and ±Inf stays ±Inf).
        prop_assert_eq!(x.is_finite(), y.is_finite(), "{:e} -> {:e}", x, y);
        if y.is_finite() {
            // At most n explicit mantissa bits remain.
            prop_assert!(refloat::quantise::mantissa_trailing_zeros_f32(y) >= 23 - n);
            // The original lies in the stored value's interval, within the residual bound.
            prop_assert!(q.interval(y).unwrap().contains(x));
            prop_assert!((x as f64 - y as f64).abs() <= q.max_abs_residual(x), "{:e} -> {:e}", x, y);
        } else {
            prop_assert_eq!(y.to_bits(), u); // NaN / Inf pass through
        }
    }

    #[test]
    fn f64_matches_integer_reference(u in any::<u64>(), n in 0u32..=52, mode in mode()) {
        let q = Quantiser64::new(n, mode).unwrap();
        let x = f64::from_bits(u);
        let y = q.quantise(x);
        if x.is_nan() {
            prop_assert_eq!(y.to_bits(), u);
        } else {
            prop_assert_eq!(y.to_bits(), reference_f64(x, n, mode).to_bits(), "x = {:e}", x);
            prop_assert_eq!(q.quantise(y).to_bits(), y.to_bits());
            prop_assert!(q.interval(y).unwrap().contains(x));
        }
    }

    #[test]
    fn f64_of_f32_values_agrees_with_f32_at_equal_dropped_bits(u in any::<u32>(), n in 0u32..=23, mode in mode()) {
        // A normal f32 widened to f64 keeps its significand: dropping the same low bits of
        // the f32 significand gives the same number (f64 has 29 more explicit bits).
        let x = f32::from_bits(u);
        prop_assume!(x.is_normal() && x.abs() < 1e38);
        let a = Quantiser32::new(n, mode).unwrap().quantise(x) as f64;
        let b = Quantiser64::new(n, mode).unwrap().quantise(x as f64);
        prop_assert_eq!(a.to_bits(), b.to_bits());
    }

    #[test]
    fn corrections_stay_in_their_interval(
        values in prop::collection::vec(any::<f32>(), 1..200),
        n in 0u32..=23,
        mode in mode(),
        method in method(),
    ) {
        let q = Quantiser32::new(n, mode).unwrap();
        let stored: Vec<f32> = values.iter().map(|&x| q.quantise(x)).collect();
        let mut corrected = stored.clone();
        Corrector::new(q, method, ExactPolicy::default(), &stored).correct_in_place(&mut corrected, 0).unwrap();
        for (c, s) in corrected.iter().zip(&stored) {
            prop_assert_eq!(q.quantise(*c).to_bits(), s.to_bits(), "{} -> {}", s, c);
        }
    }

    #[test]
    fn slice_and_parallel_agree(values in prop::collection::vec(any::<f32>(), 0..5000), n in 0u32..=23, mode in mode()) {
        let q = Quantiser32::new(n, mode).unwrap();
        let mut a = values.clone();
        q.quantise_slice(&mut a);
        let mut b = values.clone();
        q.par_quantise_slice(&mut b);
        prop_assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

/// Edge values of `f32` for quantiser `q`: ±`f32::MAX`, the patterns around the overflow
/// guard `vmax` (just below, at, just above), the smallest normal, the largest and smallest
/// subnormals, each with both signs.
fn f32_edges(q: &Quantiser32) -> Vec<f32> {
    let vmax = q.vmax();
    let mags = [
        f32::MAX.to_bits(),
        vmax.saturating_sub(2),
        vmax.saturating_sub(1),
        vmax,
        (vmax + 1).min(f32::MAX.to_bits()),
        f32::MIN_POSITIVE.to_bits(),
        f32::MIN_POSITIVE.to_bits() - 1, // largest subnormal
        1,                               // smallest subnormal
    ];
    mags.iter()
        .flat_map(|&m| [f32::from_bits(m), -f32::from_bits(m)])
        .collect()
}

/// Deterministic edge cases (proptest rarely draws them): for every mode and kept-bit count,
/// the residual of each edge value is within `max_abs_residual` and the value lies in the
/// exact interval of its stored value.
#[test]
fn f32_edge_residuals_within_bound_and_interval() {
    let mut failures = Vec::new();
    // BitRound may reach ±Inf and RootFloat16 drops the sign of −0.0: both are checked
    // over every pattern in `exhaustive.rs`.
    for mode in [
        RoundingMode::Nearest,
        RoundingMode::Truncate,
        RoundingMode::NearestEven,
        RoundingMode::Cms,
    ] {
        for n in 0..=23 {
            let q = Quantiser32::new(n, mode).unwrap();
            for x in f32_edges(&q) {
                let y = q.quantise(x);
                assert!(y.is_finite(), "{mode} n={n}: {x:e} -> {y:e}");
                assert_eq!(x.is_sign_negative(), y.is_sign_negative());
                // Both are f32, so the difference is exact in f64.
                let r = (x as f64 - y as f64).abs();
                let bound = q.max_abs_residual(x);
                if r > bound {
                    failures.push(format!(
                        "{mode} n={n}: x={x:e} ({:#010x}) residual {r:e} > bound {bound:e}",
                        x.to_bits()
                    ));
                }
                let iv = q.interval(y).expect("a quantised value is stored");
                assert!(iv.contains(x), "{mode} n={n}: {x:e} not in {iv:?} of {y:e}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
