//! `refloat advise`: how many kept mantissa bits each float branch needs (Figure 9 of
//! the seed study in `ATLAS_COMPRESSION.md`). The sweep and the recommendation are the library's
//! [`refloat::pipeline::advise_file`]; this module parses the arguments, prints the tables,
//! writes the JSON and draws one figure per branch group.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;
use refloat::advise::{AdviseOptions, ArtefactOptions, Resolution};
use refloat::io::BranchPattern;
use refloat::pipeline::{advise_file, AdviceReport, AdviseFileOptions, AdvisedBranch};

use super::common::{self, SelectArgs};
use super::plot::{perr, render, FONT};

/// Arguments of `refloat advise`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat advise ../shared/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root --json /tmp/advice.json --out /tmp/advice
  refloat compress ../shared/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root /tmp/advised.root --bits-from /tmp/advice.json
  refloat advise in.root --branches 'AnalysisJetsAuxDyn.*' --resolution 'AnalysisJetsAuxDyn.pt=5%' --resolution '*.eta=0.01'
  refloat advise ../shared/data/nano_dy.root --mode cms      # NanoAOD: the stored values stand in for the originals

Writes --json PATH (per branch: the sweep, the input's detected bits, recommended_bits, and why
the next count down fails) and OUT/advise_GROUP.png: the metrics and the compressed size against
kept bits, one line per branch, per branch group.")]
pub struct Args {
    /// ROOT file with the original (full-precision) floats.
    pub input: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// The rounding scheme swept.
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    /// Smallest kept bits swept.
    #[arg(long, default_value_t = 4)]
    pub min_bits: u32,
    /// Largest kept bits swept.
    #[arg(long, default_value_t = 23)]
    pub max_bits: u32,
    /// A resolution for the branches a glob matches: absolute in the branch's units (`0.01`) or
    /// relative (`5%`); the quantisation step must stay below --resolution-fraction of it.
    /// Repeat for several globs; the first match applies.
    #[arg(long, value_name = "GLOB=RES")]
    pub resolution: Vec<String>,
    /// Fraction of the resolution the quantisation step may reach.
    #[arg(long, default_value_t = 0.1)]
    pub resolution_fraction: f64,
    /// Smallest KS p-value that passes.
    #[arg(long, default_value_t = 0.05)]
    pub significance: f64,
    /// Bins of the artefact detector's fine histogram (over the central 99 % of the values).
    #[arg(long, default_value_t = 200)]
    pub artefact_bins: usize,
    /// The sample size (values) at which an artefact must not be visible.
    #[arg(long, default_value_t = 1e6)]
    pub artefact_values: f64,
    /// Largest relative shift of a value that passes, for degenerate branches (at most 16
    /// distinct values: constants, charges, flags), which are not judged by two-sample tests.
    #[arg(long, default_value_t = 1e-3)]
    pub degenerate_tolerance: f64,
    /// Do not measure the compressed sizes.
    #[arg(long)]
    pub no_sizes: bool,
    /// Write the whole sweep and the recommendations as JSON.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Directory for the figures (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print every branch (default: the per-group table and the first 30 branches).
    #[arg(long)]
    pub all_rows: bool,
}

/// `GLOB=VALUE` into its two sides.
pub fn split_rule<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    text.rsplit_once('=')
        .filter(|(g, v)| !g.is_empty() && !v.is_empty())
        .with_context(|| format!("{what} '{text}': expected GLOB=VALUE"))
}

