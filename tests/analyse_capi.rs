//! `refloat_analyse_file` called as C calls it: the held-out file rounded at 10 bits by
//! `refloat_compress_file`, then compared with its original; the JSON it writes is the
//! library's report, every original lies in its interval, and bad input is a status and a
//! message, with no output file.

mod common;

use std::ffi::{c_int, CStr, CString};
use std::ptr;

use refloat::ffi::*;
use refloat::pipeline::{analyse_file, AnalyseOptions};

const OK: c_int = refloat_status::REFLOAT_OK as c_int;

fn last_error() -> String {
    // SAFETY: refloat_last_error never returns NULL and the string is NUL-terminated.
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn c(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

#[test]
fn analyse_over_the_c_api_equals_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let original = common::root_file(common::HELD_OUT);
    let stored = dir.path().join("b10.root");
    let json = dir.path().join("report.json");
    let mut o = refloat_file_options_default();
    o.mantissa_bits = 10;
    o.mode = refloat_rounding::REFLOAT_NEAREST as _;
    let s = refloat_compress_file(
        c(&original).as_ptr(),
        c(&stored).as_ptr(),
        &o,
        ptr::null_mut(),
    );
    assert_eq!(s, OK, "{}", last_error());

    let mut o = refloat_file_options_default();
    o.mode = refloat_rounding::REFLOAT_NEAREST as _;
    let mut report = refloat_file_report::default();
    let s = refloat_analyse_file(
        c(&original).as_ptr(),
        c(&stored).as_ptr(),
        c(&json).as_ptr(),
        &o,
        &mut report,
    );
    assert_eq!(s, OK, "{}", last_error());
    let text = std::fs::read_to_string(&json).unwrap();
    let lib = analyse_file(&original, &stored, &AnalyseOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(text, lib.to_json().unwrap());
    assert_eq!(report.branches, lib.branches.len() as u64);
    assert_eq!(report.values, lib.pooled.count as u64);
    // The held-out file's float branches (data README: 331 vector<float> and 19 float),
    // every original inside its stored value's interval.
    assert_eq!(lib.branches.len(), 350);
    assert_eq!(lib.pooled.within_interval, lib.pooled.bound_checked);
    assert_eq!(lib.pooled.within_abs_bound, lib.pooled.bound_checked);
    assert!(lib.pooled.bound_checked > 100_000);
    // Each branch's largest residual, recomputed here from the values as read.
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let jets = parsed["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "AnalysisJetsAuxDyn.pt")
        .unwrap();
    let mut f = refloat::io::open(&original).unwrap();
    let a = f
        .tree("CollectionTree")
        .unwrap()
        .read_float("AnalysisJetsAuxDyn.pt")
        .unwrap();
    let mut g = refloat::io::open(&stored).unwrap();
    let b = g
        .tree("CollectionTree")
        .unwrap()
        .read_float("AnalysisJetsAuxDyn.pt")
        .unwrap();
    let max = a
        .values
        .iter()
        .zip(&b.values)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max);
    assert_eq!(jets["residual"]["max_abs"].as_f64().unwrap(), max);
    assert!(max > 0.0);

    // Errors: a NULL path, a missing file, files that do not match; no JSON is left behind.
    let missing = dir.path().join("none.json");
    let s = refloat_analyse_file(
        c(&original).as_ptr(),
        ptr::null(),
        c(&missing).as_ptr(),
        &o,
        ptr::null_mut(),
    );
    assert_eq!(s, refloat_status::REFLOAT_NULL_PARAMETER as c_int);
    assert!(last_error().contains("compressed"), "{}", last_error());
    let nowhere = CString::new("/nonexistent/file.root").unwrap();
    let s = refloat_analyse_file(
        c(&original).as_ptr(),
        nowhere.as_ptr(),
        c(&missing).as_ptr(),
        &o,
        ptr::null_mut(),
    );
    assert_ne!(s, OK);
    assert!(
        last_error().contains("/nonexistent/file.root"),
        "{}",
        last_error()
    );
    let dev = common::root_file(common::DEV);
    let s = refloat_analyse_file(
        c(&original).as_ptr(),
        c(&dev).as_ptr(),
        c(&missing).as_ptr(),
        &o,
        ptr::null_mut(),
    );
    assert_ne!(s, OK);
    assert!(last_error().contains("entries"), "{}", last_error());
    assert!(!missing.exists());
}
