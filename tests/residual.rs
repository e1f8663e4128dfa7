//! Residuals, their histograms and steps: on the real data (both files at n = 10), against
//! numpy / scipy reference values (tests/vectors/reference.json, made by
//! tests/vectors/make_vectors.py), against theory, and property tests.

mod common;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use refloat::bounds::triage_bound_log10;
use refloat::histogram::{Histogram1D, UniformBins};
use refloat::quantise::{Quantiser32, RoundingMode};
use refloat::residual::*;
use refloat::Error;
use serde_json::Value;

const BITS: u32 = 10;

fn reference() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/reference.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("reference.json")).expect("valid JSON")
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// Every value of every flat branch of a file, its stored value at `BITS`, in branch order.
fn file_pairs(stem: &str, mode: RoundingMode) -> (Vec<f32>, Vec<f32>) {
    let q = Quantiser32::new(BITS, mode).unwrap();
    let mut x = Vec::new();
    for b in common::flat_branches(stem) {
        x.extend(common::load_flat(stem, &b).0);
    }
    let s = x.iter().map(|&v| q.quantise(v)).collect();
    (x, s)
}

#[test]
fn every_real_residual_is_inside_its_bound_and_interval() {
    for stem in common::FILES {
        for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
            let q = Quantiser32::new(BITS, mode).unwrap();
            let (x, s) = file_pairs(stem, mode);
            let c = check_bounds(&x, &s, &q).unwrap();
            assert_eq!(c.total, x.len());
            assert!(c.all_inside(), "{stem} {mode:?}: {c:?}");
            assert!(c.max_bound_ratio <= 1.0, "{stem} {mode:?}: {c:?}");
            // The bound is attained up to the last ulp: residuals reach the edge of the band.
            assert!(c.max_bound_ratio > 0.99, "{stem} {mode:?}: {c:?}");
            println!(
                "{stem} {}: {} values, {:.4}% inside, max |r|/bound = {:.6}",
                mode.name(),
                c.total,
                100.0 * c.fraction_within_abs_bound,
                c.max_bound_ratio
            );
        }
    }
}

#[test]
fn real_residuals_lie_below_the_seed_bound_lines() {
    for stem in common::FILES {
        let (x, s) = file_pairs(stem, RoundingMode::Nearest);
        let r = residuals_f32(&x, &s).unwrap();
        let mut n = 0;
        for (&xi, &ri) in x.iter().zip(&r) {
            if ri == 0.0 {
                continue;
            }
            n += 1;
            let line = triage_bound_log10((xi as f64).abs().log10(), BITS);
            // Nearest: |r| ≤ 2^(e−n−1) ≤ |x|·2^(−n−1): one binade below the triaging rule's line.
            assert!(
                ri.abs().log10() <= line - std::f64::consts::LOG10_2 + 1e-12,
                "{stem}: x={xi} r={ri}"
            );
        }
        assert!(n > 5000, "{stem}: {n} non-zero residuals");
    }
}

#[test]
fn step_histogram_and_peaks_match_numpy_and_scipy() {
    let refj = reference();
    for stem in common::FILES {
        let want = &refj["real"]["steps"][stem];
        let (x, s) = file_pairs(stem, RoundingMode::Nearest);
        let r = residuals_f32(&x, &s).unwrap();
        let a = analyse_steps(&r, &StepOptions::default()).unwrap();
        let h = &a.histogram;
        assert_eq!(h.edges[0], want["lo"].as_f64().unwrap());
        assert_eq!(*h.edges.last().unwrap(), want["hi"].as_f64().unwrap());
        assert_eq!(
            h.counts,
            u64s(&want["counts"]),
            "{stem}: log10|r| histogram differs from numpy"
        );
        assert_eq!(h.zeros, want["zeros"].as_u64().unwrap());
        assert_eq!((h.underflow, h.overflow), (0, 0));
        let all = histogram_peaks(h);
        assert_eq!(
            all.iter().map(|p| p.bin as u64).collect::<Vec<_>>(),
            u64s(&want["peaks"]),
            "{stem}: peaks"
        );
        assert_eq!(
            all.iter().map(|p| p.prominence).collect::<Vec<_>>(),
            u64s(&want["prominences"]),
            "{stem}"
        );
        assert_eq!(
            a.peaks.iter().map(|p| p.bin as u64).collect::<Vec<_>>(),
            u64s(&want["significant"]),
            "{stem}"
        );
        if let Some(m) = want["median_spacing"].as_f64() {
            assert!((a.spacing_peaks_median.unwrap() - m).abs() < 1e-9);
        }
        // numpy evaluated R(f) on a grid 64x finer than the main lobe; our golden-section
        // optimum must sit within one of its grid steps (in frequency) of numpy's argmax.
        let p = a.periodogram.unwrap();
        let (f_np, df_np) = (
            1.0 / want["periodogram_spacing"].as_f64().unwrap(),
            want["periodogram_grid_step"].as_f64().unwrap(),
        );
        assert!(
            (1.0 / p.spacing - f_np).abs() <= df_np,
            "{stem}: {} vs numpy {}",
            p.spacing,
            1.0 / f_np
        );
        assert!(p.power >= want["periodogram_power"].as_f64().unwrap() - 1e-9);
    }
}

