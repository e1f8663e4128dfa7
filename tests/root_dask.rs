//! Distributed RDataFrame on Dask (`examples/rdf/rdf_dask.py`), in real ROOT: the same refloat
//! `Define` over both PHYSLITE files (compressed here at 10 bits) on a
//! `dask.distributed.LocalCluster` of two worker processes, each loading librefloat and
//! `refloat_rdf.hpp` in ROOT's distributed initialisation function, gives the local run's sums
//! and histogram contents exactly.

mod common;

use std::path::Path;
use std::process::Command;

use refloat::pipeline::{compress_file, CompressOptions, Select};
use refloat::{Quantiser32, RoundingMode};

#[test]
fn distributed_rdataframe_on_dask_equals_the_local_run() {
    let Some(venv) = common::root_venv() else {
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stem in common::FILES {
        let out = dir.path().join(format!("{stem}.b10.root"));
        compress_file(
            &common::root_file(stem),
            &out,
            &CompressOptions {
                select: Select {
                    tree: None,
                    branches: vec!["AnalysisJetsAuxDyn.*".into()],
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
        files.push(out);
    }
    let o = Command::new("timeout")
        .arg("900")
        .arg(venv.join("bin/python"))
        .arg(repo.join("examples/rdf/rdf_dask.py"))
        .args(["AnalysisJetsAuxDyn.pt", "10"])
        .args(&files)
        .args(["--workers", "2"])
        .env("LD_LIBRARY_PATH", common::native::lib_dir())
        .env(
            "ROOT_INCLUDE_PATH",
            format!(
                "{}:{}",
                repo.join("include").display(),
                repo.join("cpp").display()
            ),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("2 worker processes; local and distributed runs agree"),
        "{text}"
    );
    assert!(
        text.contains("entries: local 140, distributed 140"),
        "{text}"
    );
    println!("{text}");
}
