//! `refloat evaluate`: how close each correction method gets to the originals, on events
//! that no model trained on.
//!
//! The file holds full-precision originals; the compressed side is made here with
//! `quantise`. Per branch and method: the squared error relative to doing nothing (the
//! compressed values), the mean `|error|` in units of the interval width, KL / JS divergence
//! (nats) and Wasserstein-1 distance of fine-binned histograms against the original, and the
//! AUC of a classifier telling the corrected values from the originals (0.5 = cannot), from
//! `refloat::metrics`. Every corrected value is also checked to re-quantise to its stored
//! value. Models trained on this very file (its name is recorded in the model) are
//! evaluated only on their validation events; training events are excluded for every
//! method so that all rows see the same events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use refloat::io;
use refloat::metrics::{shift_metrics, ShiftOptions};
use refloat::model::train::split_events;
use refloat::model::{Model, ModelKind};
use refloat::triage::{verify_requantises_f32, Corrector, ExactPolicy, Method};
use refloat::{Quantiser32, RoundingMode};
use serde::Serialize;

use super::common;
use super::train::DEFAULT_BRANCHES;

/// Arguments of `refloat evaluate`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat evaluate ../shared/data/PHYSLITE_example.root --bits 10 --methods midpoint,dither,prior-mean,model:jets.pt --out eval/
  refloat evaluate ORIG.root --bits 7 --mode truncate --branches 'AnalysisElectronsAuxDyn.*'

Default branches: the variables of the models given, else the jets' pt, eta, phi, m.")]
pub struct Args {
    /// ROOT file with full-precision (original) floats.
    pub file: PathBuf,
    /// Kept mantissa bits of the compression.
    #[arg(long, default_value_t = 10)]
    pub bits: u32,
    /// Rounding of the compression (ATLAS: nearest).
    #[arg(long, default_value = "nearest", value_parser = ["nearest", "truncate", "nearest-even"])]
    pub mode: String,
    /// Tree to read.
    #[arg(long, default_value = "CollectionTree")]
    pub tree: String,
    /// Branches to evaluate, by exact name or glob; repeat or separate with commas.
    #[arg(long = "branches", short = 'b', value_name = "NAME|GLOB", value_delimiter = ',', num_args = 1..)]
    pub branches: Vec<String>,
    /// Methods: midpoint, dither, dither:SEED, prior-mean, model:PATH (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "midpoint,dither,prior-mean")]
    pub methods: Vec<String>,
    /// Bins of the fine histograms behind KL and JS (default: a quarter of the values,
    /// between 10 and 1000, so that small branches are not all empty bins).
    #[arg(long)]
    pub bins: Option<usize>,
    /// Seed of the classifier split (and MMD subsampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory for the figures and `evaluate.json` (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// One (branch, method) result.
#[derive(Serialize, Debug, Clone)]
pub struct Row {
    pub branch: String,
    pub method: String,
    /// Values evaluated.
    pub values: usize,
    /// `Σ (estimate − original)² / Σ (stored − original)²`: 1 = no better than the stored values.
    pub mse_relative: f64,
    /// Mean `|estimate − original| / interval width` over the values a correction may move.
    pub mean_abs_error_over_width: f64,
    /// `KL(original ‖ estimate)` of fine-binned histograms, nats.
    pub kl: f64,
    /// JS divergence of the same histograms, nats.
    pub js: f64,
    /// Wasserstein-1 distance, in the branch's unit.
    pub wasserstein: f64,
    /// AUC of a classifier telling estimate from original (0.5 = indistinguishable).
    pub auc: f64,
    /// Values that do not re-quantise to their stored value (must be 0).
    pub invariant_violations: usize,
}

/// A histogram-mode model's result on one branch.
#[derive(Serialize, Debug, Clone)]
pub struct HistogramRow {
    pub branch: String,
    pub method: String,
    /// `KL(original ‖ compressed)` on the model's bins, nats.
    pub kl_compressed: f64,
    /// `KL(original ‖ reconstructed)` on the model's bins, nats.
    pub kl_model: f64,
    /// JS of the compressed / reconstructed histogram against the original.
    pub js_compressed: f64,
    /// See `js_compressed`.
    pub js_model: f64,
}

/// Everything `evaluate` measured.
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub file: PathBuf,
    pub mantissa_bits: u32,
    pub mode: String,
    pub events: usize,
    pub events_evaluated: usize,
    pub note: Option<String>,
    pub rows: Vec<Row>,
    pub histogram_rows: Vec<HistogramRow>,
}

