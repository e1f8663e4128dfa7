//! One model's correction alone, in a loop, for profiling (`perf record`):
//! `cargo run -p refloat-model --release --example model_throughput -- MODEL.pt FILE.root VALUES SECONDS`
//! reads the model's variables from the file, tiles whole events to about VALUES values,
//! quantises them with the model's quantiser, and prints M values/s of `Model::correct_with`
//! with the network for every variable (what `refloat bench --model` times, without
//! prior-mean next to it), on one libtorch thread.

use refloat_model::{tch, train::TrainingData, Estimator, Model};

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
    // Whole events repeated until the batch holds about `values` values.
    let (mut cols, mut offsets) = (vec![Vec::new(); vars.len()], vec![0usize]);
    while cols[0].len() * vars.len() < values {
        for e in data.offsets.windows(2) {
            for (c, o) in cols.iter_mut().zip(&data.originals) {
                c.extend(o[e[0]..e[1]].iter().map(|&x| model.quantiser().quantise(x)));
            }
            offsets.push(cols[0].len());
            if cols[0].len() * vars.len() >= values {
                break;
            }
        }
    }
    let refs: Vec<&[f32]> = cols.iter().map(Vec::as_slice).collect();
    let batch = refs.len() * refs[0].len();
    model.correct_with(&refs, &offsets, |_| Estimator::Model)?;
    let (start, mut calls) = (std::time::Instant::now(), 0usize);
    while start.elapsed().as_secs_f64() < seconds {
        model.correct_with(&refs, &offsets, |_| Estimator::Model)?;
        calls += 1;
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "{}: batch {batch}, {calls} calls, {:.3} M values/s",
        model.meta().kind,
        (batch * calls) as f64 / t / 1e6
    );
    Ok(())
}