/// The spacing theory predicts is one binade. Tolerances are not tuned: the periodogram
/// must put the period inside the main lobe around log10 2 (half width `spacing²/span`,
/// computed from the data); the peaks' median spacing has bin-centre positions and may be
/// off by at most one bin width.
#[test]
fn real_step_spacing_is_one_binade() {
    let theory = std::f64::consts::LOG10_2;
    for stem in common::FILES {
        for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
            let (x, s) = file_pairs(stem, mode);
            let r = residuals_f32(&x, &s).unwrap();
            let opts = StepOptions::default();
            let a = analyse_steps(&r, &opts).unwrap();
            let p = a.periodogram.unwrap();
            println!(
                "{stem} {} n={BITS}: periodogram spacing {:.4} (R = {:.3}, Z = {:.0}, resolution {:.4}); \
                 {} significant peaks, median spacing {:?}; theory {theory:.4}",
                mode.name(), p.spacing, p.power, p.rayleigh_z, p.resolution, a.peaks.len(), a.spacing_peaks_median
            );
            assert!(
                (p.spacing - theory).abs() < p.resolution,
                "{stem} {mode:?}: {p:?}"
            );
            // Far above the noise: without periodicity Z ~ Exp(1).
            assert!(p.rayleigh_z > 50.0, "{stem} {mode:?}: {p:?}");
            assert!(
                a.peaks.len() >= 5,
                "{stem} {mode:?}: {} peaks",
                a.peaks.len()
            );
            if stem == common::HELD_OUT && mode == RoundingMode::Nearest {
                // ~21 k non-zero residuals: enough for the histogram peaks on their own.
                let m = a.spacing_peaks_median.unwrap();
                assert!(
                    (m - theory).abs() <= opts.bin_width + 1e-9,
                    "{stem}: median peak spacing {m}"
                );
            }
        }
    }
}

#[test]
fn synthetic_log_uniform_steps_are_one_binade() {
    // 60 k originals spread log-uniformly over 40 binades: the textbook sawtooth.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    let x: Vec<f32> = (0..60_000)
        .map(|_| 2f64.powf(rng.gen_range(-20.0..20.0)) as f32)
        .collect();
    let s: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
    let r = residuals_f32(&x, &s).unwrap();
    let opts = StepOptions::default();
    let a = analyse_steps(&r, &opts).unwrap();
    let p = a.periodogram.unwrap();
    let theory = std::f64::consts::LOG10_2;
    assert!((p.spacing - theory).abs() < p.resolution, "{p:?}");
    assert!(
        (a.spacing_peaks_median.unwrap() - theory).abs() <= opts.bin_width,
        "{:?}",
        a.spacing_peaks_median
    );
    // Ideal sawtooth of uniform residuals: R = ln2 / |ln2 + 2πi| ≈ 0.11 (see StepPeriodogram).
    let ideal = std::f64::consts::LN_2
        / (std::f64::consts::LN_2.powi(2) + std::f64::consts::TAU.powi(2)).sqrt();
    assert!((p.power - ideal).abs() < 0.02, "R = {} vs {ideal}", p.power);
}

