//! The README's main job on the real held-out file: `refloat compress`, then
//! `refloat analyse`; the report's numbers (and the terminal table's moments) are checked
//! against the core functions and every figure is decoded as a PNG of sensible size that is
//! not blank. Then `correct` (the invariant, and the MSE gain on
//! truncation data), `inspect` and `bench`.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use refloat_core::io;
use refloat_core::metrics::{mmd2_rbf, shift_metrics, Moments, ShiftOptions};
use refloat_core::residual::{analyse_steps, check_bounds, residuals_f32, StepOptions};
use refloat_core::{Quantiser32, RoundingMode};
use serde_json::Value;

fn refloat<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .output()
        .expect("run refloat")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Decodes a whole PNG (every pixel, expanded to 8 bits per channel) and returns its width,
/// height, number of distinct colours and the fraction of pixels that differ from the most
/// common colour (the background).
fn decode_png(path: &Path) -> (u32, u32, usize, f64) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: cannot decode: {e}", path.display()));
    let channels = info.color_type.samples();
    let mut colours: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for row in buf[..info.buffer_size()].chunks_exact(info.line_size) {
        for px in row[..info.width as usize * channels].chunks_exact(channels) {
            *colours.entry(px).or_insert(0) += 1;
        }
    }
    let total = info.width as usize * info.height as usize;
    let background = colours.values().copied().max().unwrap_or(0);
    (
        info.width,
        info.height,
        colours.len(),
        1.0 - background as f64 / total.max(1) as f64,
    )
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn compress_then_analyse_the_held_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("comp.root");
    let rep = dir.path().join("report");

    let text = ok(refloat([
        "compress",
        &s(&orig),
        &s(&comp),
        "--bits",
        "10",
        "--json",
        &s(&dir.path().join("compress.json")),
    ]));
    assert!(text.contains("350 float branches"), "{text}");
    assert!(text.contains("file size saving"), "{text}");
    assert!(
        text.contains("vector<float>"),
        "the size table is printed: {text}"
    );
    let cj: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("compress.json")).unwrap())
            .unwrap();
    let (input_bytes, output_bytes) = (
        cj["written"]["input_bytes"].as_u64().unwrap(),
        cj["written"]["output_bytes"].as_u64().unwrap(),
    );
    assert_eq!(input_bytes, std::fs::metadata(&orig).unwrap().len());
    assert_eq!(output_bytes, std::fs::metadata(&comp).unwrap().len());
    assert!(
        output_bytes < input_bytes,
        "{output_bytes} >= {input_bytes}"
    );
    // Dropping 13 of 23 mantissa bits must make the vector<float> baskets clearly smaller
    // under the input's own zlib; the other branches are copied as stored.
    let bytes = |when: &str, ty: usize| cj["sizes"][when]["types"][ty]["bytes"].as_u64().unwrap();
    let saving = 1.0 - bytes("after", 1) as f64 / bytes("before", 1) as f64;
    assert!(
        saving > 0.15 && saving < 0.6,
        "vector<float> saving {saving}"
    );
    assert_eq!(bytes("after", 2), bytes("before", 2), "others untouched");
    assert!(
        cj["skipped"].as_array().unwrap().len() > 1000,
        "non-float branches are listed"
    );

    let text = ok(refloat([
        "analyse",
        &s(&orig),
        &s(&comp),
        "--out",
        &s(&rep),
    ]));
    assert!(text.contains("pooled:"), "{text}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("report.json")).unwrap()).unwrap();
    let branches = report["branches"].as_array().unwrap();
    assert_eq!(branches.len(), 350);

    // Recompute a few branches with the core functions on values read independently.
    let mut fo = io::open(&orig).unwrap();
    let to = fo.tree("CollectionTree").unwrap();
    let mut fc = io::open(&comp).unwrap();
    let tc = fc.tree("CollectionTree").unwrap();
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let mut tabled = 0;
    for name in [
        "AnalysisJetsAuxDyn.pt",
        "AnalysisJetsAuxDyn.eta",
        "AnalysisElectronsAuxDyn.pt",
        "AnalysisPhotonsAuxDyn.phi",
    ] {
        let b = branches
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in report"));
        let x = to.read_float(name).unwrap().values;
        let c = tc.read_float(name).unwrap().values;
        // The compressed file holds exactly quantise(original).
        assert!(
            x.iter()
                .zip(&c)
                .all(|(a, b)| q.quantise(*a).to_bits() == b.to_bits()),
            "{name}"
        );
        assert_eq!(b["count"].as_u64().unwrap() as usize, x.len());
        assert_eq!(b["mantissa_bits"].as_u64(), Some(10), "{name}");
        let bounds = check_bounds(&x, &c, &q).unwrap();
        assert_eq!(
            b["bounds"]["within_abs_bound"].as_u64().unwrap() as usize,
            bounds.within_abs_bound,
            "{name}"
        );
        assert_eq!(
            b["bounds"]["within_interval"].as_u64().unwrap() as usize,
            bounds.within_interval,
            "{name}"
        );
        assert_eq!(
            bounds.within_interval,
            x.len(),
            "{name}: every original lies in its interval"
        );
        let m = shift_metrics(&x, &c, &ShiftOptions::default()).unwrap();
        for (key, want) in [
            ("kl_divergence", m.kl_divergence),
            ("js_divergence", m.js_divergence),
            ("wasserstein1", m.wasserstein1),
            ("classifier_auc", m.classifier_auc),
        ] {
            let got = b["shift"][key].as_f64().unwrap();
            assert!(
                close(got, want),
                "{name} {key}: report {got} vs core {want}"
            );
        }
        assert!(close(
            b["shift"]["ks"]["p_value"].as_f64().unwrap(),
            m.ks.p_value
        ));
        // MMD² with the report's own settings, and the moments of each file, each from the
        // metrics functions directly on the same values.
        let opts = &b["shift"]["options"];
        let (xf, cf): (Vec<f64>, Vec<f64>) = (
            x.iter().map(|&v| v as f64).collect(),
            c.iter().map(|&v| v as f64).collect(),
        );
        let mmd = mmd2_rbf(
            &xf,
            &cf,
            opts["mmd_max_samples"].as_u64().unwrap() as usize,
            opts["seed"].as_u64().unwrap(),
        )
        .unwrap();
        let rm = &b["shift"]["mmd"];
        assert!(
            close(rm["mmd2"].as_f64().unwrap(), mmd.mmd2),
            "{name} mmd2: report {} vs core {}",
            rm["mmd2"],
            mmd.mmd2
        );
        assert!(close(rm["bandwidth"].as_f64().unwrap(), mmd.bandwidth));
        assert_eq!(rm["n_a"].as_u64().unwrap() as usize, mmd.n_a, "{name}");
        assert_eq!(rm["n_b"].as_u64().unwrap() as usize, mmd.n_b, "{name}");
        for (file, values) in [("original", &xf), ("other", &cf)] {
            let want = Moments::of_sample(values).unwrap();
            let got = &b["shift"][file];
            assert_eq!(got["n"].as_u64().unwrap() as usize, x.len(), "{name}");
            for (key, want) in [
                ("mean", want.mean),
                ("std", want.std),
                ("skewness", want.skewness),
                ("kurtosis", want.kurtosis),
            ] {
                let got = got[key].as_f64().unwrap();
                assert!(
                    close(got, want),
                    "{name} {file} {key}: report {got} vs core {want}"
                );
            }
        }
        // The terminal table shows the same moments, relative to the original's.
        if let Some(row) = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
        {
            let (mo, mc) = (
                Moments::of_sample(&xf).unwrap(),
                Moments::of_sample(&cf).unwrap(),
            );
            let want: Vec<String> = [
                (mc.mean - mo.mean) / mo.std,
                mc.std / mo.std - 1.0,
                mc.skewness - mo.skewness,
                mc.kurtosis - mo.kurtosis,
            ]
            .iter()
            .map(|v| format!("{v:.2e}"))
            .collect();
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(
                cells[cells.len() - 4..],
                want.iter().map(String::as_str).collect::<Vec<_>>(),
                "{name}: table row {row}"
            );
            tabled += 1;
        }
        let r = residuals_f32(&x, &c).unwrap();
        let steps = analyse_steps(&r, &StepOptions::default()).unwrap();
        match steps.spacing() {
            Some(sp) => assert!(
                close(b["steps"]["spacing"].as_f64().unwrap(), sp),
                "{name} spacing"
            ),
            None => assert!(b["steps"]["spacing"].is_null()),
        }
        let rms = (r.iter().map(|v| v * v).sum::<f64>() / r.len() as f64).sqrt();
        assert!(
            close(b["residual"]["rms"].as_f64().unwrap(), rms),
            "{name} rms"
        );
    }
    assert!(
        tabled >= 1,
        "at least one recomputed branch is among the table's first rows:\n{text}"
    );
    // Pooled: every residual of a 10-bit compression lies inside the theoretical bound, and
    // the pooled steps are one binade apart.
    let pooled = &report["pooled"];
    assert_eq!(pooled["within_interval"], pooled["bound_checked"]);
    assert_eq!(pooled["fraction_within_abs_bound"].as_f64(), Some(1.0));
    let spacing = pooled["steps"]["spacing"].as_f64().unwrap();
    assert!(
        (spacing - std::f64::consts::LOG10_2).abs() < 0.01,
        "pooled step spacing {spacing}"
    );

    // Figures: the seed study's set (ATLAS_COMPRESSION.md) for the default branches and the pooled
    // ones, valid PNGs.
    let plots: Vec<String> = report["plots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    for kind in ["values", "abs_residual", "signed_residual", "residual_map"] {
        for branch in [
            "AnalysisJetsAuxDyn.pt",
            "AnalysisJetsAuxDyn.eta",
            "AnalysisElectronsAuxDyn.pt",
        ] {
            assert!(
                plots.contains(&format!("{branch}.{kind}.png")),
                "{branch}.{kind}.png missing"
            );
        }
    }
    for pooled in [
        "all.abs_residual.png",
        "all.signed_residual.png",
        "all.residual_map.png",
    ] {
        assert!(plots.contains(&pooled.to_string()), "{pooled}");
    }
    for p in &plots {
        let (w, h, colours, drawn) = decode_png(&rep.join(p));
        assert!(
            (400..=4000).contains(&w) && (300..=4000).contains(&h),
            "{p}: {w}x{h}"
        );
        // Axes, labels, legends and data in several colours, anti-aliased: a blank or
        // nearly blank image has a handful of colours and almost only background.
        assert!(colours >= 32, "{p}: only {colours} distinct colours");
        assert!(
            drawn > 0.01 && drawn < 0.9,
            "{p}: {:.2} % of the pixels differ from the background",
            100.0 * drawn
        );
    }
    let on_disk = std::fs::read_dir(&rep)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(
        on_disk,
        plots.len(),
        "every figure on disk is listed, no temporary files"
    );
}

