//! The `nano_dy.root` table of `docs/producers.md`: for every float branch of a NanoAOD file,
//! the precision CMSSW declares beside the precision the values show and the bits refloat
//! corrects at, grouped, with the values each rule leaves alone.
//!
//! ```text
//! cargo run -p refloat-core --release --example declared_table -- ../shared/data/nano_dy.root
//! ```
//!
//! Runs `correct_file` with the defaults of the `refloat` command (midpoint; dither resolves
//! the same way) into a temporary file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use refloat_core::correct::{ExactCounts, Method};
use refloat_core::pipeline::{correct_file, CorrectOptions, Correction};

type Error = Box<dyn std::error::Error>;

/// One row: declared, shown by the values, corrected at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    declared: String,
    shown: String,
    used: String,
}

#[derive(Default)]
struct Row {
    branches: usize,
    values: usize,
    exact: ExactCounts,
}

fn main() -> Result<(), Error> {
    let input = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data/nano_dy.root".into()),
    );
    let dir = tempfile::tempdir()?;
    let report = correct_file(
        &input,
        &dir.path().join("corrected.root"),
        Correction::Method(Method::Midpoint),
        &CorrectOptions::default(),
        &mut |_| {},
    )?;
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    let mut total = Row::default();
    for b in &report.branches {
        let Some(r) = &b.resolution else { continue };
        let declared = match r.declared {
            Some(d) if d.expression => "expression".to_string(),
            Some(d) => d.bits.map_or("-".into(), |b| format!("{b:2}")),
            None => "not declared".to_string(),
        };
        let shown = r
            .apparent_bits
            .map_or("no mantissa".into(), |a| format!("{a:2}"));
        let used = match (r.bits, r.mixed()) {
            (None, _) => "left as stored".to_string(),
            (Some(_), true) => format!(
                "per value ({})",
                r.per_value
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (Some(b), false) => {
                format!("{b:2} ({})", r.bits_source.name())
            }
        };
        let row = rows
            .entry(Key {
                declared,
                shown,
                used,
            })
            .or_default();
        for t in [&mut *row, &mut total] {
            t.branches += 1;
            t.values += b.values;
            t.exact.short_mantissa += b.report.exact.short_mantissa;
            t.exact.sentinel += b.report.exact.sentinel;
            t.exact.spike += b.report.exact.spike;
            t.exact.lattice += b.report.exact.lattice;
        }
    }
    println!(
        "{}: {} float branches, {} values; values left alone per rule\n",
        input.file_name().unwrap_or_default().to_string_lossy(),
        total.branches,
        total.values
    );
    println!("| declared (CMSSW) | shown by the values | corrected at | branches | values | ±0, short mantissa | sentinel | spike | lattice, top code |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let line = |k: &str, r: &Row| {
        println!(
            "| {k} | {} | {} | {} | {} | {} | {} |",
            r.branches,
            r.values,
            r.exact.short_mantissa,
            r.exact.sentinel,
            r.exact.spike,
            r.exact.lattice
        )
    };
    for (k, r) in &rows {
        line(&format!("{} | {} | {}", k.declared, k.shown, k.used), r);
    }
    line("**all** | | ", &total);
    Ok(())
}
