//! The library's file pipelines on a real file: `compress_file` → `correct_file` →
//! `verify_file`, with their progress reports, their refusals, and a verification that
//! fails when the corrected file does not belong to the stored one.

#[path = "common/mod.rs"]
mod common;

use refloat::correct::Method;
use refloat::pipeline::{
    compress_file, correct_file, verify_file, CompressOptions, CorrectOptions, Correction, Select,
    Stage, VerifyOptions,
};
use refloat::{Quantiser32, RoundingMode};

fn select() -> Select {
    Select {
        branches: vec![
            "AnalysisJetsAuxDyn.*".into(),
            "AnalysisElectronsAuxDyn.pt".into(),
        ],
        ..Select::default()
    }
}

fn compress(to: &std::path::Path, bits: u32) -> refloat::pipeline::CompressReport {
    compress_file(
        &common::root_file(common::DEV),
        to,
        &CompressOptions {
            select: select(),
            quantiser: Quantiser32::new(bits, RoundingMode::Nearest).unwrap(),
            bits: Vec::new(),
            compression: None,
            measure_sizes: true,
            copies: Default::default(),
            threads: 0,
        },
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn compress_correct_verify_on_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let (stored, corrected) = (dir.path().join("s.root"), dir.path().join("c.root"));
    let c = compress(&stored, 10);
    assert!(c.branches.len() >= 5, "{:?}", c.branches);
    assert!(c
        .branches
        .iter()
        .all(|b| b.changed > 0 && b.changed <= b.values));
    assert!(c.sizes.is_some() && c.written.output_bytes < c.written.input_bytes);

    let mut events = Vec::new();
    let r = correct_file(
        &stored,
        &corrected,
        Correction::Method(Method::Dither { seed: 7 }),
        &CorrectOptions {
            select: select(),
            ..CorrectOptions::default()
        },
        &mut |p| events.push((p.stage, p.done, p.total, p.branch.to_string())),
    )
    .unwrap();
    assert_eq!(r.verified_values, r.values);
    assert!(r.branches.iter().all(|b| b.mantissa_bits == Some(10)
        && matches!(
            b.bits_source,
            refloat::resolve::Source::Detected | refloat::resolve::Source::Tree
        )));
    assert!(r.total().corrected > 0);
    // each stage starts at 0, names every branch once, ends at its total
    // (verified while written: no separate re-reading stage)
    assert!(events.iter().all(|e| e.0 != Stage::Verifying));
    for stage in [Stage::Scanning, Stage::Correcting] {
        let mine: Vec<_> = events.iter().filter(|e| e.0 == stage).collect();
        let (first, last) = (mine[0], mine[mine.len() - 1]);
        assert_eq!((first.1, first.3.as_str()), (0, ""), "{stage:?}");
        assert_eq!(
            (last.1, last.2, last.3.as_str()),
            (last.2, r.branches.len(), "")
        );
        let named: Vec<&str> = mine
            .iter()
            .filter(|e| !e.3.is_empty())
            .map(|e| e.3.as_str())
            .collect();
        assert_eq!(named.len(), r.branches.len(), "{stage:?}: {named:?}");
    }

    // the corrected file verifies against the stored one, bits inferred or given
    let v = verify_file(
        &stored,
        &corrected,
        &VerifyOptions {
            select: select(),
            ..VerifyOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(v.values, r.values);
    assert!(v.branches.iter().all(|(_, b)| *b == Some(10)));
    // and so do the originals: every original lies in its stored value's interval
    let v = verify_file(
        &stored,
        &common::root_file(common::DEV),
        &VerifyOptions {
            select: select(),
            bits: Some(10),
            // the invariant alone: an original of a spike is not the spike itself
            leave_exact: false,
            ..VerifyOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(v.values, r.values);

    // a file rounded to 7 bits does not belong to the 10-bit one
    let other = dir.path().join("b7.root");
    compress(&other, 7);
    let e = verify_file(
        &stored,
        &other,
        &VerifyOptions {
            select: select(),
            ..VerifyOptions::default()
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("invariant broken"), "{e}");
}

#[test]
fn pipelines_refuse_bad_requests_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let stored = dir.path().join("s.root");
    compress(&stored, 10);
    let out = dir.path().join("out.root");
    let method = Correction::Method(Method::Midpoint);
    let cases: Vec<(CorrectOptions, &str)> = vec![
        (
            CorrectOptions {
                bits: Some(24),
                ..CorrectOptions::default()
            },
            "out of range",
        ),
        (
            CorrectOptions {
                select: Select {
                    tree: Some("Events".into()),
                    branches: vec![],
                },
                ..CorrectOptions::default()
            },
            "no tree 'Events'",
        ),
        (
            CorrectOptions {
                select: Select {
                    branches: vec!["NoSuch.*".into()],
                    ..Select::default()
                },
                ..CorrectOptions::default()
            },
            "matches no branch",
        ),
        // stored at 10 bits, claimed 7: values are not stored values at 7 bits
        (
            CorrectOptions {
                select: select(),
                bits: Some(7),
                ..CorrectOptions::default()
            },
            "not a stored value",
        ),
    ];
    for (opts, want) in cases {
        let e = correct_file(&stored, &out, method, &opts, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
        assert!(!out.exists(), "{want}: output left behind");
    }
    let e = correct_file(
        &stored,
        &stored,
        method,
        &CorrectOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("would replace the input"), "{e}");
}

/// With no tree named, the pipelines take the file's analysis tree: `CollectionTree` in
/// PHYSLITE, `Events` in CMS NanoAOD, else the only tree with float branches.
#[test]
fn the_analysis_tree_is_found_without_a_name() {
    use refloat::io::{FloatBranch, TreeWriter};
    use refloat::pipeline::load;
    let physlite = load(&common::root_file(common::DEV), &Select::default()).unwrap();
    assert_eq!(physlite.tree.name(), "CollectionTree");
    let nano = load(&common::data_dir().join("nano_dy.root"), &Select::default()).unwrap();
    assert_eq!(nano.tree.name(), "Events");
    assert!(!nano.selection.floats.is_empty());

    // a file whose only tree has another name
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ntuple.root");
    let mut w = TreeWriter::new(&path, "ntuple");
    w.add(FloatBranch::flat("x", vec![1.5, 2.25, 3.125]))
        .unwrap();
    w.write().unwrap();
    let own = load(&path, &Select::default()).unwrap();
    assert_eq!(own.tree.name(), "ntuple");

    // a named tree that is not there is an error naming it
    let named = Select {
        tree: Some("Events".into()),
        ..Select::default()
    };
    let e = load(&path, &named).err().unwrap();
    assert!(e.to_string().contains("no tree 'Events'"), "{e}");
}

/// Baskets decompressed and compressed on several threads give the same bytes as on one:
/// compress (every float branch of the development file, recompressed with LZMA and with
/// the input's own setting), then correct with dither, on PHYSLITE and on CMS's NanoAOD.
#[test]
fn threads_change_nothing_but_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    for compression in [None, Some("lzma:5".parse().unwrap())] {
        let mut outputs = Vec::new();
        for threads in [1, 2, 3, 0] {
            let out = dir.path().join(format!("c{threads}.root"));
            let r = compress_file(
                &common::root_file(common::DEV),
                &out,
                &CompressOptions {
                    select: Select::default(),
                    quantiser: Quantiser32::new(10, RoundingMode::Nearest).unwrap(),
                    bits: Vec::new(),
                    compression,
                    measure_sizes: false,
                    copies: Default::default(),
                    threads,
                },
                &mut |_| {},
            )
            .unwrap();
            assert!(
                r.written.baskets_rewritten > 300,
                "{}",
                r.written.baskets_rewritten
            );
            outputs.push((threads, read(&out)));
        }
        for (threads, bytes) in &outputs[1..] {
            assert!(
                *bytes == outputs[0].1,
                "compress ({compression:?}) with {threads} threads wrote other bytes than with one"
            );
        }
    }
    let stored = dir.path().join("c1.root");
    let nano = common::data_dir().join("nano_dy.root");
    for input in [&stored, &nano] {
        let mut outputs = Vec::new();
        for threads in [1, 2, 0] {
            let out = dir.path().join(format!("k{threads}.root"));
            let r = correct_file(
                input,
                &out,
                Correction::Method(Method::Dither { seed: 3 }),
                &CorrectOptions {
                    threads,
                    ..CorrectOptions::default()
                },
                &mut |_| {},
            )
            .unwrap();
            assert!(r.verified_values > 10_000, "{}", r.verified_values);
            outputs.push((threads, read(&out)));
        }
        for (threads, bytes) in &outputs[1..] {
            assert!(
                *bytes == outputs[0].1,
                "correct of {} with {threads} threads wrote other bytes than with one",
                input.display()
            );
        }
    }
}
