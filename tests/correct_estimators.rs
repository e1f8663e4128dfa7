//! What the `Dither` and `PriorMean` estimators do, beyond the invariant (which
//! `core_real_data.rs` and `properties.rs` check): reproducibility and uniformity of the
//! dither on the real branches, and the prior's slope and conditional mean against the
//! closed forms of an exponential density, on synthetic data drawn from it.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refloat::correct::{Corrector, DensityPrior, ExactPolicy, Method};
use refloat::{Quantiser32, RoundingMode};

/// Every real branch of both files (name, values).
fn real() -> Vec<(String, Vec<f32>)> {
    common::all_flat()
}

fn correct(q: Quantiser32, method: Method, policy: &ExactPolicy, stored: &[f32]) -> Vec<f32> {
    let mut c = stored.to_vec();
    Corrector::new(q, method, policy.clone(), stored)
        .correct_in_place(&mut c, 0)
        .unwrap();
    c
}

#[test]
fn dither_is_reproducible_and_depends_on_the_seed() {
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let policy = ExactPolicy::default();
    let (mut movable, mut differ) = (0usize, 0usize);
    for (name, values) in real() {
        let stored: Vec<f32> = values.iter().map(|&x| q.quantise(x)).collect();
        let a = correct(q, Method::Dither { seed: 7 }, &policy, &stored);
        let b = correct(q, Method::Dither { seed: 7 }, &policy, &stored);
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name}: same seed, different bits"
        );
        // The parallel path gives the same bits too.
        let mut p = stored.clone();
        Corrector::new(q, Method::Dither { seed: 7 }, policy.clone(), &stored)
            .par_correct_in_place(&mut p, 0)
            .unwrap();
        assert!(a.iter().zip(&p).all(|(x, y)| x.to_bits() == y.to_bits()));
        let c = correct(q, Method::Dither { seed: 8 }, &policy, &stored);
        for ((s, x), y) in stored.iter().zip(&a).zip(&c) {
            if s.is_finite() && !policy.is_exact(*s, &q) {
                movable += 1;
                differ += (x.to_bits() != y.to_bits()) as usize;
            }
        }
    }
    // 2^13 f32 positions per interval at n = 10: two seeds agree by chance ~1/8192 of the time.
    let frac = differ as f64 / movable as f64;
    println!("dither seeds 7 vs 8: {differ} of {movable} values differ ({frac:.5})");
    assert!(movable > 20_000, "{movable}");
    assert!(frac > 0.99, "{frac}");
}

/// One-sample Kolmogorov–Smirnov statistic of `u` against U(0, 1), computed directly:
/// `D = max_i max(i/N − u_(i), u_(i) − (i−1)/N)`.
fn ks_uniform(u: &mut [f64]) -> f64 {
    u.sort_by(f64::total_cmp);
    let n = u.len() as f64;
    u.iter()
        .enumerate()
        .map(|(i, &x)| ((i + 1) as f64 / n - x).max(x - i as f64 / n))
        .fold(0.0, f64::max)
}

/// Kolmogorov's limit `P(√N·D > λ) = 2 Σ_{k≥1} (−1)^(k−1) exp(−2k²λ²)`, with Stephens'
/// finite-N factor `λ = (√N + 0.12 + 0.11/√N)·D` (accurate to a few % of p for N ≥ 100).
fn ks_p_value(d: f64, n: usize) -> f64 {
    let sn = (n as f64).sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    let mut s = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        s += if k as i64 % 2 == 1 { 2.0 } else { -2.0 } * (-2.0 * k * k * lambda * lambda).exp();
    }
    s.clamp(0.0, 1.0)
}

#[test]
fn ks_helpers_match_closed_forms() {
    // A perfect grid of N points has D = 1/N... here u_i = (i + 1/2)/N: D = 1/(2N).
    let mut grid: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
    assert!((ks_uniform(&mut grid) - 0.0005).abs() < 1e-15);
    // All mass at 0.9: D = 0.9.
    assert!((ks_uniform(&mut [0.9; 10]) - 0.9).abs() < 1e-15);
    // The 5 % critical value of the Kolmogorov distribution is 1.3581.
    let n = 1_000_000;
    let d = 1.358_099 / ((n as f64).sqrt() + 0.12 + 0.11 / (n as f64).sqrt());
    assert!(
        (ks_p_value(d, n) - 0.05).abs() < 1e-5,
        "{}",
        ks_p_value(d, n)
    );
}