enum Estimator {
    Core(Method),
    Model(PathBuf, Box<Model>),
}

fn parse_method(s: &str, bits: u32, mode: RoundingMode) -> Result<(String, Estimator)> {
    if let Some(p) = s.strip_prefix("model:") {
        if p.is_empty() {
            bail!("model:PATH needs a path to the model");
        }
        let path = PathBuf::from(p);
        let m = Model::load_for(&path, bits, mode, None)?;
        return Ok((
            format!(
                "{}:{}",
                m.meta().kind,
                path.file_name()
                    .map_or_else(|| p.into(), |f| f.to_string_lossy().into_owned())
            ),
            Estimator::Model(path, Box::new(m)),
        ));
    }
    let m: Method = s.parse()?;
    Ok((s.to_string(), Estimator::Core(m)))
}

/// Events of the file not used to train any of the models (those trained on this file).
fn held_out_events(
    file: &Path,
    events: usize,
    models: &[&Model],
) -> Result<(Vec<usize>, Option<String>)> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut keep = vec![true; events];
    let mut notes = Vec::new();
    for m in models {
        let t = &m.meta().training;
        if t.source.is_some() && t.source == name {
            let (train, _) = split_events(events, t.validation_fraction, t.seed)?;
            for e in &train {
                keep[*e] = false;
            }
            notes.push(format!(
                "model ({}) was trained on this file: its {} training events are excluded",
                m.meta().kind,
                train.len()
            ));
        }
    }
    let kept: Vec<usize> = (0..events).filter(|&e| keep[e]).collect();
    if kept.is_empty() {
        bail!(
            "{}: every event was used to train a model; evaluate on other data",
            file.display()
        );
    }
    Ok((kept, (!notes.is_empty()).then(|| notes.join("; "))))
}

/// The values of `b` in the listed events, and their offsets.
fn select(b: &io::FloatBranch, events: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let mut v = Vec::new();
    let mut offs = vec![0];
    for &e in events {
        v.extend_from_slice(b.entry(e));
        offs.push(v.len());
    }
    (v, offs)
}

fn finite_pairs(orig: &[f32], est: &[f32]) -> (Vec<f64>, Vec<f64>) {
    orig.iter()
        .zip(est)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a as f64, *b as f64))
        .unzip()
}

fn row(
    branch: &str,
    method: &str,
    orig: &[f32],
    stored: &[f32],
    est: &[f32],
    q: &Quantiser32,
    opts: &ShiftOptions,
) -> Result<Row> {
    let se = |x: &[f32]| {
        orig.iter()
            .zip(x)
            .filter(|(o, e)| o.is_finite() && e.is_finite())
            .map(|(o, e)| (*e as f64 - *o as f64).powi(2))
            .sum::<f64>()
    };
    let base = se(stored);
    let policy = ExactPolicy::default();
    let (mut sum, mut n) = (0.0, 0usize);
    for ((o, s), e) in orig.iter().zip(stored).zip(est) {
        if !s.is_finite() || policy.is_exact(*s, q) {
            continue;
        }
        if let Some(iv) = q.interval(*s) {
            if iv.width() > 0.0 {
                sum += (*e as f64 - *o as f64).abs() / iv.width();
                n += 1;
            }
        }
    }
    let violations = est
        .iter()
        .zip(stored)
        .filter(|(e, s)| q.quantise(**e).to_bits() != s.to_bits())
        .count();
    let (a, b) = finite_pairs(orig, est);
    let shift =
        shift_metrics(&a, &b, opts).with_context(|| format!("branch {branch}, method {method}"))?;
    Ok(Row {
        branch: branch.into(),
        method: method.into(),
        values: orig.len(),
        mse_relative: if base > 0.0 { se(est) / base } else { f64::NAN },
        mean_abs_error_over_width: if n > 0 { sum / n as f64 } else { f64::NAN },
        kl: shift.kl_divergence,
        js: shift.js_divergence,
        wasserstein: shift.wasserstein1,
        auc: shift.classifier_auc,
        invariant_violations: violations,
    })
}

