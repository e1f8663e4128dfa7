//! Throughput of `quantise` and the `Midpoint` and `Dither` corrections over 16 M floats, next to a
//! `memcpy` of the same buffer and a plain scalar loop, all in the same process.
//!
//! The buffer is the real float values of both files in `../shared/data` (flat copies),
//! tiled to 16 Mi values. `cargo bench --bench quantise` runs criterion and then prints a
//! ratio table (time of each kernel / time of `memcpy`, best of 7 runs).

use criterion::{black_box, criterion_group, Criterion, Throughput};
use refloat::correct::{Corrector, ExactPolicy, Method};
use refloat::{Quantiser32, RoundingMode};
use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

const N: usize = 1 << 24;

fn real_values() -> Vec<f32> {
    let mut pool: Vec<f32> = common::all_flat()
        .into_iter()
        .flat_map(|(_, v)| v)
        .filter(|x| x.is_finite())
        .collect();
    assert!(!pool.is_empty(), "no real data found");
    pool.truncate(N);
    pool.iter().copied().cycle().take(N).collect()
}

/// Plain scalar loop: one `Quantiser32::quantise` per value, written by hand (what the slice
/// functions must beat or match).
fn scalar_loop(src: &[f32], dst: &mut [f32], q: &Quantiser32) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = q.quantise(*s);
    }
}

/// The per-value checked function called element by element: it validates `bits` and builds
/// its quantiser on every call (the cost of not hoisting the check out of the loop).
fn checked_loop(src: &[f32], dst: &mut [f32], bits: u32, mode: RoundingMode) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = refloat::quantise::quantise_f32(*s, bits, mode).unwrap();
    }
}

type Kernel<'a> = Box<dyn Fn(&[f32], &mut [f32]) + 'a>;

fn kernels<'a>(q: &'a Quantiser32, stored: &'a [f32]) -> Vec<(&'static str, Kernel<'a>)> {
    let corrector = Corrector::new(*q, Method::Midpoint, ExactPolicy::default(), stored);
    let c2 = corrector.clone();
    let dither = Corrector::new(
        *q,
        Method::Dither { seed: 1 },
        ExactPolicy::default(),
        stored,
    );
    vec![
        (
            "memcpy",
            Box::new(|s: &[f32], d: &mut [f32]| d.copy_from_slice(s)),
        ),
        (
            "scalar loop (Quantiser32::quantise)",
            Box::new(move |s: &[f32], d: &mut [f32]| scalar_loop(s, d, q)),
        ),
        (
            "checked loop (quantise_f32 per value)",
            Box::new(|s: &[f32], d: &mut [f32]| checked_loop(s, d, 10, RoundingMode::Nearest)),
        ),
        (
            "quantise_slice",
            Box::new(move |s: &[f32], d: &mut [f32]| {
                d.copy_from_slice(s);
                q.quantise_slice(d)
            }),
        ),
        (
            "par_quantise_slice",
            Box::new(move |s: &[f32], d: &mut [f32]| {
                d.copy_from_slice(s);
                q.par_quantise_slice(d)
            }),
        ),
        (
            "midpoint correct_in_place",
            Box::new(move |_s: &[f32], d: &mut [f32]| {
                d.copy_from_slice(stored);
                corrector.correct_in_place(d, 0).unwrap();
            }),
        ),
        (
            "midpoint par_correct_in_place",
            Box::new(move |_s: &[f32], d: &mut [f32]| {
                d.copy_from_slice(stored);
                c2.par_correct_in_place(d, 0).unwrap();
            }),
        ),
        (
            "dither correct_in_place",
            Box::new(move |_s: &[f32], d: &mut [f32]| {
                d.copy_from_slice(stored);
                dither.correct_in_place(d, 0).unwrap();
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let src = real_values();
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let mut stored = src.clone();
    q.quantise_slice(&mut stored);
    let mut dst = vec![0f32; N];
    let mut group = c.benchmark_group("16M floats");
    group
        .throughput(Throughput::Bytes((N * 4) as u64))
        .sample_size(10);
    for (name, k) in kernels(&q, &stored) {
        group.bench_function(name, |b| b.iter(|| k(black_box(&src), black_box(&mut dst))));
    }
    group.finish();

    // Ratio table, measured in this same process.
    let times: Vec<(&str, f64)> = kernels(&q, &stored)
        .into_iter()
        .map(|(name, k)| {
            let best = (0..7)
                .map(|_| {
                    let t = Instant::now();
                    k(black_box(&src), black_box(&mut dst));
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            (name, best)
        })
        .collect();
    let base = times[0].1;
    println!(
        "\n{:<40} {:>10} {:>12} {:>10}",
        "kernel (16 Mi f32, n = 10)", "ms", "GB/s", "× memcpy"
    );
    for (name, t) in &times {
        println!(
            "{:<40} {:>10.2} {:>12.2} {:>10.2}",
            name,
            t * 1e3,
            (N * 4) as f64 / t / 1e9,
            t / base
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
