//! `refloat replicas` on the held-out file compressed at 7 bits: the spread table, its JSON,
//! the coverage check against the originals, and bad arguments (exit 2, one line).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::ffi::{OsStr, OsString};
use std::process::{Command, Output};

fn refloat(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .output()
        .expect("run refloat")
}

#[test]
fn replicas_table_json_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let original = common::root_file(common::HELD_OUT);
    let stored = dir.path().join("s7.root");
    let json = dir.path().join("spread.json");
    let os = |s: &str| OsString::from(s);
    let o = refloat(&[
        &os("compress"),
        original.as_os_str(),
        stored.as_os_str(),
        &os("--bits"),
        &os("7"),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.*,AnalysisPhotonsAuxDyn.*"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let o = refloat(&[
        &os("replicas"),
        stored.as_os_str(),
        &os("-n"),
        &os("20"),
        &os("--seed"),
        &os("3"),
        &os("--bins"),
        &os("10"),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.pt,AnalysisPhotonsAuxDyn.eta"),
        &os("--json"),
        json.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("AnalysisJetsAuxDyn.pt") && out.contains("20 replicas"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let branches = v["branches"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    for b in branches {
        assert_eq!(b["mantissa_bits"], 7, "{b}");
        let h = &b["spread"]["histogram"];
        assert_eq!(h["nominal"].as_array().unwrap().len(), 10);
        assert_eq!(h["replicas"], 20);
        assert!(b["spread"]["mean"]["std"].as_f64().unwrap() > 0.0, "{b}");
    }

    let o = refloat(&[
        &os("replicas"),
        stored.as_os_str(),
        &os("--bits"),
        &os("7"),
        &os("--mode"),
        &os("nearest"),
        &os("--coverage"),
        original.as_os_str(),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.*"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("within replica mean ± 1σ"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );

    for bad in [["-n", "0"], ["--bins", "0"], ["--bits", "24"]] {
        let o = refloat(&[
            &os("replicas"),
            stored.as_os_str(),
            &os(bad[0]),
            &os(bad[1]),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{bad:?}: {err}");
    }
}