fn kl_js(p: &[f64], q: &[f64]) -> (f64, f64) {
    let eps = 1e-10;
    let kl = p
        .iter()
        .zip(q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b.max(eps)).ln())
        .sum::<f64>();
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a + b)).collect();
    let half = |x: &[f64]| {
        x.iter()
            .zip(&m)
            .filter(|(a, _)| **a > 0.0)
            .map(|(a, b)| a * (a / b).ln())
            .sum::<f64>()
    };
    (kl, 0.5 * half(p) + 0.5 * half(q))
}

/// Probabilities of `values` in the bins `edges` (outside values in the end bins).
fn probabilities(values: &[f32], edges: &[f64]) -> Vec<f64> {
    let nb = edges.len() - 1;
    let mut h = vec![0.0; nb];
    let mut n = 0.0;
    for &x in values.iter().filter(|x| x.is_finite()) {
        let k = edges
            .partition_point(|&e| e <= x as f64)
            .saturating_sub(1)
            .min(nb - 1);
        h[k] += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        h.iter_mut().for_each(|c| *c /= n);
    }
    h
}

/// Runs `refloat evaluate`.
pub fn run(args: Args) -> Result<()> {
    let mode: RoundingMode = args.mode.parse()?;
    let q = Quantiser32::new(args.bits, mode)?;
    let methods: Vec<(String, Estimator)> = args
        .methods
        .iter()
        .map(|s| parse_method(s, args.bits, mode))
        .collect::<Result<_>>()?;
    if methods.is_empty() {
        bail!("no method given");
    }
    let models: Vec<&Model> = methods
        .iter()
        .filter_map(|(_, e)| {
            if let Estimator::Model(_, m) = e {
                Some(&**m)
            } else {
                None
            }
        })
        .collect();

    // Branches: as asked, plus every model variable.
    let mut wanted: Vec<String> = args.branches.clone();
    if wanted.is_empty() && models.is_empty() {
        wanted = DEFAULT_BRANCHES.iter().map(|s| s.to_string()).collect();
    }
    for m in &models {
        for v in m.meta().variable_names() {
            if !wanted.iter().any(|w| w == v) {
                wanted.push(v.to_string());
            }
        }
    }
    let mut f = io::open(&args.file)?;
    let tree = f.tree(&args.tree)?;
    let sel = tree.select(&io::parse_patterns(&wanted)?)?;
    if sel.floats.is_empty() {
        bail!(
            "{}: tree '{}': no float branch selected",
            args.file.display(),
            args.tree
        );
    }
    let branches = common::read_selected(&tree, &sel, "read")?;
    let events = tree.entries() as usize;
    let (kept, note) = held_out_events(&args.file, events, &models)?;
    if let Some(n) = &note {
        eprintln!(
            "note: {n}; evaluating on the remaining {} of {events} events",
            kept.len()
        );
    }

    // Originals and stored values of the evaluated events, per branch.
    let mut orig: BTreeMap<String, (Vec<f32>, Vec<usize>)> = BTreeMap::new();
    for b in &branches {
        orig.insert(b.name.clone(), select(b, &kept));
    }
    let stored: BTreeMap<String, Vec<f32>> = orig
        .iter()
        .map(|(k, (v, _))| {
            let mut s = v.clone();
            q.quantise_slice(&mut s);
            (k.clone(), s)
        })
        .collect();

    // Estimates: method name -> branch -> values.
    let mut estimates: Vec<(String, BTreeMap<String, Vec<f32>>)> = Vec::new();
    let mut histogram_rows = Vec::new();
    let pb = common::progress(methods.len(), "correct");
    for (name, est) in &methods {
        pb.set_message(name.clone());
        let mut out = BTreeMap::new();
        match est {
            Estimator::Core(m) => {
                for (b, s) in &stored {
                    let mut v = s.clone();
                    Corrector::new(q, *m, ExactPolicy::default(), s)
                        .par_correct_in_place(&mut v, 0)?;
                    out.insert(b.clone(), v);
                }
            }
            Estimator::Model(path, m) if m.meta().kind == ModelKind::DenoiseHistogram => {
                let (spec_bins, loss) = m
                    .meta()
                    .histogram
                    .as_ref()
                    .map_or((0, Default::default()), |h| (h.bins, h.loss));
                for (j, v) in m.meta().variable_names().into_iter().enumerate() {
                    let s = &stored[v];
                    let h = m
                        .reconstruct_histogram(s, j)
                        .with_context(|| format!("model {}", path.display()))?;
                    let po = probabilities(&orig[v].0, &h.edges);
                    let pc = probabilities(s, &h.edges);
                    let (kc, jc) = kl_js(&po, &pc);
                    let (km, jm) = kl_js(&po, &h.probabilities);
                    histogram_rows.push(HistogramRow {
                        branch: v.to_string(),
                        method: format!("{name} ({spec_bins} bins, {loss:?} loss)"),
                        kl_compressed: kc,
                        kl_model: km,
                        js_compressed: jc,
                        js_model: jm,
                    });
                }
                pb.inc(1);
                continue;
            }
            Estimator::Model(path, m) => {
                let names = m.meta().variable_names();
                let cols: Vec<&[f32]> = names.iter().map(|v| stored[*v].as_slice()).collect();
                let offsets = &orig[names[0]].1;
                for v in &names[1..] {
                    if &orig[*v].1 != offsets {
                        bail!(
                            "model {}: branches {} and {} are not variables of the same objects",
                            path.display(),
                            names[0],
                            v
                        );
                    }
                }
                let (corrected, _) = m
                    .correct(&cols, offsets)
                    .with_context(|| format!("model {}", path.display()))?;
                for (v, c) in names.iter().zip(corrected) {
                    out.insert(v.to_string(), c);
                }
            }
        }
        estimates.push((name.clone(), out));
        pb.inc(1);
    }
    pb.finish_and_clear();

    let mut rows = Vec::new();
    for (b, (o, _)) in &orig {
        let s = &stored[b];
        let finite = o.iter().filter(|x| x.is_finite()).count();
        if finite < 4 {
            eprintln!("note: {b}: fewer than 4 finite values in the evaluated events, skipped");
            continue;
        }
        let bins = args.bins.unwrap_or((finite / 4).clamp(10, 1000));
        let opts = ShiftOptions {
            histogram_bins: bins,
            seed: args.seed,
            ..Default::default()
        };
        rows.push(row(b, "compressed", o, s, s, &q, &opts)?);
        for (name, est) in &estimates {
            if let Some(e) = est.get(b) {
                verify_requantises_f32(e, s, &q).map_err(|e| anyhow!("{name} on {b}: {e}"))?;
                rows.push(row(b, name, o, s, e, &q, &opts)?);
            }
        }
    }

    print_table(&rows, &histogram_rows);
    let report = Report {
        file: args.file.clone(),
        mantissa_bits: args.bits,
        mode: mode.to_string(),
        events,
        events_evaluated: kept.len(),
        note,
        rows,
        histogram_rows,
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create directory", dir.display()))?;
        let mut written = 0;
        for (b, (o, _)) in &orig {
            let per: Vec<(&str, &Vec<f32>)> = estimates
                .iter()
                .filter_map(|(n, e)| e.get(b).map(|v| (n.as_str(), v)))
                .collect();
            if per.is_empty() || o.iter().filter(|x| x.is_finite()).count() < 4 {
                continue;
            }
            error_figure(dir, b, o, &stored[b], &per, &q)?;
            histogram_figure(dir, b, o, &stored[b], &per)?;
            written += 2;
        }
        common::write_json(&dir.join("evaluate.json"), &report)?;
        println!(
            "wrote {written} figures and evaluate.json to {}",
            dir.display()
        );
    }
    if let Some(p) = &args.json {
        common::write_json(p, &report)?;
    }
    Ok(())
}

