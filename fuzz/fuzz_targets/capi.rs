//! Every `refloat_*` C function, called from Rust through its `extern "C"` symbol, with
//! arbitrary lengths, bit counts (also out of range), rounding modes and methods (also out
//! of range), seeds, NULL and misaligned pointers, overlapping outputs, and payloads taken
//! bit for bit from the input (so NaN, ±Inf, ±0 and denormals all occur).
//!
//! Checked on every call: the status is a known code and never `REFLOAT_PANIC`; the last
//! error is empty exactly after success; buffers are untouched on failure; and on success
//! the results hold their invariants (quantise is idempotent, an interval contains its
//! stored value and its ends re-quantise to it, a corrected value re-quantises to the stored
//! one bit for bit, residuals are exact, an inferred bit count makes every value stored).
#![no_main]
// The C functions may be declared `unsafe extern "C"` or safe; compile either way.
#![allow(unused_unsafe)]

use std::ffi::CStr;

use libfuzzer_sys::fuzz_target;
use refloat::ffi::*;
use refloat::{Quantiser32, Quantiser64, RoundingMode};

/// Reads the fuzz input front to back; past the end it yields zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }
    /// Mostly-valid small numbers, sometimes anything.
    fn small(&mut self, valid: u32) -> u32 {
        let b = self.u8();
        if b >= 0xf0 {
            self.u32()
        } else {
            b as u32 % (valid + 2)
        }
    }
    fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| f32::from_bits(self.u32())).collect()
    }
    fn f64s(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| f64::from_bits(self.u64())).collect()
    }
}

/// The `refloat_rounding` values the array functions take (0..=5, in the C enum's order);
/// 6 (`REFLOAT_DETECT`, files only) and anything above are errors.
fn mode_of(m: u32) -> Option<RoundingMode> {
    RoundingMode::ALL.get(m as usize).copied()
}

/// Whether an infinity may come out of a finite or NaN input: netCDF's BitRound has no
/// overflow guard, and the CMS and `Float16_t` rules, which work on every pattern, turn a NaN
/// whose payload is only in the dropped bits into ±Inf.
fn may_make_inf(mode: RoundingMode, input_is_nan: bool) -> bool {
    match mode {
        RoundingMode::BitRound => true,
        RoundingMode::Cms | RoundingMode::RootFloat16 => input_is_nan,
        _ => false,
    }
}

/// The status is known, not a panic, and the last error agrees with it.
fn check_status(rc: i32, what: &str) {
    assert_ne!(
        rc,
        refloat_status::REFLOAT_PANIC as i32,
        "{what}: panic crossed the boundary: {}",
        last_error_message()
    );
    assert!(
        refloat_status::from_code(rc).is_some(),
        "{what}: unknown status {rc}"
    );
    let msg = unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        msg.is_empty(),
        rc == 0,
        "{what}: status {rc} with last error '{msg}'"
    );
    let s = unsafe { CStr::from_ptr(refloat_status_str(rc)) };
    assert!(!s.to_bytes().is_empty());
}

fn same_bits32(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()) && a.len() == b.len()
}

fn same_bits64(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()) && a.len() == b.len()
}

/// A pointer for a buffer: itself, NULL (legal only with len 0), or misaligned.
fn ptr_variant<T>(buf: &mut [T], how: u8) -> *mut T {
    match how % 8 {
        0 => std::ptr::null_mut(),
        1 => (buf.as_mut_ptr() as *mut u8).wrapping_add(1) as *mut T,
        _ => buf.as_mut_ptr(),
    }
}

