//! The tables of `docs/information.md`: how much information the mantissa bits of a
//! PHYSLITE file's float branches carry (Klöwer's bitwise real information), and how
//! predictable the bits dropped at 7 and 10 kept bits are from stored information alone.
//!
//! ```text
//! cargo run -p refloat-core --release --example information_ceiling -- \
//!     ../shared/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root
//! ```
//!
//! Run it on the development file only. Each branch is measured on its own (its own
//! classifier, its own bit counts); a group's row pools the branches' held-out per-value
//! gains (so its standard error is over all the group's values) and gives the median and
//! range of the per-branch bitwise figures.

use refloat_core::information::{
    bitwise_information, dropped_bit_predictability, BitInformation, Ceiling, CeilingOptions,
    Neighbour, F32_BIT_POSITIONS, F32_SIGN_EXPONENT_BITS,
};
use refloat_core::io::{self, BranchPattern, FloatBranch};
use refloat_core::stats::median;
use refloat_core::{Quantiser32, RoundingMode};

/// (row label, branch-name prefix) of each group.
const GROUPS: [(&str, &str); 5] = [
    ("electrons", "AnalysisElectronsAuxDyn"),
    ("muons", "AnalysisMuonsAuxDyn"),
    ("jets", "AnalysisJetsAuxDyn"),
    ("photons", "AnalysisPhotonsAuxDyn"),
    ("event info", "EventInfoAuxDyn"),
];

/// Standard errors for "measurable" and for the stated resolution.
const Z: f64 = 2.0;

struct Group {
    label: &'static str,
    branches: Vec<FloatBranch>,
    /// Index of the `pt` branch and of the `eta` branch (the other variable), if present.
    pt: Option<usize>,
    eta: Option<usize>,
}

impl Group {
    /// The other variable of branch `i`: `pt`, or `eta` for `pt` itself (same objects only).
    fn other_of(&self, i: usize) -> Option<&[f32]> {
        let j = if Some(i) == self.pt {
            self.eta?
        } else {
            self.pt?
        };
        let (b, o) = (&self.branches[i], &self.branches[j]);
        (b.offsets.is_some() && b.offsets == o.offsets).then_some(o.values.as_slice())
    }
}

fn read_groups(path: &str) -> Result<Vec<Group>, Box<dyn std::error::Error>> {
    let tree = io::open(path)?.tree_or_default(None)?;
    let mut groups = Vec::new();
    for (label, prefix) in GROUPS {
        let sel = tree.select(&[BranchPattern::parse(&format!("{prefix}.*"))?])?;
        let mut branches = Vec::new();
        for b in &sel.floats {
            let branch = tree.read_float(&b.name)?;
            // The event-info group is the flat branches (one value per event).
            let flat_only = label == "event info";
            if !branch.values.is_empty() && (!flat_only || branch.offsets.is_none()) {
                branches.push(branch);
            }
        }
        let find = |v: &str| {
            branches
                .iter()
                .position(|b| b.name == format!("{prefix}.{v}"))
        };
        let (pt, eta) = (find("pt"), find("eta"));
        groups.push(Group {
            label,
            branches,
            pt,
            eta,
        });
    }
    Ok(groups)
}

/// The bitwise information of each branch of `g` that has a neighbour.
fn infos<'a>(
    g: &'a Group,
    neighbour: impl Fn(usize) -> Option<Neighbour<'a>>,
) -> Vec<BitInformation> {
    g.branches
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let n = neighbour(i)?;
            Some(
                bitwise_information(&b.values, b.offsets.as_deref(), n)
                    .expect("well-formed branch"),
            )
        })
        .collect()
}

