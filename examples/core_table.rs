//! The README's table of the numeric core on the real data, at n = 10 kept mantissa bits.
//!
//! `cargo run --release --example core_table [BITS]` reads every float branch (`float` and
//! `std::vector<float>`) of `CollectionTree` in both ROOT files in `../shared/data`, quantises them (Nearest, as ATLAS does,
//! and Truncate, as RNTuple's `Real32Trunc`), and prints markdown: the fraction of originals
//! inside the theoretical bound, the residual step spacing, and for each estimator the MSE
//! relative to the compressed values, KL and Wasserstein-1 of fine-binned (4096-bin)
//! histograms against the original, and the exact (unbinned) Wasserstein-1.

use refloat::metrics::{common_histograms, kl_divergence, wasserstein1, wasserstein1_histograms};
use refloat::residual::{analyse_steps, check_bounds, residuals_f32, StepOptions};
use refloat::triage::{seed_rule_f32, Corrector, ExactPolicy, Method};
use refloat::{Quantiser32, RoundingMode};

#[path = "../tests/common/mod.rs"]
mod common;

/// Bins of the "fine" per-branch histograms over each branch's range.
const FINE_BINS: usize = 4096;
/// Bins of the pooled histogram of the position of a value inside its interval
/// (`(x − lo) / (hi − lo)`, in `[0, 1]`): where the quantisation itself shows.
const POSITION_BINS: usize = 32;

#[derive(Clone, Copy)]
enum Estimator {
    Stored,
    Correct(Method),
    SeedRule,
}

