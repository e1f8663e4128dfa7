//! The replica functions of the C API called from Rust as C calls them: bit-exact against
//! the core (and the dither correction with the replica seed) on a real branch, the error
//! paths (NULL, bits out of range, bad edges, zero replicas), outputs only on success.

mod common;

use std::ffi::{c_int, CStr};
use std::ptr;

use refloat::correct::{BranchPosition, Method};
use refloat::ffi::*;
use refloat::replicas::{histogram_spread, replica_seed, DitherReplicas};
use refloat::resolve::{correct_resolving_f32, Format, Given};
use refloat::{Quantiser32, RoundingMode};

const OK: c_int = refloat_status::REFLOAT_OK as c_int;
const NEAREST: u32 = refloat_rounding::REFLOAT_NEAREST as u32;
const BRANCH: &CStr = c"AnalysisJetsAuxDyn.pt";

fn last_error() -> String {
    // SAFETY: refloat_last_error never returns NULL and the string is NUL-terminated.
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn bits_of(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn stored_jets_pt(bits: u32) -> (Quantiser32, Vec<f32>) {
    let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
    let mut v = common::load_flat(common::HELD_OUT, "AnalysisJetsAuxDyn.pt").0;
    q.quantise_slice(&mut v);
    (q, v)
}

#[test]
fn replica_equals_the_core_and_the_dither_correction() {
    let (q, stored) = stored_jets_pt(7);
    for r in [0u32, 1, 17] {
        let mut out = vec![0.0f32; stored.len()];
        for bits in [7, -1] {
            let rc = refloat_replica_f32(
                stored.as_ptr(),
                stored.len(),
                bits,
                NEAREST,
                42,
                r,
                BRANCH.as_ptr(),
                out.as_mut_ptr(),
            );
            assert_eq!(rc, OK, "{}", last_error());
            // The dither correction with the replica's seed, under the one resolver (values
            // exact by nature, spikes included, stay).
            let mut expect = stored.clone();
            let m = Method::Dither {
                seed: replica_seed(42, r),
            };
            let at = BranchPosition {
                branch: "AnalysisJetsAuxDyn.pt",
                first_index: 0,
            };
            let given = Given {
                bits: (bits >= 0).then_some(bits as u32),
                mode: Some(RoundingMode::Nearest),
                ..Given::default()
            };
            let (resolution, _) =
                correct_resolving_f32(&mut expect, &given, Format::Unknown, m, at).unwrap();
            assert_eq!(resolution.bits, Some(7));
            assert_eq!(bits_of(&out), bits_of(&expect), "replica {r}, bits {bits}");
            assert!(out.iter().zip(&stored).all(|(o, s)| q.quantise(*o) == *s));
        }
        assert_eq!(refloat_replica_seed(42, r), replica_seed(42, r));
    }
}

#[test]
fn histogram_spread_equals_the_core() {
    let (q, stored) = stored_jets_pt(7);
    let edges: Vec<f64> = (0..=20).map(|i| 2.0e4 + 1.0e4 * i as f64).collect();
    let bins = edges.len() - 1;
    let (mut nominal, mut mean, mut std) = (vec![0.0; bins], vec![0.0; bins], vec![0.0; bins]);
    let rc = refloat_histogram_spread_f32(
        stored.as_ptr(),
        stored.len(),
        -1,
        NEAREST,
        5,
        BRANCH.as_ptr(),
        30,
        edges.as_ptr(),
        edges.len(),
        nominal.as_mut_ptr(),
        mean.as_mut_ptr(),
        std.as_mut_ptr(),
    );
    assert_eq!(rc, OK, "{}", last_error());
    let core = histogram_spread(
        &stored,
        &edges,
        30,
        &DitherReplicas::new(q, 5, "AnalysisJetsAuxDyn.pt"),
    )
    .unwrap();
    assert_eq!(
        (nominal, mean, std.clone()),
        (core.nominal, core.mean, core.std)
    );
    assert!(std.iter().any(|&s| s > 0.0));
}

#[test]
fn errors_are_named_and_outputs_untouched() {
    let (_, stored) = stored_jets_pt(7);
    let n = stored.len();
    let mut out = vec![-7.0f32; n];
    let call = |stored: *const f32, bits: i32, mode: u32, out: *mut f32| {
        refloat_replica_f32(stored, n, bits, mode, 1, 0, ptr::null(), out)
    };
    let st = |s: refloat_status| s as c_int;
    assert_eq!(
        call(ptr::null(), 7, NEAREST, out.as_mut_ptr()),
        st(refloat_status::REFLOAT_NULL_PARAMETER)
    );
    assert!(last_error().contains("stored is NULL"), "{}", last_error());
    assert_eq!(
        call(stored.as_ptr(), 7, NEAREST, ptr::null_mut()),
        st(refloat_status::REFLOAT_NULL_PARAMETER)
    );
    assert!(last_error().contains("out is NULL"), "{}", last_error());
    assert_eq!(
        call(stored.as_ptr(), 24, NEAREST, out.as_mut_ptr()),
        st(refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE)
    );
    assert!(
        last_error().contains("mantissa bits 24"),
        "{}",
        last_error()
    );
    assert_eq!(
        call(stored.as_ptr(), -2, NEAREST, out.as_mut_ptr()),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert!(last_error().contains("-1 to infer"), "{}", last_error());
    assert_eq!(
        call(stored.as_ptr(), 7, 7, out.as_mut_ptr()),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert_eq!(
        call(stored.as_ptr(), 5, NEAREST, out.as_mut_ptr()),
        st(refloat_status::REFLOAT_NOT_QUANTISED)
    );
    let mut same = stored.clone();
    assert_eq!(
        call(same.as_ptr(), 7, NEAREST, same.as_mut_ptr()),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert!(last_error().contains("overlap"), "{}", last_error());
    assert!(out.iter().all(|&x| x == -7.0), "out written on error");
    // empty buffers with NULL pointers are fine
    assert_eq!(
        refloat_replica_f32(
            ptr::null(),
            0,
            7,
            NEAREST,
            1,
            0,
            ptr::null(),
            ptr::null_mut()
        ),
        OK
    );

    let mut h = [-1.0f64; 3];
    let mut m = [-1.0f64; 3];
    let mut s = [-1.0f64; 3];
    let spread = |edges: &[f64], reps: u32, h: &mut [f64], m: &mut [f64], s: &mut [f64]| {
        refloat_histogram_spread_f32(
            stored.as_ptr(),
            n,
            7,
            NEAREST,
            1,
            ptr::null(),
            reps,
            edges.as_ptr(),
            edges.len(),
            h.as_mut_ptr(),
            m.as_mut_ptr(),
            s.as_mut_ptr(),
        )
    };
    let good = [1e4, 2e4, 3e4, 4e4];
    assert_eq!(
        spread(&good, 0, &mut h, &mut m, &mut s),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert!(last_error().contains("replicas"), "{}", last_error());
    assert_eq!(
        spread(&[1e4, f64::NAN, 3e4, 4e4], 3, &mut h, &mut m, &mut s),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert!(
        last_error().contains("strictly increasing"),
        "{}",
        last_error()
    );
    assert_eq!(
        spread(&[3e4, 2e4, 1e4, 4e4], 3, &mut h, &mut m, &mut s),
        st(refloat_status::REFLOAT_INVALID_ARGUMENT)
    );
    assert_eq!(h, [-1.0; 3], "outputs written on error");
    assert_eq!(
        spread(&good, 3, &mut h, &mut m, &mut s),
        OK,
        "{}",
        last_error()
    );
    let rc = refloat_histogram_spread_f32(
        stored.as_ptr(),
        n,
        7,
        NEAREST,
        1,
        ptr::null(),
        3,
        good.as_ptr(),
        good.len(),
        h.as_mut_ptr(),
        ptr::null_mut(),
        s.as_mut_ptr(),
    );
    assert_eq!(rc, st(refloat_status::REFLOAT_NULL_PARAMETER));
    assert!(last_error().contains("mean is NULL"), "{}", last_error());
}
