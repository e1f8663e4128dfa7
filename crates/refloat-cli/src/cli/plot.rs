//! PNG figures of `refloat analyse` (plotters, bitmap backend).
//!
//! Text is drawn with DejaVu Sans, embedded in the binary through the `dejavu` crate and
//! plotters' `ab_glyph` feature: no system fonts or fontconfig are needed.
//!
//! Figures (Figures 1–6 of the seed study in `ATLAS_COMPRESSION.md`), per branch: value
//! distributions of both files with their ratio; the log-binned `|r|` histogram with the detected
//! steps; the signed residuals on a symlog axis; the 2D map `(log10|x|, sign(r)·log10|r|)` with the
//! bound lines `±(log10|x| − n·log10 2)`. The last three also pooled over all branches.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use refloat::bounds::triage_bound_log10;
use refloat::histogram::{Histogram1D, UniformBins};
use refloat::residual::{
    analyse_steps, residual_map, symlog, symlog_histogram, symlog_inverse, StepAnalysis,
    StepOptions,
};

use super::common;
use refloat::pipeline::{AnalyseReport as Report, AnalysedBranch as BranchReport, Pair};

const W: u32 = 1280;
const H: u32 = 860;
pub(crate) const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 110, 20);
const RED: RGBColor = RGBColor(200, 30, 40);
const GREY: RGBColor = RGBColor(110, 110, 110);

static FONTS: Once = Once::new();

fn register_fonts() {
    FONTS.call_once(|| {
        // The bytes are valid TTF files shipped by the dejavu crate; failure would be a
        // packaging bug, and the figures would then lack text rather than fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(crate) fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// The legend box of every figure: white, framed, at `position`.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.92))
        .border_style(BLACK)
        .label_font((FONT, 20))
        .draw()
        .map_err(perr)
}

/// Draws into a temporary PNG beside `out/name` and renames it on success.
pub(crate) fn render(
    out: &Path,
    name: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    register_fonts();
    let path = out.join(name);
    let tmp = common::temp_beside(&path)?;
    let tmp_path = tmp.path().to_path_buf();
    {
        let root = BitMapBackend::new(&tmp_path, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        draw(&root)?;
        root.present()
            .map_err(perr)
            .with_context(|| format!("{}: writing the figure", path.display()))?;
    }
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(name.to_string())
}

/// Axis label of a branch's values, with units (PHYSLITE stores energies and momenta in MeV).
pub fn value_label(name: &str) -> String {
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let lower = leaf.to_ascii_lowercase();
    let mev = [
        "pt",
        "m",
        "e",
        "et",
        "px",
        "py",
        "pz",
        "mass",
        "sumpt",
        "jettrkpx",
        "jettrkpy",
        "jettrkpz",
        "jettrke",
        "jettrksumpt",
    ];
    if lower == "eta" || lower.ends_with("_eta") || lower.starts_with("eta") {
        "η".into()
    } else if lower == "phi" || lower.ends_with("_phi") || lower.starts_with("phi") {
        "φ [rad]".into()
    } else if mev.contains(&lower.as_str())
        || lower.contains("cone")
        || lower.starts_with("pt")
        || lower.ends_with("pt")
    {
        format!("{leaf} [MeV]")
    } else {
        format!("{leaf} [branch units]")
    }
}

fn residual_unit(name: &str) -> &'static str {
    let l = value_label(name);
    if l.ends_with("[MeV]") {
        "MeV"
    } else if l.ends_with("[rad]") {
        "rad"
    } else if l == "η" {
        "dimensionless"
    } else {
        "branch units"
    }
}

fn bits_text(report: &BranchReport) -> String {
    match report.mantissa_bits {
        Some(n) => format!(
            "{n} kept mantissa bits{}",
            if report.bits_inferred {
                " (inferred)"
            } else {
                ""
            }
        ),
        None => "bits unknown".into(),
    }
}

/// Step outline of a histogram for a log y axis: empty bins sit at `floor`.
fn step_points(edges: &[f64], counts: &[f64], floor: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * counts.len() + 2);
    pts.push((edges[0], floor));
    for (i, &c) in counts.iter().enumerate() {
        let y = if c > 0.0 { c } else { floor };
        pts.push((edges[i], y));
        pts.push((edges[i + 1], y));
    }
    pts.push((edges[edges.len() - 1], floor));
    pts
}

/// A tick label: `100`, `0.5`, `-2.5`, `1e5`, `2.5e-3` (no trailing zeros).
fn tick(v: &f64) -> String {
    let v = *v;
    if v == 0.0 {
        return "0".into();
    }
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if v.abs() >= 1e5 || v.abs() < 1e-3 {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').expect("exponent");
        format!("{}e{e}", trim(m.to_string()))
    } else {
        trim(format!("{v:.4}"))
    }
}

/// A tick label on a log axis: only 1, 2 and 5 times a power of ten are labelled.
fn log_tick(v: &f64) -> String {
    if *v <= 0.0 {
        return String::new();
    }
    let m = *v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|k| (m - k).abs() < 1e-6 * k)
    {
        tick(v)
    } else {
        String::new()
    }
}

