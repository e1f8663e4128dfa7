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

/// The seed study (`ATLAS_COMPRESSION.md`): "classifier AUC ≈ 0.5" between original and compressed
/// values. Under H0 the Mann–Whitney AUC of the test halves has standard deviation `sqrt((n_a + n_b
/// + 1) / (12 n_a n_b))` (ties only shrink it); a 4σ band is the tolerance.
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

/// `count` draws of `U(lo, lo + 1)` from a seeded generator.
fn uniform_sample(count: usize, lo: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| lo + rng.gen::<f64>()).collect()
}

/// `classifier_auc` against the closed form for `a ~ U(0, 1)` vs `b ~ U(s, 1 + s)`.
///
/// The Bayes-optimal (likelihood-ratio) score takes three values: −∞ on `[0, s)` (only `a`),
/// a constant on the overlap `[s, 1]`, +∞ on `(1, 1 + s]` (only `b`). With ties counted half,
/// `AUC = 1 − o²/2` for the overlap `o = 1 − s` (a pair is tied only when both values fall in
/// the overlap, probability `o²`): 0.875 for `s = 1/2`, 0.71875 for `s = 1/4`.
///
/// The crate's classifier (equal-frequency bins of the pooled training half, log-ratio of
/// pseudo-counted histograms) has the same expectation: its pure-`a` and pure-`b` bins score
/// far below / above every overlap bin (|ln(1250/0.5)| ≈ 8 vs noise ≈ 0.04), and inside the
/// overlap the noisy bin scores order a test `a` and a test `b`, which are identically
/// distributed there, with probability exactly ½ on average. Deviations:
/// * the two bin edges nearest `s` and `1` are order statistics of the pooled training values
///   at quantiles `s/2` and `1 − s/2` (multiples of 1/40 here), off by
///   `δ ≈ √(p(1−p)/N)/f` (N = 100 000 pooled training values, `f` the smaller pooled density
///   beside the edge, ½); a straddling bin misorders at most a mass δ of each class: |bias| ≤ 2δ;
/// * the test halves (50 000 per class): `Var(AUC) ≈ Var_a/n_a + Var_b/n_b`, where for a
///   `b` in the overlap the win probability is `(1 + s)/2` and outside it 1, so
///   `Var_b = s·o·((1 − s)/2)²`, and the same for `a` by symmetry.
///
/// Tolerance: 4 standard deviations plus 2δ.
#[test]
fn classifier_auc_matches_the_bayes_closed_form_for_shifted_uniforms() {
    let count = 100_000;
    let bins = 40;
    for (s, seed) in [(0.5, 11u64), (0.25, 12)] {
        let a = uniform_sample(count, 0.0, seed);
        let b = uniform_sample(count, s, seed + 100);
        let o = 1.0 - s;
        let expected = 1.0 - o * o / 2.0;
        let half = (count / 2) as f64;
        let var_one = s * o * ((1.0 - s) / 2.0).powi(2);
        let sd = (2.0 * var_one / half).sqrt();
        let p = s / 2.0;
        let delta = (p * (1.0 - p) / count as f64).sqrt() / 0.5;
        let tol = 4.0 * sd + 2.0 * delta;
        // The exact Bayes score on the same samples (all of them: sd/√2), as a check of the
        // closed form itself.
        let bayes = |x: &f64| {
            if *x < s {
                -1.0
            } else if *x <= 1.0 {
                0.0
            } else {
                1.0
            }
        };
        let sa: Vec<f64> = a.iter().map(bayes).collect();
        let sb: Vec<f64> = b.iter().map(bayes).collect();
        let bayes_auc = auc_mann_whitney(&sa, &sb).unwrap();
        let got = classifier_auc(&a, &b, bins, 3).unwrap();
        println!(
            "shift {s}: closed form {expected}, Bayes score on the sample {bayes_auc:.5}, classifier {got:.5} (tolerance {tol:.4})"
        );
        assert!(
            (bayes_auc - expected).abs() < 4.0 * sd / 2f64.sqrt(),
            "{bayes_auc}"
        );
        assert!(
            (got - expected).abs() < tol,
            "shift {s}: AUC {got} vs {expected} ± {tol}"
        );
    }
}

