//! Shift metrics against independent values: closed forms, scipy / numpy reference vectors
//! (tests/vectors/reference.json, made by tests/vectors/make_vectors.py) on synthetic samples
//! and on every real flat branch at n = 10, and property tests.
//!
//! Tolerances: the Rust and numpy/scipy computations sum in different orders, so results
//! agree to rounding (≲ 1e-13 relative here); 1e-9 relative leaves a wide margin while still
//! catching any convention difference (ddof, bias, log base, bin rule), which shows at ≥ 1e-3.

mod common;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use refloat::metrics::*;
use refloat::quantise::{Quantiser32, RoundingMode};
use refloat::Error;
use serde_json::Value;

const REL: f64 = 1e-9;

fn reference() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/reference.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("reference.json")).expect("valid JSON")
}

/// A JSON number, `null` meaning NaN (scipy's NaN, e.g. the skewness of a constant sample).
fn num(v: &Value) -> f64 {
    if v.is_null() {
        f64::NAN
    } else {
        v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[track_caller]
fn assert_close(got: f64, want: f64, abs: f64, what: &str) {
    let ok = (got.is_nan() && want.is_nan())
        || got == want
        || (got - want).abs() <= abs + REL * want.abs();
    assert!(ok, "{what}: got {got:e}, want {want:e}");
}

#[track_caller]
fn assert_moments(m: &Moments, want: &Value, what: &str) {
    assert_eq!(m.n, want["n"].as_u64().unwrap(), "{what}");
    let scale = num(&want["mean"]).abs() + num(&want["std"]);
    assert_close(
        m.mean,
        num(&want["mean"]),
        1e-15 * scale,
        &format!("{what} mean"),
    );
    assert_close(
        m.std,
        num(&want["std"]),
        1e-13 * scale,
        &format!("{what} std"),
    );
    assert_close(
        m.skewness,
        num(&want["skewness"]),
        1e-12,
        &format!("{what} skewness"),
    );
    assert_close(
        m.kurtosis,
        num(&want["kurtosis"]),
        1e-12,
        &format!("{what} kurtosis"),
    );
}

#[test]
fn synthetic_vectors_match_scipy() {
    let r = reference();
    let syn = &r["synthetic"];
    for (k, case) in syn["moments"].as_array().unwrap().iter().enumerate() {
        let m = Moments::of_sample(&floats(&case["x"])).unwrap();
        assert_moments(&m, case, &format!("moments case {k}"));
    }
    for (k, case) in syn["two_sample"].as_array().unwrap().iter().enumerate() {
        let (a, b) = (floats(&case["a"]), floats(&case["b"]));
        let what = format!("two-sample case {k} ({} vs {})", a.len(), b.len());
        assert_close(
            wasserstein1(&a, &b).unwrap(),
            num(&case["w1"]),
            0.0,
            &format!("{what} W1"),
        );
        let t = ks_2samp(&a, &b).unwrap();
        assert_eq!(t.method, KsMethod::Exact, "{what}");
        assert_close(
            t.statistic,
            num(&case["ks"]["statistic"]),
            0.0,
            &format!("{what} KS D"),
        );
        assert_close(
            t.p_value,
            num(&case["ks"]["pvalue"]),
            1e-300,
            &format!("{what} KS p"),
        );
        if let Some(mm) = case.get("mmd") {
            let got = mmd2_rbf(&a, &b, 1000, 0).unwrap(); // no subsampling at these sizes
            assert_eq!((got.n_a, got.n_b), (a.len(), b.len()));
            assert_close(
                got.bandwidth,
                num(&mm["bandwidth"]),
                0.0,
                &format!("{what} bandwidth"),
            );
            assert_close(got.mmd2, num(&mm["mmd2"]), 1e-12, &format!("{what} MMD²"));
        }
    }
    for case in syn["kstwobign"].as_array().unwrap() {
        let x = num(&case["x"]);
        assert_close(
            kolmogorov_sf(x),
            num(&case["sf"]),
            1e-15,
            &format!("kstwobign.sf({x})"),
        );
    }
    for case in syn["kl_js"].as_array().unwrap() {
        let (p, q, eps) = (u64s(&case["p"]), u64s(&case["q"]), num(&case["epsilon"]));
        assert_close(
            kl_divergence_counts(&p, &q, eps).unwrap(),
            num(&case["kl"]),
            1e-15,
            &format!("KL {p:?} {q:?} ε={eps}"),
        );
        assert_close(
            js_divergence_counts(&p, &q).unwrap(),
            num(&case["js"]),
            1e-15,
            &format!("JS {p:?} {q:?}"),
        );
    }
    for case in syn["auc"].as_array().unwrap() {
        let got = auc_mann_whitney(&floats(&case["neg"]), &floats(&case["pos"])).unwrap();
        assert_close(got, num(&case["auc"]), 1e-15, "Mann–Whitney AUC");
    }
}

/// Every real flat branch (both files) against its n = 10 quantised copy, metric by metric.
#[test]
fn real_branches_match_scipy() {
    let r = reference();
    assert_eq!(r["real"]["mantissa_bits"].as_u64(), Some(10));
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let branches = r["real"]["branches"].as_object().unwrap();
    assert!(
        branches.len() >= 140,
        "{} branches in the reference",
        branches.len()
    );
    let (mut kl_max, mut js_max, mut w1_rel_max) = (0.0f64, 0.0f64, 0.0f64);
    for (key, want) in branches {
        let (stem, branch) = key.split_once(':').unwrap();
        let (x, _) = common::load_flat(stem, branch);
        let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = x.iter().map(|&v| q.quantise(v) as f64).collect();
        assert_eq!(a.len() as u64, want["n"].as_u64().unwrap(), "{key}");
        assert_moments(
            &Moments::of_sample(&a).unwrap(),
            &want["original"],
            &format!("{key} original"),
        );
        assert_moments(
            &Moments::of_sample(&b).unwrap(),
            &want["quantised"],
            &format!("{key} quantised"),
        );
        let w1 = wasserstein1(&a, &b).unwrap();
        assert_close(w1, num(&want["w1"]), 1e-300, &format!("{key} W1"));
        let t = ks_2samp(&a, &b).unwrap();
        assert_close(
            t.statistic,
            num(&want["ks"]["statistic"]),
            0.0,
            &format!("{key} KS D"),
        );
        assert_close(
            t.p_value,
            num(&want["ks"]["pvalue"]),
            1e-300,
            &format!("{key} KS p"),
        );
        let (ha, hb) = common_histograms(&a, &b, 100).unwrap();
        let kl = kl_divergence(&ha, &hb, 1e-10).unwrap();
        let js = js_divergence(&ha, &hb).unwrap();
        assert_close(kl, num(&want["kl"]), 1e-15, &format!("{key} KL"));
        assert_close(js, num(&want["js"]), 1e-15, &format!("{key} JS"));
        if let Some(mm) = want.get("mmd") {
            let got = mmd2_rbf(&a, &b, 1000, 0).unwrap();
            assert_close(
                got.bandwidth,
                num(&mm["bandwidth"]),
                0.0,
                &format!("{key} bandwidth"),
            );
            assert_close(got.mmd2, num(&mm["mmd2"]), 1e-12, &format!("{key} MMD²"));
        }
        let sd = Moments::of_sample(&a).unwrap().std;
        if sd > 0.0 && a.len() >= 100 {
            kl_max = kl_max.max(kl);
            js_max = js_max.max(js);
            w1_rel_max = w1_rel_max.max(w1 / sd);
        }
    }
    println!(
        "n = 10, branches with ≥ 100 values: max KL = {kl_max:.2e}, max JS = {js_max:.2e} nats (100 common bins), \
         max W1/std = {w1_rel_max:.2e}"
    );
}

/// The seed: "classifier AUC ≈ 0.5" between original and compressed values. Under H0 the
/// Mann–Whitney AUC of the test halves has standard deviation
/// `sqrt((n_a + n_b + 1) / (12 n_a n_b))` (ties only shrink it); a 4σ band is the tolerance.
///
/// It holds for continuous branches only. A repeated value (an atom: a sentinel such as
/// `Jvt = −0.1`, a constant such as the electron mass) that quantisation moves is separable
/// by value. The classifier's equal-frequency bins resolve it once the moved atom holds at
/// least `2/bins` of its sample (then a pooled quantile edge falls on the moved atom), so
/// such branches must be *detected* (AUC above 0.5 + 4σ); branches whose moved atoms hold
/// < 1 % of the values must give 0.5 within 4σ; those in between are only reported.
#[test]
fn classifier_auc_is_one_half_unless_an_atom_moves() {
    const BINS: usize = 20;
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let (mut continuous, mut separable) = (0, Vec::new());
    for stem in common::FILES {
        for branch in common::flat_branches(stem) {
            let (x, _) = common::load_flat(stem, &branch);
            if x.len() < 100 {
                continue;
            }
            let mut bits: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
            bits.sort_unstable();
            let moved_atoms = bits
                .iter()
                .enumerate()
                .filter(|&(i, &u)| {
                    let repeated =
                        (i > 0 && bits[i - 1] == u) || (i + 1 < bits.len() && bits[i + 1] == u);
                    repeated && q.quantise(f32::from_bits(u)).to_bits() != u
                })
                .count();
            let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let b: Vec<f64> = x.iter().map(|&v| q.quantise(v) as f64).collect();
            let auc = classifier_auc(&a, &b, BINS, 0).unwrap();
            let (na, nb) = (
                (a.len() - a.len() / 2) as f64,
                (b.len() - b.len() / 2) as f64,
            );
            let sigma = ((na + nb + 1.0) / (12.0 * na * nb)).sqrt();
            let atom_mass = moved_atoms as f64 / x.len() as f64;
            if atom_mass >= 2.0 / BINS as f64 {
                println!(
                    "{stem}:{branch}: {:.0}% of values in moved atoms, AUC {auc:.3} (σ {sigma:.3})",
                    100.0 * atom_mass
                );
                assert!(
                    auc > 0.5 + 4.0 * sigma,
                    "{stem}:{branch}: moved atoms hold {atom_mass:.2} but AUC = {auc}"
                );
                if atom_mass == 1.0 {
                    // A constant that moves (electron mass 0.511 → 0.51123): perfect separation.
                    assert_eq!(auc, 1.0, "{stem}:{branch}");
                }
                separable.push(atom_mass);
            } else if atom_mass >= 0.01 {
                println!("{stem}:{branch}: {:.1}% of values in moved atoms (too few to resolve), AUC {auc:.3}", 100.0 * atom_mass);
            } else if x.len() >= 200 {
                assert!(
                    (auc - 0.5).abs() <= 4.0 * sigma,
                    "{stem}:{branch}: AUC {auc} (σ = {sigma:.3})"
                );
                continuous += 1;
            }
        }
    }
    assert!(continuous >= 30, "{continuous} continuous branches checked");
    assert!(
        separable.contains(&1.0),
        "expected the constant electron mass among {separable:?}"
    );
}

#[test]
fn shift_metrics_bundles_the_same_numbers() {
    let (x, _) = common::load_flat(common::DEV, "AnalysisJetsAuxDyn.pt");
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let s: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
    let opts = ShiftOptions::default();
    let m = shift_metrics(&x, &s, &opts).unwrap();
    let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = s.iter().map(|&v| v as f64).collect();
    let (ha, hb) = common_histograms(&a, &b, opts.histogram_bins).unwrap();
    assert_eq!(m.original, Moments::of_sample(&a).unwrap());
    assert_eq!(m.other, Moments::of_sample(&b).unwrap());
    assert_eq!(
        m.kl_divergence,
        kl_divergence(&ha, &hb, opts.kl_epsilon).unwrap()
    );
    assert_eq!(m.js_divergence, js_divergence(&ha, &hb).unwrap());
    assert_eq!(m.wasserstein1, wasserstein1(&a, &b).unwrap());
    assert_eq!(
        m.mmd,
        mmd2_rbf(&a, &b, opts.mmd_max_samples, opts.seed).unwrap()
    );
    assert_eq!(m.ks, ks_2samp(&a, &b).unwrap());
    assert_eq!(
        m.classifier_auc,
        classifier_auc(&a, &b, opts.classifier_bins, opts.seed).unwrap()
    );
    // f64 input gives the same as f32 input; the JSON has every field.
    assert_eq!(shift_metrics(&a, &b, &opts).unwrap(), m);
    let json = serde_json::to_value(&m).unwrap();
    for k in [
        "original",
        "other",
        "kl_divergence",
        "js_divergence",
        "wasserstein1",
        "mmd",
        "ks",
        "classifier_auc",
        "options",
    ] {
        assert!(json.get(k).is_some(), "{k} missing in {json}");
    }
    assert_eq!(json["ks"]["method"], "exact");
}

#[test]
fn closed_forms() {
    // W1 between point masses is the distance; between a sample and its shift, the shift.
    assert_eq!(wasserstein1(&[3.0], &[-1.5]).unwrap(), 4.5);
    let a = [0.3, -1.0, 2.5, 7.0];
    let b: Vec<f64> = a.iter().map(|x| x + 0.25).collect();
    assert!((wasserstein1(&a, &b).unwrap() - 0.25).abs() < 1e-15);
    // KS: fully separated samples of sizes m, n have D = 1 and p = 2 / C(m+n, m).
    let t = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
    assert_eq!(t.statistic, 1.0);
    assert!((t.p_value - 2.0 / 56.0).abs() < 1e-15, "{t:?}");
    // KL of Bernoulli(1/4) from Bernoulli(1/2): ¼ln½ + ¾ln(3/2).
    let kl = kl_divergence_counts(&[1, 3], &[2, 2], 0.0).unwrap();
    assert!((kl - (0.25 * 0.5f64.ln() + 0.75 * 1.5f64.ln())).abs() < 1e-15);
    // A bin empty in q but not in p: infinite without smoothing, finite with it.
    assert_eq!(
        kl_divergence_counts(&[1, 1], &[2, 0], 0.0).unwrap(),
        f64::INFINITY
    );
    assert!(kl_divergence_counts(&[1, 1], &[2, 0], 1e-10)
        .unwrap()
        .is_finite());
    // Moments of {0, 1} (Bernoulli ½): std ½, skewness 0, Fisher kurtosis −2.
    let m = Moments::of_sample(&[0.0, 1.0]).unwrap();
    assert_eq!(
        (m.mean, m.std, m.skewness, m.kurtosis),
        (0.5, 0.5, 0.0, -2.0)
    );
    // A constant sample has undefined shape parameters (scipy: NaN).
    let c = Moments::of_sample(&[0.511; 13]).unwrap();
    assert!(
        c.skewness.is_nan() && c.kurtosis.is_nan() && c.std <= 1e-15,
        "{c:?}"
    );
    // MMD² of identical samples is ≤ 0 (unbiased estimator) and of a far shift ≈ 2·mean k.
    let v: Vec<f64> = (0..50).map(|i| (i as f64).sqrt()).collect();
    assert!(mmd2_rbf(&v, &v, 1000, 0).unwrap().mmd2 <= 0.0);
}

#[test]
fn asymptotic_ks_for_large_unequal_samples() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let a: Vec<f64> = (0..12_000).map(|_| rng.gen::<f64>()).collect();
    let b: Vec<f64> = (0..10_001).map(|_| rng.gen::<f64>().powf(1.2)).collect();
    let t = ks_2samp(&a, &b).unwrap();
    assert_eq!(t.method, KsMethod::Asymptotic);
    let en = 12_000.0 * 10_001.0 / 22_001.0f64;
    assert_eq!(t.p_value, kolmogorov_sf(en.sqrt() * t.statistic));
    assert!(t.p_value < 0.05, "{t:?}");
    // Equal sizes stay exact at any size.
    assert_eq!(
        ks_2samp(
            &a[..11_000],
            &b[..10_001]
                .iter()
                .chain(&a[..999])
                .copied()
                .collect::<Vec<_>>()
        )
        .unwrap()
        .method,
        KsMethod::Exact
    );
}

#[test]
fn mmd_and_classifier_are_seeded_and_reproducible() {
    let (x, _) = common::load_flat(common::HELD_OUT, "AnalysisJetsAuxDyn.pt");
    let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = a.iter().map(|v| v * 1.01).collect();
    let m1 = mmd2_rbf(&a, &b, 300, 5).unwrap();
    assert_eq!(m1, mmd2_rbf(&a, &b, 300, 5).unwrap());
    assert_eq!((m1.n_a, m1.n_b), (300, 300));
    assert_ne!(m1, mmd2_rbf(&a, &b, 300, 6).unwrap());
    let c1 = classifier_auc(&a, &b, 20, 5).unwrap();
    assert_eq!(c1, classifier_auc(&a, &b, 20, 5).unwrap());
}

#[test]
fn bad_input_is_a_clear_error() {
    assert!(matches!(
        Moments::of_sample(&[]),
        Err(Error::InvalidInput(_))
    ));
    let e = wasserstein1(&[1.0, f64::NAN], &[1.0]).unwrap_err();
    assert!(e.to_string().contains("index 1"), "{e}");
    assert!(matches!(ks_2samp(&[], &[1.0]), Err(Error::InvalidInput(_))));
    assert!(matches!(
        kl_divergence_counts(&[1, 2], &[1], 0.0),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        kl_divergence_counts(&[0, 0], &[1, 1], 0.0),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        kl_divergence_counts(&[1], &[1], -1.0),
        Err(Error::InvalidArgument(_))
    ));
    let (h1, _) = common_histograms(&[0.0, 1.0], &[0.0, 1.0], 4).unwrap();
    let (h2, _) = common_histograms(&[0.0, 2.0], &[0.0, 2.0], 4).unwrap();
    assert!(matches!(
        kl_divergence(&h1, &h2, 0.0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        mmd2_rbf(&[1.0], &[1.0, 2.0], 10, 0),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        mmd2_rbf(&[1.0, 2.0], &[1.0, 2.0], 1, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        classifier_auc(&[1.0, 2.0], &[1.0, 2.0], 0, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        shift_metrics(&[1.0f32], &[1.0f32], &ShiftOptions::default()),
        Err(Error::InvalidInput(_))
    ));
}

fn sample() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-1e3f64..1e3, 2..60)
}

fn counts() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
    (1usize..30).prop_flat_map(|k| {
        (
            proptest::collection::vec(0u64..50, k),
            proptest::collection::vec(0u64..50, k),
        )
            .prop_filter("non-empty", |(p, q)| {
                p.iter().sum::<u64>() > 0 && q.iter().sum::<u64>() > 0
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn divergences_are_bounded((p, q) in counts(), eps in 1e-12f64..1e-2) {
        let kl = kl_divergence_counts(&p, &q, eps).unwrap();
        prop_assert!(kl >= 0.0 && kl.is_finite());
        prop_assert_eq!(kl_divergence_counts(&p, &p, eps).unwrap(), 0.0);
        let js = js_divergence_counts(&p, &q).unwrap();
        prop_assert!((0.0..=std::f64::consts::LN_2).contains(&js));
        prop_assert!((js - js_divergence_counts(&q, &p).unwrap()).abs() <= 1e-15);
    }

    #[test]
    fn wasserstein_is_a_symmetric_distance(a in sample(), b in sample(), c in -10.0f64..10.0) {
        let w = wasserstein1(&a, &b).unwrap();
        prop_assert!((w - wasserstein1(&b, &a).unwrap()).abs() <= 1e-9 * (1.0 + w));
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        prop_assert!(w + 1e-9 >= (mean(&a) - mean(&b)).abs());
        let shifted: Vec<f64> = a.iter().map(|x| x + c).collect();
        prop_assert!((wasserstein1(&a, &shifted).unwrap() - c.abs()).abs() <= 1e-9);
        prop_assert_eq!(wasserstein1(&a, &a).unwrap(), 0.0);
    }

    #[test]
    fn ks_is_symmetric_and_a_probability(a in sample(), b in sample()) {
        let t = ks_2samp(&a, &b).unwrap();
        let u = ks_2samp(&b, &a).unwrap();
        prop_assert_eq!(t.statistic, u.statistic);
        prop_assert!((t.p_value - u.p_value).abs() <= 1e-12);
        prop_assert!((0.0..=1.0).contains(&t.p_value) && (0.0..=1.0).contains(&t.statistic));
        let s = ks_2samp(&a, &a).unwrap();
        prop_assert_eq!((s.statistic, s.p_value), (0.0, 1.0));
    }

    #[test]
    fn auc_of_identical_scores_is_one_half(a in sample(), b in sample()) {
        prop_assert_eq!(auc_mann_whitney(&a, &a).unwrap(), 0.5);
        let x = auc_mann_whitney(&a, &b).unwrap();
        prop_assert!((x + auc_mann_whitney(&b, &a).unwrap() - 1.0).abs() <= 1e-12);
        let c = classifier_auc(&a, &b, 8, 1).unwrap();
        prop_assert!((0.0..=1.0).contains(&c));
        // identical samples: identical training halves, every score 0, AUC exactly ½
        prop_assert_eq!(classifier_auc(&a, &a, 8, 1).unwrap(), 0.5);
    }

    #[test]
    fn mmd_of_identical_samples_is_not_positive(a in sample(), s in 0.01f64..100.0) {
        prop_assert!(mmd2_rbf_with_bandwidth(&a, &a, s).unwrap() <= 1e-12);
    }

    #[test]
    fn shape_is_affine_invariant(a in sample(), k in 0.1f64..10.0, c in -100.0f64..100.0) {
        let m = Moments::of_sample(&a).unwrap();
        prop_assume!(m.std > 1e-3);
        let t: Vec<f64> = a.iter().map(|x| k * x + c).collect();
        let n = Moments::of_sample(&t).unwrap();
        prop_assert!((n.skewness - m.skewness).abs() <= 1e-9 * (1.0 + m.skewness.abs()));
        prop_assert!((n.kurtosis - m.kurtosis).abs() <= 1e-9 * (1.0 + m.kurtosis.abs()));
        let f: Vec<f64> = a.iter().map(|x| -x).collect();
        prop_assert!((Moments::of_sample(&f).unwrap().skewness + m.skewness).abs() <= 1e-9 * (1.0 + m.skewness.abs()));
    }
}
