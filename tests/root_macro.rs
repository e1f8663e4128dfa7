//! The ROOT macro `cpp/examples/correct_branch.C` in real ROOT (the PyPI wheel `root==0.1a12`,
//! ROOT 6.40, in the venv `tests/ci/root.sh` makes): run by PyROOT's `gROOT->ProcessLine` for
//! every job and by `root -l -b -q` for the command-line path, on real branches: `float` and
//! `std::vector<float>` of both PHYSLITE files (compressed here at 10 bits) and the `float` and
//! `float[nJet]` branches of the CMS-rounded `nano_dy.root`; every method, bits and scheme
//! resolved and given. Every value the macro writes equals the Rust core's correction under
//! the file pipeline's resolution of the branch, entry by entry, bit for bit (the one seeding
//! rule: branch name and index in the whole branch). Error paths, among them branches that
//! are not float (bool, int, vector<double>): status 1, the message naming the type, and no
//! output file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::correct::Method;
use refloat::io::{self, FloatLayout};
use refloat::pipeline::{compress_file, resolve_file, CompressOptions, Select};
use refloat::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use refloat::resolve::Given;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The environment ROOT runs the macro in: librefloat.so on the dynamic path, the headers on
/// ROOT's include path.
fn root_env(cmd: &mut Command) -> &mut Command {
    let lib = common::native::lib_dir();
    let ld = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(p) => format!("{}:{}", lib.display(), p.to_string_lossy()),
        None => lib.display().to_string(),
    };
    let include = ["include", "cpp", "cpp/examples"]
        .map(|d| repo().join(d).display().to_string())
        .join(":");
    cmd.env("LD_LIBRARY_PATH", ld)
        .env("ROOT_INCLUDE_PATH", include)
        .env("PYTHONWARNINGS", "ignore")
}

/// One input branch: file, tree, name, and how its file was rounded.
struct Input {
    path: PathBuf,
    tree: &'static str,
    branch: String,
    rounding: &'static str,
    mode: RoundingMode,
}

/// The first `float` branch and `vector<float>` / `float[n]` branch matching `prefix` with a
/// value that carries information.
fn pick(path: &Path, tree: &str, jagged_prefix: &str, flat_prefix: &str) -> Vec<String> {
    let mut f = io::open(path).unwrap();
    let t = f.tree(tree).unwrap();
    let sel = t.select(&[]).unwrap();
    let mut out = Vec::new();
    for (prefix, layout) in [
        (jagged_prefix, FloatLayout::Jagged),
        (flat_prefix, FloatLayout::Flat),
    ] {
        let b = sel
            .floats
            .iter()
            .filter(|b| b.name.starts_with(prefix) && b.float_layout() == Some(layout))
            .find(|b| {
                let v = t.read_float(&b.name).unwrap().values;
                // a branch the resolver corrects on its own (the macro resolves one branch)
                let select = Select {
                    tree: Some(tree.into()),
                    branches: vec![b.name.clone()],
                };
                let (_, r) = resolve_file(path, &select, &Given::default(), None).unwrap();
                infer_mantissa_bits_f32(&v).is_ok_and(|n| n < 23)
                    && r[0].1.bits.is_some_and(|n| n < 23)
                    && r[0].1.lattice.is_none()
            })
            .unwrap_or_else(|| panic!("{}: no {layout:?} branch {prefix}*", path.display()));
        out.push(b.name.clone());
    }
    out
}

