//! Rounding replicas validated on the real PHYSLITE files, where the originals are known:
//! the float branches of the electron, muon, jet and photon containers, rounded at 7 and 10
//! kept bits (nearest, as `refloat compress` writes them), 50 replicas, 20 uniform bins over
//! each branch's central range (1 % to 99 % quantile). Over all bins where the rounding
//! matters, the original histogram should lie within the replicas' mean ± 1σ and ± 2σ about
//! as often as a normal distribution says (68.3 %, 95.4 %).
//!
//! Also: replica `r` of a file is, bit for bit, what `correct_file` writes with
//! `dither:<replica_seed(seed, r)>`.
//!
//! The README's coverage table is this test's output (`cargo test --release --test
//! replicas_coverage -- --nocapture`), and the same numbers come from
//! `refloat replicas STORED --bits N --mode nearest --coverage ORIG -b ... -n 50 --seed 1`.

mod common;

use std::path::{Path, PathBuf};

use refloat::pipeline::{
    compress_file, correct_file, read_replica_branches, replica_coverage_file, CompressOptions,
    CorrectOptions, Correction, ReplicaOptions, Select,
};
use refloat::replicas::{replica_seed, ReplicaSource, NOMINAL_1SIGMA, NOMINAL_2SIGMA};
use refloat::{Quantiser32, RoundingMode};

const CONTAINERS: [&str; 4] = [
    "AnalysisElectronsAuxDyn.*",
    "AnalysisMuonsAuxDyn.*",
    "AnalysisJetsAuxDyn.*",
    "AnalysisPhotonsAuxDyn.*",
];
const REPLICAS: u32 = 50;
const SEED: u64 = 1;

fn select(globs: &[&str]) -> Select {
    Select {
        tree: None,
        branches: globs.iter().map(|s| s.to_string()).collect(),
    }
}

/// `original` compressed at `bits` (nearest) into `dir`.
fn compress(original: &Path, dir: &Path, bits: u32, globs: &[&str]) -> PathBuf {
    let out = dir.join(format!(
        "{}-{bits}.root",
        original.file_stem().unwrap().to_string_lossy()
    ));
    let opts = CompressOptions {
        select: select(globs),
        quantiser: Quantiser32::new(bits, RoundingMode::Nearest).unwrap(),
        bits: Vec::new(),
        compression: None,
        measure_sizes: false,
        copies: Default::default(),
        threads: 0,
    };
    compress_file(original, &out, &opts, &mut |_| {}).unwrap();
    out
}

/// Binomial standard error of a rate `p` measured on `n` bins.
fn binomial_error(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n as f64).sqrt()
}

/// Systematic allowance on each rate, beyond the binomial error: the counts are discrete
/// (a bin with a few values near an edge covers 0, 50 or 100 %, not 68 %), the replica σ is
/// itself estimated from 50 replicas, and the originals are not uniform inside each
/// interval where the density is steep.
const SYSTEMATIC: f64 = 0.05;

#[test]
fn replica_spread_covers_the_original_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let mut total = refloat::replicas::Coverage::default();
    println!("| file | kept bits | bins where rounding matters | within ±1σ | within ±2σ |");
    println!("|---|---|---|---|---|");
    for stem in common::FILES {
        let original = common::root_file(stem);
        for bits in [7u32, 10] {
            let stored = compress(&original, dir.path(), bits, &CONTAINERS);
            let opts = ReplicaOptions {
                select: select(&CONTAINERS),
                bits: Some(bits),
                mode: Some(RoundingMode::Nearest),
                replicas: REPLICAS,
                seed: SEED,
                ..ReplicaOptions::default()
            };
            let r = replica_coverage_file(&original, &stored, &opts, &mut |_| {}).unwrap();
            let c = r.total;
            println!(
                "| {stem} | {bits} | {} ({} branches; {} unaffected bins left out) | {:.1} % | {:.1} % |",
                c.bins,
                r.branches.len(),
                c.unaffected,
                100.0 * c.rate_1sigma(),
                100.0 * c.rate_2sigma()
            );
            assert!(c.bins > 20, "{stem} at {bits} bits: only {} bins", c.bins);
            total = total + c;
        }
    }
    let (p1, p2) = (total.rate_1sigma(), total.rate_2sigma());
    println!(
        "| all | 7, 10 | {} | {:.1} % | {:.1} % |",
        total.bins,
        100.0 * p1,
        100.0 * p2
    );
    // Tolerance: 3 binomial standard errors on the number of bins, plus the systematic
    // allowance. Zero spread (all replicas identical) gives 0 %; a spread too large (e.g.
    // from the whole interval instead of its uniform draw's σ) pushes ±1σ toward 100 %.
    for (rate, nominal, what) in [(p1, NOMINAL_1SIGMA, "1σ"), (p2, NOMINAL_2SIGMA, "2σ")] {
        let tol = 3.0 * binomial_error(nominal, total.bins) + SYSTEMATIC;
        assert!(
            (rate - nominal).abs() <= tol,
            "coverage at ±{what}: {:.1} % vs nominal {:.1} % (tolerance {:.1} %) over {} bins",
            100.0 * rate,
            100.0 * nominal,
            100.0 * tol,
            total.bins
        );
    }
}

#[test]
fn file_replica_is_the_dither_correction_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let original = common::root_file(common::HELD_OUT);
    let globs = ["AnalysisJetsAuxDyn.*", "AnalysisElectronsAuxDyn.*"];
    let stored = compress(&original, dir.path(), 7, &globs);
    // rounding detected per branch, as `refloat correct` does
    let opts = ReplicaOptions {
        select: select(&globs),
        replicas: 3,
        seed: 9,
        ..ReplicaOptions::default()
    };
    let (_, branches) = read_replica_branches(&stored, &opts, &mut |_| {}).unwrap();
    assert!(branches.len() > 20, "{} branches", branches.len());
    let r = 2;
    let corrected = dir.path().join("corrected.root");
    correct_file(
        &stored,
        &corrected,
        Correction::Method(refloat::correct::Method::Dither {
            seed: replica_seed(9, r),
        }),
        &CorrectOptions {
            select: select(&globs),
            ..CorrectOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let tree = refloat::io::open(&corrected)
        .unwrap()
        .tree_or_default(None)
        .unwrap();
    let mut moved = 0;
    for b in &branches {
        let mut replica = vec![0.0f32; b.stored.values.len()];
        b.replicas
            .replica_into(&b.stored.values, r, &mut replica)
            .unwrap();
        let written = tree.read_float(&b.stored.name).unwrap().values;
        assert!(
            replica
                .iter()
                .zip(&written)
                .all(|(a, w)| a.to_bits() == w.to_bits())
                && replica.len() == written.len(),
            "{}: replica {r} differs from the corrected file",
            b.stored.name
        );
        moved += replica
            .iter()
            .zip(&b.stored.values)
            .filter(|(a, s)| a.to_bits() != s.to_bits())
            .count();
    }
    assert!(moved > 1000, "{moved} values moved");
}