/// Unbiased MMD² with an RBF kernel, written out independently of the crate.
fn mmd2_reference(a: &[f64], b: &[f64], sigma: f64) -> f64 {
    let k = |x: f64, y: f64| (-(x - y) * (x - y) / (2.0 * sigma * sigma)).exp();
    let within = |x: &[f64]| {
        let mut s = 0.0;
        for i in 0..x.len() {
            for j in 0..x.len() {
                if i != j {
                    s += k(x[i], x[j]);
                }
            }
        }
        s / (x.len() * (x.len() - 1)) as f64
    };
    let cross: f64 = a
        .iter()
        .flat_map(|&x| b.iter().map(move |&y| k(x, y)))
        .sum();
    within(a) + within(b) - 2.0 * cross / (a.len() * b.len()) as f64
}

/// The median heuristic written out: the median (mean of the two middle values for an even
/// count) of all pairwise distances of the pooled sample.
fn median_pairwise_distance(a: &[f64], b: &[f64]) -> f64 {
    let z: Vec<f64> = a.iter().chain(b).copied().collect();
    let mut d = Vec::new();
    for i in 0..z.len() {
        for j in i + 1..z.len() {
            d.push((z[i] - z[j]).abs());
        }
    }
    d.sort_by(f64::total_cmp);
    let m = d.len() / 2;
    if d.len() % 2 == 1 {
        d[m]
    } else {
        0.5 * (d[m - 1] + d[m])
    }
}

