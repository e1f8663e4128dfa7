//! `refloat evaluate --table` regenerates the accuracy tables of `docs/real-data.md`: every
//! table row it prints on the real files (n = 10, nearest and truncate) appears verbatim there,
//! and the numbers say what the document says of them (the invariant holds, midpoint is the
//! identity for round-to-nearest away from binade edges, dither doubles the MSE, the
//! midpoint of truncated data divides it by about four).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::Command;

fn table(mode: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_refloat"))
        .arg("evaluate")
        .arg(common::root_file(common::DEV))
        .arg(common::root_file(common::HELD_OUT))
        .args(["--bits", "10", "--mode", mode, "--branches", "*", "--table"])
        .args(["--methods", "midpoint,dither:1,prior-mean,triage-rule"])
        .output()
        .expect("run refloat evaluate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The cells of the table row of `estimator` on `file`.
fn row<'a>(table: &'a str, estimator: &str, file: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {estimator} | `{file}` |")))
        .unwrap_or_else(|| panic!("no row for {estimator} on {file}:\n{table}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

fn cell(table: &str, estimator: &str, file: &str, column: usize) -> f64 {
    row(table, estimator, file)[column].parse().unwrap()
}

#[test]
fn evaluate_table_regenerates_the_readme_tables() {
    let readme = std::fs::read_to_string(common::repo_root().join("docs/real-data.md")).unwrap();
    for mode in ["nearest", "truncate"] {
        let t = table(mode);
        let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("| ")).collect();
        assert!(rows.len() >= 14, "{mode}: {t}");
        for line in &rows {
            assert!(
                readme.contains(line),
                "docs/real-data.md lacks this row of `refloat evaluate --mode {mode} --table` (rerun it and paste):\n{line}"
            );
        }
        for file in common::FILES {
            // column 2: pooled MSE / MSE(compressed) in interval units
            let dither = cell(&t, "dither:1", file, 2);
            let midpoint = cell(&t, "midpoint", file, 2);
            match mode {
                "nearest" => {
                    assert!((dither - 2.0).abs() < 0.1, "{file}: dither {dither}");
                    assert!((midpoint - 1.0).abs() < 1e-3, "{file}: midpoint {midpoint}");
                }
                _ => {
                    assert!(
                        (0.2..0.3).contains(&midpoint),
                        "{file}: midpoint {midpoint}"
                    );
                    assert!((dither - 0.5).abs() < 0.05, "{file}: dither {dither}");
                }
            }
            // the position of dithered values inside their intervals is uniform
            assert!(cell(&t, "dither:1", file, 5) < 0.01, "{file}: position KL");
        }
    }
}
