//! `refloat inspect`: trees, branches, types, entries, and the kept mantissa bits and
//! rounding scheme of each float branch as detected from its values
//! ([`refloat::pipeline::inspect_file`] does the work; this prints it).

use std::path::PathBuf;

use anyhow::Result;
use refloat::io::{self, BranchKind, FloatLayout};
use refloat::pipeline::{inspect_file, InspectReport, InspectedBranch};
use refloat::resolve::{Resolution, Source};

use super::common;

/// Arguments of `refloat inspect`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat inspect ../shared/data/PHYSLITE_example.root
  refloat inspect comp.root --branches 'AnalysisJetsAuxDyn.*' --all --json inspect.json
  refloat inspect 'in/*.root' --keep-going --json dataset.json")]
pub struct Args {
    /// ROOT file; several files or quoted globs ('in/*.root') inspect each in turn.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
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
    /// Also write everything as JSON here (several files: the dataset's report, each file's
    /// inside it).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Several files: a file that cannot be inspected is reported and the next one is run
    /// (by default the run stops at the first failure).
    #[arg(long)]
    pub keep_going: bool,
}

/// Runs `refloat inspect`.
pub fn run(args: Args) -> Result<()> {
    let patterns = io::parse_patterns(&args.branches)?;
    let Some(file) = common::one_path(&args.files) else {
        return common::run_each(
            &args.files,
            None,
            args.keep_going,
            args.json.as_deref(),
            |input, _| {
                let report =
                    inspect_file(input, args.tree.as_deref(), &patterns, &mut common::bars())?;
                print(&report, args.all);
                Ok(report)
            },
        );
    };
    let report = inspect_file(&file, args.tree.as_deref(), &patterns, &mut common::bars())?;
    if let Some(json) = &args.json {
        common::write_json(json, &report)?;
    }
    print(&report, args.all);
    if let Some(json) = &args.json {
        println!("written to {}", json.display());
    }
    Ok(())
}

fn print(r: &InspectReport, all: bool) {
    println!(
        "{}: {} ({})",
        r.path.display(),
        common::human_bytes(r.bytes),
        common::describe_compression(r.compression)
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
        let floats: Vec<&InspectedBranch> = t
            .branches
            .iter()
            .filter(|b| matches!(b.kind, BranchKind::Float(_)))
            .collect();
        println!(
            "\nTTree '{}': {} entries, {} branches, {} float branches ({} jagged: std::vector<float> or float[n])",
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
        let listed: Vec<&InspectedBranch> = if all {
            t.branches.iter().collect()
        } else {
            floats.clone()
        };
        if !listed.is_empty() {
            println!(
                "  {:<width$}  {:<22} {:>8} {:>9} {:>9}  {:<18} exact by nature",
                "branch", "type", "entries", "values", "bits", "scheme"
            );
        }
        for b in &listed {
            let values = b.values.map(|v| v.to_string()).unwrap_or_default();
            let r = b.resolution.as_ref();
            // The bits correct uses, and where they come from: declared (d), the tree's (t),
            // given; mixed branches list each precision.
            let bits = match (r, &b.kind) {
                (Some(r), _) if r.mixed() => r
                    .per_value
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("+"),
                (Some(r), _) => match (r.bits, r.bits_source) {
                    (Some(n), Source::Declared) => format!("{n}d"),
                    (Some(n), Source::Tree) => format!("{n}t"),
                    (Some(n), _) => n.to_string(),
                    (None, _) => "-".to_string(),
                },
                (None, BranchKind::Float(_)) => "-".to_string(),
                _ => String::new(),
            };
            // The detected scheme with its posterior, or the format's marked `?`.
            let scheme = match (b.mode, b.mode_source, &b.detection) {
                (Some(m), Some("detected"), Some(d)) => format!("{m} (p = {:.2})", d.best().1),
                (Some(m), _, _) => format!("{m}?"),
                _ => String::new(),
            };
            let exact = r.map(exact_summary).unwrap_or_default();
            let mut type_name = b.type_name.clone();
            if type_name.len() > 22 {
                type_name.truncate(21);
                type_name.push('…');
            }
            println!(
                "  {:<width$}  {:<22} {:>8} {:>9} {:>9}  {scheme:<18} {exact}",
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
        let left = floats.iter().filter(|b| b.mantissa_bits.is_none()).count();
        if left > 0 {
            println!("  bits '-': {left} float branches would be left as stored (no value with a non-zero mantissa, or too few values to tell; --json says which)");
        }
        let declared = floats
            .iter()
            .filter(|b| {
                b.resolution
                    .as_ref()
                    .is_some_and(|r| r.bits_source == Source::Declared)
            })
            .count();
        if declared > 0 {
            println!("  bits 'nd': {declared} branches show fewer bits than their producer declares; correct uses the declared n");
        }
        let tree = floats
            .iter()
            .filter(|b| {
                b.resolution
                    .as_ref()
                    .is_some_and(|r| r.bits_source == Source::Tree)
            })
            .count();
        if tree > 0 {
            println!("  bits 'nt': {tree} branches have too few values to tell their bits; correct uses the tree's n");
        }
        let mixed = floats
            .iter()
            .filter(|b| b.resolution.as_ref().is_some_and(|r| r.mixed()))
            .count();
        if mixed > 0 {
            println!(
                "  bits 'a+b': {mixed} branches mix precisions; correct gives each value its own"
            );
        }
        if floats.iter().any(|b| b.mode_source == Some("format")) {
            println!("  scheme 'x?': the values cannot tell the scheme; x is the format's ({} for this tree), which correct uses unless --mode says otherwise",
                refloat::pipeline::format_default_mode(&t.name));
        }
    }
}

/// The exact-by-nature values a branch's resolution found: its spikes (the first few, with
/// their counts) and its lattice step.
fn exact_summary(r: &Resolution) -> String {
    let mut parts = Vec::new();
    if !r.spikes.is_empty() {
        let shown: Vec<String> = r
            .spikes
            .iter()
            .take(3)
            .map(|s| format!("{}×{}", s.value, s.count))
            .collect();
        let more = if r.spikes.len() > 3 {
            format!(" +{}", r.spikes.len() - 3)
        } else {
            String::new()
        };
        parts.push(format!("spikes {}{more}", shown.join(" ")));
    }
    if let Some(l) = r.lattice {
        parts.push(format!("lattice {}", 2f64.powi(l.step_log2)));
    }
    parts.join("; ")
}
