//! The inpainting model on real data (feature `torch`): train a small model on the jets of
//! the development file, save it, reload it through the C API, and check the invariant on
//! every value, that it beats a deliberately broken baseline and is no worse than the
//! interval midpoint on events it did not train on, that training is deterministic, and that
//! a model for other bits, rounding or variables is refused.
//!
//! The pairs are made with truncation (ROOT's `Real32Trunc`): there even the untrained
//! model (the interval midpoint) moves every value, so the invariant is checked on moved
//! values whatever early stopping keeps. Round-to-nearest models are exercised end to end
//! in `tests/model_cli.rs`.
#![cfg(feature = "torch")]

mod common;

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

use refloat::model::train::{split_events, train, TrainConfig, TrainingData};
use refloat::model::{Device, Model, ModelKind};
use refloat::{Quantiser32, RoundingMode};

#[allow(non_camel_case_types)]
#[repr(C)]
struct refloat_model {
    _private: [u8; 0],
}

extern "C" {
    fn refloat_model_load(
        path: *const c_char,
        mantissa_bits: u32,
        mode: u32,
        variables: *const *const c_char,
        n_variables: usize,
        model: *mut *mut refloat_model,
    ) -> c_int;
    fn refloat_model_correct_f32(
        model: *const refloat_model,
        data: *mut f32,
        n_objects: usize,
        n_variables: usize,
        event_offsets: *const u64,
        n_offsets: usize,
    ) -> c_int;
    fn refloat_model_n_variables(model: *const refloat_model, n: *mut usize) -> c_int;
    fn refloat_model_variable(
        model: *const refloat_model,
        index: usize,
        name: *mut *const c_char,
    ) -> c_int;
    fn refloat_model_free(model: *mut refloat_model);
    fn refloat_last_error() -> *const c_char;
}

const OK: c_int = 0;
const REFLOAT_NULL_PARAMETER: c_int = 1;
const REFLOAT_NOT_QUANTISED: c_int = 6;
const REFLOAT_INVALID_INPUT: c_int = 8;
const REFLOAT_MODEL: c_int = 11;
const NEAREST: u32 = 0;
const TRUNCATE: u32 = 1;
const BITS: u32 = 10;
const VARS: [&str; 4] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
    "AnalysisJetsAuxDyn.m",
];

