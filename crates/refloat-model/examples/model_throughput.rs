//! One model's correction alone, in a loop, for profiling (`perf record`):
//! `cargo run -p refloat-model --release --example model_throughput -- MODEL.pt FILE.root VALUES SECONDS`
//! reads the model's variables from the file, tiles whole events to about VALUES values,
//! quantises them with the model's quantiser, and prints M values/s of `Model::correct_with`
//! with the network for every variable (what `refloat bench --model` times, without
//! prior-mean next to it), on one libtorch thread.

use refloat_model::bench::{model_row, stored_batch};
use refloat_model::{tch, train::TrainingData, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, file, values, seconds] = &args[..] else {
        return Err("usage: model_throughput MODEL.pt FILE.root VALUES SECONDS".into());
    };
    let (values, seconds): (usize, f64) = (values.parse()?, seconds.parse()?);
    tch::set_num_threads(1);
    let model = Model::load(model)?;
    let vars: Vec<String> = model
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
    let cols: Vec<&[f32]> = data.originals.iter().map(Vec::as_slice).collect();
    let (stored, offsets) = stored_batch(&cols, &data.offsets, values, model.quantiser());
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let row = model_row(&model, &refs, &offsets, seconds)?;
    println!(
        "{}: batch {}, {} calls, {:.3} M values/s",
        model.meta().kind,
        row.batch,
        row.calls,
        row.values_per_second / 1e6
    );
    Ok(())
}
