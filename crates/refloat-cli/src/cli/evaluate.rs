//! `refloat evaluate`: how close each correction method gets to the originals, on events
//! that no model trained on.
//!
//! The files hold full-precision originals; the compressed side is made here with
//! `quantise`. Per branch and method, from the library's [`refloat::evaluate`] (one binning
//! convention for every table): the squared error relative to doing nothing (the compressed
//! values), the mean `|error|` in units of the interval width, KL / JS divergence (nats) and
//! Wasserstein-1 of fine-binned histograms against the original, the exact W1, and the AUC of
//! a classifier telling the corrected values from the originals (0.5 = cannot). Every
//! corrected value is also checked to re-quantise to its stored value. Models trained on a
//! file (its name is recorded in the model) are evaluated only on its validation events;
//! training events are excluded for every method so that all rows see the same events.
//!
//! `--table` prints the README's accuracy tables (every selected branch of each file, pooled
//! and medians over branches) as Markdown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use refloat::correct::{triage_rule_f32, verify_requantises_f32, Corrector, ExactPolicy, Method};
use refloat::evaluate::{score_branch, summarise, BranchScore, Summary, FINE_BINS, POSITION_BINS};
use refloat::io;
use refloat::metrics::{classifier_auc, ShiftOptions};
use refloat::residual::{analyse_steps, check_bounds, residuals_f32, StepOptions};
use refloat::{Quantiser32, RoundingMode};
#[cfg(feature = "torch")]
use refloat_model::{Model, ModelKind};
use serde::Serialize;

use super::common;

/// The default variables: the jets' four-momentum.
pub const DEFAULT_BRANCHES: [&str; 4] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
    "AnalysisJetsAuxDyn.m",
];