/// Three significant digits, plain or scientific.
fn sig3(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-2 || x.abs() >= 1e4) {
        format!("{x:.2e}")
    } else {
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    }
}

/// Figure 1: value distributions of both files overlaid, and their ratio. Positive values
/// spanning more than two decades (momenta, energies) get logarithmic bins and a log axis.
fn values_figure(
    out: &Path,
    pair: &Pair,
    report: &BranchReport,
    orig_name: &str,
    comp_name: &str,
) -> Result<String> {
    let name = &pair.original.name;
    let o = &pair.orig_finite;
    let c = &pair.comp_finite;
    let (mut lo, mut hi) = o
        .iter()
        .chain(c)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v as f64), b.max(v as f64))
        });
    if lo >= hi || lo.is_nan() || hi.is_nan() {
        lo -= 0.5;
        hi += 0.5;
    }
    let log_x = lo > 0.0 && hi / lo > 30.0;
    let bins = 80;
    let edges: Vec<f64> = if log_x {
        let (a, b) = (lo.log10(), hi.log10());
        (0..=bins)
            .map(|i| 10f64.powf(a + (b - a) * i as f64 / bins as f64))
            .collect()
    } else {
        (0..=bins)
            .map(|i| lo + (hi - lo) * i as f64 / bins as f64)
            .collect()
    };
    // Make sure the extreme values fall inside despite rounding of the edges.
    let mut edges = edges;
    edges[0] = lo;
    edges[bins] = hi;
    let ho = refloat::histogram::counts_on_edges(o, &edges);
    let hc = refloat::histogram::counts_on_edges(c, &edges);
    let ymax = ho.iter().chain(&hc).fold(1.0f64, |m, &v| m.max(v)) * 3.0;
    let y_desc = if log_x {
        format!(
            "entries / {:.3} dex",
            (hi.log10() - lo.log10()) / bins as f64
        )
    } else {
        match residual_unit(name) {
            "dimensionless" | "branch units" => {
                format!("entries / {}", sig3((hi - lo) / bins as f64))
            }
            u => format!("entries / {} {u}", sig3((hi - lo) / bins as f64)),
        }
    };
    let file = format!("{}.values.png", file_stem(name));
    let legend_o = format!("original ({orig_name}), {} values", o.len());
    let legend_c = format!("compressed ({comp_name})");
    let caption = format!("{name}: {}", bits_text(report));
    let xlabel = value_label(name);
    let ratio: Vec<(f64, f64)> = (0..bins)
        .filter(|&i| ho[i] > 0.0)
        .map(|i| {
            let centre = if log_x {
                (edges[i] * edges[i + 1]).sqrt()
            } else {
                0.5 * (edges[i] + edges[i + 1])
            };
            (centre, hc[i] / ho[i])
        })
        .collect();
    let dev = ratio
        .iter()
        .fold(0.02f64, |m, (_, r)| m.max((r - 1.0).abs()).min(1.0))
        * 1.2;
    let text = ValuesText {
        caption,
        y_desc,
        xlabel,
        legend_o,
        legend_c,
    };
    render(out, &file, |root| {
        if log_x {
            draw_values(
                root,
                true,
                (lo..hi).log_scale(),
                (lo..hi).log_scale(),
                (lo, hi),
                &edges,
                &ho,
                &hc,
                &ratio,
                dev,
                ymax,
                &text,
            )
        } else {
            draw_values(
                root,
                false,
                lo..hi,
                lo..hi,
                (lo, hi),
                &edges,
                &ho,
                &hc,
                &ratio,
                dev,
                ymax,
                &text,
            )
        }
    })
}

