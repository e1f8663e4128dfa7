//! Writes small synthetic ROOT files into a directory, as seeds for the `root_reader` fuzz
//! target: flat `float` and jagged `std::vector<float>` branches (empty entries, NaN, ±Inf,
//! denormals, quantised values), written by refloat's own writer. Usage: `make_seeds DIR`.

use refloat::io::{FloatBranch, TreeWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: make_seeds DIR")?);
    std::fs::create_dir_all(&dir)?;
    let specials = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-40,
        f32::MAX,
        3.25,
    ];
    // 1: one flat branch.
    let mut w = TreeWriter::new(dir.join("flat.root"), "CollectionTree");
    w.add(FloatBranch::flat("EventInfoAuxDyn.x", specials.to_vec()))?;
    w.write()?;
    // 2: flat + jagged with empty entries.
    let mut w = TreeWriter::new(dir.join("jagged.root"), "CollectionTree");
    w.add(FloatBranch::flat(
        "EventInfoAuxDyn.averageInteractionsPerCrossing",
        vec![1.5, 2.5, 3.5],
    ))?;
    w.add(FloatBranch::from_counts(
        "AnalysisJetsAuxDyn.pt",
        vec![25e3, 31.5e3, 1e-40, f32::NAN],
        &[2, 0, 2],
    )?)?;
    w.write()?;
    // 3: more entries, quantised-looking values, several jagged branches.
    let n = 40usize;
    let counts: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let total: usize = counts.iter().sum();
    let mut w = TreeWriter::new(dir.join("many.root"), "CollectionTree");
    for (k, name) in [
        "AnalysisElectronsAuxDyn.pt",
        "AnalysisElectronsAuxDyn.eta",
        "AnalysisElectronsAuxDyn.phi",
    ]
    .iter()
    .enumerate()
    {
        let v: Vec<f32> = (0..total)
            .map(|i| {
                refloat::quantise::quantise_f32(
                    (i as f32 + 1.0) * (k as f32 + 0.7),
                    10,
                    refloat::RoundingMode::Nearest,
                )
                .unwrap()
            })
            .collect();
        w.add(FloatBranch::from_counts(*name, v, &counts)?)?;
    }
    w.add(FloatBranch::flat(
        "EventInfoAuxDyn.mu",
        (0..n).map(|i| i as f32 * 0.5).collect(),
    ))?;
    w.write()?;
    // 4: an empty tree.
    let mut w = TreeWriter::new(dir.join("empty.root"), "CollectionTree");
    w.add(FloatBranch::flat("x", Vec::new()))?;
    w.write()?;
    println!("seeds written to {}", dir.display());
    Ok(())
}