fn last_error() -> String {
    // SAFETY: never NULL, NUL-terminated.
    unsafe { CStr::from_ptr(refloat_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The jets of the development file, from its flat copy.
fn jets() -> TrainingData {
    common::flat_objects(common::DEV, &VARS)
}

fn small_config(seed: u64, rounding: RoundingMode) -> TrainConfig {
    TrainConfig {
        kind: ModelKind::Inpainting,
        mantissa_bits: BITS,
        rounding,
        seed,
        max_epochs: 60,
        patience: 10,
        hidden: 32,
        device: Device::Cpu,
        ..TrainConfig::default()
    }
}

/// Sum over variables of the squared error against the originals, relative to that of the
/// stored values: 1 = no better than doing nothing.
fn relative_mse(orig: &[Vec<f32>], stored: &[Vec<f32>], est: &[Vec<f32>]) -> Vec<f64> {
    orig.iter()
        .zip(stored)
        .zip(est)
        .map(|((o, s), e)| {
            let se = |a: &[f32]| {
                a.iter()
                    .zip(o)
                    .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                    .sum::<f64>()
            };
            se(e) / se(s)
        })
        .collect()
}

#[test]
fn inpainting_trains_saves_reloads_through_c_and_keeps_the_invariant() {
    let data = jets();
    let q = Quantiser32::new(BITS, RoundingMode::Truncate).unwrap();
    let cfg = small_config(7, RoundingMode::Truncate);
    let mut epochs = 0;
    let trained = train(&data, &cfg, &mut |p| epochs = p.epoch).unwrap();
    assert!(epochs >= 1);
    println!("training record: {:?}", trained.meta.training);
    assert_eq!(trained.meta.variable_names(), VARS);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jets.pt");
    trained.save(&path).unwrap();

    // Held-out events of the development file: the validation split (not trained on).
    let (_, val_ev) = split_events(data.events(), cfg.validation_fraction, cfg.seed).unwrap();
    let val = data.select_events(&val_ev);
    let stored: Vec<Vec<f32>> = val
        .originals
        .iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect();

    // Through the C API, exactly as C calls it.
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    let names: Vec<CString> = VARS.iter().map(|v| CString::new(*v).unwrap()).collect();
    let name_ptrs: Vec<*const c_char> = names.iter().map(|c| c.as_ptr()).collect();
    let mut m: *mut refloat_model = ptr::null_mut();
    // SAFETY: valid C strings and an output pointer.
    let rc = unsafe {
        refloat_model_load(
            cpath.as_ptr(),
            BITS,
            TRUNCATE,
            name_ptrs.as_ptr(),
            VARS.len(),
            &mut m,
        )
    };
    assert_eq!(rc, OK, "{}", last_error());
    let mut n = 0usize;
    assert_eq!(unsafe { refloat_model_n_variables(m, &mut n) }, OK);
    assert_eq!(n, VARS.len());
    let mut name: *const c_char = ptr::null();
    assert_eq!(unsafe { refloat_model_variable(m, 2, &mut name) }, OK);
    assert_eq!(unsafe { CStr::from_ptr(name) }.to_str().unwrap(), VARS[2]);

    let n_obj = stored[0].len();
    let mut block: Vec<f32> = stored.concat();
    let offsets: Vec<u64> = val.offsets.iter().map(|&o| o as u64).collect();
    let rc = unsafe {
        refloat_model_correct_f32(
            m,
            block.as_mut_ptr(),
            n_obj,
            VARS.len(),
            offsets.as_ptr(),
            offsets.len(),
        )
    };
    assert_eq!(rc, OK, "{}", last_error());
    let corrected: Vec<Vec<f32>> = block.chunks(n_obj).map(<[f32]>::to_vec).collect();

    // The invariant, on every value.
    let mut moved = 0;
    for (c, s) in corrected.iter().zip(&stored) {
        for (x, y) in c.iter().zip(s) {
            assert_eq!(
                q.quantise(*x).to_bits(),
                y.to_bits(),
                "corrected {x:e} does not re-quantise to {y:e}"
            );
            moved += (x.to_bits() != y.to_bits()) as usize;
        }
    }
    assert!(moved > n_obj, "the model moved only {moved} values");

    // The same as the Rust API, bit for bit.
    let rust_model = Model::load_on(&path, Device::Cpu).unwrap();
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let (rust_corrected, _) = rust_model.correct(&refs, &val.offsets).unwrap();
    assert_eq!(rust_corrected, corrected);

    // Against a deliberately broken baseline (the numerically lower end of every interval)
    // and the interval midpoint.
    let at = |f: f32| -> Vec<Vec<f32>> {
        stored
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&s| refloat::model::features::value_at_fraction(s, f, &q))
                    .collect()
            })
            .collect()
    };
    let model = relative_mse(&val.originals, &stored, &corrected);
    let broken = relative_mse(&val.originals, &stored, &at(0.0));
    let midpoint = relative_mse(&val.originals, &stored, &at(0.5));
    println!("relative MSE per variable {VARS:?}\n  model    {model:?}\n  midpoint {midpoint:?}\n  broken   {broken:?}");
    for j in 0..VARS.len() {
        assert!(
            model[j] < 0.6 * broken[j],
            "{}: model {} vs broken {}",
            VARS[j],
            model[j],
            broken[j]
        );
        assert!(
            model[j] < 1.25 * midpoint[j],
            "{}: model {} vs midpoint {}",
            VARS[j],
            model[j],
            midpoint[j]
        );
    }

    // NaN, ±Inf and exact values are left alone, bit for bit; no objects is fine.
    let odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, -1.0];
    let mut block: Vec<f32> = (0..VARS.len()).flat_map(|_| odd).collect();
    let before: Vec<u32> = block.iter().map(|x| x.to_bits()).collect();
    let rc = unsafe {
        refloat_model_correct_f32(m, block.as_mut_ptr(), odd.len(), VARS.len(), ptr::null(), 0)
    };
    assert_eq!(rc, OK, "{}", last_error());
    assert_eq!(
        block.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        before
    );
    let cols: Vec<&[f32]> = (0..VARS.len()).map(|_| &odd[..]).collect();
    let (_, report) = rust_model.correct(&cols, &[0, 3, odd.len()]).unwrap();
    assert_eq!(
        (report.non_finite, report.left_exact, report.corrected),
        (12, 12, 0)
    );
    let rc =
        unsafe { refloat_model_correct_f32(m, ptr::null_mut(), 0, VARS.len(), ptr::null(), 0) };
    assert_eq!(rc, OK, "{}", last_error());
    let bad_offsets = [0u64, 5, 2];
    let rc = unsafe {
        refloat_model_correct_f32(
            m,
            block.as_mut_ptr(),
            2,
            VARS.len(),
            bad_offsets.as_ptr(),
            3,
        )
    };
    assert_eq!(rc, REFLOAT_INVALID_INPUT, "{}", last_error());

    // Wrong inputs are errors, and leave the data alone.
    let mut one = vec![1.0f32 + f32::EPSILON; VARS.len()];
    let before = one.clone();
    let rc =
        unsafe { refloat_model_correct_f32(m, one.as_mut_ptr(), 1, VARS.len(), ptr::null(), 0) };
    assert_eq!(rc, REFLOAT_NOT_QUANTISED, "{}", last_error());
    assert_eq!(one, before);
    let rc = unsafe { refloat_model_correct_f32(m, one.as_mut_ptr(), 2, 2, ptr::null(), 0) };
    assert_eq!(rc, REFLOAT_MODEL);
    assert!(last_error().contains("4 variables"), "{}", last_error());
    let rc =
        unsafe { refloat_model_correct_f32(ptr::null(), one.as_mut_ptr(), 1, 4, ptr::null(), 0) };
    assert_eq!(rc, REFLOAT_NULL_PARAMETER);
    unsafe { refloat_model_free(m) };
    unsafe { refloat_model_free(ptr::null_mut()) };

    // A model made for other bits or variables is refused at load, with a clear message.
    let mut m2: *mut refloat_model = ptr::null_mut();
    let rc = unsafe { refloat_model_load(cpath.as_ptr(), 7, TRUNCATE, ptr::null(), 0, &mut m2) };
    assert_eq!(rc, REFLOAT_MODEL);
    assert!(
        last_error().contains("10 kept mantissa bits") && last_error().contains("not 7"),
        "{}",
        last_error()
    );
    assert!(m2.is_null(), "output written on error");
    let rc = unsafe { refloat_model_load(cpath.as_ptr(), BITS, NEAREST, ptr::null(), 0, &mut m2) };
    assert_eq!(
        rc, REFLOAT_MODEL,
        "round-to-nearest data with a truncation model"
    );
    assert!(last_error().contains("truncate"), "{}", last_error());
    let rc = unsafe {
        refloat_model_load(
            cpath.as_ptr(),
            BITS,
            TRUNCATE,
            name_ptrs[..2].as_ptr(),
            2,
            &mut m2,
        )
    };
    assert_eq!(rc, REFLOAT_MODEL);
    assert!(last_error().contains("variables"), "{}", last_error());
    let e = Model::load_for(&path, 12, RoundingMode::Truncate, None).unwrap_err();
    assert!(e.to_string().contains("jets.pt"), "{e}");

    // Not a model file: the ROOT file itself.
    let root = CString::new(common::root_file(common::DEV).to_str().unwrap()).unwrap();
    let rc = unsafe { refloat_model_load(root.as_ptr(), BITS, 0, ptr::null(), 0, &mut m2) };
    assert_eq!(rc, REFLOAT_MODEL, "{}", last_error());
    assert!(last_error().contains("TorchScript"), "{}", last_error());

    // The file is ordinary TorchScript: when the CI script points us at its Python with
    // torch, Python must load it, read the metadata and compute the same outputs.
    if let Some(py) = std::env::var_os("REFLOAT_TORCH_PYTHON") {
        python_agrees(&py, &path, &rust_model, &stored, &val.offsets);
    }
}