/// Where a dithered value sits inside its interval, `(corrected − lo)/(hi − lo)`, is uniform
/// on [0, 1]: a KS test over every real branch (non-exact values), for the nearest and the
/// truncation mode. Each branch gets its own seed: the dither of index `i` depends on
/// `(seed, i)` only, so branches sharing a seed share their positions.
#[test]
fn dither_positions_are_uniform_inside_intervals() {
    let policy = ExactPolicy::default();
    for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
        let q = Quantiser32::new(10, mode).unwrap();
        let mut u = Vec::new();
        for (name, values) in real() {
            let stored: Vec<f32> = values.iter().map(|&x| q.quantise(x)).collect();
            // one user seed, mixed per branch as `refloat correct` does: with the bare seed the
            // variables of one object (same index) share their draws and the pooled positions
            // fail this test (KS D ≈ 0.019, p ≈ 0)
            let method = Method::Dither { seed: 1000 }.for_branch(&name);
            let c = correct(q, method, &policy, &stored);
            for (s, x) in stored.iter().zip(&c) {
                if !s.is_finite() || policy.is_exact(*s, &q) {
                    continue;
                }
                let iv = q.interval(*s).unwrap();
                assert!(iv.contains(*x));
                u.push((*x as f64 - iv.lo as f64) / iv.width());
            }
        }
        let n = u.len();
        let mean = u.iter().sum::<f64>() / n as f64;
        let d = ks_uniform(&mut u);
        let p = ks_p_value(d, n);
        println!(
            "dither positions ({mode}, n = 10): N = {n}, mean {mean:.4}, KS D = {d:.5}, p = {p:.3}"
        );
        assert!(n > 20_000, "{n}");
        // The positions are f32 values on a grid of 2^13 (or 2^12 below a power of two) per
        // interval, a discreteness of ≤ 1.2e-4 in u, far below the D of a 1e-3 test here.
        assert!(p > 1e-3, "{mode}: KS D = {d}, p = {p}");
        assert!(
            (mean - 0.5).abs() < 4.0 * (1.0 / 12.0 / n as f64).sqrt(),
            "{mean}"
        );
    }
}

/// `Exp(λ)` draws, shifted by `x0`, from a seeded generator (inverse CDF).
fn exponential(n: usize, lambda: f64, x0: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (x0 - (1.0 - rng.gen::<f64>()).ln() / lambda) as f32)
        .collect()
}

/// Closed form: the mean of the density `∝ exp(−λx)` restricted to `[lo, lo + 2w]`,
/// `lo + 1/λ − 2w/(exp(2λw) − 1)` (the truncated exponential's mean).
fn exponential_interval_mean(lo: f64, w: f64, lambda: f64) -> f64 {
    lo + 1.0 / lambda - 2.0 * w / (2.0 * lambda * w).exp_m1()
}

