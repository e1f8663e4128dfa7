//! The measurements of `docs/producers.md`: how often the resolver's rules fire where they
//! should not and where they should, on branches made from real values.
//!
//! ```text
//! cargo run -p refloat-core --release --example resolver_rates -- ../shared/data
//! ```
//!
//! * **Lattices taken for a second precision** (the mixed rule's false positives): real
//!   values put on a lattice (0.5 GeV and 1 GeV steps from jet pt, integers from tracks'
//!   degrees of freedom, k/255 weights from jets' JVT), rounded by CMS's rule at 6–12 bits,
//!   split into branches of 100 and 1000 values; how many branches the resolver calls mixed,
//!   finds the lattice of, and whether any corrected value leaves its interval at the bits
//!   the branch was rounded with.
//! * **A real mix** (GenPart mass's precision expression, 20 bits for top quarks, 8 for the
//!   rest): the development file's top masses at 20 bits beside its bosons' and hard-scatter
//!   particles' masses at 8, shuffled into branches; how many the resolver calls mixed, with
//!   each value at its own bits.
//! * **Spikes**: on both PHYSLITE files compressed at 10 bits, the values the spike rule
//!   leaves alone, and how many of them stood for one original value (truly exact) rather
//!   than for several (continuous values that happened to repeat).

use std::path::{Path, PathBuf};

use refloat_core::correct::{ExactRule, Method};
use refloat_core::io;
use refloat_core::resolve::{resolve_f32, Format, Given};
use refloat_core::stats::SplitMix64;
use refloat_core::{Quantiser32, RoundingMode};

type Error = Box<dyn std::error::Error>;

fn read(path: &Path, branch: &str) -> Result<Vec<f32>, Error> {
    Ok(io::open(path)?
        .tree("CollectionTree")?
        .read_float(branch)?
        .values
        .into_iter()
        .filter(|x| x.is_finite())
        .collect())
}

/// `values` shuffled (seeded), cycled to `n`.
fn sample(values: &[f32], n: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|_| values[(rng.next_u64() % values.len() as u64) as usize])
        .collect()
}

/// Mixed, lattice found, values outside their interval at `bits`, of the branches cut from
/// `values` (rounded by CMS at `bits`) in pieces of `size`.
fn lattice_row(values: &[f32], bits: u32, size: usize, branches: usize) -> (usize, usize, usize) {
    let q = Quantiser32::new(bits, RoundingMode::Cms).expect("bits");
    let (mut mixed, mut found, mut outside) = (0, 0, 0);
    for b in 0..branches {
        let mut v = sample(values, size, 7 + b as u64);
        q.quantise_slice(&mut v);
        let r = resolve_f32(&v, &Given::default(), Format::Cms);
        mixed += usize::from(r.mixed());
        found += usize::from(r.lattice.is_some());
        if let Ok(Some(c)) = r.corrector(Method::Dither { seed: 1 }, "b", &v) {
            let mut d = v.clone();
            if c.correct_in_place(&mut d, 0).is_ok() {
                let out: Vec<(f32, f32)> = d
                    .iter()
                    .zip(&v)
                    .filter(|(c, s)| q.quantise(**c).to_bits() != s.to_bits())
                    .map(|(c, s)| (*s, *c))
                    .collect();
                outside += out.len();
            }
        }
    }
    (mixed, found, outside)
}