fn print_table(rows: &[Row], hist: &[HistogramRow]) {
    println!(
        "{:<44} {:<30} {:>7} {:>10} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "branch", "method", "values", "MSE/comp", "|e|/w", "KL", "JS", "W1", "AUC"
    );
    for r in rows {
        println!(
            "{:<44} {:<30} {:>7} {:>10.4} {:>9.4} {:>10.3e} {:>10.3e} {:>10.3e} {:>6.3}{}",
            r.branch,
            r.method,
            r.values,
            r.mse_relative,
            r.mean_abs_error_over_width,
            r.kl,
            r.js,
            r.wasserstein,
            r.auc,
            if r.invariant_violations > 0 {
                format!("  {} INVARIANT VIOLATIONS", r.invariant_violations)
            } else {
                String::new()
            }
        );
    }
    if !hist.is_empty() {
        println!(
            "\nhistogram-mode models (on the model's bins): KL / JS against the original histogram"
        );
        println!(
            "{:<44} {:<50} {:>12} {:>12} {:>12} {:>12}",
            "branch", "method", "KL comp", "KL model", "JS comp", "JS model"
        );
        for h in hist {
            println!(
                "{:<44} {:<50} {:>12.4e} {:>12.4e} {:>12.4e} {:>12.4e}",
                h.branch, h.method, h.kl_compressed, h.kl_model, h.js_compressed, h.js_model
            );
        }
    }
}