/// Truncation data corrected by the interval midpoint: the invariant holds on the written
/// file and the mean squared error of continuous variables drops to about a quarter.
#[test]
fn correct_midpoint_on_truncated_data() {
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("trunc.root");
    let corr = dir.path().join("corrected.root");
    let branches = "AnalysisJetsAuxDyn.pt,AnalysisJetsAuxDyn.eta,AnalysisJetsAuxDyn.phi,AnalysisElectronsAuxDyn.*";
    ok(refloat([
        "compress",
        &s(&orig),
        &s(&comp),
        "--bits",
        "10",
        "--mode",
        "truncate",
        "--branches",
        branches,
    ]));
    let text = ok(refloat([
        "correct",
        &s(&comp),
        &s(&corr),
        "--method",
        "midpoint",
        "--mode",
        "truncate",
        "--json",
        &s(&dir.path().join("c.json")),
    ]));
    assert!(text.contains("invariant verified"), "{text}");
    let cj: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).unwrap()).unwrap();
    assert_eq!(cj["verified_values"].as_u64(), cj["values"].as_u64());

    let mut fo = io::open(&orig).unwrap();
    let to = fo.tree("CollectionTree").unwrap();
    let mut fc = io::open(&comp).unwrap();
    let tc = fc.tree("CollectionTree").unwrap();
    let mut fr = io::open(&corr).unwrap();
    let tr = fr.tree("CollectionTree").unwrap();
    let q = Quantiser32::new(10, RoundingMode::Truncate).unwrap();
    for name in [
        "AnalysisJetsAuxDyn.pt",
        "AnalysisJetsAuxDyn.eta",
        "AnalysisJetsAuxDyn.phi",
    ] {
        let x = to.read_float(name).unwrap().values;
        let c = tc.read_float(name).unwrap();
        let r = tr.read_float(name).unwrap();
        assert_eq!(r.offsets, c.offsets, "{name}: structure preserved");
        assert!(
            r.values
                .iter()
                .zip(&c.values)
                .all(|(a, b)| q.quantise(*a).to_bits() == b.to_bits()),
            "{name}: invariant"
        );
        let mse = |a: &[f32]| {
            x.iter()
                .zip(a)
                .map(|(u, v)| (*u as f64 - *v as f64).powi(2))
                .sum::<f64>()
                / x.len() as f64
        };
        let ratio = mse(&r.values) / mse(&c.values);
        assert!(
            ratio > 0.15 && ratio < 0.4,
            "{name}: MSE ratio corrected/compressed {ratio}"
        );
    }
}

