//! The seed study's size table (`ATLAS_COMPRESSION.md`) on the real files: each file rewritten with
//! its float and `vector<float>` branches rounded to 7, 10 and 15 kept mantissa bits (ATLAS's
//! rule), with the input's own compression, everything else copied as stored.
//!
//! Rerun and print the tables (Markdown) with
//! `cargo test --release --test compression_size_table -- --nocapture`.

mod common;

use oxyroot::rewrite::{rewrite_file, RewriteOptions};
use refloat::io::sizes::{DataType, SizeTable};
use refloat::{Quantiser32, RoundingMode};

const TREE: &str = "CollectionTree";

fn table(stem: &str, bits: u32, dir: &std::path::Path) -> SizeTable {
    let input = common::root_file(stem);
    let out = dir.join(format!("{stem}.{bits}.root"));
    let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
    let opts = RewriteOptions {
        trees: Some(vec![TREE.into()]),
        ..Default::default()
    };
    rewrite_file(&input, &out, &opts, |b| {
        q.quantise_slice(b.values);
        Ok(())
    })
    .unwrap();
    SizeTable::measure(&input, &out, TREE).unwrap()
}

#[test]
fn size_tables_at_7_10_15_kept_bits() {
    let dir = tempfile::tempdir().unwrap();
    for stem in common::FILES {
        let tables: Vec<(u32, SizeTable)> = [7, 10, 15]
            .into_iter()
            .map(|bits| (bits, table(stem, bits, dir.path())))
            .collect();
        let compression = oxyroot::Compression::from_root_setting(
            oxyroot::RootFile::open(common::root_file(stem))
                .unwrap()
                .compression(),
        )
        .unwrap();
        for (bits, t) in &tables {
            println!("\n### `{stem}.root`, {bits} kept mantissa bits, {compression} (the input's own)\n\n{}", t.markdown());
            eprintln!("{t}");
            let (b, a) = (&t.before, &t.after);
            // Untouched branches are copied as stored: not one byte changes.
            assert_eq!(
                b.get(DataType::Other),
                a.get(DataType::Other),
                "{stem} {bits}"
            );
            for ty in [DataType::Float32, DataType::VectorFloat] {
                assert_eq!(
                    b.get(ty).uncompressed_bytes,
                    a.get(ty).uncompressed_bytes,
                    "{stem} {bits}: rounding keeps the layout"
                );
                assert!(
                    a.get(ty).bytes < b.get(ty).bytes,
                    "{stem} {bits} {}: {} -> {}",
                    ty.name(),
                    b.get(ty).bytes,
                    a.get(ty).bytes
                );
            }
            assert!(t.saving() > 0.0, "{stem} {bits}: the file must shrink");
        }
        // Fewer kept bits, smaller floats.
        let float_bytes = |t: &SizeTable| {
            t.after.get(DataType::Float32).bytes + t.after.get(DataType::VectorFloat).bytes
        };
        assert!(
            float_bytes(&tables[0].1) < float_bytes(&tables[1].1)
                && float_bytes(&tables[1].1) < float_bytes(&tables[2].1),
            "{stem}"
        );
        assert!(
            tables[0].1.saving() > tables[1].1.saving()
                && tables[1].1.saving() > tables[2].1.saving(),
            "{stem}"
        );
    }
}

#[test]
fn the_development_file_has_the_branch_counts_of_its_readme() {
    // data/README.md: 283 std::vector<float> branches and 254 plain float.
    let s = refloat::io::sizes::TreeSizes::measure(&common::root_file(common::DEV), TREE).unwrap();
    assert_eq!(
        (
            s.get(DataType::Float32).branches,
            s.get(DataType::VectorFloat).branches
        ),
        (254, 283)
    );
    let e = refloat::io::sizes::TreeSizes::measure(&common::root_file(common::DEV), "NoSuchTree")
        .unwrap_err();
    assert!(matches!(e, refloat::Error::MissingTree { .. }), "{e}");
}