// ---- figures -----------------------------------------------------------------------------

use super::plot::{perr, FONT};

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 110, 20),
    RGBColor(44, 160, 44),
    RGBColor(200, 30, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn file_name(branch: &str, what: &str) -> String {
    format!("{}.{what}.png", branch.replace(['/', ' '], "_"))
}

/// Draws into a temporary PNG beside `dir/name` (the analyse figures' renderer).
fn render(
    dir: &Path,
    name: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    super::plot::render(dir, name, draw).map(drop)
}

/// Error vs value: `(estimate − original) / interval width` against the original, per method.
fn error_figure(
    dir: &Path,
    branch: &str,
    orig: &[f32],
    stored: &[f32],
    per: &[(&str, &Vec<f32>)],
    q: &Quantiser32,
) -> Result<()> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut all: Vec<(&str, &[f32])> = vec![("compressed", stored)];
    all.extend(per.iter().map(|(n, v)| (*n, v.as_slice())));
    for (name, est) in &all {
        let pts: Vec<(f64, f64)> = orig
            .iter()
            .zip(stored)
            .zip(est.iter())
            .filter_map(|((o, s), e)| {
                let iv = q.interval(*s)?;
                (o.is_finite() && iv.width() > 0.0)
                    .then(|| (*o as f64, (*e as f64 - *o as f64) / iv.width()))
            })
            .collect();
        series.push((name.to_string(), pts));
    }
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, p) in &series {
        for (x, _) in p {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
        }
    }
    if !x0.is_finite() || x0 == x1 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let label = super::plot::value_label(branch);
    render(dir, &file_name(branch, "error_vs_value"), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{branch}: (estimate − original) / interval width"),
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, -1.05f64..1.05f64)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(label)
            .y_desc("error / interval width")
            .label_style((FONT, 16))
            .draw()
            .map_err(perr)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 2, c.mix(0.6).filled())))
                .map_err(perr)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(perr)?;
        Ok(())
    })
}

