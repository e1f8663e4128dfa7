//! Bad input to the `refloat` command: each case is a one-line error on stderr naming the
//! file / tree / branch, exit code 2, no panic or backtrace, and no partial output file.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use refloat_core::io::{self, FloatBranch, TreeWriter};

fn refloat<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_refloat"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run refloat")
}

/// Asserts exit code 2 and a single error line containing every `needle`; returns the line.
fn assert_error(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with("refloat: error: "), "{line}");
    for bad in ["panicked", "backtrace", "internal error", "RUST_BACKTRACE"] {
        assert!(!line.contains(bad), "{line}");
    }
    for n in needles {
        assert!(line.contains(n), "'{n}' not in: {line}");
    }
    line.to_string()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn missing_non_root_and_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.root");
    assert_error(&refloat(["inspect", &s(&missing)]), &["missing.root"]);
    assert_error(
        &refloat([
            "compress",
            &s(&missing),
            &s(&dir.path().join("o.root")),
            "--bits",
            "10",
        ]),
        &["missing.root"],
    );

    let text = dir.path().join("notes.root");
    std::fs::write(&text, "just text\n").unwrap();
    assert_error(
        &refloat(["inspect", &s(&text)]),
        &["notes.root", "not a ROOT file"],
    );

    let real = std::fs::read(common::root_file(common::HELD_OUT)).unwrap();
    let cut = dir.path().join("cut.root");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    assert_error(
        &refloat(["analyse", &s(&cut), &s(&cut), "--no-plots"]),
        &["cut.root", "truncated"],
    );
    assert_error(
        &refloat([
            "correct",
            &s(&cut),
            &s(&dir.path().join("c.root")),
            "--method",
            "midpoint",
        ]),
        &["cut.root", "truncated"],
    );
    // Nothing but the inputs were created.
    assert_eq!(dir_names(dir.path()), vec!["cut.root", "notes.root"]);
}

#[test]
fn missing_tree_and_branch() {
    let dir = tempfile::tempdir().unwrap();
    let real = s(&common::root_file(common::DEV));
    let out = s(&dir.path().join("out.root"));
    let cases: [([&str; 2], &[&str]); 4] = [
        (["--tree", "NoSuchTree"], &[common::DEV, "NoSuchTree"]),
        (
            [
                "--branches",
                "AnalysisJetsAuxDyn.pt,AnalysisJetsAuxDyn.nope",
            ],
            &[common::DEV, "CollectionTree", "AnalysisJetsAuxDyn.nope"],
        ),
        (
            ["--branches", "NoSuchContainer.*"],
            &["NoSuchContainer.*", "matches no branch"],
        ),
        (
            ["--branches", "AnalysisJetsAuxDyn.SumPtTrkPt500"],
            &["AnalysisJetsAuxDyn.SumPtTrkPt500", "nested"],
        ),
    ];
    for (extra, needles) in cases {
        let args = ["compress", &real, &out, "--bits", "10", extra[0], extra[1]];
        assert_error(&refloat(args), needles);
    }
    assert_eq!(
        dir_names(dir.path()),
        Vec::<String>::new(),
        "no output on error"
    );

    // The second file of an analysis lacks a branch the first has.
    let partial = dir.path().join("partial.root");
    let mut f = io::open(common::root_file(common::DEV)).unwrap();
    let t = f.tree("CollectionTree").unwrap();
    let mut w = TreeWriter::new(&partial, "CollectionTree");
    w.add(t.read_float("AnalysisJetsAuxDyn.pt").unwrap())
        .unwrap();
    w.write().unwrap();
    assert_error(
        &refloat([
            "analyse",
            &real,
            &s(&partial),
            "--branches",
            "AnalysisJetsAuxDyn.pt,AnalysisJetsAuxDyn.eta",
            "--no-plots",
            "--out",
            &s(&dir.path().join("rep")),
        ]),
        &["partial.root", "AnalysisJetsAuxDyn.eta"],
    );
}

