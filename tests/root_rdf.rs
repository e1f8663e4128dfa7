//! refloat in RDataFrame (`cpp/refloat_rdf.hpp`), in real ROOT: the C++ example
//! (`examples/rdf/rdf_correct.C`, `root -l -b -q`) and the PyROOT example
//! (`examples/rdf/rdf_correct.py`, one thread and `ROOT.EnableImplicitMT(2)`) on a compressed
//! real file give, bit for bit, what `refloat::pipeline::correct_file` (`refloat correct`,
//! its defaults) writes: the branch resolved by the one resolver, midpoint, and dither under
//! the one seeding rule whatever the threads. A `double` value is refused at compile time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::correct::Method;
use refloat::io;
use refloat::pipeline::{
    compress_file, correct_file, CompressOptions, CorrectOptions, Correction, Select,
};
use refloat::{Quantiser32, RoundingMode};

const BRANCH: &str = "AnalysisJetsAuxDyn.pt";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn root_env(cmd: &mut Command) -> &mut Command {
    let lib = common::native::lib_dir();
    cmd.env("LD_LIBRARY_PATH", &lib)
        .env(
            "ROOT_INCLUDE_PATH",
            format!(
                "{}:{}",
                repo().join("include").display(),
                repo().join("cpp").display()
            ),
        )
        .env("PYTHONWARNINGS", "ignore")
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{cmd:?}\n{text}");
    text
}