fuzz_target!(|data: &[u8]| unsafe {
    let mut inp = Input(data);
    let op = inp.u8();
    let bits = inp.small(52);
    let mode = inp.small(6);
    let method = inp.small(2);
    let seed = inp.u64();
    let flags = inp.u8();
    let len = (inp.u8() as usize) % 129;
    // With flag bit 0 the payload is first quantised with the chosen settings, so the
    // functions that need stored values get past their check most of the time.
    let prequantise = flags & 1 != 0;
    let ptr_how = if flags & 2 != 0 { inp.u8() } else { 2 };
    let _ = refloat_version();
    match op % 9 {
        0 | 1 | 2 | 3 | 4 | 5 | 6 => {
            let mut v = inp.f32s(len);
            if prequantise {
                if let (Some(m), true) = (mode_of(mode), bits <= 23) {
                    Quantiser32::new(bits, m).unwrap().quantise_slice(&mut v);
                }
            }
            let stored = v.clone();
            let q = mode_of(mode).and_then(|m| Quantiser32::new(bits, m).ok());
            match op % 9 {
                0 => {
                    let p = ptr_variant(&mut v, ptr_how);
                    let rc = refloat_quantise_f32(p, len, bits, mode);
                    check_status(rc, "quantise_f32");
                    if rc != 0 {
                        assert!(same_bits32(&v, &stored), "quantise_f32 wrote on failure");
                    } else if let Some(q) = q {
                        for (i, (&x, &s)) in v.iter().zip(&stored).enumerate() {
                            assert_eq!(x.to_bits(), q.quantise(s).to_bits(), "quantise_f32 at {i}");
                            // a stored value: a fixed point, or −0.0 under Float16_t (the tiny negatives)
                            assert!(q.is_stored(x), "not a stored value at {i}");
                            assert!(
                                !x.is_infinite()
                                    || s.is_infinite()
                                    || may_make_inf(q.mode(), s.is_nan()),
                                "quantise made an infinity at {i}"
                            );
                        }
                    } else {
                        panic!("quantise_f32 accepted bits {bits} mode {mode}");
                    }
                }
                1 => {
                    let mut lo = vec![0.5f32; len];
                    let mut hi = vec![0.5f32; len];
                    let lo_p = if flags & 4 != 0 && len > 0 {
                        v.as_mut_ptr()
                    } else {
                        ptr_variant(&mut lo, ptr_how)
                    };
                    let rc =
                        refloat_interval_f32(v.as_ptr(), len, bits, mode, lo_p, hi.as_mut_ptr());
                    check_status(rc, "interval_f32");
                    assert!(same_bits32(&v, &stored), "interval_f32 wrote its input");
                    if rc != 0 {
                        assert!(
                            lo.iter().chain(&hi).all(|x| *x == 0.5),
                            "interval_f32 wrote on failure"
                        );
                    } else {
                        let q = q.expect("interval_f32 accepted bad settings");
                        for i in 0..len {
                            let s = stored[i];
                            if !s.is_finite() {
                                assert_eq!(
                                    (lo[i].to_bits(), hi[i].to_bits()),
                                    (s.to_bits(), s.to_bits())
                                );
                                continue;
                            }
                            // −0.0 under Float16_t stands for the tiny negatives, not for itself.
                            let neg_zero_f16 =
                                s.to_bits() == 0x8000_0000 && q.mode() == RoundingMode::RootFloat16;
                            assert!(
                                neg_zero_f16 || (lo[i] <= s && s <= hi[i]),
                                "interval [{}, {}] misses {s} at {i}",
                                lo[i],
                                hi[i]
                            );
                            assert_eq!(
                                q.quantise(lo[i]).to_bits(),
                                s.to_bits(),
                                "lo {} of {s} does not re-quantise",
                                lo[i]
                            );
                            assert_eq!(
                                q.quantise(hi[i]).to_bits(),
                                s.to_bits(),
                                "hi {} of {s} does not re-quantise",
                                hi[i]
                            );
                        }
                    }
                }
                2 => {
                    let orig = inp.f32s(len);
                    let mut r = vec![0.5f32; len];
                    let rp = ptr_variant(&mut r, ptr_how);
                    let rc = refloat_residual_f32(orig.as_ptr(), v.as_ptr(), len, rp);
                    check_status(rc, "residual_f32");
                    if rc != 0 {
                        assert!(r.iter().all(|x| *x == 0.5), "residual_f32 wrote on failure");
                    } else {
                        for i in 0..len {
                            let want = (orig[i] as f64 - v[i] as f64) as f32;
                            assert!(
                                want.to_bits() == r[i].to_bits()
                                    || (want.is_nan() && r[i].is_nan()),
                                "residual at {i}"
                            );
                        }
                    }
                }
                3 | 4 => {
                    let p = ptr_variant(&mut v, ptr_how);
                    let mut report = refloat_correction_report {
                        corrected: 7,
                        left_exact: 7,
                        non_finite: 7,
                        ..Default::default()
                    };
                    let rc = if op % 9 == 3 {
                        refloat_correct_f32(p, len, bits, mode, method, seed)
                    } else {
                        let rp = if flags & 8 != 0 {
                            std::ptr::null_mut()
                        } else {
                            &mut report as *mut _
                        };
                        refloat_correct_report_f32(p, len, bits, mode, method, seed, rp)
                    };
                    check_status(rc, "correct_f32");
                    if rc != 0 {
                        assert!(same_bits32(&v, &stored), "correct_f32 wrote on failure");
                        assert_eq!(report.corrected, 7, "report written on failure");
                    } else {
                        // REFLOAT_DETECT: the scheme the resolver gives the buffer.
                        let q = q.or_else(|| {
                            (mode == 6).then(|| {
                                let given = refloat::resolve::Given {
                                    bits: Some(bits),
                                    mode: None,
                                    leave_exact: true,
                                };
                                let r = refloat::resolve::resolve_f32(
                                    &stored,
                                    &given,
                                    refloat::resolve::Format::Unknown,
                                );
                                Quantiser32::new(bits, r.mode).expect("bits accepted")
                            })
                        });
                        let q = q.expect("correct_f32 accepted bad settings");
                        for i in 0..len {
                            assert_eq!(
                                q.quantise(v[i]).to_bits(),
                                stored[i].to_bits(),
                                "corrected {} does not re-quantise to {} at {i}",
                                v[i],
                                stored[i]
                            );
                        }
                        let used = (0..6).find(|&m| mode_of(m) == Some(q.mode())).expect("a scheme");
                        let vrc = refloat_verify_f32(v.as_ptr(), stored.as_ptr(), len, bits, used);
                        check_status(vrc, "verify_f32");
                        assert_eq!(
                            vrc,
                            0,
                            "verify rejects a correction: {}",
                            last_error_message()
                        );
                        if op % 9 == 4 && flags & 8 == 0 {
                            assert_eq!(
                                report.corrected + report.left_exact + report.non_finite,
                                len,
                                "report does not add up"
                            );
                        }
                    }
                }
                5 => {
                    let other = inp.f32s(len);
                    let rc = refloat_verify_f32(other.as_ptr(), v.as_ptr(), len, bits, mode);
                    check_status(rc, "verify_f32");
                    if rc == 0 {
                        let q = q.expect("verify_f32 accepted bad settings");
                        for i in 0..len {
                            assert_eq!(
                                q.quantise(other[i]).to_bits(),
                                v[i].to_bits(),
                                "verify passed a wrong value at {i}"
                            );
                        }
                    }
                }
                _ => {
                    let mut out = 99u32;
                    let op_ = if flags & 8 != 0 {
                        std::ptr::null_mut()
                    } else {
                        &mut out as *mut u32
                    };
                    let p = ptr_variant(&mut v, ptr_how);
                    let rc = refloat_infer_mantissa_bits_f32(p, len, op_);
                    check_status(rc, "infer_mantissa_bits_f32");
                    if rc != 0 {
                        assert_eq!(out, 99, "infer wrote on failure");
                    } else {
                        assert!(out <= 23, "inferred {out} bits");
                        let q = Quantiser32::new(out, RoundingMode::Truncate).unwrap();
                        assert!(
                            v.iter().filter(|x| x.is_finite()).all(|&x| q.is_stored(x)),
                            "inferred {out} bits but a value has more"
                        );
                    }
                }
            }
        }
        7 | 8 => {
            let mut v = inp.f64s(len);
            if prequantise {
                if let (Some(m), true) = (mode_of(mode), bits <= 52) {
                    Quantiser64::new(bits, m).unwrap().quantise_slice(&mut v);
                }
            }
            let stored = v.clone();
            let q = mode_of(mode).and_then(|m| Quantiser64::new(bits, m).ok());
            if op % 9 == 7 {
                let p = ptr_variant(&mut v, ptr_how);
                let rc = refloat_quantise_f64(p, len, bits, mode);
                check_status(rc, "quantise_f64");
                if rc != 0 {
                    assert!(same_bits64(&v, &stored), "quantise_f64 wrote on failure");
                } else {
                    let q = q.expect("quantise_f64 accepted bad settings");
                    for i in 0..len {
                        assert_eq!(v[i].to_bits(), q.quantise(stored[i]).to_bits());
                        assert!(q.is_stored(v[i]), "f64 not a stored value at {i}");
                    }
                }
            } else {
                let mut lo = vec![0.5f64; len];
                let mut hi = vec![0.5f64; len];
                let lo_p = ptr_variant(&mut lo, ptr_how);
                let hi_p = if flags & 4 != 0 {
                    lo_p
                } else {
                    hi.as_mut_ptr()
                };
                let rc = refloat_interval_f64(v.as_ptr(), len, bits, mode, lo_p, hi_p);
                check_status(rc, "interval_f64");
                if rc != 0 {
                    assert!(
                        lo.iter().chain(&hi).all(|x| *x == 0.5),
                        "interval_f64 wrote on failure"
                    );
                } else {
                    let q = q.expect("interval_f64 accepted bad settings");
                    for i in 0..len {
                        let s = stored[i];
                        let neg_zero_f16 =
                            s.to_bits() == 1 << 63 && q.mode() == RoundingMode::RootFloat16;
                        if s.is_finite() {
                            assert!(
                                neg_zero_f16 || (lo[i] <= s && s <= hi[i]),
                                "f64 interval misses {s}"
                            );
                            assert_eq!(q.quantise(lo[i]).to_bits(), s.to_bits());
                            assert_eq!(q.quantise(hi[i]).to_bits(), s.to_bits());
                        }
                    }
                }
            }
        }
        _ => unreachable!(),
    }
    // Status strings for any number, valid or not.
    let _ = unsafe { CStr::from_ptr(refloat_status_str(inp.u32() as i32)) };
});