/// Standard normal draws (Box–Muller), seeded.
fn normal_sample(count: usize, mean: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let (u, v): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
            mean + (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}

/// Population MMD² of `N(0, 1)` vs `N(Δ, 1)` with the RBF kernel of bandwidth σ: with
/// `X − Y ~ N(μ, 2)`, `E k(X, Y) = σ/√(σ² + 2) · exp(−μ²/(2(σ² + 2)))`, so
/// `MMD² = 2σ/√(σ² + 2) · (1 − exp(−Δ²/(2(σ² + 2))))`.
fn mmd2_gaussians(delta: f64, sigma: f64) -> f64 {
    let s2 = sigma * sigma + 2.0;
    2.0 * sigma / s2.sqrt() * (1.0 - (-delta * delta / (2.0 * s2)).exp())
}

#[test]
fn mmd_without_subsampling_is_the_full_computation() {
    let (x, _) = common::load_flat(common::DEV, "AnalysisElectronsAuxDyn.pt");
    let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let q = Quantiser32::new(5, RoundingMode::Truncate).unwrap();
    let b: Vec<f64> = x.iter().map(|&v| q.quantise(v) as f64 * 1.05).collect();
    let n = a.len();
    assert!(n >= 10, "{n}");
    let sigma = median_pairwise_distance(&a, &b);
    let full = mmd2_reference(&a, &b, sigma);
    for (max, seed) in [(n, 1u64), (n + 1, 2), (10 * n, 3)] {
        let m = mmd2_rbf(&a, &b, max, seed).unwrap();
        assert_eq!((m.n_a, m.n_b), (n, n));
        assert_eq!(m.bandwidth, sigma, "median heuristic");
        assert!(
            (m.mmd2 - full).abs() <= 1e-12 * full.abs().max(1e-300),
            "{} vs {full}",
            m.mmd2
        );
        assert_eq!(m.mmd2, mmd2_rbf_with_bandwidth(&a, &b, sigma).unwrap());
    }
    // Synthetic on top: larger, against the Gaussian closed form as well.
    let a = normal_sample(300, 0.0, 21);
    let b = normal_sample(300, 1.0, 22);
    let m = mmd2_rbf(&a, &b, 300, 9).unwrap();
    let sigma = median_pairwise_distance(&a, &b);
    assert_eq!(m.bandwidth, sigma);
    assert!((m.mmd2 - mmd2_reference(&a, &b, sigma)).abs() < 1e-12);
}

/// With subsampling the estimate stays close to the full-sample value. A subsample drawn
/// without replacement makes the U-statistic unbiased for the full sample's value at a fixed
/// bandwidth, so over K seeds the mean differs from the full value by sampling noise,
/// `4·sd/√K` (sd from the seeds' spread), plus the bandwidth's own change (each subsample
/// re-estimates σ), bounded through the closed form's slope `|∂MMD²/∂σ|·max|σ_sub − σ_full|`.
/// Each single estimate must also be within 5 sd of the full value.
#[test]
fn mmd_subsample_is_close_to_the_full_value() {
    let (count, sub, k) = (2000, 400, 100);
    let a = normal_sample(count, 0.0, 31);
    let b = normal_sample(count, 0.5, 32);
    let full = mmd2_rbf(&a, &b, count, 0).unwrap();
    let pop = mmd2_gaussians(0.5, full.bandwidth);
    let est: Vec<Mmd> = (0..k).map(|s| mmd2_rbf(&a, &b, sub, s).unwrap()).collect();
    let v: Vec<f64> = est.iter().map(|m| m.mmd2).collect();
    let mean = v.iter().sum::<f64>() / k as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt();
    let dsigma = est
        .iter()
        .map(|m| (m.bandwidth - full.bandwidth).abs())
        .fold(0.0, f64::max);
    let h = 1e-4;
    let slope = (mmd2_gaussians(0.5, full.bandwidth + h) - mmd2_gaussians(0.5, full.bandwidth - h))
        / (2.0 * h);
    let tol = 4.0 * sd / (k as f64).sqrt() + slope.abs() * dsigma;
    println!(
        "MMD²: full {:.5} (σ = {:.4}), population {pop:.5}, subsample mean {mean:.5} ± sd {sd:.5}, tolerance {tol:.5}",
        full.mmd2, full.bandwidth
    );
    assert!(est.iter().all(|m| (m.n_a, m.n_b) == (sub, sub)));
    assert!((mean - full.mmd2).abs() < tol, "{mean} vs {}", full.mmd2);
    assert!(v.iter().all(|x| (x - full.mmd2).abs() < 5.0 * sd));
    // The full value is itself an estimate of the population value: its sd is about
    // sd·√(sub/count) (the estimator's sd scales as 1/√m for distinct distributions).
    let sd_full = sd * (sub as f64 / count as f64).sqrt();
    assert!(
        (full.mmd2 - pop).abs() < 4.0 * sd_full,
        "{} vs {pop}",
        full.mmd2
    );
}

/// The histogram Wasserstein-1 equals the exact sample Wasserstein-1 of the samples moved to
/// their bin centres (an independent computation: sorting and integrating the empirical CDFs),
/// on real branches and their 10-bit compressed copies, and it errors on mismatched edges or
/// out-of-range counts.
#[test]
fn histogram_wasserstein_is_the_sample_distance_of_bin_centres() {
    let q = Quantiser32::new(7, RoundingMode::Truncate).unwrap();
    let mut checked = 0;
    for (name, values) in common::all_flat().into_iter().take(40) {
        let a: Vec<f64> = values.iter().map(|&x| x as f64).collect();
        let b: Vec<f64> = values.iter().map(|&x| q.quantise(x) as f64).collect();
        if a.len() < 10 || a.iter().any(|x| !x.is_finite()) {
            continue;
        }
        let (ha, hb) = common_histograms(&a, &b, 256).unwrap();
        let centres = |h: &refloat::histogram::Histogram1D| -> Vec<f64> {
            h.counts
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| {
                    std::iter::repeat_n(0.5 * (h.edges[i] + h.edges[i + 1]), n as usize)
                })
                .collect()
        };
        let exact = wasserstein1(&centres(&ha), &centres(&hb)).unwrap();
        let w = wasserstein1_histograms(&ha, &hb).unwrap();
        let scale = ha.edges[256] - ha.edges[0];
        assert!(
            (w - exact).abs() <= 1e-12 * scale,
            "{name}: histogram W1 {w} vs samples at centres {exact}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
    let (ha, _) = common_histograms(&[0.0, 1.0], &[0.0, 1.0], 4).unwrap();
    let (hc, _) = common_histograms(&[0.0, 2.0], &[0.0, 2.0], 4).unwrap();
    assert!(matches!(
        wasserstein1_histograms(&ha, &hc),
        Err(Error::InvalidArgument(_))
    ));
    let mut over = ha.clone();
    over.overflow = 1;
    assert!(matches!(
        wasserstein1_histograms(&ha, &over),
        Err(Error::InvalidInput(_))
    ));
}