#[test]
fn inspect_infers_the_bits_and_bench_prints_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("comp7.root");
    ok(refloat([
        "compress",
        &s(&orig),
        &s(&comp),
        "--bits",
        "7",
        "--branches",
        "AnalysisJetsAuxDyn.*,AnalysisPhotonsAuxDyn.*",
    ]));
    let json = dir.path().join("inspect.json");
    let text = ok(refloat(["inspect", &s(&comp), "--json", &s(&json)]));
    assert!(text.contains("AnalysisJetsAuxDyn.pt"), "{text}");
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tree = &j["trees"][0];
    assert_eq!(tree["name"], "CollectionTree");
    let find = |t: &Value, n: &str| {
        t["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        find(tree, "AnalysisJetsAuxDyn.pt")["mantissa_bits"].as_u64(),
        Some(7)
    );
    assert_eq!(
        find(tree, "AnalysisJetsAuxDyn.eta")["mantissa_bits"].as_u64(),
        Some(7)
    );
    let j2 = dir.path().join("inspect_orig.json");
    ok(refloat([
        "inspect",
        &s(&orig),
        "--branches",
        "AnalysisJetsAuxDyn.pt",
        "--json",
        &s(&j2),
    ]));
    let o: Value = serde_json::from_str(&std::fs::read_to_string(&j2).unwrap()).unwrap();
    assert_eq!(
        find(&o["trees"][0], "AnalysisJetsAuxDyn.pt")["mantissa_bits"].as_u64(),
        Some(23),
        "full precision original"
    );

    let bj = dir.path().join("bench.json");
    let text = ok(refloat([
        "bench",
        &s(&orig),
        "--repeat",
        "1",
        "--branches",
        "AnalysisJetsAuxDyn.*",
        "--memory-values",
        "0", // tests/robustness_streaming.rs measures memory
        "--json",
        &s(&bj),
    ]));
    assert!(text.contains("x I/O floor"), "{text}");
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&bj).unwrap()).unwrap();
    let rows = b["rows"].as_array().unwrap();
    let row = |prefix: &str| {
        rows.iter()
            .find(|r| r["name"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}"))
    };
    for name in ["compress --bits 10", "correct --method midpoint"] {
        let r = row(name);
        let ratio = r["ratio"].as_f64().unwrap();
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: {ratio}");
        assert!(r["best_s"].as_f64().unwrap() > 0.0);
    }
    assert!(row("I/O floor")["ratio"].is_null());
    assert!(
        b["memory"].is_null(),
        "--memory-values 0 skips the memory measurement"
    );
}

