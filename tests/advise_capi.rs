//! `refloat_advise_file` called as C calls it: the JSON it writes on the held-out file holds
//! the library's recommendations, `compress --bits-from`'s reader takes it back, and bad
//! input is a status and a message, with no output file.

mod common;

use std::ffi::{c_int, CStr, CString};
use std::ptr;

use refloat::ffi::*;
use refloat::pipeline::{advise_file, advised_bits, AdviseFileOptions, Select};

const OK: c_int = refloat_status::REFLOAT_OK as c_int;

fn last_error() -> String {
    // SAFETY: refloat_last_error never returns NULL and the string is NUL-terminated.
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn advise_over_the_c_api_equals_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::HELD_OUT);
    let json = dir.path().join("advice.json");
    let (c_in, c_json) = (
        CString::new(input.to_str().unwrap()).unwrap(),
        CString::new(json.to_str().unwrap()).unwrap(),
    );
    let branches = CString::new("AnalysisJetsAuxDyn.pt,AnalysisJetsAuxDyn.eta").unwrap();
    let mut o = refloat_file_options_default();
    o.branches = branches.as_ptr();
    let mut report = refloat_file_report::default();
    let s = refloat_advise_file(c_in.as_ptr(), c_json.as_ptr(), &o, &mut report);
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!(report.branches, 2);
    let text = std::fs::read_to_string(&json).unwrap();
    let rules = advised_bits(&text).unwrap();
    let lib = advise_file(
        &input,
        &AdviseFileOptions {
            select: Select {
                tree: None,
                branches: vec![
                    "AnalysisJetsAuxDyn.pt".into(),
                    "AnalysisJetsAuxDyn.eta".into(),
                ],
            },
            measure_sizes: true,
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        report.values,
        lib.branches.iter().map(|b| b.advice.values).sum::<u64>()
    );
    let want: Vec<(String, u32)> = lib
        .branches
        .iter()
        .map(|b| (b.advice.name.clone(), b.advice.recommended_bits))
        .collect();
    let got: Vec<(String, u32)> = rules.iter().map(|(p, b)| (p.to_string(), *b)).collect();
    assert_eq!(got, want);
    assert_eq!(text, lib.to_json().unwrap());

    // Errors: a NULL path, a missing file; no JSON is left behind.
    let missing = dir.path().join("none.json");
    let c_missing = CString::new(missing.to_str().unwrap()).unwrap();
    let s = refloat_advise_file(ptr::null(), c_missing.as_ptr(), &o, ptr::null_mut());
    assert_eq!(s, refloat_status::REFLOAT_NULL_PARAMETER as c_int);
    assert!(last_error().contains("input"), "{}", last_error());
    let nowhere = CString::new("/nonexistent/file.root").unwrap();
    let s = refloat_advise_file(nowhere.as_ptr(), c_missing.as_ptr(), &o, ptr::null_mut());
    assert_ne!(s, OK);
    assert!(
        last_error().contains("/nonexistent/file.root"),
        "{}",
        last_error()
    );
    assert!(!missing.exists());
    let s = refloat_advise_file(
        c_in.as_ptr(),
        c_missing.as_ptr(),
        ptr::null(),
        ptr::null_mut(),
    );
    assert_eq!(s, refloat_status::REFLOAT_NULL_PARAMETER as c_int);
    assert!(!missing.exists());
}
