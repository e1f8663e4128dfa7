//! `oxyroot::rewrite::rewrite_file` on the real files: the output is a drop-in replacement
//! (every object, tree and branch present; untouched baskets byte for byte), the rewritten
//! float branches hold exactly the values the callback wrote, and errors leave no output.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use oxyroot::rewrite::{rewrite_file, RewriteOptions, RewriteReport};
use oxyroot::{Compression, FloatStorage, RootFile};
use refloat::{Quantiser32, RoundingMode};

fn quantising(
    bits: u32,
) -> impl FnMut(&mut oxyroot::rewrite::FloatBasket<'_>) -> Result<(), String> {
    let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
    move |b| {
        q.quantise_slice(b.values);
        Ok(())
    }
}

fn rewrite(stem: &str, out: &Path, bits: u32, compression: Option<&str>) -> RewriteReport {
    let opts = RewriteOptions {
        compression: compression.map(|c| c.parse().unwrap()),
        trees: Some(vec!["CollectionTree".into()]),
        ..Default::default()
    };
    rewrite_file(common::root_file(stem), out, &opts, quantising(bits)).unwrap()
}

/// Name and class of every key, cycles included.
fn keys(path: &Path) -> Vec<(String, String)> {
    let f = RootFile::open(path).unwrap();
    let mut k: Vec<_> = f
        .keys()
        .iter()
        .map(|k| {
            (
                oxyroot::Named::name(k).to_string(),
                k.class_name().to_string(),
            )
        })
        .collect();
    k.sort();
    k
}

/// For every branch (all levels) of every tree name: its decompressed basket payloads.
fn payloads(path: &Path) -> BTreeMap<(String, String), Vec<Vec<u8>>> {
    let mut f = RootFile::open(path).unwrap();
    let names: Vec<String> = f
        .keys()
        .iter()
        .filter(|k| k.class_name() == "TTree")
        .map(|k| oxyroot::Named::name(k).to_string())
        .collect();
    let mut out = BTreeMap::new();
    for tree in names {
        let t = f.get_tree(&tree).unwrap();
        for b in t.branches_r() {
            out.insert(
                (tree.clone(), b.name().to_string()),
                b.basket_payloads().unwrap(),
            );
        }
    }
    out
}

#[test]
fn rewritten_files_are_drop_in_replacements_with_only_the_float_branches_changed() {
    let dir = tempfile::tempdir().unwrap();
    for stem in common::FILES {
        let input = common::root_file(stem);
        let out = dir.path().join(format!("{stem}.q10.root"));
        let report = rewrite(stem, &out, 10, None);
        assert!(
            report.output_bytes < report.input_bytes,
            "{stem}: {report:?}"
        );
        assert_eq!(report.output_bytes, std::fs::metadata(&out).unwrap().len());
        assert_eq!(
            keys(&input),
            keys(&out),
            "{stem}: every object is still there"
        );

        let (pin, pout) = (payloads(&input), payloads(&out));
        assert_eq!(
            pin.keys().collect::<Vec<_>>(),
            pout.keys().collect::<Vec<_>>(),
            "{stem}: same trees and branches"
        );

        let mut fin = RootFile::open(&input).unwrap();
        let tin = fin.get_tree("CollectionTree").unwrap();
        let mut fout = RootFile::open(&out).unwrap();
        let tout = fout.get_tree("CollectionTree").unwrap();
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let (mut rounded, mut untouched) = (0, 0);
        for ((tree, branch), before) in &pin {
            let after = &pout[&(tree.clone(), branch.clone())];
            let b_in = tin.branch(branch).filter(|_| tree == "CollectionTree");
            match b_in.and_then(|b| b.float_storage().map(|s| (b, s))) {
                Some((b, storage)) => {
                    let mut want = b.read_floats().unwrap();
                    q.quantise_slice(&mut want.values);
                    let got = tout.branch(branch).unwrap().read_floats().unwrap();
                    assert_eq!(got.storage, storage);
                    assert_eq!(got.counts, want.counts, "{stem} {branch}");
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got.values),
                        bits(&want.values),
                        "{stem} {branch}: not the rounded input"
                    );
                    assert_eq!(after.len(), before.len(), "{stem} {branch}: same baskets");
                    rounded += 1;
                }
                None => {
                    assert!(
                        before == after,
                        "{stem} {tree}/{branch}: an untouched branch changed"
                    );
                    untouched += 1;
                }
            }
        }
        assert_eq!(report.rewritten_branches.len(), rounded, "{stem}");
        eprintln!("{stem}: {rounded} float branches rounded, {untouched} others byte for byte; {} -> {} bytes", report.input_bytes, report.output_bytes);
        assert!(
            rounded > 300 && untouched > 900,
            "{stem}: {rounded} rounded, {untouched} untouched"
        );
    }
}

#[test]
fn untouched_baskets_are_copied_as_stored_unless_recompression_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let stem = common::HELD_OUT;
    let input = common::root_file(stem);
    let (copy, recompressed) = (dir.path().join("copy.root"), dir.path().join("zstd.root"));
    let none = RewriteOptions {
        branches: Some(vec![]),
        ..Default::default()
    };
    let report = rewrite_file(&input, &copy, &none, |_| Err("must not be called".into())).unwrap();
    assert_eq!(
        (report.baskets_rewritten, report.baskets_recompressed),
        (0, 0)
    );
    let input_setting = RootFile::open(&input).unwrap().compression();
    assert_eq!(
        report.compression.root_setting(),
        input_setting,
        "default: the input's own compression"
    );

    let all = RewriteOptions {
        branches: Some(vec![]),
        compression: Some("zstd:5".parse().unwrap()),
        recompress_untouched: true,
        ..Default::default()
    };
    let report = rewrite_file(&input, &recompressed, &all, |_| {
        Err("must not be called".into())
    })
    .unwrap();
    assert!(report.baskets_recompressed > 1000, "{report:?}");
    assert_eq!(RootFile::open(&recompressed).unwrap().compression(), 505);

    let p_in = payloads(&input);
    assert!(p_in == payloads(&copy), "a copy holds the same data");
    assert!(
        p_in == payloads(&recompressed),
        "recompressed baskets hold the same data"
    );
    let stored = |p: &Path| {
        let mut f = RootFile::open(p).unwrap();
        let t = f.get_tree("CollectionTree").unwrap();
        t.branches_r()
            .iter()
            .map(|b| b.basket_bytes().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        stored(&input),
        stored(&copy),
        "copied baskets keep their stored size"
    );
    assert_ne!(stored(&input), stored(&recompressed));
}

