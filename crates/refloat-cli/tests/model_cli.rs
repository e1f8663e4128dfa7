//! `refloat train` and `refloat evaluate` (feature `torch`) on the real files: train on the
//! development file, evaluate on the held-out file and on the development file's own
//! validation events, check the report and figures, and the error paths (no partial model
//! file, a model for other bits refused with a message naming the file).
#![cfg(feature = "torch")]

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::Command;

fn refloat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_refloat"))
}

#[test]
fn train_then_evaluate_on_held_out_data() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("jets.pt");
    let dev = common::root_file(common::DEV);
    let held = common::root_file(common::HELD_OUT);

    let out = refloat()
        .arg("train")
        .arg(&dev)
        .args([
            "--bits",
            "10",
            "--epochs",
            "30",
            "--patience",
            "6",
            "--hidden",
            "16",
            "--seed",
            "3",
            "--cpu",
            "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "train failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("AnalysisJetsAuxDyn.pt") && stdout.contains("validation loss"),
        "{stdout}"
    );
    assert!(model.exists());

    let fig = dir.path().join("eval");
    let json = dir.path().join("eval.json");
    let methods = format!("midpoint,dither,prior-mean,model:{}", model.display());
    let out = refloat()
        .arg("evaluate")
        .arg(&held)
        .args(["--bits", "10", "--methods", &methods, "--out"])
        .arg(&fig)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "evaluate failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Held-out file: nothing was trained on it, every event is evaluated.
    assert_eq!(report["events"], report["events_evaluated"]);
    let rows = report["rows"].as_array().unwrap();
    // 4 jet variables x (compressed + 4 methods)
    assert_eq!(rows.len(), 4 * 5, "{rows:?}");
    for r in rows {
        assert_eq!(r["invariant_violations"], 0, "{r}");
        let m = r["method"].as_str().unwrap();
        let mse = r["mse_relative"].as_f64().unwrap();
        match m {
            "compressed" | "midpoint" => assert!((mse - 1.0).abs() < 1e-9, "{r}"), // nearest: stored value = midpoint
            "dither" => assert!(mse > 1.3, "{r}"), // uniform in the interval: ~2x
            _ => assert!(mse < 1.2, "{r}"),
        }
        assert!((0.0..=1.0).contains(&r["auc"].as_f64().unwrap()));
    }
    for v in ["pt", "eta", "phi", "m"] {
        for what in ["error_vs_value", "histograms"] {
            let png = fig.join(format!("AnalysisJetsAuxDyn.{v}.{what}.png"));
            assert!(
                std::fs::metadata(&png)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{}",
                png.display()
            );
        }
    }

    // On the development file only the model's validation events are evaluated.
    let out = refloat()
        .arg("evaluate")
        .arg(&dev)
        .args(["--methods", &methods, "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("training events are excluded"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["events"], 40);
    assert_eq!(report["events_evaluated"], 10);

    // A model made for 10 bits is refused for 7-bit data, naming the model file.
    let out = refloat()
        .arg("evaluate")
        .arg(&held)
        .args(["--bits", "7", "--methods", &methods])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("jets.pt") && err.contains("10 kept mantissa bits"),
        "{err}"
    );
}

/// Runs `refloat ARGS`, asserts success, returns stdout.
fn ok(args: &[&std::ffi::OsStr]) -> String {
    let out = refloat().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "refloat {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `refloat correct --method model:PATH` on truncated held-out data: a drop-in copy with the
/// model's variables corrected exactly as the library corrects them, closer to the
/// originals than the stored values, verified; other branches as stored.
#[test]
fn correct_with_a_model_on_held_out_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).into_os_string();
    let dev = common::root_file(common::DEV).into_os_string();
    let held = common::root_file(common::HELD_OUT).into_os_string();
    let model = p("jets.trunc.pt");
    let s = |x: &str| std::ffi::OsString::from(x);
    ok(&[
        &s("train"),
        &dev,
        &s("--bits"),
        &s("10"),
        &s("--mode"),
        &s("truncate"),
        &s("--epochs"),
        &s("30"),
        &s("--patience"),
        &s("6"),
        &s("--hidden"),
        &s("16"),
        &s("--seed"),
        &s("3"),
        &s("--cpu"),
        &s("--out"),
        &model,
    ]);
    let (comp, corr, json) = (
        p("held.t10.root"),
        p("held.corrected.root"),
        p("correct.json"),
    );
    ok(&[
        &s("compress"),
        &held,
        &comp,
        &s("--bits"),
        &s("10"),
        &s("--mode"),
        &s("truncate"),
    ]);
    let mut method = s("model:");
    method.push(&model);
    let stdout = ok(&[
        &s("correct"),
        &comp,
        &corr,
        &s("--mode"),
        &s("truncate"),
        &s("--method"),
        &method,
        &s("--json"),
        &json,
    ]);
    assert!(stdout.contains("invariant verified"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = summary["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    let jets = ["pt", "eta", "phi", "m"].map(|v| format!("AnalysisJetsAuxDyn.{v}"));
    assert_eq!(names, jets, "the model's variables, in its order");
    assert_eq!(summary["verified_values"], summary["values"]);

    let m = refloat_model::Model::load_on(&model, refloat_model::Device::Cpu).unwrap();
    let mut fc = refloat_core::io::open(&comp).unwrap();
    let tc = fc.tree("CollectionTree").unwrap();
    let stored: Vec<_> = jets.iter().map(|n| tc.read_float(n).unwrap()).collect();
    let want: Vec<_> = m
        .correct_branches(&stored)
        .unwrap()
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    let mut fo = refloat_core::io::open(&corr).unwrap();
    let to = fo.tree("CollectionTree").unwrap();
    let mut fh = refloat_core::io::open(&held).unwrap();
    let th = fh.tree("CollectionTree").unwrap();
    let q = refloat_core::Quantiser32::new(10, refloat_core::RoundingMode::Truncate).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mse = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum::<f64>()
    };
    for ((st, w), n) in stored.iter().zip(&want).zip(&jets) {
        let got = to.read_float(n).unwrap();
        let orig = th.read_float(n).unwrap();
        assert_eq!(got.offsets, st.offsets, "{n}");
        for (g, s) in got.values.iter().zip(&st.values) {
            assert_eq!(q.quantise(*g).to_bits(), s.to_bits(), "{n}: invariant");
        }
        // Truncation stores the low end of each interval: any sensible model moves values up.
        let (before, after) = (
            mse(&st.values, &orig.values),
            mse(&got.values, &orig.values),
        );
        eprintln!("{n}: MSE to the originals {before:.4e} stored -> {after:.4e} corrected");
        assert!(after < 0.7 * before, "{n}: {before} -> {after}");
        // The command runs on CUDA when there is one; on the CPU it gives the library's bits.
        if !refloat_model::tch::Cuda::is_available() {
            assert_eq!(bits(&got.values), bits(&w.values), "{n}");
        }
    }
    // Every other branch is copied as stored.
    let e = "AnalysisElectronsAuxDyn.pt";
    assert_eq!(to.read_float(e).unwrap(), tc.read_float(e).unwrap());

    // A model made for 10 bits is refused for --bits 7, naming the model; no output left.
    let out = refloat()
        .args([&s("correct"), &comp, &p("x.root"), &s("--bits"), &s("7")])
        .args([&s("--mode"), &s("truncate"), &s("--method"), &method])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jets.trunc.pt") && err.contains("10"), "{err}");
    assert!(!dir.path().join("x.root").exists());
}

#[test]
fn train_errors_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let dev = common::root_file(common::DEV);
    // Variables of different objects cannot form one model.
    let out_path = dir.path().join("mixed.pt");
    let out = refloat()
        .arg("train")
        .arg(&dev)
        .args([
            "--branches",
            "AnalysisJetsAuxDyn.pt,AnalysisElectronsAuxDyn.pt",
            "--cpu",
            "--out",
        ])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not variables of the same objects"), "{err}");
    assert!(!out_path.exists());
    // A missing branch is named.
    let out = refloat()
        .arg("train")
        .arg(&dev)
        .args(["--branches", "AnalysisJetsAuxDyn.nope", "--cpu", "--out"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AnalysisJetsAuxDyn.nope"));
    // Not a ROOT file.
    let out = refloat()
        .arg("train")
        .arg(dir.path())
        .args(["--cpu", "--out"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_path.exists());
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a file was left behind"
    );
}