impl Estimator {
    fn name(&self) -> String {
        match self {
            Estimator::Stored => "compressed (no correction)".into(),
            Estimator::Correct(m) => m.name().into(),
            Estimator::SeedRule => "seed rule, ε = 0.1 (needs the original)".into(),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Every float branch of the file's `CollectionTree`, as (name, values of all entries).
fn float_branches(stem: &str) -> Vec<(String, Vec<f32>)> {
    let path = common::root_file(stem);
    let mut file = refloat::io::open(&path).expect("the real ROOT file");
    let tree = file.tree("CollectionTree").expect("CollectionTree");
    let all = refloat::io::BranchPattern::parse("*").unwrap();
    let selection = tree.select(&[all]).expect("selecting every branch");
    selection
        .floats
        .iter()
        .map(|b| {
            let branch = tree.read_float(&b.name).expect("a float branch");
            (branch.name, branch.values)
        })
        .collect()
}

fn main() {
    let bits: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("BITS"))
        .unwrap_or(10);
    let estimators = [
        Estimator::Stored,
        Estimator::Correct(Method::Midpoint),
        Estimator::Correct(Method::Dither { seed: 1 }),
        Estimator::Correct(Method::PriorMean),
        Estimator::SeedRule,
    ];
    println!("Measured by `cargo run --release --example core_table {bits}` on every float branch of the real files' `CollectionTree` with at least two values, all finite.\n");
    for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
        let q = Quantiser32::new(bits, mode).unwrap();
        println!("#### n = {bits}, mode `{mode}`\n");
        println!("| file | values | inside bound | step spacing (log10, theory 0.301) |");
        println!("|---|---|---|---|");
        let mut per_file = Vec::new();
        for stem in common::FILES {
            let branches: Vec<(String, Vec<f32>)> = float_branches(stem)
                .into_iter()
                .filter(|(_, v)| v.len() >= 2 && v.iter().all(|x| x.is_finite()))
                .collect();
            let (mut total, mut inside, mut all_r) = (0usize, 0usize, Vec::new());
            for (_, orig) in &branches {
                let stored: Vec<f32> = orig.iter().map(|&x| q.quantise(x)).collect();
                let check = check_bounds(orig, &stored, &q).unwrap();
                total += check.total;
                inside += check.within_abs_bound;
                all_r.extend(residuals_f32(orig, &stored).unwrap());
            }
            let spacing = analyse_steps(&all_r, &StepOptions::default())
                .ok()
                .and_then(|s| s.spacing());
            println!(
                "| `{stem}` | {total} | {:.4} % | {} |",
                100.0 * inside as f64 / total as f64,
                spacing.map_or("–".into(), |s| format!("{s:.3}"))
            );
            per_file.push((stem, branches));
        }
        println!();
        println!("| estimator | file | MSE / MSE(compressed), pooled in units of interval width | median over branches of MSE / MSE(compressed) | median KL(orig ‖ est), {FINE_BINS} bins | KL(orig ‖ est) of the position inside the interval, pooled, {POSITION_BINS} bins | median W1(orig, est) / W1(orig, compressed), {FINE_BINS} bins | the same, exact (unbinned) |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut seed_notes = Vec::new();
        for est in estimators {
            for (stem, branches) in &per_file {
                let (mut num, mut den) = (0.0, 0.0);
                let (mut pos_orig, mut pos_est) = (Vec::new(), Vec::new());
                let (mut mse_ratios, mut kls, mut w_ratios) = (Vec::new(), Vec::new(), Vec::new());
                let mut wh_ratios = Vec::new();
                let (mut fired, mut fired_max) = (0usize, 0f32);
                for (name, orig) in branches {
                    let stored: Vec<f32> = orig.iter().map(|&x| q.quantise(x)).collect();
                    let estimate: Vec<f32> = match est {
                        Estimator::Stored => stored.clone(),
                        Estimator::Correct(m) => {
                            let mut c = stored.clone();
                            // one seed per run, mixed per branch as `refloat correct` does
                            Corrector::new(q, m.for_stream(name), ExactPolicy::default(), &stored)
                                .correct_in_place(&mut c, 0)
                                .unwrap();
                            c
                        }
                        Estimator::SeedRule => {
                            let out = seed_rule_f32(orig, &stored, &q, 0.1).unwrap();
                            for (s, r) in stored.iter().zip(&out.reconstructed) {
                                if s.to_bits() != r.to_bits() {
                                    fired += 1;
                                    fired_max = fired_max.max(s.abs());
                                }
                            }
                            out.reconstructed
                        }
                    };
                    let (mut se_est, mut se_st) = (0.0, 0.0);
                    for ((o, s), e) in orig.iter().zip(&stored).zip(&estimate) {
                        let w = q.interval(*s).unwrap().width();
                        let (de, ds) = (*o as f64 - *e as f64, *o as f64 - *s as f64);
                        se_est += de * de;
                        se_st += ds * ds;
                        if w > 0.0 {
                            num += (de / w).powi(2);
                            den += (ds / w).powi(2);
                            let lo = q.interval(*s).unwrap().lo as f64;
                            pos_orig.push((*o as f64 - lo) / w);
                            pos_est.push((*e as f64 - lo) / w);
                        }
                    }
                    if se_st > 0.0 {
                        mse_ratios.push(se_est / se_st);
                    }
                    let (o64, e64, s64) = (to64(orig), to64(&estimate), to64(&stored));
                    if let Ok((ho, he)) = common_histograms(&o64, &e64, FINE_BINS) {
                        kls.push(kl_divergence(&ho, &he, 1e-10).unwrap_or(f64::NAN));
                        let (hs_o, hs_s) = common_histograms(&o64, &s64, FINE_BINS).unwrap();
                        let wh_st = wasserstein1_histograms(&hs_o, &hs_s).unwrap();
                        if wh_st > 0.0 {
                            wh_ratios.push(wasserstein1_histograms(&ho, &he).unwrap() / wh_st);
                        }
                    }
                    let w_st = wasserstein1(&o64, &s64).unwrap();
                    if w_st > 0.0 {
                        w_ratios.push(wasserstein1(&o64, &e64).unwrap() / w_st);
                    }
                }
                let position_kl = {
                    let bins =
                        refloat::residual::UniformBins::new(0.0, 1.0, POSITION_BINS).unwrap();
                    let ho = refloat::residual::Histogram1D::from_values(&pos_orig, bins).unwrap();
                    let he = refloat::residual::Histogram1D::from_values(&pos_est, bins).unwrap();
                    kl_divergence(&ho, &he, 1e-10).unwrap_or(f64::NAN)
                };
                println!(
                    "| {} | `{stem}` | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    est.name(),
                    num / den,
                    median(mse_ratios),
                    median(kls),
                    position_kl,
                    median(wh_ratios),
                    median(w_ratios)
                );
                if matches!(est, Estimator::SeedRule) {
                    seed_notes.push(match fired {
                        0 => format!("`{stem}`: the seed rule changed no value"),
                        _ => format!(
                            "`{stem}`: the seed rule changed {fired} values, all with |x_comp| ≤ {fired_max:.3e}"
                        ),
                    });
                }
            }
        }
        println!();
        for note in seed_notes.drain(..) {
            println!("{note}  ");
        }
        println!();
    }
}