struct ValuesText {
    caption: String,
    y_desc: String,
    xlabel: String,
    legend_o: String,
    legend_c: String,
}

#[allow(clippy::too_many_arguments)]
fn draw_values<X>(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    log_x: bool,
    x_top: X,
    x_bottom: X,
    (lo, hi): (f64, f64),
    edges: &[f64],
    ho: &[f64],
    hc: &[f64],
    ratio: &[(f64, f64)],
    dev: f64,
    ymax: f64,
    text: &ValuesText,
) -> Result<()>
where
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let (top, bottom) = root.split_vertically(H * 68 / 100);
    let mut chart = ChartBuilder::on(&top)
        .caption(&text.caption, (FONT, 28))
        .margin(18)
        .margin_bottom(4)
        .x_label_area_size(20)
        .y_label_area_size(100)
        .build_cartesian_2d(x_top, (0.5f64..ymax).log_scale())
        .map_err(perr)?;
    chart
        .configure_mesh()
        .y_desc(&text.y_desc)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&log_tick)
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 22))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(LineSeries::new(
            step_points(edges, ho, 0.5),
            BLUE.stroke_width(3),
        ))
        .map_err(perr)?
        .label(&text.legend_o)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], BLUE.stroke_width(3)));
    chart
        .draw_series(DashedLineSeries::new(
            step_points(edges, hc, 0.5),
            10,
            6,
            ORANGE.stroke_width(3),
        ))
        .map_err(perr)?
        .label(&text.legend_c)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], ORANGE.stroke_width(3)));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;

    let mut rc = ChartBuilder::on(&bottom)
        .margin(18)
        .margin_top(4)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(x_bottom, (1.0 - dev)..(1.0 + dev))
        .map_err(perr)?;
    rc.configure_mesh()
        .x_desc(&text.xlabel)
        .y_desc("compr. / orig.")
        .y_labels(5)
        .x_label_formatter(if log_x { &log_tick } else { &tick })
        .y_label_formatter(&tick)
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 22))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(perr)?;
    rc.draw_series(LineSeries::new(
        vec![(lo, 1.0), (hi, 1.0)],
        GREY.stroke_width(1),
    ))
    .map_err(perr)?;
    rc.draw_series(
        ratio
            .iter()
            .map(|&(x, r)| Circle::new((x, r), 4, BLACK.filled())),
    )
    .map_err(perr)?;
    Ok(())
}

