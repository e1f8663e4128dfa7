//! Arbitrary bytes as a ROOT file: open it, list its trees and branches, select the float
//! branches and read them chunk by chunk. Any outcome is fine except a panic, an abort, a
//! hang or an allocation beyond libFuzzer's limits; every error must name the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use refloat::io::{self, BranchPattern};

/// At most this many float branches are read per input (keeps one run short).
const MAX_BRANCHES: usize = 16;

fn exercise(path: &std::path::Path) {
    let must_name_file = |e: &refloat::Error| {
        let m = e.to_string();
        assert!(!m.is_empty(), "empty error message");
        assert!(
            m.contains(&*path.to_string_lossy()),
            "error does not name the file: {m}"
        );
    };
    let mut file = match io::open(path) {
        Ok(f) => f,
        Err(e) => return must_name_file(&e),
    };
    let _ = (file.size_bytes(), file.compression(), file.objects().len());
    for name in file.tree_names() {
        let tree = match file.tree(&name) {
            Ok(t) => t,
            Err(e) => {
                must_name_file(&e);
                continue;
            }
        };
        let all = match tree.select(&[]) {
            Ok(s) => s,
            Err(e) => {
                must_name_file(&e);
                continue;
            }
        };
        if let Ok(p) = BranchPattern::parse("*pt*") {
            let _ = tree.select(&[p]);
        }
        for b in all.floats.iter().take(MAX_BRANCHES) {
            match tree.read_float_chunks(&b.name, 7) {
                Ok(chunks) => {
                    for c in chunks {
                        match c {
                            Ok(c) => {
                                let _ = c.branch.entries();
                                let _ = c.branch.values.len();
                            }
                            Err(e) => {
                                must_name_file(&e);
                                break;
                            }
                        }
                    }
                }
                Err(e) => must_name_file(&e),
            }
            if let Err(e) = tree.read_float(&b.name) {
                must_name_file(&e);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("refloat-fuzz-{}.root", std::process::id()));
    std::fs::write(&path, data).expect("write the input to a temporary file");
    exercise(&path);
});