fn python_agrees(
    py: &std::ffi::OsStr,
    path: &std::path::Path,
    model: &Model,
    stored: &[Vec<f32>],
    offsets: &[usize],
) {
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let x = refloat::model::features::inpainting_features(
        &refs,
        offsets,
        &model.meta().variables,
        model.quantiser(),
        &refloat::correct::ExactPolicy::default(),
    )
    .unwrap();
    let fr = model.predict_fractions(&refs, offsets).unwrap();
    let dir = path.parent().unwrap();
    let raw = |name: &str, v: &[f32]| {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    raw("x.f32", &x);
    raw("y.f32", &fr);
    let script = format!(
        r#"
import json, sys, torch
extra = {{"refloat.json": ""}}
m = torch.jit.load(r"{p}", _extra_files=extra)
meta = json.loads(extra["refloat.json"])
assert meta["kind"] == "inpainting" and meta["mantissa_bits"] == {bits}, meta
raw = lambda f: torch.frombuffer(bytearray(open(f, "rb").read()), dtype=torch.float32)
x = raw(r"{d}/x.f32").reshape(-1, meta["inputs"])
y = raw(r"{d}/y.f32").reshape(len(meta["variables"]), -1)
with torch.no_grad():
    out = m(x).T
err = (out - y).abs().max().item()
print("python max |diff|", err)
sys.exit(0 if err < 1e-5 else 1)
"#,
        p = path.display(),
        d = dir.display(),
        bits = BITS
    );
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn training_is_deterministic_given_the_seed() {
    let data = jets();
    let cfg = TrainConfig {
        max_epochs: 5,
        patience: 5,
        ..small_config(3, RoundingMode::Nearest)
    };
    let run = |cfg: &TrainConfig| {
        let mut losses = Vec::new();
        let t = train(&data, cfg, &mut |p| {
            losses.push((p.train_loss.to_bits(), p.validation_loss.to_bits()))
        })
        .unwrap();
        (t, losses)
    };
    let (a, la) = run(&cfg);
    let (b, lb) = run(&cfg);
    assert_eq!(la.len(), 5);
    assert_eq!(la, lb, "same seed, different training losses");
    assert_eq!(a.meta, b.meta);
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    let cols: Vec<Vec<f32>> = data
        .originals
        .iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect();
    let refs: Vec<&[f32]> = cols.iter().map(Vec::as_slice).collect();
    let fa = a
        .load(Device::Cpu)
        .unwrap()
        .predict_fractions(&refs, &data.offsets)
        .unwrap();
    let fb = b
        .load(Device::Cpu)
        .unwrap()
        .predict_fractions(&refs, &data.offsets)
        .unwrap();
    assert!(
        fa.iter().zip(&fb).all(|(x, y)| x.to_bits() == y.to_bits()),
        "same seed, different model"
    );
    // Another seed: another split, initialisation and batch order.
    let (_, lc) = run(&TrainConfig { seed: 4, ..cfg });
    assert_ne!(la, lc, "another seed trained the very same way");
}
