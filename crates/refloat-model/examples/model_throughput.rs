//! One model's inference throughput at one batch size, for profiling (`perf record`):
//! `cargo run -p refloat-model --release --example model_throughput -- MODEL.pt FILE.root VALUES SECONDS`
//! reads the model's variables from the file and prints M values/s next to prior-mean
//! (what `refloat bench --model` measures, alone).

use refloat_model::{bench::throughput, train::TrainingData, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, file, values, seconds] = &args[..] else {
        return Err("usage: model_throughput MODEL.pt FILE.root VALUES SECONDS".into());
    };
    let vars: Vec<String> = Model::load(model)?
        .meta()
        .variable_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tree = refloat_core::io::open(file)?.tree_or_default(None)?;
    let branches = vars
        .iter()
        .map(|v| tree.read_float(v))
        .collect::<Result<Vec<_>, _>>()?;
    let data = TrainingData::from_branches(&branches)?;
    let cols: Vec<&[f32]> = data.originals.iter().map(|c| c.as_slice()).collect();
    let sizes = [values.parse()?];
    for r in throughput(
        model.as_ref(),
        &cols,
        &data.offsets,
        &sizes,
        seconds.parse()?,
    )? {
        println!(
            "{} {} {} {:.3} M values/s",
            r.method,
            r.device,
            r.batch,
            r.values_per_second / 1e6
        );
    }
    Ok(())
}