/// What `refloat correct` writes for the branch, as bit patterns.
fn corrected_by_refloat(stored: &Path, dir: &Path, method: Method) -> Vec<u32> {
    let out = dir.join(format!("{}.root", method.name()));
    correct_file(
        stored,
        &out,
        Correction::Method(method),
        &CorrectOptions {
            select: Select {
                tree: None,
                branches: vec![BRANCH.into()],
            },
            ..CorrectOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let b = io::open(&out)
        .unwrap()
        .tree("CollectionTree")
        .unwrap()
        .read_float(BRANCH)
        .unwrap();
    b.values.iter().map(|x| x.to_bits()).collect()
}

/// The held-out PHYSLITE file stored at 10 bits by ATLAS's rule into `out`: `branches`
/// (names or globs; empty: every float branch).
fn held_out_at_10_bits(out: &Path, branches: Vec<String>) {
    compress_file(
        &common::root_file(common::HELD_OUT),
        out,
        &CompressOptions {
            select: Select {
                tree: None,
                branches,
            },
            quantiser: Quantiser32::new(10, RoundingMode::Nearest).unwrap(),
            bits: Vec::new(),
            compression: None,
            measure_sizes: false,
            copies: Default::default(),
            threads: 0,
        },
        &mut |_| {},
    )
    .unwrap();
}

fn npy(path: PathBuf) -> Vec<u32> {
    let a: ndarray::Array1<u32> = ndarray_npy::read_npy(path).unwrap();
    a.to_vec()
}

#[test]
fn rdataframe_examples_equal_refloat_correct_bit_for_bit() {
    let Some(venv) = common::root_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let comp = dir.path().join("comp.root");
    held_out_at_10_bits(&comp, vec![BRANCH.into()]);
    let midpoint = corrected_by_refloat(&comp, dir.path(), Method::Midpoint);
    let dither = corrected_by_refloat(&comp, dir.path(), Method::Dither { seed: 42 });
    let stored: Vec<u32> = io::open(&comp)
        .unwrap()
        .tree("CollectionTree")
        .unwrap()
        .read_float(BRANCH)
        .unwrap()
        .values
        .iter()
        .map(|x| x.to_bits())
        .collect();
    assert_ne!(dither, stored, "the dither changes values");

    // PyROOT, one thread and two.
    for threads in ["0", "2"] {
        let prefix = dir.path().join(format!("py{threads}"));
        let text = run(root_env(
            Command::new("timeout")
                .arg("600")
                .arg(venv.join("bin/python"))
                .args([
                    repo().join("examples/rdf/rdf_correct.py").as_os_str(),
                    comp.as_os_str(),
                    BRANCH.as_ref(),
                    "42".as_ref(),
                    threads.as_ref(),
                    "--npy".as_ref(),
                    prefix.as_os_str(),
                ]),
        ));
        assert!(text.contains("rdf_correct.py:"), "{text}");
        let got = |name: &str| npy(PathBuf::from(format!("{}.{name}.npy", prefix.display())));
        assert_eq!(got("midpoint"), midpoint, "{threads} threads: midpoint");
        assert_eq!(got("dither"), dither, "{threads} threads: dither");
    }

    // The C++ macro, two threads for the sums, its friend tree written in entry order.
    let friend = dir.path().join("friend.root");
    let call = format!(
        "{}(\"{}\", \"{BRANCH}\", 42, \"{}\", 2)",
        repo().join("examples/rdf/rdf_correct.C").display(),
        comp.display(),
        friend.display()
    );
    let text = run(root_env(
        Command::new("timeout")
            .arg("600")
            .arg(venv.join("bin/root"))
            .args(["-l", "-b", "-q", &call]),
    ));
    assert!(text.contains("rdf_correct: "), "{text}");
    let written = io::open(&friend)
        .unwrap()
        .tree("CollectionTree")
        .unwrap()
        .read_float("AnalysisJetsAuxDyn_pt_dither")
        .unwrap();
    assert_eq!(
        written
            .values
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>(),
        dither
    );

    // A double handed to refloat::rdf::correct is refused, not narrowed to float.
    let refused = root_env(Command::new(venv.join("bin/python")).args([
        "-c",
        "import ROOT; ROOT.gSystem.Load('librefloat.so'); \
         ROOT.gInterpreter.Declare('#include \"refloat_rdf.hpp\"'); \
         ok = ROOT.gInterpreter.Declare('double f(double x) { return refloat::rdf::correct(x, 10u, refloat::Rounding::Nearest); }'); \
         print('declared' if ok else 'refused')",
    ]))
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("refused") && text.contains("this column is double"),
        "{text}"
    );
}

/// `refloat::rdf::CorrectAll` (`examples/rdf/correct_all.py`): every float column the resolver
/// finds rounded, redefined as corrected, equals what `refloat correct` writes for its branch,
/// on every float column of NanoAOD (CMS's file, dither, one thread) and of the held-out
/// PHYSLITE file stored at 10 bits (dither, two threads: ATLAS's midpoint is the stored
/// value).
#[test]
fn correct_all_equals_refloat_correct_on_every_float_column() {
    let Some(venv) = common::root_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stored = dir.path().join("physlite.b10.root");
    held_out_at_10_bits(&stored, Vec::new());
    for (input, seed, floats, changed_at_least, threads) in [
        (
            common::root_file("nano_dy"),
            7u64,
            307,
            150,
            &["0", "2"][..],
        ),
        (stored.clone(), 3, 350, 250, &["2"][..]),
    ] {
        let fixed = dir.path().join(format!("fixed.{seed}.root"));
        correct_file(
            &input,
            &fixed,
            Correction::Method(Method::Dither { seed }),
            &CorrectOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        for &threads in threads {
            let text = run(root_env(
                Command::new("timeout")
                    .arg("600")
                    .arg(venv.join("bin/python"))
                    .arg(repo().join("examples/rdf/correct_all.py"))
                    .arg(&input)
                    .args([
                        "--method",
                        "dither",
                        "--seed",
                        &seed.to_string(),
                        "--threads",
                        threads,
                    ])
                    .arg("--check")
                    .arg(&fixed),
            ));
            assert!(
                text.contains(&format!("{floats} of {floats} float columns equal to")),
                "{text}"
            );
            let changed: usize = text
                .split("; ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                changed >= changed_at_least,
                "{changed} columns changed\n{text}"
            );
        }
    }
}
