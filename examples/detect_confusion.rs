//! How well the scheme and bits are detected from stored values: every float branch of both
//! PHYSLITE files (the real originals), rounded by each scheme at 7, 10, 12 and 15 kept
//! bits, goes through `refloat::detect`; prints the confusion matrix as Markdown (the README's
//! "Files from real producers" table), then what detection says of `nano_dy.root`.
//!
//! ```text
//! cargo run --release --example detect_confusion [DATA_DIR]
//! ```
//! (`DATA_DIR` defaults to `../shared/data`.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use refloat::detect::detect_f32;
use refloat::pipeline::{inspect_file, Select};
use refloat::{io, Quantiser32, RoundingMode};

/// The schemes rounded with, and the candidate each should be detected as.
const SCHEMES: [(RoundingMode, RoundingMode); 6] = [
    (RoundingMode::Nearest, RoundingMode::Nearest),
    (RoundingMode::NearestEven, RoundingMode::Nearest),
    (RoundingMode::BitRound, RoundingMode::Nearest),
    (RoundingMode::Truncate, RoundingMode::Truncate),
    (RoundingMode::Cms, RoundingMode::Cms),
    (RoundingMode::RootFloat16, RoundingMode::RootFloat16),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let mut branches: Vec<Vec<f32>> = Vec::new();
    let mut pooled: Vec<Vec<f32>> = Vec::new(); // per file, every branch's values
    for file in [
        "DAOD_PHYSLITE_21.2.108.0.art.pool.root",
        "PHYSLITE_example.root",
    ] {
        pooled.push(Vec::new());
        let loaded = refloat::pipeline::load(&data.join(file), &Select::default())?;
        for info in &loaded.selection.floats {
            let b = loaded.tree.read_float(&info.name)?;
            // Branches whose originals already look rounded (many trailing zeros) or hold no
            // information are no test of detection.
            if refloat::quantise::infer_mantissa_bits_f32(&b.values).is_ok_and(|n| n >= 20) {
                pooled.last_mut().expect("one per file").extend(&b.values);
                branches.push(b.values);
            }
        }
    }
    println!(
        "{} branches of full-precision floats from both PHYSLITE files ({} values; pooled: {} and {})\n",
        branches.len(),
        branches.iter().map(Vec::len).sum::<usize>(),
        pooled[0].len(),
        pooled[1].len()
    );
    println!("| rounded with | bits | bits right | truncate | nearest | cms | root-float16 | cannot tell | pooled: development / held-out file |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (scheme, _) in SCHEMES {
        for bits in [7u32, 10, 12, 15] {
            let q = Quantiser32::new(bits, scheme)?;
            let mut named: BTreeMap<&str, usize> = BTreeMap::new();
            let mut bits_right = 0;
            for values in &branches {
                let mut v = values.clone();
                q.quantise_slice(&mut v);
                let d = detect_f32(&v);
                bits_right += usize::from(d.bits == Some(bits));
                *named
                    .entry(d.mode.map_or("cannot tell", |m| m.name()))
                    .or_default() += 1;
            }
            let cell = |name: &str| named.get(name).copied().unwrap_or(0);
            // Every branch of a file as one stream: what detection does with more values.
            let pooled_says: Vec<String> = pooled
                .iter()
                .map(|values| {
                    let mut v = values.clone();
                    q.quantise_slice(&mut v);
                    let d = detect_f32(&v);
                    let (best, p) = d.best();
                    match d.mode {
                        Some(m) => format!("{m} ({p:.2})"),
                        None => format!("cannot tell ({best} {p:.2})"),
                    }
                })
                .collect();
            println!(
                "| {scheme} | {bits} | {bits_right}/{} | {} | {} | {} | {} | {} | {} |",
                branches.len(),
                cell("truncate"),
                cell("nearest"),
                cell("cms"),
                cell("root-float16"),
                cell("cannot tell"),
                pooled_says.join(" / ")
            );
        }
    }

    // What detection says of a file CMS rounded.
    let nano = data.join("nano_dy.root");
    let report = inspect_file(&nano, Some(io::CMS_TREE), &[], &mut |_| {})?;
    let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
    for b in report.trees.iter().flat_map(|t| &t.branches) {
        let Some(d) = &b.detection else { continue };
        let bits = match d.bits {
            None => "no mantissa bits".to_string(),
            Some(23) => "23 (full)".to_string(),
            Some(_) if d.mixed() => "mixed".to_string(),
            Some(n) => format!("{n:>2}"),
        };
        let scheme = match (b.mode, b.mode_source) {
            (Some(m), Some("detected")) => format!("{m} (detected)"),
            (Some(m), _) => format!("cannot tell ({m}, the format's)"),
            _ => "-".to_string(),
        };
        *by.entry((bits, scheme)).or_default() += 1;
    }
    println!("\n`nano_dy.root`, tree Events: float branches by kept bits and scheme\n");
    println!("| kept bits | scheme | branches |");
    println!("|---|---|---|");
    for ((bits, scheme), n) in by {
        println!("| {bits} | {scheme} | {n} |");
    }
    Ok(())
}
