//! `refloat advise` on the real files: the sweep's JSON and figures, the artefact detector on
//! the CMS cases (NanoAOD's 6-bit jet energy fractions as stored; PHYSLITE jets rounded to 6
//! and 8 bits), the degenerate electron mass, and `compress --bits-from` with the advice.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

fn refloat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .output()
        .expect("run refloat")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn branch<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the advice"))
}

fn at_bits(b: &serde_json::Value, bits: u64) -> &serde_json::Value {
    b["sweep"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mantissa_bits"] == bits)
        .unwrap()
}

#[test]
fn advise_physlite_sweeps_flags_coarse_lattices_and_feeds_compress() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::HELD_OUT);
    let json = dir.path().join("advice.json");
    let figs = dir.path().join("figs");
    let out = ok(&refloat(&[
        "advise",
        input.to_str().unwrap(),
        "--branches",
        "AnalysisJetsAuxDyn.*",
        "--branches",
        "AnalysisElectronsAuxDyn.*",
        "--resolution",
        "AnalysisJetsAuxDyn.eta=0.001",
        "--json",
        json.to_str().unwrap(),
        "--out",
        figs.to_str().unwrap(),
    ]));
    assert!(
        out.contains("AnalysisJets") && out.contains("recommended"),
        "{out}"
    );
    for g in ["AnalysisJets", "AnalysisElectrons"] {
        let png = figs.join(format!("advise_{g}.png"));
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "{png:?}");
    }
    let r = read_json(&json);
    let pt = branch(&r, "AnalysisJetsAuxDyn.pt");
    let sweep = pt["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 20);
    // Trends: more kept bits never make larger steps, shifts or changed counts; the
    // artefact becomes visible only in larger samples; 23 bits change nothing.
    for w in sweep.windows(2) {
        let f = |p: &serde_json::Value, k: &str| p[k].as_f64().unwrap();
        assert!(f(&w[1], "max_relative_step") < f(&w[0], "max_relative_step"));
        assert!(f(&w[1], "max_relative_shift") <= f(&w[0], "max_relative_shift"));
        assert!(f(&w[1], "changed") <= f(&w[0], "changed"));
    }
    assert_eq!(sweep[19]["changed"], 0);
    // The CMS experience on PHYSLITE jets: 6 and 8 kept bits show a lattice in a fine
    // histogram of an analysis-size sample; the recommendation is above both.
    for bits in [6, 8] {
        let a = &at_bits(pt, bits)["artefacts"];
        assert!(!a["kind"].as_str().unwrap().is_empty(), "{bits} bits: {a}");
    }
    let rec = pt["recommended_bits"].as_u64().unwrap();
    assert!((9..=16).contains(&rec), "jet pt recommended {rec}");
    assert!(at_bits(pt, rec)["no_artefact"].as_bool().unwrap());
    // The resolution rule: a step below 10 % of 0.001 in eta (|eta| < 4.5: 2^(2-n) <= 1e-4).
    let eta = branch(&r, "AnalysisJetsAuxDyn.eta");
    let rec_eta = eta["recommended_bits"].as_u64().unwrap();
    assert!(rec_eta >= 16, "eta recommended {rec_eta}");
    assert!(at_bits(eta, rec_eta)["max_step"].as_f64().unwrap() <= 1e-4);
    // The electron mass is one constant: judged by its relative shift, not by KS or AUC.
    let m = branch(&r, "AnalysisElectronsAuxDyn.m");
    assert_eq!(
        (m["degenerate"].as_bool(), m["distinct"].as_u64()),
        (Some(true), Some(1))
    );
    let rec_m = m["recommended_bits"].as_u64().unwrap();
    for p in m["sweep"].as_array().unwrap() {
        let bits = p["mantissa_bits"].as_u64().unwrap();
        let shift = p["max_relative_shift"].as_f64().unwrap();
        assert_eq!(
            p["indistinguishable"].as_bool().unwrap(),
            shift <= 1e-3,
            "{p}"
        );
        if bits >= rec_m {
            assert!(shift <= 1e-3);
        }
    }
    // Sizes: recompressed baskets shrink with fewer bits.
    let size = |bits| at_bits(pt, bits)["compressed_bytes"].as_u64().unwrap();
    assert!(size(8) < size(12) && size(12) < size(23));
    assert_eq!(size(23), pt["input_bytes"].as_u64().unwrap());

    // compress --bits-from: every advised branch rounded to its own bits.
    let comp = dir.path().join("advised.root");
    let cjson = dir.path().join("compress.json");
    ok(&refloat(&[
        "compress",
        input.to_str().unwrap(),
        comp.to_str().unwrap(),
        "--bits-from",
        json.to_str().unwrap(),
        "--bits",
        "AnalysisElectronsAuxDyn.m=7",
        "--json",
        cjson.to_str().unwrap(),
    ]));
    let c = read_json(&cjson);
    let bits_of = |name: &str| {
        c["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .map(|b| b["mantissa_bits"].as_u64().unwrap())
    };
    assert_eq!(bits_of("AnalysisJetsAuxDyn.pt"), Some(rec));
    assert_eq!(bits_of("AnalysisJetsAuxDyn.eta"), Some(rec_eta));
    // A --bits GLOB=N rule comes before the advice; unlisted branches keep all their bits.
    assert_eq!(bits_of("AnalysisElectronsAuxDyn.m"), Some(7));
    assert_eq!(bits_of("AnalysisMuonsAuxDyn.pt"), Some(23));
    // The stored values carry the advised bits (inspect detects them).
    let o = ok(&refloat(&["inspect", comp.to_str().unwrap()]));
    assert!(o.contains("AnalysisJetsAuxDyn.pt"), "{o}");

    // Bad rules are refused with one line naming them.
    let o = refloat(&["compress", input.to_str().unwrap(), comp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bits"));
    let o = refloat(&[
        "compress",
        input.to_str().unwrap(),
        dir.path().join("x.root").to_str().unwrap(),
        "--bits",
        "AnalysisJetsAuxDyn.pt=99",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("AnalysisJetsAuxDyn.pt"));
    assert!(!dir.path().join("x.root").exists());
}

#[test]
fn advise_nanoaod_sees_the_six_bit_energy_fractions() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::data_dir().join("nano_dy.root");
    let json = dir.path().join("nano.json");
    ok(&refloat(&[
        "advise",
        input.to_str().unwrap(),
        "--mode",
        "cms",
        "--branches",
        "Jet_*",
        "--json",
        json.to_str().unwrap(),
        "--no-sizes",
    ]));
    let r = read_json(&json);
    // nanoAOD-tools#239: 6-bit jet energy fractions come out discrete. The stored values,
    // without originals, show their lattice in an analysis-size sample; CMS's 12-bit eta
    // and phi do not.
    for name in ["Jet_chHEF", "Jet_neHEF", "Jet_chEmEF", "Jet_neEmEF"] {
        let b = branch(&r, name);
        assert_eq!(b["input"]["bits"], 6, "{name}");
        let a = &b["input_artefacts"];
        assert!(!a["kind"].as_str().unwrap().is_empty(), "{name}: {a}");
        assert!(b["recommended_bits"].as_u64().unwrap() >= 6, "{name}");
    }
    for name in ["Jet_eta", "Jet_phi"] {
        let b = branch(&r, name);
        assert_eq!(b["input"]["bits"], 12, "{name}");
        assert_eq!(b["input_artefacts"]["kind"], "", "{name}");
    }
    // Above the stored bits the sweep changes nothing: the stored values are the originals.
    let pt = branch(&r, "Jet_pt");
    assert_eq!(at_bits(pt, 12)["changed"], 0);
}
