//! The crate that builds `librefloat.{a,so}` (this package, `refloat`) is lean: neither it nor
//! anything it depends on pulls in the command line's dependencies (argument parsing,
//! progress bars, plotting, fonts). `cargo tree` is the witness.

use std::process::Command;

/// Crates only the `refloat` command may depend on.
const CLI_ONLY: [&str; 8] = [
    "clap",
    "indicatif",
    "plotters",
    "plotters-bitmap",
    "dejavu",
    "ab_glyph",
    "image",
    "anyhow",
];

fn tree(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--locked", "--offline", "-p", package])
        .args([
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn librefloat_has_no_cli_dependency() {
    let deps = tree("refloat");
    assert!(deps.iter().any(|d| d == "refloat-core"), "{deps:?}");
    assert!(deps.iter().any(|d| d == "cxx"), "{deps:?}");
    for cli in CLI_ONLY {
        assert!(
            !deps.iter().any(|d| d == cli),
            "librefloat's crate depends on {cli}: {deps:?}"
        );
    }
}

#[test]
fn the_command_has_them() {
    // the witness can see them where they are
    let deps = tree("refloat-cli");
    for cli in ["clap", "indicatif", "plotters"] {
        assert!(deps.iter().any(|d| d == cli), "{cli} not in {deps:?}");
    }
}
