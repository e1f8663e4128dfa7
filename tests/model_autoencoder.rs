//! The 1D convolutional denoising autoencoders on real data (feature `torch`): the per-value
//! mode keeps the invariant and beats a broken baseline; the histogram mode (MSE and KL
//! losses) returns proper distributions at least as close to the original as a broken
//! reconstruction, and refuses to correct values.
#![cfg(feature = "torch")]

mod common;

use refloat::model::train::{split_events, train, TrainConfig};
use refloat::model::{Device, HistogramLoss, Model, ModelKind};
use refloat::{Quantiser32, RoundingMode};

fn quantised(cols: &[Vec<f32>], q: &Quantiser32) -> Vec<Vec<f32>> {
    cols.iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect()
}

#[test]
fn per_value_autoencoder_keeps_the_invariant_and_beats_a_broken_baseline() {
    let vars = ["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"];
    let data = common::flat_objects(common::DEV, &vars);
    let bits = 8;
    let q = Quantiser32::new(bits, RoundingMode::Truncate).unwrap();
    let cfg = TrainConfig {
        mantissa_bits: bits,
        rounding: RoundingMode::Truncate,
        max_epochs: 40,
        patience: 8,
        hidden: 16,
        window: 32,
        seed: 5,
        device: Device::Cpu,
        ..TrainConfig::for_kind(ModelKind::DenoisePerValue)
    };
    let trained = train(&data, &cfg, &mut |_| {}).unwrap();
    assert_eq!(trained.meta.kind, ModelKind::DenoisePerValue);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dae.pt");
    trained.save(&path).unwrap();
    let model = Model::load_for(&path, bits, RoundingMode::Truncate, Some(&vars)).unwrap();
    assert!(Model::load_for(&path, bits, RoundingMode::Nearest, None).is_err());

    let (_, val_ev) = split_events(data.events(), cfg.validation_fraction, cfg.seed).unwrap();
    let val = data.select_events(&val_ev);
    let stored = quantised(&val.originals, &q);
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let (corrected, report) = model.correct(&refs, &val.offsets).unwrap();
    assert!(report.corrected > 0);
    for (c, s) in corrected.iter().zip(&stored) {
        for (x, y) in c.iter().zip(s) {
            assert_eq!(q.quantise(*x).to_bits(), y.to_bits());
        }
    }
    // Truncated data: doing nothing is the broken baseline here (every stored value sits at
    // the end of its interval); the autoencoder starts at the midpoint and must stay far
    // better than that.
    for (j, v) in vars.iter().enumerate() {
        let se = |e: &[f32]| {
            e.iter()
                .zip(&val.originals[j])
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum::<f64>()
        };
        let (model_se, stored_se) = (se(&corrected[j]), se(&stored[j]));
        println!(
            "{v}: autoencoder MSE / stored MSE = {:.3}",
            model_se / stored_se
        );
        assert!(model_se < 0.5 * stored_se, "{v}: {model_se} vs {stored_se}");
    }

    // Chunked inference (a long sequence) gives the same result as one pass, up to float
    // rounding: the receptive field is far smaller than the halo.
    let long: Vec<Vec<f32>> = stored
        .iter()
        .map(|c| c.iter().cycle().take(150_000).copied().collect())
        .collect();
    let lrefs: Vec<&[f32]> = long.iter().map(Vec::as_slice).collect();
    let fr = model.predict_fractions(&lrefs, &[0, 150_000]).unwrap();
    let n = stored[0].len();
    let fr_short = model.predict_fractions(&refs, &[0, n]).unwrap();
    // Away from the sequence ends the periodic input gives periodic output.
    for j in 0..vars.len() {
        assert!(n > 40, "{n} validation objects");
        for i in 10..n - 10 {
            let a = fr[j * 150_000 + 3 * n + i];
            let b = fr_short[j * n + i];
            assert!((a - b).abs() < 1e-4, "chunked vs whole at {i}: {a} vs {b}");
        }
        let at_chunk_edge = 65_536 + 5;
        let period_twin = at_chunk_edge - n * ((at_chunk_edge - 20) / n);
        assert!((fr[j * 150_000 + at_chunk_edge] - fr[j * 150_000 + period_twin]).abs() < 1e-4);
    }
}

#[test]
fn histogram_autoencoder_reconstructs_distributions() {
    let vars = ["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.phi"];
    let data = common::flat_objects(common::DEV, &vars);
    let bits = 5;
    let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
    for loss in [HistogramLoss::Mse, HistogramLoss::Kl] {
        let mut cfg = TrainConfig {
            mantissa_bits: bits,
            max_epochs: 30,
            patience: 8,
            hidden: 16,
            seed: 2,
            device: Device::Cpu,
            ..TrainConfig::for_kind(ModelKind::DenoiseHistogram)
        };
        cfg.histogram.bins = 64;
        cfg.histogram.loss = loss;
        let trained = train(&data, &cfg, &mut |_| {}).unwrap();
        let t = &trained.meta.training;
        assert!(
            t.best_validation_loss <= t.baseline_validation_loss * (1.0 + 1e-6),
            "{t:?}"
        );
        println!(
            "{loss:?}: validation loss {:.5} vs compressed histogram {:.5}",
            t.best_validation_loss, t.baseline_validation_loss
        );
        let model = trained.load(Device::Cpu).unwrap();
        assert_eq!(model.meta().histogram.as_ref().unwrap().bins, 64);

        let stored = quantised(&data.originals, &q);
        for j in 0..vars.len() {
            let h = model.reconstruct_histogram(&stored[j], j).unwrap();
            assert_eq!(h.edges.len(), 65);
            assert!(h.edges.windows(2).all(|w| w[1] > w[0]));
            let total: f64 = h.probabilities.iter().sum();
            assert!(
                (total - 1.0).abs() < 1e-4 && h.probabilities.iter().all(|p| *p >= 0.0),
                "{total}"
            );
            // A deliberately broken reconstruction (the histogram mirrored) is far worse.
            let orig = probabilities(&data.originals[j], &h.edges);
            let mirrored: Vec<f64> = h.probabilities.iter().rev().copied().collect();
            assert!(
                l1(&orig, &h.probabilities) < l1(&orig, &mirrored),
                "{}",
                vars[j]
            );
        }
        // It reconstructs distributions, not values.
        let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
        let e = model.correct(&refs, &data.offsets).unwrap_err();
        assert!(e.to_string().contains("histogram"), "{e}");
        assert!(model.reconstruct_histogram(&stored[0], 7).is_err());
        let not_stored = vec![1.0f32 + f32::EPSILON];
        assert!(model.reconstruct_histogram(&not_stored, 0).is_err());
    }
}

fn probabilities(values: &[f32], edges: &[f64]) -> Vec<f64> {
    let nb = edges.len() - 1;
    let mut h = vec![0.0; nb];
    for &x in values {
        let k = edges
            .partition_point(|&e| e <= x as f64)
            .saturating_sub(1)
            .min(nb - 1);
        h[k] += 1.0 / values.len() as f64;
    }
    h
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}