/// Arguments of `refloat evaluate`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat evaluate ../shared/data/PHYSLITE_example.root --bits 10 --methods midpoint,dither,prior-mean,model:jets.pt --out eval/
  refloat evaluate ORIG.root --bits 7 --mode truncate --branches 'AnalysisElectronsAuxDyn.*'
  refloat evaluate ../shared/data/*.root --branches '*' --methods compressed,midpoint,dither:1,prior-mean,triage-rule --table

Default branches: the variables of the models given, else the jets' pt, eta, phi, m.")]
pub struct Args {
    /// ROOT files with full-precision (original) floats.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Kept mantissa bits of the compression.
    #[arg(long, default_value_t = 10)]
    pub bits: u32,
    /// Rounding of the compression (ATLAS: nearest).
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    /// Tree to read. Default: CollectionTree, else Events, else the only tree with floats.
    #[arg(long)]
    pub tree: Option<String>,
    /// Branches to evaluate, by exact name or glob; repeat or separate with commas.
    #[arg(long = "branches", short = 'b', value_name = "NAME|GLOB", value_delimiter = ',', num_args = 1..)]
    pub branches: Vec<String>,
    /// Methods: compressed (no correction), midpoint, dither, dither:SEED, prior-mean,
    /// triage-rule (the bound-based triaging rule of `ATLAS_COMPRESSION.md`; it needs the
    /// originals: a reference, not a correction) and model:PATH (built with the torch feature).
    /// Repeat or separate with commas. Dither mixes SEED with each branch's name, as `refloat
    /// correct` does.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "midpoint,dither,prior-mean")]
    pub methods: Vec<String>,
    /// Seed of the classifier split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the README's accuracy tables (Markdown): per file, the bound check and step
    /// spacing, then per method the pooled and median scores over the branches. Skips the
    /// per-branch table.
    #[arg(long)]
    pub table: bool,
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
    pub file: PathBuf,
    pub branch: String,
    pub method: String,
    /// Values evaluated.
    pub values: usize,
    /// `Σ (estimate − original)² / Σ (stored − original)²`: 1 = no better than the stored values.
    pub mse_relative: f64,
    /// Bootstrap standard deviation of `mse_relative` (statistical uncertainty).
    pub mse_relative_sigma: f64,
    /// Mean `|estimate − original| / interval width` over the values a correction may move.
    pub mean_abs_error_over_width: f64,
    /// `KL(original ‖ estimate)` of [`FINE_BINS`]-bin histograms, nats.
    pub kl: f64,
    /// JS divergence of the same histograms, nats.
    pub js: f64,
    /// Wasserstein-1 distance of the same histograms, in the branch's unit.
    pub wasserstein_binned: f64,
    /// Exact Wasserstein-1 distance, in the branch's unit.
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

/// Per file: the bound check and step spacing of the compressed values.
#[derive(Serialize, Debug, Clone)]
pub struct FileCheck {
    pub file: PathBuf,
    pub values: usize,
    pub fraction_inside_bound: f64,
    /// Step spacing of the pooled residuals, decades (theory log10 2).
    pub step_spacing: Option<f64>,
}

/// Everything `evaluate` measured.
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub files: Vec<PathBuf>,
    pub mantissa_bits: u32,
    pub mode: String,
    pub events: usize,
    pub events_evaluated: usize,
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
    pub histogram_rows: Vec<HistogramRow>,
    pub checks: Vec<FileCheck>,
    /// Per (file, method): the scores over the branches.
    pub summaries: Vec<(PathBuf, String, Summary)>,
    /// Per file, when the triaging rule was evaluated: values it changed and their largest |x|.
    pub triage_rule_changes: Vec<(PathBuf, usize, f32)>,
}

/// The name of the stored values as a method.
const COMPRESSED: &str = "compressed";
/// The name of the triaging rule of `ATLAS_COMPRESSION.md` as a method.
const TRIAGE_RULE: &str = "triage-rule";

/// How the README's table labels a method.
fn table_label(method: &str) -> String {
    match method {
        COMPRESSED => "compressed (no correction)".into(),
        TRIAGE_RULE => "the triaging rule, ε = 0.1 (needs the original)".into(),
        m => m.into(),
    }
}

enum Estimator {
    Stored,
    Core(Method),
    TriageRule,
    #[cfg(feature = "torch")]
    Model(PathBuf, Box<Model>),
}

fn parse_method(s: &str, bits: u32, mode: RoundingMode) -> Result<(String, Estimator)> {
    if let Some(p) = s.strip_prefix("model:") {
        if p.is_empty() {
            bail!("model:PATH needs a path to the model");
        }
        return parse_model(p, bits, mode);
    }
    match s {
        "compressed" | "stored" => return Ok((COMPRESSED.into(), Estimator::Stored)),
        // "talk-rule": its former name, still accepted.
        TRIAGE_RULE | "talk-rule" => return Ok((TRIAGE_RULE.into(), Estimator::TriageRule)),
        _ => {}
    }
    let m: Method = s.parse()?;
    Ok((s.to_string(), Estimator::Core(m)))
}

#[cfg(not(feature = "torch"))]
fn parse_model(p: &str, _: u32, _: RoundingMode) -> Result<(String, Estimator)> {
    bail!("method model:{p}: this refloat was built without the torch feature (rebuild with `cargo build --release --features torch`)")
}

#[cfg(feature = "torch")]
fn parse_model(p: &str, bits: u32, mode: RoundingMode) -> Result<(String, Estimator)> {
    let path = PathBuf::from(p);
    let m = Model::load_for(&path, bits, mode, None)?;
    Ok((
        format!(
            "{}:{}",
            m.meta().kind,
            path.file_name()
                .map_or_else(|| p.into(), |f| f.to_string_lossy().into_owned())
        ),
        Estimator::Model(path, Box::new(m)),
    ))
}

/// Per model and variable: the model or its prior-mean fallback, and why (training's
/// validation MSEs).
#[cfg(feature = "torch")]
fn print_model_choices(methods: &[(String, Estimator)]) {
    for (name, e) in methods {
        let Estimator::Model(path, m) = e else {
            continue;
        };
        if m.meta().kind == ModelKind::DenoiseHistogram {
            continue;
        }
        println!(
            "{name} ({}): what corrects each variable, as training chose on its validation events:",
            path.display()
        );
        if m.meta().choices.is_empty() {
            println!("  the model everywhere (the file records no choice against prior-mean)");
        }
        for c in &m.meta().choices {
            println!("  {}", c.explain());
        }
    }
}

/// The models among the methods.
#[cfg(feature = "torch")]
fn models(methods: &[(String, Estimator)]) -> Vec<&Model> {
    methods
        .iter()
        .filter_map(|(_, e)| match e {
            Estimator::Model(_, m) => Some(&**m),
            _ => None,
        })
        .collect()
}

/// Events of the file not used to train any of the models (those trained on this file).
#[cfg(feature = "torch")]
fn held_out_events(
    file: &Path,
    events: usize,
    methods: &[(String, Estimator)],
) -> Result<(Vec<usize>, Option<String>)> {
    use refloat_model::train::split_events;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut keep = vec![true; events];
    let mut notes = Vec::new();
    for m in models(methods) {
        let t = &m.meta().training;
        if t.source.is_some() && t.source == name {
            let (train, _) = split_events(events, t.validation_fraction, t.seed)?;
            for e in &train {
                keep[*e] = false;
            }
            notes.push(format!(
                "{}: model ({}) was trained on this file: its {} training events are excluded",
                file.display(),
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

#[cfg(not(feature = "torch"))]
fn held_out_events(
    _: &Path,
    events: usize,
    _: &[(String, Estimator)],
) -> Result<(Vec<usize>, Option<String>)> {
    Ok(((0..events).collect(), None))
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
    file: &Path,
    branch: &str,
    method: &str,
    orig: &[f32],
    score: &BranchScore,
    est: &[f32],
    seed: u64,
) -> Result<Row> {
    let (a, b) = finite_pairs(orig, est);
    let auc = classifier_auc(&a, &b, ShiftOptions::default().classifier_bins, seed)
        .with_context(|| format!("branch {branch}, method {method}"))?;
    Ok(Row {
        file: file.to_path_buf(),
        branch: branch.into(),
        method: method.into(),
        values: score.values,
        mse_relative: score.mse_relative(),
        mse_relative_sigma: score.mse_relative_sigma,
        mean_abs_error_over_width: score.mean_abs_error_over_width,
        kl: score.kl,
        js: score.js,
        wasserstein_binned: score.wasserstein1_binned,
        wasserstein: score.wasserstein1,
        auc,
        invariant_violations: score.invariant_violations,
    })
}

/// Estimates of every method for one file: method name -> branch -> values.
type Estimates = Vec<(String, BTreeMap<String, Vec<f32>>)>;

/// The estimates of every method on the stored values of one file (`orig`: originals and
/// offsets per branch), and the histogram-mode models' rows.
fn estimate_all(
    methods: &[(String, Estimator)],
    orig: &BTreeMap<String, (Vec<f32>, Vec<usize>)>,
    stored: &BTreeMap<String, Vec<f32>>,
    q: Quantiser32,
    histogram_rows: &mut Vec<HistogramRow>,
) -> Result<Estimates> {
    let mut estimates = Vec::new();
    let pb = common::progress(methods.len(), "correct");
    for (name, est) in methods {
        pb.set_message(name.clone());
        let mut out = BTreeMap::new();
        match est {
            Estimator::Stored => {
                out = stored.clone();
            }
            Estimator::Core(m) => {
                for (b, s) in stored {
                    let mut v = s.clone();
                    // one seed per run, mixed per branch as `refloat correct` does
                    Corrector::for_branch(q, *m, b, ExactPolicy::default(), s)
                        .par_correct_in_place(&mut v, 0)?;
                    out.insert(b.clone(), v);
                }
            }
            Estimator::TriageRule => {
                for (b, s) in stored {
                    let r = triage_rule_f32(&orig[b].0, s, &q, 0.1)?;
                    out.insert(b.clone(), r.reconstructed);
                }
            }
            #[cfg(feature = "torch")]
            Estimator::Model(path, m) => {
                if model_estimates(name, path, m, orig, stored, &mut out, histogram_rows)? {
                    pb.inc(1);
                    continue;
                }
            }
        }
        estimates.push((name.clone(), out));
        pb.inc(1);
    }
    let _ = histogram_rows;
    pb.finish_and_clear();
    Ok(estimates)
}

/// A model's estimates into `out`; `true` if it is a histogram-mode model (rows instead).
#[cfg(feature = "torch")]
fn model_estimates(
    name: &str,
    path: &Path,
    m: &Model,
    orig: &BTreeMap<String, (Vec<f32>, Vec<usize>)>,
    stored: &BTreeMap<String, Vec<f32>>,
    out: &mut BTreeMap<String, Vec<f32>>,
    histogram_rows: &mut Vec<HistogramRow>,
) -> Result<bool> {
    use refloat::histogram::probabilities_on_edges;
    use refloat::metrics::kl_js_probabilities;
    if m.meta().kind == ModelKind::DenoiseHistogram {
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
            let po = probabilities_on_edges(&orig[v].0, &h.edges);
            let pc = probabilities_on_edges(s, &h.edges);
            let (kc, jc) = kl_js_probabilities(&po, &pc);
            let (km, jm) = kl_js_probabilities(&po, &h.probabilities);
            histogram_rows.push(HistogramRow {
                branch: v.to_string(),
                method: format!("{name} ({spec_bins} bins, {loss:?} loss)"),
                kl_compressed: kc,
                kl_model: km,
                js_compressed: jc,
                js_model: jm,
            });
        }
        return Ok(true);
    }
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
    Ok(false)
}

/// Runs `refloat evaluate`.
pub fn run(args: Args) -> Result<()> {
    let mode: RoundingMode = args.mode.into();
    let q = Quantiser32::new(args.bits, mode)?;
    let mut methods: Vec<(String, Estimator)> = args
        .methods
        .iter()
        .map(|s| parse_method(s, args.bits, mode))
        .collect::<Result<_>>()?;
    if methods.is_empty() {
        bail!("no method given");
    }
    // the stored values themselves are always the first row: the baseline of every ratio
    if !methods.iter().any(|(_, e)| matches!(e, Estimator::Stored)) {
        methods.insert(0, (COMPRESSED.into(), Estimator::Stored));
    }
    let method_names: Vec<String> = methods.iter().map(|(n, _)| n.clone()).collect();

    // Branches: as asked, plus every model variable.
    let mut wanted: Vec<String> = args.branches.clone();
    #[cfg(feature = "torch")]
    let model_list = models(&methods);
    #[cfg(not(feature = "torch"))]
    let model_list: Vec<()> = Vec::new();
    if wanted.is_empty() && model_list.is_empty() {
        wanted = DEFAULT_BRANCHES.iter().map(|s| s.to_string()).collect();
    }
    #[cfg(feature = "torch")]
    for m in &model_list {
        for v in m.meta().variable_names() {
            if !wanted.iter().any(|w| w == v) {
                wanted.push(v.to_string());
            }
        }
    }

    let mut report = Report {
        files: args.files.clone(),
        mantissa_bits: args.bits,
        mode: mode.to_string(),
        events: 0,
        events_evaluated: 0,
        notes: Vec::new(),
        rows: Vec::new(),
        histogram_rows: Vec::new(),
        checks: Vec::new(),
        summaries: Vec::new(),
        triage_rule_changes: Vec::new(),
    };
    let mut figures = 0usize;
    for file in &args.files {
        let mut f = io::open(file)?;
        let tree = f.tree_or_default(args.tree.as_deref())?;
        let sel = tree.select(&io::parse_patterns(&wanted)?)?;
        if sel.floats.is_empty() {
            bail!(
                "{}: tree '{}': no float branch selected",
                file.display(),
                tree.name()
            );
        }
        let branches = common::read_selected(&tree, &sel)?;
        let events = tree.entries() as usize;
        let (kept, note) = held_out_events(file, events, &methods)?;
        if let Some(n) = &note {
            eprintln!(
                "note: {n}; evaluating on the remaining {} of {events} events",
                kept.len()
            );
            report.notes.push(n.clone());
        }
        report.events += events;
        report.events_evaluated += kept.len();

        // Originals and stored values of the evaluated events, per branch: branches with at
        // least two values, all finite (the README tables' rule).
        let mut orig: BTreeMap<String, (Vec<f32>, Vec<usize>)> = BTreeMap::new();
        for b in &branches {
            let (v, offs) = select(b, &kept);
            if v.len() < 2 || v.iter().any(|x| !x.is_finite()) {
                report.notes.push(format!(
                    "{}: {}: fewer than 2 values or a non-finite value in the evaluated events, skipped",
                    file.display(),
                    b.name
                ));
                continue;
            }
            orig.insert(b.name.clone(), (v, offs));
        }
        let stored: BTreeMap<String, Vec<f32>> = orig
            .iter()
            .map(|(k, (v, _))| {
                let mut s = v.clone();
                q.quantise_slice(&mut s);
                (k.clone(), s)
            })
            .collect();
        report.checks.push(file_check(file, &orig, &stored, &q)?);
        let estimates = estimate_all(&methods, &orig, &stored, q, &mut report.histogram_rows)?;

        for (name, est) in &estimates {
            if name == TRIAGE_RULE {
                let (mut n, mut max) = (0usize, 0f32);
                for (b, e) in est {
                    for (s, r) in stored[b].iter().zip(e) {
                        if s.to_bits() != r.to_bits() {
                            n += 1;
                            max = max.max(s.abs());
                        }
                    }
                }
                report.triage_rule_changes.push((file.clone(), n, max));
            }
        }
        let pb = common::progress(estimates.len(), "scoring");
        for (name, est) in &estimates {
            pb.set_message(name.clone());
            let mut scores = Vec::new();
            for (b, (o, _)) in &orig {
                let (Some(e), s) = (est.get(b), &stored[b]) else {
                    continue;
                };
                if name != TRIAGE_RULE {
                    verify_requantises_f32(e, s, &q).map_err(|e| anyhow!("{name} on {b}: {e}"))?;
                }
                let score = score_branch(o, s, e, &q)?;
                if !args.table {
                    report
                        .rows
                        .push(row(file, b, name, o, &score, e, args.seed)?);
                }
                scores.push(score);
            }
            report
                .summaries
                .push((file.clone(), name.clone(), summarise(&scores)));
            pb.inc(1);
        }
        pb.finish_and_clear();

        if let Some(dir) = &args.out {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create directory", dir.display()))?;
            for (b, (o, _)) in &orig {
                let per: Vec<(&str, &Vec<f32>)> = estimates
                    .iter()
                    .filter(|(n, _)| n != COMPRESSED)
                    .filter_map(|(n, e)| e.get(b).map(|v| (n.as_str(), v)))
                    .collect();
                if per.is_empty() || o.len() < 4 {
                    continue;
                }
                error_figure(dir, b, o, &stored[b], &per, &q)?;
                histogram_figure(dir, b, o, &stored[b], &per)?;
                figures += 2;
            }
        }
    }

    if args.table {
        print_markdown(&report, &args, &method_names);
    } else {
        print_table(&report.rows, &report.histogram_rows);
    }
    #[cfg(feature = "torch")]
    print_model_choices(&methods);
    if let Some(dir) = &args.out {
        common::write_json(&dir.join("evaluate.json"), &report)?;
        println!(
            "wrote {figures} figures and evaluate.json to {}",
            dir.display()
        );
    }
    if let Some(p) = &args.json {
        common::write_json(p, &report)?;
    }
    Ok(())
}

/// The bound check and step spacing of one file's compressed values.
fn file_check(
    file: &Path,
    orig: &BTreeMap<String, (Vec<f32>, Vec<usize>)>,
    stored: &BTreeMap<String, Vec<f32>>,
    q: &Quantiser32,
) -> Result<FileCheck> {
    let (mut total, mut inside, mut residuals) = (0usize, 0usize, Vec::new());
    for (b, (o, _)) in orig {
        let check = check_bounds(o, &stored[b], q)?;
        total += check.total;
        inside += check.within_abs_bound;
        residuals.extend(residuals_f32(o, &stored[b])?);
    }
    Ok(FileCheck {
        file: file.to_path_buf(),
        values: total,
        fraction_inside_bound: inside as f64 / total.max(1) as f64,
        step_spacing: analyse_steps(&residuals, &StepOptions::default())
            .ok()
            .and_then(|s| s.spacing()),
    })
}

fn file_label(p: &Path) -> String {
    p.file_stem().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The README's accuracy tables.
fn print_markdown(r: &Report, args: &Args, methods: &[String]) {
    let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    println!(
        "Measured by `refloat evaluate {} --bits {} --mode {} --branches '{}' --methods {} --table` on every selected float branch with at least two values, all finite.\n",
        files.join(" "),
        args.bits,
        r.mode,
        args.branches.join(","),
        args.methods.join(","),
    );
    println!("#### n = {}, mode `{}`\n", r.mantissa_bits, r.mode);
    println!("| file | values | inside bound | step spacing (log10, theory 0.301) |");
    println!("|---|---|---|---|");
    for c in &r.checks {
        println!(
            "| `{}` | {} | {:.4} % | {} |",
            file_label(&c.file),
            c.values,
            100.0 * c.fraction_inside_bound,
            c.step_spacing.map_or("–".into(), |s| format!("{s:.3}"))
        );
    }
    println!();
    println!("| estimator | file | MSE / MSE(compressed), pooled in units of interval width | median over branches of MSE / MSE(compressed) | median KL(orig ‖ est), {FINE_BINS} bins | KL(orig ‖ est) of the position inside the interval, pooled, {POSITION_BINS} bins | median W1(orig, est) / W1(orig, compressed), {FINE_BINS} bins | the same, exact (unbinned) |");
    println!("|---|---|---|---|---|---|---|---|");
    for method in methods {
        for (file, name, s) in &r.summaries {
            if name != method {
                continue;
            }
            println!(
                "| {} | `{}` | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                table_label(name),
                file_label(file),
                s.pooled_mse_relative_width,
                s.median_mse_relative,
                s.median_kl,
                s.position_kl,
                s.median_wasserstein1_binned_relative,
                s.median_wasserstein1_relative
            );
        }
    }
    println!();
    for (file, n, max) in &r.triage_rule_changes {
        match n {
            0 => println!(
                "`{}`: the triaging rule changed no value  ",
                file_label(file)
            ),
            _ => println!(
                "`{}`: the triaging rule changed {n} values, all with |x_comp| ≤ {max:.3e}  ",
                file_label(file)
            ),
        }
    }
    println!();
}

fn print_table(rows: &[Row], hist: &[HistogramRow]) {
    println!(
        "{:<44} {:<30} {:>7} {:>18} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "branch", "method", "values", "MSE/comp ± boot.", "|e|/w", "KL", "JS", "W1", "AUC"
    );
    for r in rows {
        println!(
            "{:<44} {:<30} {:>7} {:>18} {:>9.4} {:>10.3e} {:>10.3e} {:>10.3e} {:>6.3}{}",
            r.branch,
            r.method,
            r.values,
            format!("{:.4} ± {:.4}", r.mse_relative, r.mse_relative_sigma),
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
    format!("{}.{what}.png", super::plot::file_stem(branch))
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

#[cfg(feature = "torch")]
/// Measures a model's inference throughput at the standard batch sizes (1k, 64k, 1M values)
/// on the CPU (and CUDA when available) next to `prior-mean`, on the model's variables read
/// from `file` (originals quantised to the model's bits, whole events tiled to each size),
/// prints a table and returns the rows.
pub fn model_bench(
    file: &Path,
    tree: Option<&str>,
    model: &Path,
    min_seconds: f64,
) -> Result<Vec<refloat_model::bench::BenchRow>> {
    use refloat_model::bench::{throughput, BATCH_SIZES};
    let m = Model::load_on(model, refloat_model::Device::Cpu)?;
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
        "model inference on one CPU core (libtorch intra-op threads 1, prior-mean serial) and CUDA if present ({} model, {} variables; {} real objects of {} tiled by whole events, then quantised)",
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
