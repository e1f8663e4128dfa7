//! The C API called from Rust, exactly as C calls it (raw pointers, integer enums): bit-exact
//! against the core on every flat float branch of both real files, every error path, the
//! "outputs only on success" rule, thread-local messages, and a panic injected inside the
//! boundary.

mod common;

use std::ffi::{c_int, CStr};
use std::ptr;

use refloat::bounds::intervals_f32;
use refloat::correct::{BranchPosition, Method};
use refloat::ffi::*;
use refloat::quantise::{infer_mantissa_bits_f32, Quantiser32, Quantiser64, RoundingMode};
use refloat::resolve::{correct_resolving_f32, Format, Given};

const OK: c_int = refloat_status::REFLOAT_OK as c_int;

fn status(s: refloat_status) -> c_int {
    s as c_int
}

fn last_error() -> String {
    // SAFETY: refloat_last_error never returns NULL and the string is NUL-terminated.
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn mode_code(m: RoundingMode) -> u32 {
    match m {
        RoundingMode::Nearest => refloat_rounding::REFLOAT_NEAREST as u32,
        RoundingMode::Truncate => refloat_rounding::REFLOAT_TRUNCATE as u32,
        RoundingMode::NearestEven => refloat_rounding::REFLOAT_NEAREST_EVEN as u32,
        RoundingMode::Cms => refloat_rounding::REFLOAT_CMS as u32,
        RoundingMode::RootFloat16 => refloat_rounding::REFLOAT_ROOT_FLOAT16 as u32,
        RoundingMode::BitRound => refloat_rounding::REFLOAT_BITROUND as u32,
    }
}

fn bits_of(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

const METHODS: [(refloat_method, Method); 3] = [
    (refloat_method::REFLOAT_MIDPOINT, Method::Midpoint),
    (refloat_method::REFLOAT_DITHER, Method::Dither { seed: 42 }),
    (refloat_method::REFLOAT_PRIOR_MEAN, Method::PriorMean),
];

/// Every C entry point agrees with the core bit for bit on every real float branch.
#[test]
fn c_api_is_bit_exact_with_the_core_on_real_data() {
    let mut values_checked = 0usize;
    let mut changed_by_correction = 0usize;
    for (name, original) in common::all_flat() {
        let n = original.len();
        for bits in [7u32, 10, 15] {
            for mode in RoundingMode::ALL {
                let q = Quantiser32::new(bits, mode).unwrap();
                // quantise
                let mut stored = original.clone();
                assert_eq!(
                    refloat_quantise_f32(stored.as_mut_ptr(), n, bits, mode_code(mode)),
                    OK,
                    "{name}"
                );
                let mut expect = original.clone();
                q.quantise_slice(&mut expect);
                assert_eq!(
                    bits_of(&stored),
                    bits_of(&expect),
                    "{name} quantise {bits} {mode}"
                );

                // infer
                let mut inferred = 99u32;
                let rc = refloat_infer_mantissa_bits_f32(stored.as_ptr(), n, &mut inferred);
                match infer_mantissa_bits_f32(&stored) {
                    Ok(b) => {
                        assert_eq!((rc, inferred), (OK, b), "{name}");
                        assert!(b <= bits, "{name}: inferred {b} > {bits}");
                    }
                    Err(_) => {
                        assert_eq!(
                            rc,
                            status(refloat_status::REFLOAT_CANNOT_INFER_BITS),
                            "{name}"
                        );
                        assert_eq!(inferred, 99, "output written on error");
                    }
                }

                // intervals: same as the core, and every original lies in its interval
                let (mut lo, mut hi) = (vec![0f32; n], vec![0f32; n]);
                let rc = refloat_interval_f32(
                    stored.as_ptr(),
                    n,
                    bits,
                    mode_code(mode),
                    lo.as_mut_ptr(),
                    hi.as_mut_ptr(),
                );
                assert_eq!(rc, OK, "{name}: {}", last_error());
                let (mut elo, mut ehi) = (vec![0f32; n], vec![0f32; n]);
                intervals_f32(&stored, bits, mode, &mut elo, &mut ehi).unwrap();
                assert_eq!(
                    (bits_of(&lo), bits_of(&hi)),
                    (bits_of(&elo), bits_of(&ehi)),
                    "{name}"
                );
                for i in 0..n {
                    if original[i].is_finite() {
                        assert!(
                            lo[i] <= original[i] && original[i] <= hi[i],
                            "{name}[{i}] outside its interval"
                        );
                    }
                }

                // residuals: original − stored in f64, rounded once
                let mut r = vec![0f32; n];
                assert_eq!(
                    refloat_residual_f32(original.as_ptr(), stored.as_ptr(), n, r.as_mut_ptr()),
                    OK
                );
                for i in 0..n {
                    let e = (original[i] as f64 - stored[i] as f64) as f32;
                    assert_eq!(r[i].to_bits(), e.to_bits(), "{name}[{i}] residual");
                }

                // corrections, all three methods
                for (cm, method) in METHODS {
                    let seed = if let Method::Dither { seed } = method {
                        seed
                    } else {
                        0
                    };
                    let mut corrected = stored.clone();
                    let mut report = refloat_correction_report::default();
                    let rc = refloat_correct_report_f32(
                        corrected.as_mut_ptr(),
                        n,
                        bits,
                        mode_code(mode),
                        cm as u32,
                        seed,
                        &mut report,
                    );
                    assert_eq!(rc, OK, "{name}: {}", last_error());
                    // the library: the resolver on the buffer, the bits and scheme given
                    let mut expect = stored.clone();
                    let given = Given {
                        bits: Some(bits),
                        mode: Some(mode),
                        leave_exact: true,
                    };
                    let (_, er) = correct_resolving_f32(
                        &mut expect,
                        &given,
                        Format::Unknown,
                        method,
                        BranchPosition::default(),
                    )
                    .unwrap();
                    assert_eq!(
                        bits_of(&corrected),
                        bits_of(&expect),
                        "{name} {method} {bits} {mode}"
                    );
                    assert_eq!(
                        (report.corrected, report.left_exact, report.non_finite),
                        (er.corrected, er.left_exact, er.non_finite)
                    );
                    assert_eq!(
                        (report.left_sentinel, report.left_spike, report.left_lattice),
                        (er.exact.sentinel, er.exact.spike, er.exact.lattice)
                    );
                    // the invariant, checked through the C API too
                    assert_eq!(
                        refloat_verify_f32(
                            corrected.as_ptr(),
                            stored.as_ptr(),
                            n,
                            bits,
                            mode_code(mode)
                        ),
                        OK,
                        "{name}: {}",
                        last_error()
                    );
                    let mut again = corrected.clone();
                    assert_eq!(
                        refloat_quantise_f32(again.as_mut_ptr(), n, bits, mode_code(mode)),
                        OK
                    );
                    assert_eq!(
                        bits_of(&again),
                        bits_of(&stored),
                        "{name}: corrected value left its interval"
                    );
                    // refloat_correct_f32 (no report) gives the same bits
                    let mut plain = stored.clone();
                    let rc = refloat_correct_f32(
                        plain.as_mut_ptr(),
                        n,
                        bits,
                        mode_code(mode),
                        cm as u32,
                        seed,
                    );
                    assert_eq!(rc, OK);
                    assert_eq!(bits_of(&plain), bits_of(&corrected));
                    changed_by_correction += corrected
                        .iter()
                        .zip(&stored)
                        .filter(|(a, b)| a.to_bits() != b.to_bits())
                        .count();
                }
                values_checked += n;
            }
        }
    }
    assert!(
        values_checked > 100_000,
        "too few real values: {values_checked}"
    );
    assert!(
        changed_by_correction > values_checked / 2,
        "corrections changed almost nothing"
    );
}

#[test]
fn f64_entry_points_match_the_core() {
    let (values, _) = common::load_flat(common::DEV, "AnalysisJetsAuxDyn.pt");
    let original: Vec<f64> = values.iter().map(|&x| x as f64 * 1.000_000_1).collect();
    for bits in [10u32, 30, 52] {
        for mode in RoundingMode::ALL {
            let q = Quantiser64::new(bits, mode).unwrap();
            let mut stored = original.clone();
            assert_eq!(
                refloat_quantise_f64(stored.as_mut_ptr(), stored.len(), bits, mode_code(mode)),
                OK
            );
            let expect: Vec<u64> = original.iter().map(|&x| q.quantise(x).to_bits()).collect();
            assert_eq!(
                stored.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                expect
            );
            let n = stored.len();
            let (mut lo, mut hi) = (vec![0f64; n], vec![0f64; n]);
            let rc = refloat_interval_f64(
                stored.as_ptr(),
                n,
                bits,
                mode_code(mode),
                lo.as_mut_ptr(),
                hi.as_mut_ptr(),
            );
            assert_eq!(rc, OK, "{}", last_error());
            for i in 0..n {
                let iv = q.interval(stored[i]).unwrap();
                assert_eq!(
                    (lo[i].to_bits(), hi[i].to_bits()),
                    (iv.lo.to_bits(), iv.hi.to_bits())
                );
                assert!(lo[i] <= original[i] && original[i] <= hi[i]);
            }
        }
    }
    let mut x = [1.0f64];
    assert_eq!(
        refloat_quantise_f64(x.as_mut_ptr(), 1, 53, 0),
        status(refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE)
    );
}

#[test]
fn null_pointers_with_nonzero_length_are_errors_naming_the_parameter() {
    let null = refloat_status::REFLOAT_NULL_PARAMETER as c_int;
    let mut buf = [1.0f32; 4];
    let mut out = [0f32; 4];
    let mut bits = 0u32;
    type Call = Box<dyn Fn() -> c_int>;
    let cases: Vec<(&str, Call)> = vec![
        (
            "data",
            Box::new(|| refloat_quantise_f32(ptr::null_mut(), 3, 10, 0)),
        ),
        (
            "data",
            Box::new(|| refloat_quantise_f64(ptr::null_mut(), 3, 10, 0)),
        ),
        (
            "data",
            Box::new(|| refloat_correct_f32(ptr::null_mut(), 3, 10, 0, 0, 0)),
        ),
        (
            "stored",
            Box::new(|| {
                refloat_interval_f32(ptr::null(), 3, 10, 0, ptr::null_mut(), ptr::null_mut())
            }),
        ),
        (
            "original",
            Box::new(|| refloat_residual_f32(ptr::null(), ptr::null(), 3, ptr::null_mut())),
        ),
        (
            "data",
            Box::new(|| refloat_infer_mantissa_bits_f32(ptr::null(), 3, ptr::null_mut())),
        ),
        (
            "corrected",
            Box::new(|| refloat_verify_f32(ptr::null(), ptr::null(), 3, 10, 0)),
        ),
    ];
    for (param, call) in cases {
        assert_eq!(call(), null);
        assert!(
            last_error().contains(&format!("{param} is NULL")),
            "{}",
            last_error()
        );
    }
    // outputs NULL while inputs are fine
    let rc = refloat_interval_f32(buf.as_ptr(), 4, 23, 0, out.as_mut_ptr(), ptr::null_mut());
    assert_eq!(rc, null);
    assert!(last_error().contains("hi is NULL"), "{}", last_error());
    assert_eq!(
        refloat_residual_f32(buf.as_ptr(), buf.as_ptr(), 4, ptr::null_mut()),
        null
    );
    assert!(last_error().contains("residual is NULL"));
    assert_eq!(
        refloat_infer_mantissa_bits_f32(buf.as_ptr(), 4, ptr::null_mut()),
        null
    );
    assert!(last_error().contains("mantissa_bits is NULL"));
    let rc = refloat_correct_report_f32(buf.as_mut_ptr(), 4, 10, 0, 0, 0, ptr::null_mut());
    assert_eq!(rc, null);
    assert!(last_error().contains("report is NULL"));
    assert_eq!(buf, [1.0; 4], "data written although the call failed");

    // NULL with length 0 is an empty buffer, not an error
    assert_eq!(refloat_quantise_f32(ptr::null_mut(), 0, 10, 0), OK);
    assert_eq!(refloat_correct_f32(ptr::null_mut(), 0, 10, 0, 0, 0), OK);
    assert_eq!(
        refloat_interval_f32(ptr::null(), 0, 10, 0, ptr::null_mut(), ptr::null_mut()),
        OK
    );
    assert_eq!(
        refloat_residual_f32(ptr::null(), ptr::null(), 0, ptr::null_mut()),
        OK
    );
    assert_eq!(last_error(), "");
    // ... but inferring from nothing cannot work
    assert_eq!(
        refloat_infer_mantissa_bits_f32(ptr::null(), 0, &mut bits),
        status(refloat_status::REFLOAT_CANNOT_INFER_BITS)
    );
    assert_eq!(bits, 0);
}

#[test]
fn bad_arguments_are_errors_and_leave_outputs_untouched() {
    let (values, _) = common::load_flat(common::HELD_OUT, "AnalysisElectronsAuxDyn.pt");
    let n = values.len();

    // bits out of range
    let mut data = values.clone();
    let rc = refloat_quantise_f32(data.as_mut_ptr(), n, 24, 0);
    assert_eq!(
        rc,
        status(refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE)
    );
    assert!(
        last_error().contains("mantissa bits 24 out of range"),
        "{}",
        last_error()
    );
    let rc = refloat_correct_f32(data.as_mut_ptr(), n, 99, 0, 0, 0);
    assert_eq!(
        rc,
        status(refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE)
    );
    assert_eq!(bits_of(&data), bits_of(&values));

    // out-of-range enums are errors, not undefined behaviour
    let rc = refloat_quantise_f32(data.as_mut_ptr(), n, 10, 7);
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(last_error().contains("rounding mode 7"), "{}", last_error());
    let rc = refloat_quantise_f32(
        data.as_mut_ptr(),
        n,
        10,
        refloat_rounding::REFLOAT_DETECT as u32,
    );
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(
        last_error().contains("only for correcting files"),
        "{}",
        last_error()
    );
    let rc = refloat_correct_f32(data.as_mut_ptr(), n, 10, 0, u32::MAX, 0);
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(
        last_error().contains("method 4294967295"),
        "{}",
        last_error()
    );
    assert_eq!(bits_of(&data), bits_of(&values));

    // not-quantised input: the original, full-precision values are not stored at 10 bits
    let rc = refloat_correct_f32(data.as_mut_ptr(), n, 10, 0, 0, 0);
    assert_eq!(rc, status(refloat_status::REFLOAT_NOT_QUANTISED));
    assert!(
        last_error().contains("at index 0 is not a stored value at 10"),
        "{}",
        last_error()
    );
    assert_eq!(
        bits_of(&data),
        bits_of(&values),
        "data written although the call failed"
    );
    // ... also when only the last value is wrong
    let mut stored = values.clone();
    Quantiser32::new(10, RoundingMode::Nearest)
        .unwrap()
        .quantise_slice(&mut stored);
    stored[n - 1] = values[n - 1];
    let before = stored.clone();
    let rc = refloat_correct_f32(stored.as_mut_ptr(), n, 10, 0, 1, 7);
    assert_eq!(rc, status(refloat_status::REFLOAT_NOT_QUANTISED));
    assert!(
        last_error().contains(&format!("index {}", n - 1)),
        "{}",
        last_error()
    );
    assert_eq!(bits_of(&stored), bits_of(&before));
    let (mut lo, mut hi) = (vec![-7f32; n], vec![-7f32; n]);
    let rc = refloat_interval_f32(stored.as_ptr(), n, 10, 0, lo.as_mut_ptr(), hi.as_mut_ptr());
    assert_eq!(rc, status(refloat_status::REFLOAT_NOT_QUANTISED));
    assert!(
        lo.iter().chain(&hi).all(|&x| x == -7.0),
        "interval outputs written on error"
    );
    // truncation data checked under the wrong mode is detected too
    let mut t = values.clone();
    Quantiser32::new(10, RoundingMode::Truncate)
        .unwrap()
        .quantise_slice(&mut t);
    assert_eq!(
        refloat_verify_f32(values.as_ptr(), t.as_ptr(), n, 10, 1),
        OK
    );
    let mut wrong = t.clone();
    wrong[3] = f32::from_bits(wrong[3].to_bits() + (1 << 13)); // one kept step away
    let rc = refloat_verify_f32(wrong.as_ptr(), t.as_ptr(), n, 10, 1);
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_INPUT));
    assert!(last_error().contains("index 3"), "{}", last_error());

    // overlapping outputs
    let mut both = vec![0f32; 2 * n];
    let p = both.as_mut_ptr();
    let rc = refloat_interval_f32(t.as_ptr(), n, 10, 1, p, p.wrapping_add(n / 2));
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(
        last_error().contains("lo and hi overlap"),
        "{}",
        last_error()
    );
    let rc = refloat_residual_f32(values.as_ptr(), t.as_ptr(), n, t.as_mut_ptr());
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(
        last_error().contains("stored and residual overlap"),
        "{}",
        last_error()
    );

    // a misaligned pointer is rejected before it is used
    let raw = [0u8; 64];
    let misaligned = raw.as_ptr().wrapping_add(1) as *const f32;
    let mut b = 0u32;
    let rc = refloat_infer_mantissa_bits_f32(misaligned, 4, &mut b);
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(last_error().contains("not aligned"), "{}", last_error());
    // a length that cannot be a buffer
    let rc = refloat_quantise_f32(data.as_mut_ptr(), usize::MAX / 2, 10, 0);
    assert_eq!(rc, status(refloat_status::REFLOAT_INVALID_ARGUMENT));
    assert!(last_error().contains("too large"), "{}", last_error());
}