#[test]
fn bits_out_of_range_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let real = s(&common::root_file(common::HELD_OUT));
    let out = s(&dir.path().join("out.root"));
    assert_error(
        &refloat(["compress", &real, &out, "--bits", "24"]),
        &["24", "out of range", "0..=23"],
    );
    assert_error(
        &refloat([
            "correct", &real, &out, "--method", "midpoint", "--bits", "99",
        ]),
        &["99", "out of range"],
    );
    assert_error(
        &refloat(["analyse", &real, &real, "--bits", "30", "--no-plots"]),
        &["30", "out of range"],
    );
    assert_error(
        &refloat(["bench", &real, "--bits", "25", "--repeat", "1"]),
        &["25", "out of range"],
    );
    // clap's own usage errors also exit with 2 (their message spans several lines).
    let o = refloat(["compress", &real, &out, "--bits", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = refloat(["compress", &real, &out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bits"));
    assert_error(
        &refloat(["correct", &real, &out, "--method", "median"]),
        &["median"],
    );
    assert_error(
        &refloat(["correct", &real, &out, "--method", "model:/tmp/m.pt"]),
        &["torch"],
    );
    assert_error(
        &refloat(["compress", &real, &real, "--bits", "10"]),
        &["replace the input"],
    );
    assert_eq!(dir_names(dir.path()), Vec::<String>::new());
}

/// Two files whose entry counts differ (the two real files: 40 vs 100 events), and two whose
/// jagged offsets differ (the same real values with one object moved to the next event).
#[test]
fn entry_count_and_offset_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let dev = s(&common::root_file(common::DEV));
    let held = s(&common::root_file(common::HELD_OUT));
    let rep = s(&dir.path().join("rep"));
    assert_error(
        &refloat([
            "analyse",
            &dev,
            &held,
            "--branches",
            "AnalysisJetsAuxDyn.pt",
            "--out",
            &rep,
        ]),
        &[common::DEV, common::HELD_OUT, "CollectionTree", "entries"],
    );

    let (values, counts) = common::load_flat(common::HELD_OUT, "AnalysisJetsAuxDyn.pt");
    let counts: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
    let first = counts.iter().position(|&c| c > 0).unwrap();
    let mut moved = counts.clone();
    moved[first] -= 1;
    moved[first + 1] += 1;
    let a = dir.path().join("a.root");
    let b = dir.path().join("b.root");
    for (path, c) in [(&a, &counts), (&b, &moved)] {
        let mut w = TreeWriter::new(path, "CollectionTree");
        w.add(FloatBranch::from_counts("AnalysisJetsAuxDyn.pt", values.clone(), c).unwrap())
            .unwrap();
        w.write().unwrap();
    }
    let line = assert_error(
        &refloat(["analyse", &s(&a), &s(&b), "--out", &rep]),
        &[
            "a.root",
            "b.root",
            "CollectionTree",
            "AnalysisJetsAuxDyn.pt",
            "offsets differ",
            &format!("entry {first}"),
        ],
    );
    assert!(!line.contains('\n'));
    assert!(
        !dir.path().join("rep/report.json").exists(),
        "no report on error"
    );
}

/// Existing output files are left untouched when a command fails, and no temporary file is
/// left beside them.
#[test]
fn failed_commands_leave_existing_outputs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let real = s(&common::root_file(common::HELD_OUT));
    let out: PathBuf = dir.path().join("out.root");
    std::fs::write(&out, b"previous content").unwrap();
    assert_error(
        &refloat([
            "compress",
            &real,
            &s(&out),
            "--bits",
            "10",
            "--branches",
            "Nope.pt",
        ]),
        &["Nope.pt"],
    );
    assert_error(
        &refloat([
            "correct",
            &real,
            &s(&out),
            "--method",
            "midpoint",
            "--bits",
            "10",
        ]),
        &["not a stored value"],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"previous content");
    assert_eq!(dir_names(dir.path()), vec!["out.root"]);
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Damaged baskets of one branch in a file of the right size: a one-line error naming the
/// file, tree and branch (oxyroot's internal panic is caught), no output.
#[test]
fn damaged_baskets() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(common::root_file(common::DEV)).unwrap();
    let target = "AnalysisJetsAuxDyn.eta";
    let mut key = vec![target.len() as u8];
    key.extend_from_slice(target.as_bytes());
    key.push(14);
    key.extend_from_slice(b"CollectionTree");
    let hits = find_all(&bytes, &key);
    assert!(!hits.is_empty());
    for h in hits {
        for b in &mut bytes[h + key.len() + 16..h + key.len() + 80] {
            *b ^= 0xA5;
        }
    }
    let damaged = dir.path().join("damaged.root");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = dir.path().join("out.root");
    assert_error(
        &refloat([
            "compress",
            &s(&damaged),
            &s(&out),
            "--bits",
            "10",
            "--branches",
            "AnalysisJetsAuxDyn.*",
        ]),
        &["damaged.root", "CollectionTree", target],
    );
    assert!(!out.exists());
    assert_eq!(dir_names(dir.path()), vec!["damaged.root"]);
}

/// A failure after the output was written — the invariant's verification in `correct`, the
/// size table in `compress` (made to fail through `REFLOAT_FAULT_INJECT`, since on real data
/// both pass) — leaves no output, an existing file at the output path untouched, and no
/// temporary file beside it.
#[test]
fn failed_verification_or_size_table_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let real = s(&common::root_file(common::HELD_OUT));
    let comp = dir.path().join("comp.root");
    let sel = "AnalysisElectronsAuxDyn.*";
    let fault = |step: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_refloat"))
            .args(args)
            .env("REFLOAT_FAULT_INJECT", step)
            .output()
            .expect("run refloat")
    };

    // compress: the rounded copy is written, then the size table fails.
    let line = assert_error(
        &fault(
            "sizes",
            &[
                "compress",
                &real,
                &s(&comp),
                "--bits",
                "10",
                "--branches",
                sel,
            ],
        ),
        &["comp.root", "size table"],
    );
    assert!(
        !line.contains(".comp.root."),
        "names the output, not the temporary: {line}"
    );
    assert_eq!(dir_names(dir.path()), Vec::<String>::new(), "no output");
    let out = refloat(["compress", &real, &s(&comp), "--bits", "10", "-b", sel]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // correct: the corrected copy is written and verified, then the verification fails.
    let corrected = dir.path().join("corrected.root");
    std::fs::write(&corrected, b"previous content").unwrap();
    // A value moved out of its interval, or a written basket damaged, is caught while
    // writing, by the checks themselves.
    for (step, says) in [
        ("invariant", "invariant broken"),
        ("written", "written basket"),
    ] {
        assert_error(
            &fault(
                step,
                &[
                    "correct",
                    &s(&comp),
                    &s(&corrected),
                    "--method",
                    "midpoint",
                    "-b",
                    sel,
                ],
            ),
            &["AnalysisElectronsAuxDyn.", says],
        );
        assert_eq!(std::fs::read(&corrected).unwrap(), b"previous content");
        assert_eq!(dir_names(dir.path()), ["comp.root", "corrected.root"]);
    }
    let line = assert_error(
        &fault(
            "verify",
            &[
                "correct",
                &s(&comp),
                &s(&corrected),
                "--method",
                "dither",
                "-b",
                sel,
            ],
        ),
        &["corrected.root", "verification failed"],
    );
    assert!(
        !line.contains(".corrected.root."),
        "names the output, not the temporary: {line}"
    );
    assert_eq!(std::fs::read(&corrected).unwrap(), b"previous content");
    assert_eq!(dir_names(dir.path()), ["comp.root", "corrected.root"]);
    let compressed_size = std::fs::metadata(&comp).unwrap().len();

    // Without the fault the same command replaces the file, and only then.
    let out = refloat([
        "correct",
        &s(&comp),
        &s(&corrected),
        "--method",
        "dither",
        "-b",
        sel,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut f = io::open(&corrected).unwrap();
    assert!(f.tree("CollectionTree").is_ok());
    assert!(std::fs::metadata(&corrected).unwrap().len() > compressed_size / 2);
    assert_eq!(dir_names(dir.path()), ["comp.root", "corrected.root"]);
}