/// Overlaid fine-binned histograms of the original, compressed and corrected values.
fn histogram_figure(
    dir: &Path,
    branch: &str,
    orig: &[f32],
    stored: &[f32],
    per: &[(&str, &Vec<f32>)],
) -> Result<()> {
    let mut finite: Vec<f64> = orig
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| *x as f64)
        .collect();
    finite.sort_by(f64::total_cmp);
    let lo = finite[finite.len() / 200];
    let hi = finite[finite.len() - 1 - finite.len() / 200];
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let bins = 400usize;
    let edges: Vec<f64> = (0..=bins)
        .map(|k| lo + (hi - lo) * k as f64 / bins as f64)
        .collect();
    let count = |v: &[f32]| -> Vec<f64> {
        let mut h = vec![0.0; bins];
        for &x in v {
            let x = x as f64;
            if x >= lo && x < hi {
                h[(((x - lo) / (hi - lo)) * bins as f64) as usize % bins] += 1.0;
            }
        }
        h
    };
    let mut series = vec![
        ("original".to_string(), count(orig)),
        ("compressed".to_string(), count(stored)),
    ];
    series.extend(per.iter().map(|(n, v)| (n.to_string(), count(v))));
    let ymax = series
        .iter()
        .flat_map(|(_, h)| h.iter().copied())
        .fold(1.0, f64::max)
        * 1.1;
    let label = super::plot::value_label(branch);
    render(dir, &file_name(branch, "histograms"), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{branch}: {bins} bins, original / compressed / corrected"),
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0f64..ymax)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(label)
            .y_desc("values per bin")
            .label_style((FONT, 16))
            .draw()
            .map_err(perr)?;
        for (i, (name, h)) in series.iter().enumerate() {
            let c = if i == 0 {
                BLACK
            } else {
                COLOURS[(i - 1) % COLOURS.len()]
            };
            let mut pts = Vec::with_capacity(2 * bins);
            for (k, &y) in h.iter().enumerate() {
                pts.push((edges[k], y));
                pts.push((edges[k + 1], y));
            }
            chart
                .draw_series(LineSeries::new(
                    pts,
                    c.stroke_width(if i == 0 { 2 } else { 1 }),
                ))
                .map_err(perr)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(perr)?;
        Ok(())
    })
}

// ---- model throughput for `refloat bench --model PATH` -------------------------------------

/// Measures a model's inference throughput at the standard batch sizes (1k, 64k, 1M values)
/// on the CPU (and CUDA when available) next to `prior-mean`, on the model's variables read
/// from `file` (originals quantised to the model's bits, whole events tiled to each size),
/// prints a table and returns the rows.
pub fn model_bench(
    file: &Path,
    tree: &str,
    model: &Path,
    min_seconds: f64,
) -> Result<Vec<refloat::model::bench::BenchRow>> {
    use refloat::model::bench::{throughput, BATCH_SIZES};
    let m = Model::load_on(model, refloat::model::Device::Cpu)?;
    if m.meta().kind == ModelKind::DenoiseHistogram {
        bail!(
            "model {}: a histogram-mode model has no per-value throughput",
            model.display()
        );
    }
    let names: Vec<String> = m
        .meta()
        .variable_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let data = super::train::read_group(file, tree, &names)?;
    let refs: Vec<&[f32]> = data.originals.iter().map(Vec::as_slice).collect();
    let rows = throughput(model, &refs, &data.offsets, &BATCH_SIZES, min_seconds)?;
    println!(
        "model inference ({} model, {} variables; {} real objects of {} tiled by whole events, then quantised)",
        m.meta().kind,
        names.len(),
        data.originals[0].len(),
        file.display()
    );
    println!(
        "  {:<24} {:>8} {:>10} {:>7} {:>12} {:>14}",
        "method", "device", "batch", "calls", "Mvalues/s", "x prior-mean"
    );
    for r in &rows {
        let prior = rows
            .iter()
            .find(|p| p.method == "prior-mean" && p.batch == r.batch)
            .map(|p| p.values_per_second);
        println!(
            "  {:<24} {:>8} {:>10} {:>7} {:>12.3} {:>14}",
            r.method,
            r.device,
            r.batch,
            r.calls,
            r.values_per_second / 1e6,
            prior.map_or("-".into(), |p| format!("{:.3}", r.values_per_second / p))
        );
    }
    Ok(rows)
}