#[test]
fn last_error_is_per_thread_and_reset_by_success() {
    let mut x = [1.5f32];
    assert_eq!(
        refloat_quantise_f32(x.as_mut_ptr(), 1, 30, 0),
        status(refloat_status::REFLOAT_MANTISSA_BITS_OUT_OF_RANGE)
    );
    let here = last_error();
    assert!(here.contains("30"));
    std::thread::spawn(|| {
        assert_eq!(last_error(), "", "a new thread starts without an error");
        let mut y = [1.5f32];
        assert_eq!(
            refloat_quantise_f32(y.as_mut_ptr(), 1, 10, 9),
            status(refloat_status::REFLOAT_INVALID_ARGUMENT)
        );
        assert!(last_error().contains("rounding mode 9"));
    })
    .join()
    .unwrap();
    assert_eq!(
        last_error(),
        here,
        "another thread's error leaked into this thread"
    );
    // status_str / version do not touch the message
    let _ = refloat_status_str(0);
    let _ = refloat_version();
    assert_eq!(last_error(), here);
    assert_eq!(refloat_quantise_f32(x.as_mut_ptr(), 1, 10, 0), OK);
    assert_eq!(last_error(), "");
}

#[test]
fn status_strings_and_version() {
    for s in refloat_status::ALL {
        let text = unsafe { CStr::from_ptr(refloat_status_str(s as c_int)) }
            .to_str()
            .unwrap();
        assert!(!text.is_empty());
        assert_eq!(refloat_status::from_code(s as c_int), Some(s));
    }
    let unknown = unsafe { CStr::from_ptr(refloat_status_str(12345)) }
        .to_str()
        .unwrap();
    assert_eq!(unknown, "unknown status");
    // the numbers are ABI: pin them
    let numbers: Vec<c_int> = refloat_status::ALL.iter().map(|s| *s as c_int).collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]);
    let v = unsafe { CStr::from_ptr(refloat_version()) }
        .to_str()
        .unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

