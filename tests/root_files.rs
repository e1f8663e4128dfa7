//! ROOT reads what refloat writes: the `compress` and `correct` outputs of both PHYSLITE files
//! and of the CMS-rounded `nano_dy.root`, checked in real ROOT 6.40 (the venv of
//! `tests/ci/root.sh`) by `tests/root/check_rewrite.py`: `TFile` opens each without recovery
//! and without any message beyond those opening its input gives, the keys (names, classes,
//! cycles) are the input's, `TTree::GetEntry` of every entry reads as many bytes as on the
//! input (over the branches of plain types: ROOT crashes in GetEntry of the development
//! file's xAOD objects, input included), and every float branch read through `RDataFrame::AsNumpy` equals uproot's reading,
//! bit for bit: two independent readers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::correct::Method;
use refloat::pipeline::{
    compress_file, correct_file, CompressOptions, CorrectOptions, Correction, Select,
};
use refloat::{Quantiser32, RoundingMode};

fn check_in_root(venv: &Path, input: &Path, output: &Path, tree: &str) {
    // `timeout`: a crash inside ROOT can deadlock in its own signal handler.
    let o = Command::new("timeout")
        .arg("600")
        .arg(venv.join("bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/root/check_rewrite.py"))
        .arg(input)
        .arg(output)
        .arg(tree)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{}", text.trim());
}

#[test]
fn root_reads_refloat_outputs_as_it_reads_the_inputs() {
    let Some(venv) = common::root_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<(PathBuf, &str, RoundingMode, u32)> = vec![
        (
            common::root_file(common::DEV),
            "CollectionTree",
            RoundingMode::Nearest,
            10,
        ),
        (
            common::root_file(common::HELD_OUT),
            "CollectionTree",
            RoundingMode::Nearest,
            10,
        ),
        (
            common::data_dir().join("nano_dy.root"),
            "Events",
            RoundingMode::Cms,
            8,
        ),
    ];
    for (k, (input, tree, mode, bits)) in inputs.iter().enumerate() {
        let comp = dir.path().join(format!("comp{k}.root"));
        let r = compress_file(
            input,
            &comp,
            &CompressOptions {
                select: Select::default(),
                quantiser: Quantiser32::new(*bits, *mode).unwrap(),
                bits: Vec::new(),
                compression: None,
                measure_sizes: false,
                copies: Default::default(),
                threads: 0,
            },
            &mut |_| {},
        )
        .unwrap();
        assert!(r.branches.len() > 250, "{}", r.branches.len());
        check_in_root(&venv, input, &comp, tree);
        // Correct the file as its producer stored it: NanoAOD as CMS rounded it, PHYSLITE as
        // compressed here.
        let stored = if *tree == "Events" {
            input.clone()
        } else {
            comp.clone()
        };
        let corr = dir.path().join(format!("corr{k}.root"));
        let r = correct_file(
            &stored,
            &corr,
            Correction::Method(Method::Dither { seed: 11 }),
            &CorrectOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.verified_values, r.values);
        check_in_root(&venv, &stored, &corr, tree);
    }
}
