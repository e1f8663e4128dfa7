//! The C API from 8 threads at once gives the same bits as from one thread: quantise,
//! interval, correct (each method, fixed seed), verify and infer, on real branch values of
//! the development file; and each thread's `refloat_last_error` is its own.

// The C functions may be declared `unsafe extern "C"` or safe; compile either way.
#![allow(unused_unsafe)]

mod common;

use std::ffi::CStr;
use std::sync::{Arc, Barrier};

use refloat::ffi::*;

const THREADS: usize = 8;
const BRANCHES: [&str; 4] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisElectronsAuxDyn.phi",
    "AnalysisMuonsAuxDyn.pt",
];
const SEED: u64 = 0x5eed_0006;

/// Everything one thread computes for one branch, as raw bits.
#[derive(Debug, PartialEq, Eq)]
struct Results {
    quantised: Vec<Vec<u32>>,
    intervals: Vec<(Vec<u32>, Vec<u32>)>,
    corrected: Vec<Vec<u32>>,
    inferred: Vec<u32>,
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The settings exercised: (kept bits, rounding mode).
fn settings() -> Vec<(u32, u32)> {
    let mut s = Vec::new();
    for b in [7u32, 10, 16] {
        for m in 0..3u32 {
            s.push((b, m));
        }
    }
    s
}

/// Runs every call on `original` through the C API; `tag` makes a thread-specific failing
/// call in between, whose message must stay that thread's.
fn compute(original: &[f32], tag: u32) -> Results {
    // SAFETY: every pointer passed below comes from a live Vec with the length passed with it.
    unsafe {
        let mut r = Results {
            quantised: Vec::new(),
            intervals: Vec::new(),
            corrected: Vec::new(),
            inferred: Vec::new(),
        };
        for (b, m) in settings() {
            let mut q = original.to_vec();
            assert_eq!(
                refloat_quantise_f32(q.as_mut_ptr(), q.len(), b, m),
                0,
                "{}",
                last_error()
            );
            // A failing call with a thread-specific bad bit count: the message names it.
            let bad = 100 + tag;
            assert_eq!(
                refloat_quantise_f32(q.as_mut_ptr(), q.len(), bad, m),
                refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE as i32
            );
            let msg = last_error();
            assert!(
                msg.contains(&bad.to_string()),
                "thread {tag} sees another thread's error: {msg}"
            );
            let mut inferred = 99;
            assert_eq!(
                refloat_infer_mantissa_bits_f32(q.as_ptr(), q.len(), &mut inferred),
                0,
                "{}",
                last_error()
            );
            r.inferred.push(inferred);
            let (mut lo, mut hi) = (vec![0f32; q.len()], vec![0f32; q.len()]);
            assert_eq!(
                refloat_interval_f32(q.as_ptr(), q.len(), b, m, lo.as_mut_ptr(), hi.as_mut_ptr()),
                0,
                "{}",
                last_error()
            );
            r.intervals.push((bits(&lo), bits(&hi)));
            for method in 0..3u32 {
                let mut c = q.clone();
                assert_eq!(
                    refloat_correct_f32(c.as_mut_ptr(), c.len(), b, m, method, SEED),
                    0,
                    "{}",
                    last_error()
                );
                assert_eq!(
                    refloat_verify_f32(c.as_ptr(), q.as_ptr(), c.len(), b, m),
                    0,
                    "{}",
                    last_error()
                );
                r.corrected.push(bits(&c));
            }
            r.quantised.push(bits(&q));
        }
        r
    }
}

#[test]
fn eight_threads_give_the_same_bits_as_one() {
    let originals: Vec<Vec<f32>> = BRANCHES
        .iter()
        .map(|b| common::load_flat(common::DEV, b).0)
        .collect();
    assert!(originals.iter().all(|v| !v.is_empty()));
    let reference: Vec<Results> = originals.iter().map(|v| compute(v, 0)).collect();
    // The inferred bit count is the one the data was quantised with, except where real
    // values happen to have more trailing zeros; it must never exceed it.
    for (res, v) in reference.iter().zip(&originals) {
        for (&(b, _), &n) in settings().iter().zip(&res.inferred) {
            assert!(
                n <= b && n + 2 >= b,
                "inferred {n} for {b} bits on {} values",
                v.len()
            );
        }
    }
    let originals = Arc::new(originals);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let originals = Arc::clone(&originals);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                // Each thread walks the branches from a different starting point so that
                // different calls overlap in time.
                let n = originals.len();
                let mut out: Vec<Option<Results>> = (0..n).map(|_| None).collect();
                for k in 0..4 * n {
                    let i = (k + t as usize) % n;
                    out[i] = Some(compute(&originals[i], t + 1));
                }
                out.into_iter()
                    .map(Option::unwrap)
                    .collect::<Vec<Results>>()
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let got = h.join().expect("thread panicked");
        for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
            assert!(
                g == r,
                "thread {t}, branch {}: bits differ from the single-threaded run",
                BRANCHES[i]
            );
        }
    }
}
