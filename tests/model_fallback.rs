//! Learned corrections never worse than prior-mean (feature `torch`): models trained on the
//! jets of the development file choose, per variable and on their validation events, between
//! the network and prior-mean; on the held-out file, per variable, what `Model::correct`
//! returns is no worse than prior-mean beyond the statistical tolerance (two standard
//! deviations of a paired bootstrap of the per-value squared-error differences), a
//! variable that falls back is corrected exactly as prior-mean corrects it under the
//! training events' density recorded in the file, and one event alone is corrected as in
//! the whole file.
//!
//! The models are those `tests/ci/torch.sh` trains (inpainting, the 7-bit truncation case
//! where the seed study's (ATLAS_COMPRESSION.md) and refloat's first models lost to the midpoint)
//! and a per-value autoencoder at 10 bits, round to nearest.
#![cfg(feature = "torch")]

mod common;

use refloat::correct::{Corrector, ExactPolicy, Method};
use refloat::model::train::{train, TrainConfig, CHOICE_SIGMAS};
use refloat::model::{Device, Estimator, Model, ModelKind};
use refloat::stats::SplitMix64;
use refloat::{Quantiser32, RoundingMode};

const VARS: [&str; 4] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
    "AnalysisJetsAuxDyn.m",
];

/// Resamples of the paired bootstrap, and the tolerance in its standard deviations.
const RESAMPLES: usize = 400;
const SIGMAS: f64 = 2.0;

/// Mean of `a − b` per value and the paired-bootstrap standard deviation of that mean.
fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let n = a.len();
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let mut rng = SplitMix64(17);
    let means: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            (0..n)
                .map(|_| d[((rng.next_u64() as u128 * n as u128) >> 64) as usize])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let m = means.iter().sum::<f64>() / RESAMPLES as f64;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (RESAMPLES - 1) as f64;
    (mean, var.sqrt())
}

fn squared_errors(est: &[f32], orig: &[f32]) -> Vec<f64> {
    est.iter()
        .zip(orig)
        .map(|(e, o)| (*e as f64 - *o as f64).powi(2))
        .collect()
}

fn check(kind: ModelKind, bits: u32, rounding: RoundingMode) {
    let dev = common::flat_objects(common::DEV, &VARS);
    let cfg = TrainConfig {
        kind,
        mantissa_bits: bits,
        rounding,
        seed: 3,
        max_epochs: 30,
        patience: 6,
        hidden: 16,
        device: Device::Cpu,
        ..TrainConfig::for_kind(kind)
    };
    let trained = train(&dev, &cfg, &mut |_| {}).unwrap();
    let model = trained.load(Device::Cpu).unwrap();
    let meta = model.meta();
    let what = format!("{kind} at {bits} bits ({rounding})");

    // The choice is recorded for every variable, with both validation MSEs.
    assert_eq!(
        meta.choices
            .iter()
            .map(|c| c.variable.as_str())
            .collect::<Vec<_>>(),
        VARS,
        "{what}"
    );
    for c in &meta.choices {
        assert!(
            c.values > 0 && c.model_mse.is_finite() && c.prior_mean_mse > 0.0,
            "{what}: {c:?}"
        );
        assert_eq!(
            c.uses == Estimator::Model,
            c.model_mse - c.prior_mean_mse < -CHOICE_SIGMAS * c.difference_sigma,
            "{what}: {c:?}"
        );
        assert!(c.explain().starts_with(&c.variable), "{}", c.explain());
    }
    for c in &meta.choices {
        eprintln!("{what}: {}", c.explain());
    }
    // It survives the file.
    let reloaded = Model::from_bytes(trained.bytes(), Device::Cpu).unwrap();
    assert_eq!(reloaded.meta().choices, meta.choices);

    // The density recorded for each variable is that of the training events' stored values.
    assert_eq!(
        meta.densities
            .iter()
            .map(|d| d.variable.as_str())
            .collect::<Vec<_>>(),
        VARS,
        "{what}"
    );
    for (j, d) in meta.densities.iter().enumerate() {
        // the training events' share of the development file's values (less a few exact ones)
        let values: u64 = d.counts.iter().sum();
        let all = dev.originals[j].len() as f64;
        let share = all * (1.0 - meta.training.validation_fraction);
        assert!(
            (values as f64) > 0.8 * share && (values as f64) < all && d.counts.len() > 100,
            "{what}: {} has {} distinct values, {values} in all",
            d.variable,
            d.counts.len()
        );
    }

    // On the held-out file: per variable, no worse than prior-mean beyond the tolerance;
    // the baseline is prior-mean under the held-out file's own density (what
    // `--method prior-mean` does there), not the model's fallback.
    let held = common::flat_objects(common::HELD_OUT, &VARS);
    let q = Quantiser32::new(bits, rounding).unwrap();
    let stored: Vec<Vec<f32>> = held
        .originals
        .iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect();
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let (corrected, _) = model.correct(&refs, &held.offsets).unwrap();
    // Event by event, the same bits as the whole file (the fallback included).
    for e in 0..held.offsets.len().min(300) - 1 {
        let (a, b) = (held.offsets[e], held.offsets[e + 1]);
        let one: Vec<&[f32]> = stored.iter().map(|c| &c[a..b]).collect();
        let (got, _) = model.correct(&one, &[0, b - a]).unwrap();
        for (j, col) in got.iter().enumerate() {
            assert!(
                col.iter()
                    .zip(&corrected[j][a..b])
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{what} {}: event {e} alone is corrected differently",
                VARS[j]
            );
        }
    }
    for (j, name) in VARS.iter().enumerate() {
        let mut prior = stored[j].clone();
        Corrector::new(q, Method::PriorMean, ExactPolicy::default(), &stored[j])
            .correct_in_place(&mut prior, 0)
            .unwrap();
        // the invariant, whichever corrects it
        for (c, s) in corrected[j].iter().zip(&stored[j]) {
            assert_eq!(q.quantise(*c).to_bits(), s.to_bits(), "{what} {name}");
        }
        if meta.uses(j) == Estimator::PriorMean {
            // prior-mean under the density of the training events, recorded in the file
            let mut fallback = stored[j].clone();
            model
                .fallback(j)
                .expect("the file records the training density")
                .correct_in_place(&mut fallback, 0)
                .unwrap();
            assert!(
                corrected[j]
                    .iter()
                    .zip(&fallback)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what} {name}: falls back, so it must be prior-mean bit for bit"
            );
        }
        let o = &held.originals[j];
        let (diff, sigma) = paired(
            &squared_errors(&corrected[j], o),
            &squared_errors(&prior, o),
        );
        let mse_prior = squared_errors(&prior, o).iter().sum::<f64>() / o.len() as f64;
        eprintln!(
            "{what} {name}: uses {}, held-out MSE − prior-mean's = {diff:.4e} ± {sigma:.4e} (prior-mean {mse_prior:.4e}, {} values)",
            meta.uses(j),
            o.len()
        );
        assert!(
            diff <= SIGMAS * sigma,
            "{what} {name}: the correction loses to prior-mean on held-out data by {diff:.4e} (> {SIGMAS} × {sigma:.4e})"
        );
    }
}

#[test]
fn inpainting_at_7_bits_truncated_is_never_worse_than_prior_mean() {
    check(ModelKind::Inpainting, 7, RoundingMode::Truncate);
}

#[test]
fn autoencoder_at_10_bits_nearest_is_never_worse_than_prior_mean() {
    check(ModelKind::DenoisePerValue, 10, RoundingMode::Nearest);
}