/// The prior's log-slope `f′/f` and conditional mean against the closed forms of an
/// exponential density `f(x) = λ exp(−λx)` (λ = 1), from 200 000 draws stored at n = 4.
///
/// Why the closed forms apply: the prior's slope is that of a Gaussian kernel estimate
/// (bandwidth `h` = 8 half-widths here, since the neighbours are dense), and a Gaussian
/// smoothing of `exp(−λx)` has log-slope exactly −λ. Two things break this and are kept small:
/// the density's edge at 0 (the kernel, centred at `m − λh²` after the exponential tilt, is
/// ≥ 4h from 0 at every point tested: relative weight below e^−8) and the grid of interval
/// centres (spacing h/4: Poisson-summation ripple ~exp(−2π²·16), nil). What remains is the
/// estimate's noise: `sd(β) ≈ 1/(h·√N_eff)` with `N_eff = N·f(m)·h·√(2π)` values under the
/// kernel; the tolerance is 4 of those plus 0.02 for the centres' offset from the originals.
/// The conditional mean is `m + β·w²/3` (linear density); its linearisation error against the
/// exact truncated-exponential mean is `(λw)²/15` relative, < 0.2 % here.
#[test]
fn prior_matches_exponential_closed_forms() {
    let (lambda, count) = (1.0, 200_000);
    let x = exponential(count, lambda, 0.0, 1);
    let q = Quantiser32::new(4, RoundingMode::Nearest).unwrap();
    let stored: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
    let prior = DensityPrior::new(&q, &ExactPolicy::ZEROS_ONLY, &stored);
    for m in [1.1f32, 1.6, 2.3, 3.3, 4.6, 6.7] {
        let s = q.quantise(m);
        let iv = q.interval(s).unwrap();
        let (c, w) = (iv.centre(), 0.5 * iv.width());
        let h = 8.0 * w;
        let n_eff = count as f64 * lambda * (-lambda * c).exp() * h * std::f64::consts::TAU.sqrt();
        let tol = 4.0 / (h * n_eff.sqrt()) + 0.02;
        let beta = prior.log_slope(c, w);
        println!(
            "m = {s}: w = {w}, log-slope {beta:.4} (closed form −{lambda}), tolerance {tol:.3}"
        );
        assert!(
            (beta + lambda).abs() < tol,
            "m = {s}: log-slope {beta} vs −{lambda} ± {tol}"
        );
        let shift = prior.conditional_mean(&iv) - c;
        let exact = exponential_interval_mean(iv.lo as f64, w, lambda) - c;
        let tol_mean = tol * w * w / 3.0 + (lambda * w).powi(2) / 15.0 * exact.abs();
        assert!(exact < 0.0 && shift < 0.0, "m = {s}: {shift} {exact}");
        assert!(
            (shift - exact).abs() < tol_mean,
            "m = {s}: E[x|q] − m = {shift:e}, closed form {exact:e} ± {tol_mean:e}"
        );
    }
}

/// On data from a steep density (exponential, few kept bits, so the slope inside one
/// interval matters: λw up to 0.25 at n = 3; the density is scale-free, so λ = 1 loses nothing), `PriorMean` moves values toward the denser side
/// (down) and beats the midpoint's MSE to the originals. The MSE difference is tested as a
/// paired mean, `D_i = (mid_i − x_i)² − (prior_i − x_i)²`, against 4 standard errors.
#[test]
fn prior_mean_moves_toward_the_denser_side_and_beats_midpoint() {
    // The relative gain scales as (λw)² ∝ 4^−n while the paired noise falls only as √N:
    // 10^6 draws give the gain at n = 4 about 6 standard errors (n = 5 would need ~16 M).
    let x = exponential(1_000_000, 1.0, 0.0, 2);
    for n in [3u32, 4] {
        let q = Quantiser32::new(n, RoundingMode::Nearest).unwrap();
        let stored: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
        let policy = ExactPolicy::ZEROS_ONLY;
        let mid = correct(q, Method::Midpoint, &policy, &stored);
        let pm = correct(q, Method::PriorMean, &policy, &stored);
        let (mut moved, mut down) = (0usize, 0usize);
        let d: Vec<f64> = (0..x.len())
            .map(|i| {
                // Away from the density's edge at 0 (which the kernel estimate sees as a
                // rise: values below ~0.2 move up, by a negligible amount).
                if pm[i] != mid[i] && stored[i] >= 0.5 {
                    moved += 1;
                    down += (pm[i] < mid[i]) as usize;
                }
                let (o, a, b) = (x[i] as f64, mid[i] as f64, pm[i] as f64);
                (a - o).powi(2) - (b - o).powi(2)
            })
            .collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (d.len() - 1) as f64;
        let se = (var / d.len() as f64).sqrt();
        let mse_mid = mid
            .iter()
            .zip(&x)
            .map(|(a, o)| (*a as f64 - *o as f64).powi(2))
            .sum::<f64>()
            / x.len() as f64;
        println!(
            "n = {n}: prior moved {moved} values ≥ 0.5, {down} down; MSE prior/midpoint = {:.5}, gain {mean:.3e} ± {se:.1e}",
            1.0 - mean / mse_mid
        );
        assert!(moved > x.len() / 2, "n = {n}: {moved}");
        assert!(
            down as f64 > 0.99 * moved as f64,
            "n = {n}: {down} of {moved} down"
        );
        assert!(mean > 4.0 * se, "n = {n}: MSE gain {mean} ± {se}");
    }
}