#[test]
fn macro_runs_in_real_root_on_real_branches() {
    let Some(venv) = common::root_venv() else {
        return;
    };
    let dir = scratch("root_macro");
    let mut inputs = Vec::new();
    for stem in common::FILES {
        let comp = dir.join(format!("{stem}.b10.root"));
        compress_file(
            &common::root_file(stem),
            &comp,
            &CompressOptions {
                select: Select {
                    tree: None,
                    branches: vec![
                        "AnalysisJetsAuxDyn.pt".into(),
                        "AnalysisElectronsAuxDyn.eta".into(),
                        "EventInfoAuxDyn.*".into(),
                    ],
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
        for branch in pick(
            &comp,
            "CollectionTree",
            "AnalysisJetsAuxDyn.pt",
            "EventInfoAuxDyn.",
        ) {
            inputs.push(Input {
                path: comp.clone(),
                tree: "CollectionTree",
                branch,
                rounding: "nearest",
                mode: RoundingMode::Nearest,
            });
        }
    }
    let nano = common::data_dir().join("nano_dy.root");
    for branch in pick(&nano, "Events", "Jet_pt", "MET_phi") {
        inputs.push(Input {
            path: nano.clone(),
            tree: "Events",
            branch,
            rounding: "cms",
            mode: RoundingMode::Cms,
        });
    }

    struct Job {
        args: serde_json::Value,
        out: PathBuf,
        /// (input, bits given, method) for a correction; `None` for an error job.
        expect: Option<(usize, Option<u32>, Method)>,
        error: &'static str,
    }
    let arg = |path: &Path,
               branch: &str,
               bits: i32,
               rounding: &str,
               method: &str,
               seed: u64,
               tree: &str,
               out: &Path| {
        serde_json::json!([
            path.display().to_string(),
            branch,
            bits,
            rounding,
            method,
            seed,
            tree,
            out.display().to_string()
        ])
    };
    let mut jobs: Vec<Job> = Vec::new();
    #[allow(clippy::type_complexity)]
    let settings: [(i32, &str, fn(u64) -> Method, u64); 3] = [
        (-1, "midpoint", |_| Method::Midpoint, 0),
        (-1, "dither", |seed| Method::Dither { seed }, 4242),
        (10, "prior-mean", |_| Method::PriorMean, 0),
    ];
    for (i, input) in inputs.iter().enumerate() {
        for (k, (bits, method, make, seed)) in settings.into_iter().enumerate() {
            // NanoAOD branches keep their own precision: resolve it. The macro's defaults
            // (scheme and tree resolved) on the first setting, named on the others.
            let bits = if bits > 0 && input.tree == "Events" {
                -1
            } else {
                bits
            };
            let (rounding, tree) = if k == 0 {
                ("detect", "")
            } else {
                (input.rounding, input.tree)
            };
            let out = dir.join(format!("out{}.root", jobs.len()));
            jobs.push(Job {
                args: arg(
                    &input.path,
                    &input.branch,
                    bits,
                    rounding,
                    method,
                    seed,
                    tree,
                    &out,
                ),
                out,
                expect: Some((i, (bits >= 0).then_some(bits as u32), make(seed))),
                error: "",
            });
        }
    }
    let first = &inputs[0];
    let missing_dir = dir.join("no-such-dir/out.root");
    let physlite = common::root_file(common::HELD_OUT);
    let errors: [(&Path, &str, i32, &str, &str, &str, &str); 10] = [
        (
            &nano,
            "Electron_convVeto",
            -1,
            "detect",
            "midpoint",
            "Events",
            "holds Bool_t, not float",
        ),
        (
            &nano,
            "Jet_jetId",
            -1,
            "detect",
            "midpoint",
            "Events",
            "holds Int_t, not float",
        ),
        (
            &physlite,
            "TruthTausAuxDyn.pt_vis",
            -1,
            "detect",
            "dither",
            "CollectionTree",
            "holds vector<double>, not float",
        ),
        (
            &first.path,
            "NoSuchBranch",
            -1,
            "nearest",
            "midpoint",
            "CollectionTree",
            "has no branch 'NoSuchBranch'",
        ),
        (
            &dir.join("missing.root"),
            &first.branch,
            -1,
            "nearest",
            "midpoint",
            "CollectionTree",
            "cannot open the file",
        ),
        (
            &first.path,
            &first.branch,
            -1,
            "nearest",
            "midpoint",
            "NoTree",
            "no tree 'NoTree'",
        ),
        (
            &first.path,
            &first.branch,
            30,
            "nearest",
            "midpoint",
            "CollectionTree",
            "mantissa bits 30 out of range",
        ),
        (
            &first.path,
            &first.branch,
            -1,
            "nearest",
            "median",
            "CollectionTree",
            "unknown method 'median'",
        ),
        (
            &first.path,
            &first.branch,
            5,
            "nearest",
            "midpoint",
            "CollectionTree",
            "is not a stored value",
        ),
        (
            &first.path,
            &first.branch,
            -1,
            "nearest",
            "midpoint",
            "CollectionTree",
            "cannot create the output file",
        ),
    ];
    for (k, (path, branch, bits, rounding, method, tree, error)) in errors.into_iter().enumerate() {
        let out = if error.contains("create the output") {
            missing_dir.clone()
        } else {
            dir.join(format!("error{k}.root"))
        };
        jobs.push(Job {
            args: arg(path, branch, bits, rounding, method, 0, tree, &out),
            out,
            expect: None,
            error,
        });
    }
    let jobs_file = dir.join("jobs.json");
    let json: Vec<serde_json::Value> = jobs
        .iter()
        .enumerate()
        .map(|(id, j)| serde_json::json!({"id": id, "args": j.args}))
        .collect();
    std::fs::write(&jobs_file, serde_json::to_string(&json).unwrap()).unwrap();
    let results_file = dir.join("results.json");
    let out = root_env(
        Command::new("timeout")
            .arg("600")
            .arg(venv.join("bin/python"))
            .args([
                repo().join("tests/root/run_macro.py").as_os_str(),
                repo().join("cpp/examples/correct_branch.C").as_os_str(),
                jobs_file.as_os_str(),
                results_file.as_os_str(),
            ]),
    )
    .output()
    .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    println!(
        "{}",
        text.lines()
            .filter(|l| l.starts_with("ROOT "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let results: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results_file).unwrap()).unwrap();
    assert_eq!(results.len(), jobs.len());

    let (mut corrections, mut values, mut changed, mut error_paths) = (0, 0usize, 0usize, 0);
    for (job, result) in jobs.iter().zip(&results) {
        let status = result["status"].as_i64().unwrap();
        let messages: Vec<&str> = result["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let what = format!("{}: {messages:?}", job.args);
        let Some((i, bits, method)) = job.expect else {
            assert_eq!(status, 1, "{what}");
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with("Error in <correct_branch>") && m.contains(job.error)),
                "{what}: expected an error with '{}'",
                job.error
            );
            assert!(
                !job.out.exists(),
                "{what}: output {} left behind",
                job.out.display()
            );
            error_paths += 1;
            continue;
        };
        assert_eq!(status, 0, "{what}");
        let input = &inputs[i];
        let stored = io::open(&input.path)
            .unwrap()
            .tree(input.tree)
            .unwrap()
            .read_float(&input.branch)
            .unwrap();
        // the file pipeline's resolution of the branch, as the macro was asked for it
        let given = Given {
            bits,
            mode: (job.args[3] != "detect").then_some(input.mode),
            leave_exact: true,
        };
        let select = Select {
            tree: Some(input.tree.into()),
            branches: vec![input.branch.clone()],
        };
        let (_, resolved) = resolve_file(&input.path, &select, &given, None).unwrap();
        let resolution = &resolved[0].1;
        assert_eq!(resolution.mode, input.mode, "{what}");
        let bits = resolution.bits.expect("a branch with bits");
        assert!(
            messages
                .iter()
                .any(|m| m.contains(&format!(" at {bits} kept bits "))),
            "{what}: expected {bits} bits"
        );
        let written = io::open(&job.out)
            .unwrap()
            .tree(input.tree)
            .unwrap()
            .read_float(&input.branch)
            .unwrap();
        assert_eq!(written.counts(), stored.counts(), "{what}");
        let mut first = 0u64;
        for e in 0..stored.entries() {
            let mut expect = stored.entry(e).to_vec();
            let corrector = resolution
                .corrector(method, &input.branch, &expect)
                .unwrap()
                .unwrap();
            corrector.correct_in_place(&mut expect, first).unwrap();
            first += expect.len() as u64;
            let got = written.entry(e);
            let bits_of = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
            assert_eq!(bits_of(got), bits_of(&expect), "{what}: entry {e}");
            corrector
                .check(got, stored.entry(e))
                .unwrap_or_else(|m| panic!("{what}: {m}"));
            changed += got
                .iter()
                .zip(stored.entry(e))
                .filter(|(c, s)| c.to_bits() != s.to_bits())
                .count();
            values += got.len();
        }
        corrections += 1;
    }
    println!(
        "correct_branch.C in ROOT: {corrections} corrections of real branches ({values} values, {changed} changed) \
         equal to the Rust core bit for bit, {error_paths} error paths"
    );
    assert_eq!(corrections, 18);
    assert!(changed > values / 4, "{values} {changed}");

    // The `root` executable: a correction, and a library it cannot load (status 1, message).
    let out_cli = dir.join("cli.root");
    let call = format!(
        "{}(\"{}\", \"{}\", -1, \"nearest\", \"dither\", 4242, \"CollectionTree\", \"{}\")",
        repo().join("cpp/examples/correct_branch.C").display(),
        first.path.display(),
        first.branch,
        out_cli.display()
    );
    let o = root_env(Command::new(venv.join("bin/root")).args(["-l", "-b", "-q", &call]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let by_root = io::open(&out_cli)
        .unwrap()
        .tree("CollectionTree")
        .unwrap()
        .read_float(&first.branch)
        .unwrap();
    let by_py = io::open(&jobs[1].out)
        .unwrap()
        .tree("CollectionTree")
        .unwrap()
        .read_float(&first.branch)
        .unwrap();
    assert_eq!(
        by_root
            .values
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>(),
        by_py.values.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let o = root_env(Command::new(venv.join("bin/root")).args(["-l", "-b", "-q", &call]))
        .env("LD_LIBRARY_PATH", "/nonexistent-refloat-dir")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot load librefloat.so"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
