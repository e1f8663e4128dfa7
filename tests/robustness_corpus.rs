//! Regression inputs found by fuzzing (`tests/corpus/root_reader/`): each is read as a ROOT
//! file, in a thread with a deadline; it must give an error naming the file (or data), never
//! a panic or a hang. (The `capi` inputs in `tests/corpus/capi/` are replayed by
//! `tests/ci/fuzz.sh` through the fuzz target itself, which holds the C API's checks.)

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read_everything(path: &Path) -> refloat::Result<usize> {
    let mut file = refloat::io::open(path)?;
    let mut values = 0;
    for name in file.tree_names() {
        let tree = file.tree(&name)?;
        for b in tree.select(&[])?.floats {
            values += tree.read_float(&b.name)?.values.len();
        }
    }
    Ok(values)
}

#[test]
fn fuzz_found_root_inputs_fail_cleanly() {
    let inputs = corpus("root_reader");
    assert!(!inputs.is_empty(), "tests/corpus/root_reader is empty");
    let dir = tempfile::tempdir().unwrap();
    for input in inputs {
        // The reader takes a path; copy under a `.root` name in a temporary directory.
        let path = dir.path().join(format!(
            "{}.root",
            input.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(&input, &path).unwrap();
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let h = std::thread::spawn(move || {
            let _ = tx.send(read_everything(&p).map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(_)) => {}
            Ok(Err(m)) => assert!(
                m.contains(&*path.to_string_lossy()),
                "{}: error does not name the file: {m}",
                input.display()
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{}: reading did not finish within 60 s", input.display())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{}: reader panicked: {:?}", input.display(), h.join().err())
            }
        }
    }
}