/// Figure 2/3: histogram of `log10|r|` with the detected steps marked (red triangles on
/// the peaks). The range shown is the central 99.8 % of the residuals, plus half a decade.
/// Small samples are drawn with merged bins so the shape stays readable; the peaks are the
/// ones [`StepAnalysis`] found on its own binning.
fn abs_residual_figure(
    out: &Path,
    file: &str,
    title: &str,
    unit: &str,
    steps: &StepAnalysis,
) -> Result<String> {
    let h = &steps.histogram;
    let n_in = h.in_range();
    // Central range from the cumulative counts.
    let total = n_in.max(1) as f64;
    let mut cum = 0.0;
    let (mut qlo, mut qhi) = (h.edges[0], h.edges[h.edges.len() - 1]);
    let mut lo_set = false;
    for (i, &c) in h.counts.iter().enumerate() {
        cum += c as f64;
        if !lo_set && cum / total >= 0.001 {
            qlo = h.edges[i];
            lo_set = true;
        }
        if cum / total >= 0.999 {
            qhi = h.edges[i + 1];
            break;
        }
    }
    let (lo, hi) = (
        (qlo - 0.5).max(h.edges[0]),
        (qhi + 0.5).min(h.edges[h.edges.len() - 1]),
    );
    // Merge bins for display: about 40 entries per bin on average, at most 4 bins merged.
    let shown_bins = h
        .counts
        .iter()
        .enumerate()
        .filter(|(i, _)| h.edges[*i] >= lo && h.edges[*i + 1] <= hi)
        .count()
        .max(1);
    let merge = ((40 * shown_bins) as f64 / total).ceil().clamp(1.0, 4.0) as usize;
    let mut edges = vec![h.edges[0]];
    let mut counts = Vec::new();
    for (k, chunk) in h.counts.chunks(merge).enumerate() {
        counts.push(chunk.iter().sum::<u64>() as f64);
        edges.push(h.edges[((k + 1) * merge).min(h.counts.len())]);
    }
    let ymax = counts
        .iter()
        .zip(edges.windows(2))
        .filter(|(_, e)| e[1] >= lo && e[0] <= hi)
        .fold(1.0f64, |m, (&v, _)| m.max(v))
        * 1.3;
    let bw = edges[1] - edges[0];
    let peak_height = |x: f64| -> f64 {
        counts[refloat::histogram::bin_clamped(&edges, x).min(counts.len() - 1)]
    };
    render(out, file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 28))
            .margin(18)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(lo..hi, 0.0..ymax)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(format!("log10 |r|,   r = original − compressed [{unit}]"))
            .y_desc(format!("residuals / {bw:.3} dex"))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 22))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(perr)?;
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(i, &c)| c > 0.0 && edges[*i + 1] > lo && edges[*i] < hi)
                    .map(|(i, &c)| {
                        Rectangle::new(
                            [(edges[i].max(lo), 0.0), (edges[i + 1].min(hi), c)],
                            BLUE.mix(0.55).filled(),
                        )
                    }),
            )
            .map_err(perr)?
            .label(format!(
                "|r| > 0: {n_in} residuals ({} exact zeros not shown)",
                h.zeros
            ))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 6), (x + 30, y + 6)], BLUE.mix(0.55).filled())
            });
        let label = match steps.spacing() {
            Some(s) => format!(
                "{} significant peaks; step spacing {s:.3} dex (theory log10 2 = {:.3})",
                steps.peaks.len(),
                steps.theory
            ),
            None => format!(
                "{} significant peaks; step spacing not determined",
                steps.peaks.len()
            ),
        };
        let offset = 0.03 * ymax;
        chart
            .draw_series(
                steps
                    .peaks
                    .iter()
                    .filter(|p| p.position >= lo && p.position <= hi)
                    .map(|p| {
                        TriangleMarker::new(
                            (p.position, peak_height(p.position) + offset),
                            9,
                            RED.filled(),
                        )
                    }),
            )
            .map_err(perr)?
            .label(label)
            .legend(|(x, y)| TriangleMarker::new((x + 15, y), 9, RED.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

/// Figure 4: signed residuals on a symlog axis.
fn signed_residual_figure(
    out: &Path,
    file: &str,
    title: &str,
    unit: &str,
    residuals: &[f64],
) -> Result<Option<String>> {
    // Linear threshold: the power of ten below the 0.1 % quantile of the non-zero |r|, so a
    // few tiny residuals do not stretch the axis over dozens of decades.
    let mut nonzero: Vec<f64> = residuals
        .iter()
        .filter(|r| **r != 0.0)
        .map(|r| r.abs())
        .collect();
    if nonzero.is_empty() {
        return Ok(None);
    }
    nonzero.sort_by(f64::total_cmp);
    let linthresh = 10f64.powf(nonzero[nonzero.len() / 1000].log10().floor());
    let below = nonzero.partition_point(|&a| a < linthresh);
    let max_abs = nonzero[nonzero.len() - 1];
    let t = symlog(max_abs, linthresh).ceil().max(2.0);
    let per_unit = 20usize;
    let bins = UniformBins::new(-t, t, (2.0 * t) as usize * per_unit)?;
    let h: Histogram1D = symlog_histogram(residuals, linthresh, bins)?;
    let counts: Vec<f64> = h.counts.iter().map(|&c| c as f64).collect();
    let ymax = counts.iter().fold(1.0f64, |m, &v| m.max(v)) * 3.0;
    let every = ((2.0 * t + 1.0) / 13.0).ceil().max(1.0) as i64;
    let fmt = move |v: &f64| {
        let k = v.round() as i64;
        if (v - k as f64).abs() > 1e-9 || k % every != 0 {
            return String::new();
        }
        let r = symlog_inverse(*v, linthresh);
        if r == 0.0 {
            "0".to_string()
        } else {
            format!("{r:.0e}")
        }
    };
    let zeros = residuals.len() - nonzero.len();
    Ok(Some(render(out, file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 28))
            .margin(18)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(-t..t, (0.5f64..ymax).log_scale())
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "r = original − compressed [{unit}]   (symlog axis, linear within ±{})",
                tick(&linthresh)
            ))
            .y_desc(format!(
                "residuals / {:.2} symlog units",
                1.0 / per_unit as f64
            ))
            .x_labels(2 * t as usize + 1)
            .x_label_formatter(&fmt)
            .y_label_formatter(&log_tick)
            .label_style((FONT, 18))
            .axis_desc_style((FONT, 22))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(perr)?;
        chart
            .draw_series(LineSeries::new(
                step_points(&h.edges, &counts, 0.5),
                BLUE.stroke_width(2),
            ))
            .map_err(perr)?
            .label(format!(
                "{} residuals ({zeros} exactly 0, {below} others inside ±{})",
                residuals.len(),
                tick(&linthresh)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], BLUE.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?))
}