fn range(values: &[f64]) -> String {
    if values.is_empty() {
        return "–".into();
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let med = median(values).expect("non-empty");
    let digits = if values.iter().all(|v| v.fract() == 0.0) {
        0
    } else {
        3
    };
    format!("{med:.digits$} [{min:.digits$}, {max:.digits$}]")
}

fn bitwise_row(label: &str, neighbour: &str, infos: &[BitInformation]) {
    let informative: Vec<&BitInformation> = infos.iter().filter(|i| i.total() > 0.0).collect();
    let pairs: Vec<f64> = infos.iter().map(|i| i.pairs as f64).collect();
    let total: Vec<f64> = informative.iter().map(|i| i.total()).collect();
    let mantissa: Vec<f64> = informative.iter().map(|i| i.mantissa()).collect();
    let kept: Vec<f64> = informative
        .iter()
        .map(|i| i.kept_mantissa_bits_for(0.99).expect("valid fraction") as f64)
        .collect();
    let mantissa_positions = F32_BIT_POSITIONS - F32_SIGN_EXPONENT_BITS;
    let surviving: usize = infos
        .iter()
        .map(|i| {
            i.bits[F32_SIGN_EXPONENT_BITS..]
                .iter()
                .filter(|&&b| b > 0.0)
                .count()
        })
        .sum();
    println!(
        "| {label} | {neighbour} | {} ({} informative) | {} | {} | {} | {} | {surviving}/{} |",
        infos.len(),
        informative.len(),
        range(&pairs),
        range(&total),
        range(&mantissa),
        range(&kept),
        infos.len() * mantissa_positions,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: information_ceiling FILE.root (the development file)")?;
    let started = std::time::Instant::now();
    let groups = read_groups(&path)?;
    eprintln!("read in {:.1} s", started.elapsed().as_secs_f64());

    println!(
        "## Bitwise real information (Klöwer et al. 2021), original values, confidence 0.99\n"
    );
    println!(
        "| group | neighbour | branches | pairs per branch | total information (bits/value) | \
         mantissa information (bits/value) | kept mantissa bits for 99 % | mantissa positions above the filter |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for g in &groups {
        let jagged = g.branches.iter().any(|b| b.offsets.is_some());
        if jagged {
            bitwise_row(
                g.label,
                "next object",
                &infos(g, |i| {
                    g.branches[i]
                        .offsets
                        .is_some()
                        .then_some(Neighbour::NextObject)
                }),
            );
            bitwise_row(
                g.label,
                "other variable (pt; eta for pt)",
                &infos(g, |i| g.other_of(i).map(Neighbour::OtherVariable)),
            );
        }
        bitwise_row(
            g.label,
            "next event (control)",
            &infos(g, |_| Some(Neighbour::NextEvent)),
        );
    }

    println!("\n### Selected jet branches, next object\n");
    println!("| branch | pairs | total (bits/value) | sign + exponent | mantissa | kept mantissa bits for 99 % |");
    println!("|---|---|---|---|---|---|");
    if let Some(jets) = groups.iter().find(|g| g.label == "jets") {
        for b in &jets.branches {
            let v = b.name.trim_start_matches("AnalysisJetsAuxDyn.");
            if !["pt", "eta", "phi", "m", "Jvt", "Width"].contains(&v) {
                continue;
            }
            let i = bitwise_information(&b.values, b.offsets.as_deref(), Neighbour::NextObject)?;
            println!(
                "| {} | {} | {:.3} | {:.3} | {:.3} | {} |",
                b.name,
                i.pairs,
                i.total(),
                i.sign_exponent(),
                i.mantissa(),
                i.kept_mantissa_bits_for(0.99)?
            );
        }
    }

    println!("\n## How predictable are the dropped bits? K = 8 sub-bins, 2-fold by event parity\n");
    println!(
        "| group | bits | mode | features | values | exact | deficit log2 K − H (plug-in) | \
         marginal gain ± SE | classifier gain ± SE | resolution (2 SE) | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for g in &groups {
        let jagged = g.branches.iter().any(|b| b.offsets.is_some());
        let mut feature_sets = vec![("own", CeilingOptions::own())];
        if jagged {
            feature_sets.push(("own + pt/eta + next object", CeilingOptions::default()));
        }
        for bits in [7, 10] {
            for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
                let quantiser = Quantiser32::new(bits, mode)?;
                for (features, options) in &feature_sets {
                    let mut pooled = Ceiling::empty(options.sub_bins);
                    for (i, b) in g.branches.iter().enumerate() {
                        let c = dropped_bit_predictability(
                            &b.values,
                            b.offsets.as_deref(),
                            g.other_of(i),
                            &quantiser,
                            options,
                        )?;
                        pooled.merge(&c)?;
                    }
                    let gain = pooled.classifier_gain;
                    let verdict = if gain.is_significant(Z) {
                        "measurable".to_string()
                    } else {
                        format!("none above {:.4}", gain.upper_limit(Z))
                    };
                    println!(
                        "| {} | {bits} | {mode} | {features} | {} | {} | {:.4} | {:.4} ± {:.4} | \
                         {:.4} ± {:.4} | {:.4} | {verdict} |",
                        g.label,
                        pooled.values,
                        pooled.exact,
                        pooled.entropy_deficit(),
                        pooled.marginal_gain.mean(),
                        pooled.marginal_gain.se(),
                        gain.mean(),
                        gain.se(),
                        Z * gain.se(),
                    );
                }
            }
        }
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