#[test]
fn residual_map_and_symlog_match_numpy() {
    let refj = reference();
    for stem in common::FILES {
        let (x, s) = file_pairs(stem, RoundingMode::Nearest);
        let r = residuals_f32(&x, &s).unwrap();
        let m = &refj["real"]["map"][stem];
        let xr = m["x_range"].as_array().unwrap();
        let yr = m["y_range"].as_array().unwrap();
        let xb = UniformBins::new(
            xr[0].as_f64().unwrap(),
            xr[1].as_f64().unwrap(),
            m["nx"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let yb = UniformBins::new(
            yr[0].as_f64().unwrap(),
            yr[1].as_f64().unwrap(),
            m["ny"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let h = residual_map(&x, &r, xb, yb).unwrap();
        let mut cells = Vec::new();
        for ((i, j), &c) in h.counts.indexed_iter() {
            if c > 0 {
                cells.push(vec![i as u64, j as u64, c]);
            }
        }
        let want: Vec<Vec<u64>> = m["cells"].as_array().unwrap().iter().map(u64s).collect();
        assert_eq!(
            cells, want,
            "{stem}: residual map differs from numpy histogram2d"
        );
        assert_eq!(h.outside, m["outside"].as_u64().unwrap());
        assert_eq!(h.zeros, m["zeros"].as_u64().unwrap());
        assert_eq!(h.in_range() + h.outside + h.zeros, x.len() as u64);

        let sj = &refj["real"]["symlog"][stem];
        let c = sj["linthresh"].as_f64().unwrap();
        assert_eq!(
            c,
            r.iter()
                .filter(|v| **v != 0.0)
                .fold(f64::INFINITY, |a, v| a.min(v.abs()))
        );
        let bins = UniformBins::new(
            sj["lo"].as_f64().unwrap(),
            sj["hi"].as_f64().unwrap(),
            sj["bins"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let hs = symlog_histogram(&r, c, bins).unwrap();
        assert_eq!(
            hs.counts,
            u64s(&sj["counts"]),
            "{stem}: symlog histogram differs from numpy"
        );
        assert_eq!(
            (hs.underflow, hs.overflow),
            (
                sj["underflow"].as_u64().unwrap(),
                sj["overflow"].as_u64().unwrap()
            )
        );
    }
}

#[test]
fn histograms_match_numpy_and_peaks_match_scipy_on_synthetic_vectors() {
    let refj = reference();
    for case in refj["synthetic"]["histogram"].as_array().unwrap() {
        let v: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let b = UniformBins::new(
            case["lo"].as_f64().unwrap(),
            case["hi"].as_f64().unwrap(),
            case["bins"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let h = Histogram1D::from_values(&v, b).unwrap();
        assert_eq!(h.counts, u64s(&case["counts"]));
        assert_eq!(
            (h.underflow, h.overflow),
            (
                case["underflow"].as_u64().unwrap(),
                case["overflow"].as_u64().unwrap()
            )
        );
    }
    for case in refj["synthetic"]["peaks"].as_array().unwrap() {
        let counts = u64s(&case["counts"]);
        let mut h =
            Histogram1D::with_edges((0..=counts.len()).map(|i| i as f64).collect()).unwrap();
        h.counts = counts;
        let p = histogram_peaks(&h);
        assert_eq!(
            p.iter().map(|p| p.bin as u64).collect::<Vec<_>>(),
            u64s(&case["peaks"])
        );
        assert_eq!(
            p.iter().map(|p| p.prominence).collect::<Vec<_>>(),
            u64s(&case["prominences"])
        );
        for (got, want) in p.iter().zip(case["significance"].as_array().unwrap()) {
            assert!((got.significance - want.as_f64().unwrap()).abs() < 1e-12);
        }
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    assert!(matches!(
        residuals_f32(&[1.0, 2.0], &[1.0]),
        Err(Error::LengthMismatch { .. })
    ));
    let e = residuals_f32(&[1.0, f32::NAN], &[1.0, 1.0]).unwrap_err();
    assert!(e.to_string().contains("index 1"), "{e}");
    assert!(matches!(
        log10_abs_histogram(&[f64::NAN], UniformBins::new(0.0, 1.0, 1).unwrap()),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        UniformBins::new(1.0, 1.0, 3),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        UniformBins::new(0.0, 1.0, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Histogram1D::with_edges(vec![0.0, 0.0]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        symlog_histogram(&[1.0], 0.0, UniformBins::new(0.0, 1.0, 1).unwrap()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        analyse_steps(&[0.0, 0.0], &StepOptions::default()),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        step_periodogram(&[1.0], 1.0, 0.5),
        Err(Error::InvalidArgument(_))
    ));
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    assert!(matches!(
        check_bounds(&[1.0], &[1.0, 2.0], &q),
        Err(Error::LengthMismatch { .. })
    ));
    let b = UniformBins::new(0.0, 1.0, 1).unwrap();
    assert!(matches!(
        residual_map(&[1.0], &[0.1, 0.2], b, b),
        Err(Error::LengthMismatch { .. })
    ));
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<u32>()
        .prop_map(f32::from_bits)
        .prop_filter("finite", |v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn residual_of_any_value_is_inside_its_bound(x in finite_f32(), n in 0u32..=23, m in 0usize..3) {
        let q = Quantiser32::new(n, RoundingMode::ALL[m]).unwrap();
        let s = q.quantise(x);
        let c = check_bounds(&[x], &[s], &q).unwrap();
        prop_assert!(c.all_inside(), "x={x:e} s={s:e} n={n} {:?}: {c:?}", RoundingMode::ALL[m]);
        let r = residuals_f32(&[x], &[s]).unwrap()[0];
        prop_assert_eq!(r, x as f64 - s as f64);
        // exact: adding the residual back in f64 gives the original
        prop_assert_eq!((s as f64 + r) as f32, x);
    }

    #[test]
    fn symlog_round_trips(r in -1e30f64..1e30, e in -40i32..0) {
        let c = 10f64.powi(e);
        let back = symlog_inverse(symlog(r, c), c);
        prop_assert!((back - r).abs() <= 1e-12 * r.abs().max(c));
    }

    #[test]
    fn histograms_keep_every_value(v in proptest::collection::vec(-1e3f64..1e3, 0..200), lo in -10.0f64..0.0, w in 0.1f64..10.0, n in 1usize..50) {
        let b = UniformBins::new(lo, lo + w, n).unwrap();
        let h = Histogram1D::from_values(&v, b).unwrap();
        prop_assert_eq!(h.entries(), v.len() as u64);
        let hl = log10_abs_histogram(&v, b).unwrap();
        prop_assert_eq!(hl.entries(), v.len() as u64);
        prop_assert_eq!(hl.zeros, v.iter().filter(|x| **x == 0.0).count() as u64);
    }
}