/// Viridis, sampled at 9 points and interpolated linearly; `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
    const P: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = t.clamp(0.0, 1.0) * (P.len() - 1) as f64;
    let i = (t.floor() as usize).min(P.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    RGBColor(
        mix(P[i].0, P[i + 1].0),
        mix(P[i].1, P[i + 1].1),
        mix(P[i].2, P[i + 1].2),
    )
}

/// Figure 5/6: the 2D map with the bound lines.
fn residual_map_figure(
    out: &Path,
    file: &str,
    title: &str,
    unit: &str,
    originals: &[f32],
    residuals: &[f64],
    bits: Option<u32>,
) -> Result<Option<String>> {
    let pts: Vec<(f64, f64)> = originals
        .iter()
        .zip(residuals)
        .filter(|(_, r)| **r != 0.0)
        .map(|(&x, &r)| refloat::residual::residual_map_point(x as f64, r))
        .collect();
    if pts.is_empty() {
        return Ok(None);
    }
    let (x0, x1, y0, y1) = pts.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |a, &(x, y)| (a.0.min(x), a.1.max(x), a.2.min(y), a.3.max(y)),
    );
    let (x0, x1) = ((x0 - 0.25).floor(), (x1 + 0.25).ceil());
    let ylim = y0.abs().max(y1.abs()).ceil() + 0.5;
    let (y0, y1) = (-ylim, ylim);
    let (nx, ny) = (120usize, 120usize);
    let h = residual_map(
        originals,
        residuals,
        UniformBins::new(x0, x1, nx)?,
        UniformBins::new(y0, y1, ny)?,
    )?;
    let maxc = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let zeros = h.zeros;
    Ok(Some(render(out, file, |root| {
        let (main, bar) = root.split_horizontally(W - 150);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, (FONT, 28))
            .margin(18)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(format!("log10 |x|,   x = original [{unit}]"))
            .y_desc("sign(r) · log10 |r|")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 22))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(perr)?;
        let dx = (x1 - x0) / nx as f64;
        let dy = (y1 - y0) / ny as f64;
        chart
            .draw_series(
                h.counts
                    .indexed_iter()
                    .filter(|(_, &c)| c > 0)
                    .map(|((i, j), &c)| {
                        let t = (c as f64).ln() / maxc.ln().max(1e-9);
                        let (xa, ya) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                        Rectangle::new([(xa, ya), (xa + dx, ya + dy)], viridis(t).filled())
                    }),
            )
            .map_err(perr)?
            .label(format!(
                "{} residuals ({} with r = 0 not shown)",
                h.in_range(),
                zeros
            ))
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 30, y + 6)], viridis(0.6).filled()));
        if let Some(n) = bits {
            // Clip each slope-±1 line to the plotted box geometrically: plotters clamps
            // out-of-range points one by one, which would bend the line's slope.
            let c = -triage_bound_log10(0.0, n);
            let clip = |xa: f64, xb: f64, sign: f64| -> Vec<(f64, f64)> {
                let (xa, xb) = (xa.max(x0), xb.min(x1));
                if xa >= xb {
                    return Vec::new();
                }
                [xa, xb]
                    .iter()
                    .map(|&x| (x, sign * triage_bound_log10(x, n)))
                    .collect()
            };
            let upper = clip(y0 + c, y1 + c, 1.0);
            let lower = clip(c - y1, c - y0, -1.0);
            chart
                .draw_series(LineSeries::new(upper, RED.stroke_width(3)))
                .map_err(perr)?
                .label(format!("+(log10|x| − {n}·log10 2)"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], RED.stroke_width(3)));
            chart
                .draw_series(DashedLineSeries::new(lower, 12, 8, ORANGE.stroke_width(3)))
                .map_err(perr)?
                .label(format!("−(log10|x| − {n}·log10 2)"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 30, y)], ORANGE.stroke_width(3))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;

        // Colour bar: log scale of the counts.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(70)
            .margin_bottom(88)
            .margin_right(20)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, (1.0f64..maxc.max(2.0)).log_scale())
            .map_err(perr)?;
        cb.configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("residuals per bin")
            .y_label_formatter(&log_tick)
            .label_style((FONT, 18))
            .axis_desc_style((FONT, 20))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(perr)?;
        let steps = 100;
        let top = maxc.max(2.0);
        cb.draw_series((0..steps).map(|k| {
            let a = top.powf(k as f64 / steps as f64);
            let b = top.powf((k + 1) as f64 / steps as f64);
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(k as f64 / steps as f64).filled(),
            )
        }))
        .map_err(perr)?;
        Ok(())
    })?))
}