#[test]
fn the_callback_sees_every_basket_with_its_entries_and_branch() {
    let dir = tempfile::tempdir().unwrap();
    let stem = common::DEV;
    let name = "AnalysisElectronsAuxDyn.pt";
    let opts = RewriteOptions {
        branches: Some(vec![name.into()]),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let report = rewrite_file(
        common::root_file(stem),
        dir.path().join("one.root"),
        &opts,
        |b| {
            assert_eq!(
                (b.tree, b.branch, b.storage),
                ("CollectionTree", name, FloatStorage::VectorFloat)
            );
            let counts = b.counts.expect("vector<float> has counts");
            assert_eq!(
                counts.iter().map(|&c| c as usize).sum::<usize>(),
                b.values.len()
            );
            seen.push((b.first_entry, counts.to_vec(), b.values.to_vec()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        report.rewritten_branches,
        [format!("CollectionTree/{name}")]
    );
    let (values, counts) = common::load_flat(stem, name);
    assert_eq!(seen[0].0, 0);
    let got_counts: Vec<i64> = seen
        .iter()
        .flat_map(|s| s.1.iter().map(|&c| c as i64))
        .collect();
    let got_values: Vec<u32> = seen
        .iter()
        .flat_map(|s| s.2.iter().map(|v| v.to_bits()))
        .collect();
    assert_eq!(got_counts, counts);
    assert_eq!(
        got_values,
        values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn bad_requests_are_errors_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::DEV);
    let out = dir.path().join("out.root");
    let run = |opts: &RewriteOptions| {
        rewrite_file(&input, &out, opts, |_| Ok(()))
            .unwrap_err()
            .to_string()
    };

    let e = run(&RewriteOptions {
        branches: Some(vec!["NoSuchBranch".into()]),
        ..Default::default()
    });
    assert!(e.contains("NoSuchBranch"), "{e}");
    let e = run(&RewriteOptions {
        branches: Some(vec!["AnalysisJetsAuxDyn.SumPtTrkPt500".into()]),
        ..Default::default()
    });
    assert!(e.contains("not a float"), "{e}");
    assert!(!out.exists());

    // The callback's error names tree, branch and basket; an existing output is left alone.
    std::fs::write(&out, b"previous").unwrap();
    let e = rewrite_file(&input, &out, &RewriteOptions::default(), |b| {
        if b.branch == "AnalysisMuonsAuxDyn.eta" {
            Err("refused".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("refused")
            && e.contains("AnalysisMuonsAuxDyn.eta")
            && e.contains("CollectionTree"),
        "{e}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    let e = rewrite_file(&input, &input, &RewriteOptions::default(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("onto itself"), "{e}");

    let truncated = dir.path().join("truncated.root");
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = rewrite_file(
        &truncated,
        dir.path().join("t.root"),
        &RewriteOptions::default(),
        |_| Ok(()),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("truncated") || e.contains("end"), "{e}");
}

/// A panic in the callback unwinds out of `rewrite_file` (a caller may catch it, as refloat
/// does): the temporary `.NAME.tmpPID` is removed on the way and an existing output is left
/// as it was.
#[test]
fn a_panicking_callback_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::HELD_OUT);
    let out = dir.path().join("out.root");
    std::fs::write(&out, b"previous").unwrap();
    let mut seen = 0;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rewrite_file(&input, &out, &RewriteOptions::default(), |b| {
            seen += 1;
            if b.branch == "AnalysisElectronsAuxDyn.eta" {
                panic!("callback bug");
            }
            Ok(())
        })
    }));
    assert!(r.is_err(), "the panic propagates");
    assert!(seen > 1, "the rewrite was under way ({seen} baskets)");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.root"], "temporary file left: {names:?}");
}

#[test]
fn rewriting_twice_is_stable_and_compression_choices_all_work() {
    let dir = tempfile::tempdir().unwrap();
    let stem = common::HELD_OUT;
    let mut sizes = Vec::new();
    for spec in ["zlib:5", "lzma:1", "lz4:4", "zstd:5"] {
        let out = dir.path().join(format!("{}.root", spec.replace(':', "_")));
        let r = rewrite(stem, &out, 10, Some(spec));
        assert_eq!(
            RootFile::open(&out).unwrap().compression(),
            spec.parse::<Compression>().unwrap().root_setting()
        );
        sizes.push((spec, r.output_bytes));
        // A second rewrite of the output, at the same bits, changes no value.
        let again = dir.path().join("again.root");
        let opts = RewriteOptions {
            trees: Some(vec!["CollectionTree".into()]),
            ..Default::default()
        };
        rewrite_file(&out, &again, &opts, quantising(10)).unwrap();
        assert!(
            payloads(&out) == payloads(&again),
            "{spec}: quantising is idempotent"
        );
    }
    eprintln!("{stem} at 10 kept bits: {sizes:?}");
}
