//! `refloat train` and `refloat evaluate` (feature `torch`) on the real files: train on the
//! development file, evaluate on the held-out file and on the development file's own
//! validation events, check the report and figures, and the error paths (no partial model
//! file, a model for other bits refused with a message naming the file).
#![cfg(feature = "torch")]

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