/// The four figures of one branch; returns the file names written.
pub fn branch_figures(
    out: &Path,
    pair: &Pair,
    report: &BranchReport,
    original: &Path,
    compressed: &Path,
) -> Result<Vec<String>> {
    let name = &pair.original.name;
    let stem = file_stem(name);
    let unit = residual_unit(name);
    let short = |p: &Path| {
        p.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut files = vec![values_figure(
        out,
        pair,
        report,
        &short(original),
        &short(compressed),
    )?];
    if let Ok(steps) = analyse_steps(&pair.residuals, &StepOptions::default()) {
        files.push(abs_residual_figure(
            out,
            &format!("{stem}.abs_residual.png"),
            &format!("{name}: |residual|, {}", bits_text(report)),
            unit,
            &steps,
        )?);
    }
    if let Some(f) = signed_residual_figure(
        out,
        &format!("{stem}.signed_residual.png"),
        &format!("{name}: signed residual"),
        unit,
        &pair.residuals,
    )? {
        files.push(f);
    }
    if let Some(f) = residual_map_figure(
        out,
        &format!("{stem}.residual_map.png"),
        &format!("{name}: residual map, {}", bits_text(report)),
        unit,
        &pair.orig_finite,
        &pair.residuals,
        report.mantissa_bits,
    )? {
        files.push(f);
    }
    Ok(files)
}

/// The pooled figures over every analysed branch.
pub fn pooled_figures(
    out: &Path,
    pairs: &[&Pair],
    steps: Option<&StepAnalysis>,
    report: &Report,
) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let n = report.branches.len();
    if let Some(steps) = steps {
        files.push(abs_residual_figure(
            out,
            "all.abs_residual.png",
            &format!("all {n} float branches: |residual|"),
            "branch units",
            steps,
        )?);
    }
    let residuals: Vec<f64> = pairs
        .iter()
        .flat_map(|p| p.residuals.iter().copied())
        .collect();
    let originals: Vec<f32> = pairs
        .iter()
        .flat_map(|p| p.orig_finite.iter().copied())
        .collect();
    if let Some(f) = signed_residual_figure(
        out,
        "all.signed_residual.png",
        &format!("all {n} float branches: signed residual"),
        "branch units",
        &residuals,
    )? {
        files.push(f);
    }
    // Bound lines for the most common bit count.
    let mut by_bits: Vec<(u32, usize)> = Vec::new();
    for b in report.branches.iter().filter_map(|b| b.mantissa_bits) {
        match by_bits.iter_mut().find(|(n, _)| *n == b) {
            Some((_, c)) => *c += 1,
            None => by_bits.push((b, 1)),
        }
    }
    by_bits.sort_by_key(|b| std::cmp::Reverse(b.1));
    let bits = by_bits.first().map(|x| x.0);
    let title = match bits {
        Some(b) => format!("all {n} float branches: residual map (lines for {b} bits)"),
        None => format!("all {n} float branches: residual map"),
    };
    if let Some(f) = residual_map_figure(
        out,
        "all.residual_map.png",
        &title,
        "branch units",
        &originals,
        &residuals,
        bits,
    )? {
        files.push(f);
    }
    Ok(files)
}

/// A branch name made safe as a file name (`/` and other odd characters replaced).
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
