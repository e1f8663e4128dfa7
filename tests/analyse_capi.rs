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

/// `refloat_compress_files` and `refloat_correct_files` as C calls them: a directory of
/// outputs with the same bytes as one `refloat_compress_file` each; a truncated input stops
/// the run with its status (the files after it not run), or with `keep_going` is counted and
/// skipped; NULL arguments are statuses.
#[test]
fn datasets_over_the_c_api() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::root_file(common::HELD_OUT);
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("bad.root");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let names = [c(&bad), c(&good)];
    let inputs: Vec<*const std::ffi::c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let mut o = refloat_file_options_default();
    o.mantissa_bits = 10;
    o.threads = 2;

    let mut report = refloat_dataset_report::default();
    let stopped = dir.path().join("stopped");
    let s = refloat_compress_files(inputs.as_ptr(), 2, c(&stopped).as_ptr(), &o, 0, &mut report);
    assert_ne!(s, OK);
    let e = last_error();
    assert!(
        e.contains("1 of 2 files failed (1 not run)") && e.contains("bad.root"),
        "{e}"
    );
    assert_eq!((report.done, report.failed, report.not_run), (0, 1, 1));
    assert_eq!(std::fs::read_dir(&stopped).unwrap().count(), 0);

    let kept = dir.path().join("kept");
    let s = refloat_compress_files(inputs.as_ptr(), 2, c(&kept).as_ptr(), &o, 1, &mut report);
    assert_ne!(s, OK);
    assert_eq!((report.done, report.failed, report.not_run), (1, 1, 0));
    let one = dir.path().join("one.root");
    let s = refloat_compress_file(c(&good).as_ptr(), c(&one).as_ptr(), &o, ptr::null_mut());
    assert_eq!(s, OK, "{}", last_error());
    let out = kept.join(good.file_name().unwrap());
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&one).unwrap());

    let stored = [c(&out)];
    let stored: Vec<*const std::ffi::c_char> = stored.iter().map(|n| n.as_ptr()).collect();
    let o = refloat_file_options_default();
    let fixed = dir.path().join("fixed");
    let s = refloat_correct_files(stored.as_ptr(), 1, c(&fixed).as_ptr(), &o, 0, &mut report);
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!((report.done, report.failed, report.not_run), (1, 0, 0));
    assert!(fixed.join(good.file_name().unwrap()).is_file());

    let s = refloat_correct_files(ptr::null(), 1, c(&fixed).as_ptr(), &o, 0, ptr::null_mut());
    assert_eq!(
        s,
        refloat_status::REFLOAT_NULL_PARAMETER as c_int,
        "{}",
        last_error()
    );
    let s = refloat_correct_files(stored.as_ptr(), 1, ptr::null(), &o, 0, ptr::null_mut());
    assert_eq!(
        s,
        refloat_status::REFLOAT_NULL_PARAMETER as c_int,
        "{}",
        last_error()
    );

    // The pipelines that write nothing: each file's report in the dataset's JSON is the
    // library's (and the one-file C call's) for that file.
    let json = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let corrected = fixed.join(good.file_name().unwrap());
    let mut one = refloat_file_report::default();
    let verified = dir.path().join("verify.json");
    let s = refloat_verify_file(
        c(&out).as_ptr(),
        c(&corrected).as_ptr(),
        c(&verified).as_ptr(),
        &o,
        &mut one,
    );
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!((one.values, one.verified_values), (131_967, 131_967));
    let library =
        refloat::pipeline::verify_file(&out, &corrected, &Default::default(), &mut |_| {}).unwrap();
    assert_eq!(
        json(&verified)["values"].as_u64(),
        Some(library.values as u64)
    );
    let summary = dir.path().join("verify_files.json");
    let s = refloat_verify_files(
        stored.as_ptr(),
        1,
        c(&fixed).as_ptr(),
        c(&summary).as_ptr(),
        &o,
        0,
        &mut report,
    );
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!(json(&summary)["files"][0]["report"], json(&verified));
    // A file is not its own partner: refused before anything runs.
    report = refloat_dataset_report::default();
    let s = refloat_verify_files(
        stored.as_ptr(),
        1,
        c(&kept).as_ptr(),
        ptr::null(),
        &o,
        0,
        &mut report,
    );
    assert_ne!(s, OK);
    assert_eq!((report.done, report.failed), (0, 0), "{}", last_error());
    // The originals are not a corrected copy of the corrected file: it fails, naming the
    // branch and the value.
    let s = refloat_verify_file(
        c(&corrected).as_ptr(),
        c(&good).as_ptr(),
        ptr::null(),
        &o,
        ptr::null_mut(),
    );
    assert_ne!(s, OK);
    assert!(
        last_error().contains("invariant broken") && last_error().contains("value "),
        "{}",
        last_error()
    );

    let inspected = dir.path().join("inspect.json");
    let s = refloat_inspect_file(c(&out).as_ptr(), c(&inspected).as_ptr(), &o, &mut one);
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!((one.branches, one.values), (350, 131_967));
    let library = refloat::pipeline::inspect_file(&out, None, &[], &mut |_| {}).unwrap();
    // What each branch was found to be: the library's, branch for branch.
    let found = |v: &serde_json::Value| -> Vec<String> {
        v["trees"][0]["branches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                format!(
                    "{} {} {} {}",
                    b["name"], b["mantissa_bits"], b["mode"], b["values"]
                )
            })
            .collect()
    };
    let expected = found(&serde_json::to_value(&library).unwrap());
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(found(&json(&inspected)), expected);
    let all = [c(&bad), c(&out)];
    let all: Vec<*const std::ffi::c_char> = all.iter().map(|n| n.as_ptr()).collect();
    let s = refloat_inspect_files(all.as_ptr(), 2, c(&summary).as_ptr(), &o, 1, &mut report);
    assert_ne!(s, OK);
    assert_eq!((report.done, report.failed, report.not_run), (1, 1, 0));
    let sum = json(&summary);
    assert!(sum["files"][0]["error"]
        .as_str()
        .unwrap()
        .contains("bad.root"));
    assert_eq!(found(&sum["files"][1]["report"]), expected);

    let originals = [c(&good)];
    let originals: Vec<*const std::ffi::c_char> = originals.iter().map(|n| n.as_ptr()).collect();
    let analysed = dir.path().join("analyse.json");
    let s = refloat_analyse_file(
        c(&good).as_ptr(),
        c(&out).as_ptr(),
        c(&analysed).as_ptr(),
        &o,
        &mut one,
    );
    assert_eq!(s, OK, "{}", last_error());
    let s = refloat_analyse_files(
        originals.as_ptr(),
        1,
        c(&kept).as_ptr(),
        c(&summary).as_ptr(),
        &o,
        0,
        &mut report,
    );
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!(json(&summary)["files"][0]["report"], json(&analysed));
    assert_eq!(json(&analysed)["pooled"]["count"].as_u64(), Some(131_967));
}
