//! The producers' schemes from the command line: a NanoAOD-style pair made from the real
//! PHYSLITE originals with `--mode cms` analyses with every residual inside its CMS interval
//! (and not inside ATLAS's), and `inspect` / `correct` on the real CMS file say which bits and
//! scheme they see and use.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn refloat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .output()
        .expect("run refloat")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// (values inside their interval, values) over every branch of an `analyse` report.
fn within(report: &Path) -> (u64, u64) {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    r["branches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["bounds"].is_null())
        .fold((0, 0), |(w, t), b| {
            (
                w + b["bounds"]["within_interval"].as_u64().unwrap(),
                t + b["bounds"]["total"].as_u64().unwrap(),
            )
        })
}

#[test]
fn analyse_a_cms_pair_under_its_own_rule() {
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("cms10.root");
    ok(refloat(&[
        "compress",
        &s(&orig),
        &s(&comp),
        "--bits",
        "10",
        "--mode",
        "cms",
    ]));
    for (mode, all_inside) in [("cms", true), ("nearest", false)] {
        let out = dir.path().join(mode);
        ok(refloat(&[
            "analyse",
            &s(&orig),
            &s(&comp),
            "--mode",
            mode,
            "--out",
            &s(&out),
        ]));
        let (inside, total) = within(&out.join("report.json"));
        assert!(total > 100_000, "{total}");
        if all_inside {
            assert_eq!(inside, total, "every residual inside its CMS interval");
        } else {
            // CMS never rounds the top two codes up: those originals lie outside ATLAS's.
            assert!(
                inside < total,
                "ATLAS's intervals cannot hold CMS's rounding"
            );
        }
    }
}

#[test]
fn inspect_and_correct_say_what_they_see_on_nanoaod() {
    let nano = common::data_dir().join("nano_dy.root");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("inspect.json");
    let text = ok(refloat(&["inspect", &s(&nano), "--json", &s(&json)]));
    assert!(text.contains("307 float branches (245 jagged"), "{text}");
    assert!(text.contains("cms?"), "{text}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let events = report["trees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Events")
        .unwrap();
    let branch = |name: &str| {
        events["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    // NanoAOD's precisions as the data README measured them.
    for (name, bits) in [("Jet_eta", 12), ("Jet_pt", 10), ("Jet_mass", 10)] {
        let b = branch(name);
        assert_eq!(b["mantissa_bits"], bits, "{name}");
        assert_eq!(b["counter"], "nJet", "{name}");
        assert_eq!(b["mode"], "cms", "{name}");
    }
    assert_eq!(branch("Muon_pt")["mantissa_bits"], 23);

    let out = dir.path().join("nano.dither.root");
    let text = ok(refloat(&[
        "correct",
        &s(&nano),
        &s(&out),
        "--method",
        "dither:3",
    ]));
    assert!(text.contains("(per-branch rounding)"), "{text}");
    assert!(text.contains("rounding per branch: cms (format)"), "{text}");
    assert!(text.contains("invariant verified"), "{text}");
    // The same file verifies under the same per-branch decisions.
    ok(refloat(&["verify", &s(&nano), &s(&out)]));
    // And not under ATLAS's rule.
    let o = refloat(&["verify", &s(&nano), &s(&out), "--mode", "nearest"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