/// Runs `refloat advise`.
pub fn run(args: Args) -> Result<()> {
    let resolutions = args
        .resolution
        .iter()
        .map(|r| {
            let (glob, value) = split_rule(r, "--resolution")?;
            Ok((
                BranchPattern::parse(glob)?,
                value
                    .parse::<Resolution>()
                    .with_context(|| format!("--resolution '{r}'"))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = AdviseFileOptions {
        select: args.select.to_select(),
        advise: AdviseOptions {
            mode: args.mode.into(),
            min_bits: args.min_bits,
            max_bits: args.max_bits,
            significance: args.significance,
            degenerate_tolerance: args.degenerate_tolerance,
            resolution_fraction: args.resolution_fraction,
            artefacts: ArtefactOptions {
                bins: args.artefact_bins,
                sample_values: args.artefact_values,
                ..Default::default()
            },
            ..Default::default()
        },
        resolutions,
        measure_sizes: !args.no_sizes,
    };
    let report = advise_file(&args.input, &opts, &mut common::bars())?;
    print(&report, args.all_rows);
    if let Some(json) = &args.json {
        report.write_json(json)?;
        println!("sweep and recommendations written to {}", json.display());
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("{}: cannot create the directory", out.display()))?;
        let mut written = Vec::new();
        for (group, branches) in groups(&report.branches) {
            written.push(figure(out, &group, &branches, &report.options)?);
        }
        println!("figures: {} in {}", written.join(", "), out.display());
    }
    Ok(())
}

/// The group of a branch: its container (`AnalysisJets` of `AnalysisJetsAuxDyn.pt`, `Jet` of
/// NanoAOD's `Jet_pt`), `other` for a name with neither separator.
pub fn group_of(name: &str) -> String {
    if let Some((container, _)) = name.split_once('.') {
        return container
            .trim_end_matches("AuxDyn")
            .trim_end_matches("Aux")
            .to_string();
    }
    match name.split_once('_') {
        Some((collection, _)) => collection.to_string(),
        None => "other".to_string(),
    }
}

fn groups(branches: &[AdvisedBranch]) -> BTreeMap<String, Vec<&AdvisedBranch>> {
    let mut g: BTreeMap<String, Vec<&AdvisedBranch>> = BTreeMap::new();
    for b in branches {
        g.entry(group_of(&b.advice.name)).or_default().push(b);
    }
    g
}

/// Sum of the compressed bytes at `bits` over `branches` (`None` without sizes).
fn bytes_at(branches: &[&AdvisedBranch], bits: impl Fn(&AdvisedBranch) -> u32) -> Option<u64> {
    branches
        .iter()
        .map(|b| {
            let n = bits(b);
            b.advice
                .sweep
                .iter()
                .find(|p| p.mantissa_bits == n)
                .and_then(|p| p.compressed_bytes)
                .or_else(|| (n >= 23).then_some(b.input_bytes).flatten())
        })
        .sum()
}

fn print(r: &AdviceReport, all_rows: bool) {
    let o = &r.options;
    println!(
        "advise: {} branches of tree '{}' ({} entries) swept from {} to {} kept bits ({}); sizes: the baskets' float values recompressed ({})",
        r.branches.len(),
        r.tree,
        r.entries,
        o.min_bits,
        o.max_bits,
        o.mode,
        r.compression
    );
    println!(
        "criteria: KS p >= {}, mean and std shifts within {} σ, no artefact visible at {} bins in {:.0e} values, degenerate branches (<= {} distinct values) by relative shift <= {:e}",
        o.significance,
        o.z_max,
        o.artefacts.bins,
        o.artefacts.sample_values,
        o.degenerate_distinct,
        o.degenerate_tolerance
    );
    println!();
    println!(
        "{:<28} {:>8} {:>9} {:>14} {:>12} {:>12} {:>12}",
        "group", "branches", "values", "recommended", "input", "at advice", "at 10 bits"
    );
    for (group, bs) in groups(&r.branches) {
        let mut rec: Vec<u32> = bs.iter().map(|b| b.advice.recommended_bits).collect();
        rec.sort_unstable();
        let size = |v: Option<u64>| v.map_or("-".into(), common::human_bytes);
        println!(
            "{:<28} {:>8} {:>9} {:>14} {:>12} {:>12} {:>12}",
            group,
            bs.len(),
            bs.iter().map(|b| b.advice.values).sum::<u64>(),
            format!(
                "{} ({}–{})",
                refloat::stats::upper_median_sorted(&rec).unwrap_or_default(),
                rec[0],
                rec[rec.len() - 1]
            ),
            size(bs.iter().map(|b| b.input_bytes).sum()),
            size(bytes_at(&bs, |b| b.advice.recommended_bits)),
            size(bytes_at(&bs, |_| 10)),
        );
    }
    println!();
    println!(
        "{:<48} {:>7} {:>6} {:>5}  why not one bit fewer",
        "branch", "values", "input", "rec."
    );
    let limit = if all_rows { usize::MAX } else { 30 };
    for b in r.branches.iter().take(limit) {
        let a = &b.advice;
        let input = match b.input.bits {
            Some(bits) => bits.to_string(),
            None => "-".into(),
        };
        let mut why = if a.limited_by.is_empty() {
            format!("passes at {} bits, the sweep's minimum", o.min_bits)
        } else {
            a.limited_by.clone()
        };
        if a.degenerate {
            why = format!("degenerate ({} values): {why}", a.distinct);
        }
        if let Some(info) = &b.information {
            if let (Some(last), Some(bits)) = (info.last_kept_bit, b.input.bits.filter(|&n| n < 23))
            {
                why = format!(
                    "{why}; last kept bit ({bits}) carries {last:.3} bits/value ({})",
                    info.neighbour
                );
            }
        }
        if let Some(art) = b.input_artefacts.as_ref().filter(|x| x.flagged()) {
            why = format!(
                "{why}; the input as stored shows {} from {:.1e} values",
                art.kind,
                art.visible_from()
            );
        }
        println!(
            "{:<48} {:>7} {:>6} {:>5}  {}",
            a.name, a.values, input, a.recommended_bits, why
        );
    }
    if r.branches.len() > limit {
        println!("... {} more (--all-rows)", r.branches.len() - limit);
    }
    if !r.not_swept.is_empty() {
        println!("\nnot swept:");
        for s in &r.not_swept {
            println!("  {}: {}", s.name, s.reason);
        }
    }
}

/// The group's figure: six panels against kept bits, one grey line per branch and the
/// group's median in blue; the pass thresholds in red.
fn figure(
    out: &Path,
    group: &str,
    branches: &[&AdvisedBranch],
    o: &AdviseOptions,
) -> Result<String> {
    type Metric = fn(&refloat::advise::SweepPoint) -> f64;
    let panels: [(&str, Metric, bool, Option<f64>); 6] = [
        ("KS statistic", |p| p.ks_statistic, false, None),
        ("JS divergence [nats]", |p| p.js_divergence, true, None),
        (
            "|mean shift| / stat. error",
            |p| p.mean_shift_sigma.abs(),
            true,
            Some(o.z_max),
        ),
        (
            "|AUC − 0.5| / stat. error",
            |p| (p.classifier_auc - 0.5).abs() / p.auc_error,
            true,
            None,
        ),
        (
            "artefact visible from [values]",
            |p| p.artefacts.visible_from().min(1e15),
            true,
            Some(o.artefacts.sample_values),
        ),
        (
            "compressed size / at 23 bits",
            |p| p.compressed_bytes.map_or(f64::NAN, |b| b as f64),
            false,
            None,
        ),
    ];
    let name = format!("advise_{group}.png");
    let x0 = o.min_bits as f64 - 0.5;
    let x1 = o.max_bits as f64 + 0.5;
    render(out, &name, |root| {
        let (title, body) = root.split_vertically(50);
        title
            .titled(
                &format!(
                    "{group}: {} branches rounded at {}..{} kept bits ({})",
                    branches.len(),
                    o.min_bits,
                    o.max_bits,
                    o.mode
                ),
                (FONT, 26),
            )
            .map_err(perr)?;
        for (area, (label, metric, log, threshold)) in body.split_evenly((2, 3)).iter().zip(panels)
        {
            // Per branch: the metric against bits (sizes relative to the branch's 23-bit size).
            let lines: Vec<Vec<(f64, f64)>> = branches
                .iter()
                .map(|b| {
                    let norm = if label.starts_with("compressed") {
                        b.advice
                            .sweep
                            .last()
                            .and_then(|p| p.compressed_bytes)
                            .map_or(f64::NAN, |v| v.max(1) as f64)
                    } else {
                        1.0
                    };
                    b.advice
                        .sweep
                        .iter()
                        .map(|p| (p.mantissa_bits as f64, metric(p) / norm))
                        .filter(|(_, y)| y.is_finite())
                        .collect()
                })
                .collect();
            let floor = if label.starts_with("artefact") {
                1.0
            } else {
                1e-6
            };
            let ys: Vec<f64> = lines.iter().flatten().map(|&(_, y)| y).collect();
            let ymax = ys
                .iter()
                .fold(threshold.unwrap_or(0.0), |m, &y| m.max(y))
                .max(1e-3)
                * 1.5;
            let median: Vec<(f64, f64)> = (o.min_bits..=o.max_bits)
                .filter_map(|bits| {
                    let mut v: Vec<f64> = lines
                        .iter()
                        .filter_map(|l| l.iter().find(|p| p.0 == bits as f64).map(|p| p.1))
                        .collect();
                    v.sort_by(f64::total_cmp);
                    refloat::stats::upper_median_sorted(&v).map(|m| (bits as f64, m))
                })
                .collect();
            if ys.is_empty() {
                area.titled(&format!("{label}: not measured"), (FONT, 20))
                    .map_err(perr)?;
                continue;
            }
            let mut cb = ChartBuilder::on(area);
            cb.margin(12)
                .caption(label, (FONT, 20))
                .x_label_area_size(40)
                .y_label_area_size(70);
            let clamp = |y: f64| if log { y.max(floor) } else { y };
            macro_rules! draw {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc("kept mantissa bits")
                        .x_label_formatter(&|x| format!("{x:.0}"))
                        .y_label_formatter(&|y| {
                            if log {
                                format!("{y:.0e}")
                            } else {
                                format!("{y:.2}")
                            }
                        })
                        .label_style((FONT, 15))
                        .light_line_style(WHITE.mix(0.0))
                        .draw()
                        .map_err(perr)?;
                    for l in &lines {
                        chart
                            .draw_series(LineSeries::new(
                                l.iter().map(|&(x, y)| (x, clamp(y))),
                                RGBColor(110, 110, 110).mix(0.35),
                            ))
                            .map_err(perr)?;
                    }
                    chart
                        .draw_series(LineSeries::new(
                            median.iter().map(|&(x, y)| (x, clamp(y))),
                            RGBColor(31, 119, 180).stroke_width(3),
                        ))
                        .map_err(perr)?;
                    if let Some(t) = threshold {
                        chart
                            .draw_series(LineSeries::new(
                                [(x0, t), (x1, t)],
                                RGBColor(200, 30, 40).stroke_width(2),
                            ))
                            .map_err(perr)?;
                    }
                }};
            }
            if log {
                draw!(cb
                    .build_cartesian_2d(x0..x1, (floor..ymax.max(10.0 * floor)).log_scale())
                    .map_err(perr)?);
            } else {
                draw!(cb.build_cartesian_2d(x0..x1, 0.0..ymax).map_err(perr)?);
            }
        }
        Ok(())
    })
}
