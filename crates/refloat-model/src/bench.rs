//! Inference throughput of a per-value model next to `prior-mean`, in the same process, on
//! one CPU core (libtorch's intra-op threads set to 1, `prior-mean` serial) and (when
//! libtorch sees one) on CUDA.
//!
//! The caller hands real original values of the model's variables (one event structure);
//! whole events are tiled to each batch size and quantised with the model's quantiser. (At
//! 1M values every stored value repeats hundreds of times; so it does in a large real file
//! at 10 kept bits, and `prior-mean`'s density estimate slows down with it.) The time covers the whole correction as a caller sees it: features,
//! inference, mapping each output into its interval, and device transfers; the first calls
//! (TorchScript's profiling runs) are excluded as warm-up.

use std::time::Instant;

use super::{Device, Model};
use refloat_core::correct::{Corrector, ExactPolicy, Method};
use refloat_core::error::{Error, Result};

/// Batch sizes of the standard benchmark, in values (objects × variables).
pub const BATCH_SIZES: [usize; 3] = [1_000, 1 << 16, 1 << 20];

/// One measurement.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchRow {
    /// `model:<kind>` or `prior-mean`.
    pub method: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Values per call (objects × variables), after tiling whole events.
    pub batch: usize,
    /// Calls timed (after one warm-up call).
    pub calls: usize,
    /// Values corrected per second.
    pub values_per_second: f64,
}

fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Whole events of `(values, offsets)` repeated until there are at least
/// `ceil(values / variables)` objects.
fn tile(originals: &[&[f32]], offsets: &[usize], values: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    let f = originals.len().max(1);
    let want = values.div_ceil(f).max(1);
    let mut cols = vec![Vec::with_capacity(want); originals.len()];
    let mut offs = vec![0usize];
    'outer: loop {
        for e in offsets.windows(2) {
            if e[1] == e[0] {
                continue;
            }
            for (c, s) in cols.iter_mut().zip(originals) {
                c.extend_from_slice(&s[e[0]..e[1]]);
            }
            offs.push(cols[0].len());
            if cols[0].len() >= want {
                break 'outer;
            }
        }
    }
    (cols, offs)
}

fn time_it(min_seconds: f64, mut f: impl FnMut() -> Result<()>) -> Result<(usize, f64)> {
    for _ in 0..3 {
        f()?; // warm-up: TorchScript profiles and optimises the graph on the first runs
    }
    let start = Instant::now();
    let mut calls = 0;
    loop {
        f()?;
        calls += 1;
        let t = start.elapsed().as_secs_f64();
        if t >= min_seconds {
            return Ok((calls, t));
        }
    }
}

/// Measure a per-value model file (`model_path`) and `prior-mean` at each batch size of
/// `sizes` (values), each for at least `min_seconds`, on `originals` (one column per model
/// variable) tiled and quantised with the model's quantiser. The model runs on one CPU core
/// and, if available, on CUDA; `prior-mean` (one thread) once per size, with the density
/// estimated from the batch itself as a caller would. libtorch's thread count is restored
/// afterwards.
///
/// # Errors
/// [`Error::InvalidInput`] for no values or no events; errors of [`Model::load_on`] and
/// [`Model::correct`].
pub fn throughput(
    model_path: &std::path::Path,
    originals: &[&[f32]],
    offsets: &[usize],
    sizes: &[usize],
    min_seconds: f64,
) -> Result<Vec<BenchRow>> {
    if originals.is_empty() || originals[0].is_empty() || offsets.len() < 2 {
        return Err(Error::InvalidInput(
            "benchmark needs some stored values in at least one event".into(),
        ));
    }
    let mut devices = vec![Device::Cpu];
    if tch::Cuda::is_available() {
        devices.push(Device::Cuda(0));
    }
    let q = *Model::load_on(model_path, Device::Cpu)?.quantiser();
    let threads = tch::get_num_threads();
    tch::set_num_threads(1);
    let rows = measure(
        model_path,
        originals,
        offsets,
        sizes,
        min_seconds,
        &devices,
        q,
    );
    tch::set_num_threads(threads);
    rows
}

/// `originals` (one column per model variable) tiled by whole events to at least `values`
/// values and quantised with `q`: a batch of stored values as the benchmark times it, with
/// its event offsets.
pub fn stored_batch(
    originals: &[&[f32]],
    offsets: &[usize],
    values: usize,
    q: &refloat_core::Quantiser32,
) -> (Vec<Vec<f32>>, Vec<usize>) {
    let (mut cols, offs) = tile(originals, offsets, values);
    for c in &mut cols {
        q.quantise_slice(c);
    }
    (cols, offs)
}

/// Times `model`'s correction of the batch `stored` (events at `offsets`) with the network
/// for every variable, whatever the file's fallback choices (what a model costs where it is
/// used), for at least `min_seconds` after a warm-up, on `model`'s device.
///
/// # Errors
/// Errors of [`Model::correct_with`].
pub fn model_row(
    model: &Model,
    stored: &[&[f32]],
    offsets: &[usize],
    min_seconds: f64,
) -> Result<BenchRow> {
    let batch = stored.len() * stored.first().map_or(0, |c| c.len());
    let (calls, t) = time_it(min_seconds, || {
        model
            .correct_with(stored, offsets, |_| crate::Estimator::Model)
            .map(|_| ())
    })?;
    Ok(BenchRow {
        method: format!("model:{}", model.meta().kind),
        device: device_name(model.device()),
        batch,
        calls,
        values_per_second: (batch * calls) as f64 / t,
    })
}

fn measure(
    model_path: &std::path::Path,
    originals: &[&[f32]],
    offsets: &[usize],
    sizes: &[usize],
    min_seconds: f64,
    devices: &[Device],
    q: refloat_core::Quantiser32,
) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    for &size in sizes {
        let (cols, offs) = stored_batch(originals, offsets, size, &q);
        let batch = cols.len() * cols[0].len();
        let refs: Vec<&[f32]> = cols.iter().map(Vec::as_slice).collect();
        for &d in devices {
            let model = Model::load_on(model_path, d)?;
            rows.push(model_row(&model, &refs, &offs, min_seconds)?);
        }
        let mut work: Vec<Vec<f32>> = cols.clone();
        let (calls, t) = time_it(min_seconds, || {
            for (w, c) in work.iter_mut().zip(&cols) {
                w.copy_from_slice(c);
                Corrector::new(q, Method::PriorMean, ExactPolicy::default(), c)
                    .correct_in_place(w, 0)?;
            }
            Ok(())
        })?;
        rows.push(BenchRow {
            method: "prior-mean".into(),
            device: "cpu".into(),
            batch,
            calls,
            values_per_second: (batch * calls) as f64 / t,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_repeats_whole_events() {
        let a = [1.0f32, 2.0, 3.0];
        let (cols, offs) = tile(&[&a], &[0, 2, 2, 3], 7);
        assert_eq!(cols[0], vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]);
        assert_eq!(offs, vec![0, 2, 3, 5, 6, 8]);
    }
}