fn main() -> Result<(), Error> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let dev = dir.join("DAOD_PHYSLITE_21.2.108.0.art.pool.root");
    let held = dir.join("PHYSLITE_example.root");

    // Lattices from real values.
    let gev: Vec<f32> = [
        read(&dev, "AnalysisJetsAuxDyn.pt")?,
        read(&held, "AnalysisJetsAuxDyn.pt")?,
    ]
    .concat()
    .iter()
    .map(|x| x / 1000.0)
    .collect();
    let dof = [
        read(&dev, "InDetTrackParticlesAuxDyn.numberDoF")?,
        read(&held, "InDetTrackParticlesAuxDyn.numberDoF")?,
    ]
    .concat();
    let jvt: Vec<f32> = read(&dev, "AnalysisJetsAuxDyn.Jvt")?
        .into_iter()
        .filter(|x| (0.0..=1.0).contains(x))
        .collect();
    let lattices: [(&str, Vec<f32>); 4] = [
        (
            "0.5 GeV steps (jet pt)",
            gev.iter().map(|x| (x * 2.0).round() / 2.0).collect(),
        ),
        (
            "1 GeV steps (jet pt)",
            gev.iter().map(|x| x.round()).collect(),
        ),
        ("integers (tracks' degrees of freedom)", dof),
        (
            "k/255 weights (jets' JVT)",
            jvt.iter().map(|x| (x * 255.0).round() / 255.0).collect(),
        ),
    ];
    println!("Lattices rounded by CMS's rule: branches called mixed, lattice found, values corrected out of their interval");
    println!();
    println!("| lattice | bits | values per branch | branches | called mixed | lattice found | values out of their interval |");
    println!("|---|---|---|---|---|---|---|");
    for (name, values) in &lattices {
        for bits in [6u32, 8, 10, 12] {
            for (size, branches) in [(100usize, 200usize), (1000, 50)] {
                let (mixed, found, outside) = lattice_row(values, bits, size, branches);
                println!(
                    "| {name} | {bits} | {size} | {branches} | {mixed} | {found} | {outside} |"
                );
            }
        }
    }

    // A real mix: top masses at 20 bits, other masses at 8 (GeV, as NanoAOD stores them).
    let tops: Vec<f32> = read(&dev, "TruthTopAuxDyn.m")?
        .iter()
        .map(|x| x / 1000.0)
        .collect();
    let others: Vec<f32> = [
        read(&dev, "TruthBosonAuxDyn.m")?,
        read(&dev, "HardScatterParticlesAuxDyn.m")?,
    ]
    .concat()
    .iter()
    .map(|x| x / 1000.0)
    .filter(|x| *x > 0.0)
    .collect();
    let (q20, q8) = (
        Quantiser32::new(20, RoundingMode::Cms)?,
        Quantiser32::new(8, RoundingMode::Cms)?,
    );
    println!();
    println!(
        "GenPart mass's expression (20 bits for top quarks, 8 for the rest) on the development file's masses ({} tops, {} others)",
        tops.len(),
        others.len()
    );
    println!();
    println!("| values per branch | top share | branches | called mixed (20+8) | values at their own bits | values out of their interval |");
    println!("|---|---|---|---|---|---|");
    for (size, share, branches) in [
        (200usize, 0.2f64, 100usize),
        (1000, 0.2, 50),
        (1000, 0.05, 50),
    ] {
        let (mut mixed, mut right, mut total, mut outside) = (0, 0, 0, 0);
        for b in 0..branches {
            let n_top = (size as f64 * share) as usize;
            let mut t = sample(&tops, n_top, 100 + b as u64);
            let mut o = sample(&others, size - n_top, 200 + b as u64);
            q20.quantise_slice(&mut t);
            q8.quantise_slice(&mut o);
            let mut rng = SplitMix64(300 + b as u64);
            let mut all: Vec<(f32, u32)> = t
                .iter()
                .map(|&x| (x, 20))
                .chain(o.iter().map(|&x| (x, 8)))
                .collect();
            for i in (1..all.len()).rev() {
                all.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            let v: Vec<f32> = all.iter().map(|p| p.0).collect();
            let r = resolve_f32(&v, &Given::default(), Format::Cms);
            mixed += usize::from(r.per_value == vec![20, 8]);
            for &(x, bits) in &all {
                right += usize::from(r.bits_of(x) == Some(bits));
                total += 1;
            }
            if let Ok(Some(c)) = r.corrector(Method::Dither { seed: 2 }, "GenPart_mass", &v) {
                let mut d = v.clone();
                if c.correct_in_place(&mut d, 0).is_ok() {
                    outside += d
                        .iter()
                        .zip(&all)
                        .filter(|(c, (s, bits))| {
                            let q = if *bits == 20 { &q20 } else { &q8 };
                            q.quantise(**c).to_bits() != s.to_bits()
                        })
                        .count();
                }
            }
        }
        println!(
            "| {size} | {share} | {branches} | {mixed} | {:.1} % | {outside} |",
            100.0 * right as f64 / total as f64
        );
    }

    // Spikes on PHYSLITE at 10 bits, against the originals.
    println!();
    println!(
        "Spikes on the PHYSLITE files compressed at 10 bits (ATLAS's rule), against the originals"
    );
    println!();
    println!("| file | float branches | branches with spikes | values left alone as spikes | of which stood for one original value |");
    println!("|---|---|---|---|---|");
    let q = Quantiser32::new(10, RoundingMode::Nearest)?;
    for path in [&dev, &held] {
        let tree = io::open(path)?.tree("CollectionTree")?;
        let sel = tree.select(&[])?;
        let (mut with, mut left, mut one) = (0usize, 0usize, 0usize);
        for b in &sel.floats {
            let original = tree.read_float(&b.name)?.values;
            let mut stored = original.clone();
            q.quantise_slice(&mut stored);
            let r = resolve_f32(&stored, &Given::default(), Format::Atlas);
            if r.spikes.is_empty() {
                continue;
            }
            with += 1;
            let Some(qr) = r.quantiser()? else { continue };
            let policy = r.policy();
            for s in &r.spikes {
                let origins: Vec<u32> = stored
                    .iter()
                    .zip(&original)
                    .filter(|(x, _)| x.to_bits() == s.value.to_bits())
                    .map(|(_, o)| o.to_bits())
                    .collect();
                if policy.rule(s.value, &qr) != Some(ExactRule::Spike) {
                    continue;
                }
                left += origins.len();
                if origins.windows(2).all(|w| w[0] == w[1]) {
                    one += origins.len();
                }
            }
        }
        println!(
            "| {} | {} | {with} | {left} | {one} ({:.0} %) |",
            path.file_name().unwrap().to_string_lossy(),
            sel.floats.len(),
            100.0 * one as f64 / left.max(1) as f64
        );
    }
    Ok(())
}
