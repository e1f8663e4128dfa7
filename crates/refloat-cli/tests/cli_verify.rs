//! `refloat verify` on real files: a corrected file verifies against its stored file, a file
//! stored with other bits does not (exit 2, one line naming the branch).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

fn refloat(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .output()
        .expect("run refloat")
}

#[test]
fn verify_accepts_its_correction_and_rejects_other_bits() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::DEV);
    let (s10, s7, k) = (
        dir.path().join("s10.root"),
        dir.path().join("s7.root"),
        dir.path().join("k.root"),
    );
    let os = |s: &str| std::ffi::OsString::from(s);
    for (out, bits) in [(&s10, "10"), (&s7, "7")] {
        let o = refloat(&[
            &os("compress"),
            input.as_os_str(),
            out.as_os_str(),
            &os("--bits"),
            &os(bits),
            &os("--branches"),
            &os("AnalysisJetsAuxDyn.*"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = refloat(&[
        &os("correct"),
        s10.as_os_str(),
        k.as_os_str(),
        &os("--method"),
        &os("dither:5"),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.*"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let o = refloat(&[
        &os("verify"),
        s10.as_os_str(),
        k.as_os_str(),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.*"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("re-quantise bit for bit"),
        "{out}"
    );

    let o = refloat(&[
        &os("verify"),
        s10.as_os_str(),
        s7.as_os_str(),
        &os("--branches"),
        &os("AnalysisJetsAuxDyn.*"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invariant broken") && err.contains("AnalysisJetsAuxDyn."),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `refloat correct` and `verify` on CMS NanoAOD without `--tree`: the `Events` tree is found.
#[test]
fn nanoaod_needs_no_tree_argument() {
    let dir = tempfile::tempdir().unwrap();
    let nano = common::data_dir().join("nano_dy.root");
    let out = dir.path().join("nano.dither.root");
    let o = refloat(&[
        std::ffi::OsStr::new("correct"),
        nano.as_os_str(),
        out.as_os_str(),
        std::ffi::OsStr::new("--method"),
        std::ffi::OsStr::new("dither:1"),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("of tree 'Events'"), "{stdout}");
    let o = refloat(&[
        std::ffi::OsStr::new("verify"),
        nano.as_os_str(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