/// A panic inside a boundary comes back as REFLOAT_PANIC, never as an unwind into the caller,
/// and the library keeps working afterwards. The panic is injected inside the
/// `ffi_panic_boundary!` of real entry points through the debug-build test hook.
#[test]
fn a_panic_never_crosses_the_boundary() {
    let panic = status(refloat_status::REFLOAT_PANIC);
    let mut data = [1.25f32, -3.5, 7.0];
    let before = data;
    let mut lo = [0f32; 3];
    let mut hi = [0f32; 3];
    let mut bits = 0u32;
    let (dp, bp, lp, hp) = (
        data.as_mut_ptr(),
        &mut bits as *mut u32,
        lo.as_mut_ptr(),
        hi.as_mut_ptr(),
    );
    let calls: Vec<Box<dyn Fn() -> c_int>> = vec![
        Box::new(move || refloat_quantise_f32(dp, 3, 10, 0)),
        Box::new(move || refloat_correct_f32(dp, 3, 10, 0, 0, 0)),
        Box::new(move || refloat_interval_f32(before.as_ptr(), 3, 10, 0, lp, hp)),
        Box::new(move || refloat_infer_mantissa_bits_f32(before.as_ptr(), 3, bp)),
    ];
    for call in calls {
        refloat_test_inject_panic(1);
        let rc = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&call))
            .expect("a panic crossed the C boundary");
        assert_eq!(rc, panic);
        assert!(last_error().contains("injected panic"), "{}", last_error());
        // the hook fires once; the next call works
        assert_eq!(
            data, before,
            "data written by a call that panicked before its body"
        );
        assert_eq!(call(), OK, "{}", last_error());
    }
    assert_eq!(bits, 2, "1.25, -3.5 and 7.0 need 2 kept bits");
}
