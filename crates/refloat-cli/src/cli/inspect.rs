//! `refloat inspect`: trees, branches, types, entries, and the kept mantissa bits of each
//! float branch, inferred from its values.

use std::path::PathBuf;

use anyhow::Result;
use refloat::io::{self, BranchKind, FloatLayout};
use refloat::quantise::infer_mantissa_bits_f32;
use serde::Serialize;

use super::common;

/// Arguments of `refloat inspect`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat inspect ../shared/data/PHYSLITE_example.root
  refloat inspect comp.root --branches 'AnalysisJetsAuxDyn.*' --all --json inspect.json")]
pub struct Args {
    /// ROOT file.
    pub file: PathBuf,
    /// Only this tree (default: every TTree of the file).
    #[arg(long)]
    pub tree: Option<String>,
    /// Only branches matching these names or globs (comma-separated or repeated).
    #[arg(
        long = "branches",
        short = 'b',
        value_name = "NAME|GLOB",
        value_delimiter = ','
    )]
    pub branches: Vec<String>,
    /// List every branch, not only the float ones (others are summarised by type).
    #[arg(long)]
    pub all: bool,
    /// Also write everything as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Serialize, Debug)]
struct BranchReport {
    name: String,
    type_name: String,
    entries: i64,
    kind: BranchKind,
    /// Values in the branch (float branches only).
    values: Option<usize>,
    /// Inferred kept mantissa bits (float branches only; `null` when no value carries
    /// information, e.g. all zeros).
    mantissa_bits: Option<u32>,
    /// Why the bits could not be inferred.
    note: Option<String>,
}

#[derive(Serialize, Debug)]
struct TreeReport {
    name: String,
    entries: u64,
    branches: Vec<BranchReport>,
}

#[derive(Serialize, Debug)]
struct FileReport {
    path: PathBuf,
    bytes: u64,
    compression: String,
    objects: Vec<(String, String)>,
    trees: Vec<TreeReport>,
}

/// Runs `refloat inspect`.
pub fn run(args: Args) -> Result<()> {
    let patterns = io::parse_patterns(&args.branches)?;
    let mut file = io::open(&args.file)?;
    let names = match &args.tree {
        Some(t) => vec![t.clone()],
        None => file.tree_names(),
    };
    let mut trees = Vec::new();
    for name in names {
        let tree = file.tree(&name)?;
        let mut branches = Vec::new();
        let pb = common::progress(tree.branches().len(), "inspecting");
        for info in tree.branches() {
            pb.inc(1);
            if !patterns.is_empty() && !patterns.iter().any(|p| p.matches(&info.name)) {
                continue;
            }
            let (mut values, mut bits, mut note) = (None, None, None);
            if info.float_layout().is_some() {
                pb.set_message(info.name.clone());
                let b = tree.read_float(&info.name)?;
                values = Some(b.values.len());
                match infer_mantissa_bits_f32(&b.values) {
                    Ok(n) => bits = Some(n),
                    Err(e) => note = Some(e.to_string()),
                }
            }
            branches.push(BranchReport {
                name: info.name.clone(),
                type_name: info.type_name.clone(),
                entries: info.entries,
                kind: info.kind.clone(),
                values,
                mantissa_bits: bits,
                note,
            });
        }
        pb.finish_and_clear();
        if !patterns.is_empty() && branches.is_empty() {
            anyhow::bail!(
                "{}: tree '{}': no branch matches {}",
                args.file.display(),
                name,
                args.branches.join(", ")
            );
        }
        trees.push(TreeReport {
            name,
            entries: tree.entries(),
            branches,
        });
    }
    let report = FileReport {
        path: args.file.clone(),
        bytes: file.size_bytes(),
        compression: common::describe_compression(file.compression()),
        objects: file.objects().to_vec(),
        trees,
    };
    if let Some(json) = &args.json {
        common::write_json(json, &report)?;
    }
    print(&report, args.all);
    if let Some(json) = &args.json {
        println!("written to {}", json.display());
    }
    Ok(())
}

fn print(r: &FileReport, all: bool) {
    println!(
        "{}: {} ({})",
        r.path.display(),
        common::human_bytes(r.bytes),
        r.compression
    );
    let others: Vec<String> = r
        .objects
        .iter()
        .filter(|(_, c)| c != "TTree")
        .map(|(n, c)| format!("{n} ({c})"))
        .collect();
    if !others.is_empty() {
        println!("other objects: {}", others.join(", "));
    }
    for t in &r.trees {
        let floats: Vec<&BranchReport> = t
            .branches
            .iter()
            .filter(|b| matches!(b.kind, BranchKind::Float(_)))
            .collect();
        println!(
            "\nTTree '{}': {} entries, {} branches, {} float branches ({} std::vector<float>)",
            t.name,
            t.entries,
            t.branches.len(),
            floats.len(),
            floats
                .iter()
                .filter(|b| b.kind == BranchKind::Float(FloatLayout::Jagged))
                .count()
        );
        let width = t
            .branches
            .iter()
            .map(|b| b.name.len())
            .max()
            .unwrap_or(4)
            .clamp(4, 90);
        let listed: Vec<&BranchReport> = if all {
            t.branches.iter().collect()
        } else {
            floats.clone()
        };
        if !listed.is_empty() {
            println!(
                "  {:<width$}  {:<22} {:>8} {:>9} {:>5}",
                "branch", "type", "entries", "values", "bits"
            );
        }
        for b in &listed {
            let values = b.values.map(|v| v.to_string()).unwrap_or_default();
            let bits = match (b.mantissa_bits, &b.kind) {
                (Some(n), _) => n.to_string(),
                (None, BranchKind::Float(_)) => "-".to_string(),
                _ => String::new(),
            };
            let mut type_name = b.type_name.clone();
            if type_name.len() > 22 {
                type_name.truncate(21);
                type_name.push('…');
            }
            println!(
                "  {:<width$}  {:<22} {:>8} {:>9} {:>5}",
                b.name, type_name, b.entries, values, bits
            );
        }
        if !all {
            let mut by_type: Vec<(String, usize)> = Vec::new();
            for b in t
                .branches
                .iter()
                .filter(|b| !matches!(b.kind, BranchKind::Float(_)))
            {
                match by_type.iter_mut().find(|(ty, _)| *ty == b.type_name) {
                    Some((_, n)) => *n += 1,
                    None => by_type.push((b.type_name.clone(), 1)),
                }
            }
            by_type.sort_by_key(|b| std::cmp::Reverse(b.1));
            if !by_type.is_empty() {
                println!("  other branches by type (--all lists them):");
                for (ty, n) in by_type.iter().take(15) {
                    println!("    {n:>5}  {ty}");
                }
                if by_type.len() > 15 {
                    println!(
                        "    {:>5}  in {} more types",
                        by_type[15..].iter().map(|x| x.1).sum::<usize>(),
                        by_type.len() - 15
                    );
                }
            }
        }
        let uninferred = floats.iter().filter(|b| b.mantissa_bits.is_none()).count();
        if uninferred > 0 {
            println!("  bits '-': cannot be inferred (no value with a non-zero mantissa) in {uninferred} float branches");
        }
    }
}