/// A real branch whose kept bits cannot be inferred (`AnalysisElectronsAuxDyn.charge`: every
/// value ±1, no mantissa bit set): `correct` names it with the reason, says it was copied
/// unchanged, and it is bit for bit the stored branch in the output.
#[test]
fn correct_names_the_branches_whose_bits_cannot_be_inferred() {
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("comp.root");
    let corr = dir.path().join("corrected.root");
    let charge = "AnalysisElectronsAuxDyn.charge";
    ok(refloat([
        "compress",
        &s(&orig),
        &s(&comp),
        "--bits",
        "10",
        "--branches",
        "AnalysisElectronsAuxDyn.*",
    ]));
    let mut fc = io::open(&comp).unwrap();
    let stored = fc
        .tree("CollectionTree")
        .unwrap()
        .read_float(charge)
        .unwrap();
    assert!(
        stored.values.len() > 100 && stored.values.iter().all(|v| v.to_bits() & 0x007F_FFFF == 0),
        "{charge} has no mantissa bits set in the real data"
    );
    let json = dir.path().join("c.json");
    let text = ok(refloat([
        "correct",
        &s(&comp),
        &s(&corr),
        "--method",
        "midpoint",
        "--branches",
        "AnalysisElectronsAuxDyn.*",
        "--list-skipped",
        "--json",
        &s(&json),
    ]));
    assert!(
        text.contains("left as stored") && text.contains("bits cannot be told"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{charge}:")))
        .unwrap_or_else(|| panic!("{charge} not named:\n{text}"));
    assert!(line.contains("non-zero mantissa"), "reason given: {line}");
    let cj: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let b = cj["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == charge)
        .unwrap();
    assert!(b["mantissa_bits"].is_null(), "{b}");
    assert_eq!(b["changed"].as_u64(), Some(0));
    // Every branch named as not inferable is one with no bits to infer from.
    let named: Vec<&str> = cj["branches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["mantissa_bits"].is_null())
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for n in &named {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{n}:"))),
            "--list-skipped names {n}"
        );
    }
    let mut fr = io::open(&corr).unwrap();
    let written = fr
        .tree("CollectionTree")
        .unwrap()
        .read_float(charge)
        .unwrap();
    assert_eq!(written.offsets, stored.offsets);
    assert!(
        written
            .values
            .iter()
            .zip(&stored.values)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{charge} copied unchanged"
    );
}

/// A dataset: `compress 'in/*.root' --out-dir` writes each file under its own name with its
/// JSON report, the same bytes as the one-file command; a bad file stops the run (the files
/// after it not run, no output of its own), or with `--keep-going` is reported and skipped;
/// and `correct` over the compressed directory verifies every file.
#[test]
fn datasets_in_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(common::root_file(common::HELD_OUT), input.join("b.root")).unwrap();
    std::fs::copy(common::root_file(common::DEV), input.join("c.root")).unwrap();
    // Sorted first: a truncated copy of a real file.
    let real = std::fs::read(common::root_file(common::HELD_OUT)).unwrap();
    std::fs::write(input.join("a_bad.root"), &real[..real.len() / 3]).unwrap();
    let glob = s(&input.join("*.root"));
    let files = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };

    let stopped = dir.path().join("stopped");
    let out = refloat(["compress", &glob, "--out-dir", &s(&stopped), "--bits", "10"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 done, 1 failed, 2 not run"), "{text}");
    assert!(files(&stopped).is_empty(), "{:?}", files(&stopped));

    let kept = dir.path().join("kept");
    let summary = dir.path().join("summary.json");
    let out = refloat([
        "compress",
        &glob,
        "--out-dir",
        &s(&kept),
        "--bits",
        "10",
        "--keep-going",
        "--json",
        &s(&summary),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a_bad.root"));
    assert_eq!(files(&kept), ["b.json", "b.root", "c.json", "c.root"]);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        (report["done"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(report["files"][0]["error"]
        .as_str()
        .unwrap()
        .contains("a_bad.root"));
    let b: Value =
        serde_json::from_str(&std::fs::read_to_string(kept.join("b.json")).unwrap()).unwrap();
    assert_eq!(b["values"].as_u64(), Some(131_967), "{b}");
    // The same bytes as the one-file command.
    let one = dir.path().join("one.root");
    ok(refloat([
        "compress",
        &s(&input.join("b.root")),
        &s(&one),
        "--bits",
        "10",
    ]));
    assert!(std::fs::read(&one).unwrap() == std::fs::read(kept.join("b.root")).unwrap());

    let corrected = dir.path().join("corrected");
    ok(refloat([
        "correct",
        &s(&kept.join("*.root")),
        "--out-dir",
        &s(&corrected),
        "--method",
        "midpoint",
    ]));
    for name in ["b", "c"] {
        let r: Value = serde_json::from_str(
            &std::fs::read_to_string(corrected.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert!(r["verified_values"].as_u64().unwrap() > 10_000, "{r}");
        assert_eq!(r["verified_values"], r["values"], "{r}");
    }
    // Refused before anything runs: two inputs of one name, an output onto its input.
    let twice = refloat([
        "compress",
        &s(&input.join("b.root")),
        &s(&kept.join("b.root")),
        "--out-dir",
        &s(&dir.path().join("x")),
        "--bits",
        "10",
    ]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("would both be written"));
    let onto = refloat([
        "compress",
        &s(&input.join("b.root")),
        "--out-dir",
        &s(&input),
        "--bits",
        "10",
    ]);
    assert!(!onto.status.success());
    assert_eq!(files(&input), ["a_bad.root", "b.root", "c.root"]);

    // The commands that write nothing, over the same files: each file's report is the
    // one-file command's.
    let json =
        |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let seen = dir.path().join("inspect.json");
    ok(refloat([
        "inspect",
        &s(&kept.join("*.root")),
        "--branches",
        "AnalysisJetsAuxDyn.pt",
        "--json",
        &s(&seen),
    ]));
    let seen = json(&seen);
    assert_eq!(
        (seen["done"].as_u64(), seen["failed"].as_u64()),
        (Some(2), Some(0))
    );
    for f in 0..2 {
        // c.root (the development file) also holds MetaData: only the tree the pattern
        // names is listed.
        let trees = &seen["files"][f]["report"]["trees"];
        assert_eq!(trees.as_array().unwrap().len(), 1, "{trees}");
        assert_eq!(
            trees[0]["branches"][0]["mantissa_bits"].as_u64(),
            Some(10),
            "{trees}"
        );
    }
    let checked = dir.path().join("verify.json");
    ok(refloat([
        "verify",
        &s(&kept.join("*.root")),
        "--corrected-dir",
        &s(&corrected),
        "--json",
        &s(&checked),
    ]));
    let one = dir.path().join("verify_b.json");
    ok(refloat([
        "verify",
        &s(&kept.join("b.root")),
        &s(&corrected.join("b.root")),
        "--json",
        &s(&one),
    ]));
    let checked = json(&checked);
    assert_eq!(checked["done"].as_u64(), Some(2));
    assert_eq!(checked["files"][0]["report"], json(&one));
    assert_eq!(json(&one)["values"].as_u64(), Some(131_967));
    let real = std::fs::read(corrected.join("c.root")).unwrap();
    std::fs::write(corrected.join("c.root"), &real[..real.len() / 2]).unwrap();
    let out = refloat([
        "verify",
        &s(&kept.join("*.root")),
        "--corrected-dir",
        &s(&corrected),
        "--keep-going",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 done, 1 failed, 0 not run"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("c.root"));

    let reports = dir.path().join("reports");
    ok(refloat([
        "analyse",
        &s(&input.join("b.root")),
        &s(&input.join("c.root")),
        "--stored-dir",
        &s(&kept),
        "--out",
        &s(&reports),
        "--no-plots",
    ]));
    let one = dir.path().join("analyse_b");
    ok(refloat([
        "analyse",
        &s(&input.join("b.root")),
        &s(&kept.join("b.root")),
        "--out",
        &s(&one),
        "--no-plots",
    ]));
    let b = json(&reports.join("b").join("report.json"));
    assert_eq!(b, json(&one.join("report.json")));
    assert_eq!(b["pooled"]["count"].as_u64(), Some(131_967));
    assert!(reports.join("c").join("report.json").is_file());
    assert_eq!(
        json(&reports.join("dataset.json"))["done"].as_u64(),
        Some(2)
    );
}
