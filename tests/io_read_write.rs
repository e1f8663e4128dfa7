//! ROOT reading and writing on the real PHYSLITE files: values bit for bit against the flat
//! copies (extracted with uproot), selection, chunked reading, round trips, atomic writes,
//! and bad files giving errors (never panics).

mod common;

use refloat::io::{self, BranchKind, BranchPattern, FloatBranch, FloatLayout, TreeWriter};
use refloat::Error;

const TREE: &str = "CollectionTree";

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every float branch of the flat copies, read from the ROOT file by refloat: the same
/// values bit for bit and the same per-event counts.
#[test]
fn reads_every_flat_copy_branch_bit_for_bit() {
    for stem in common::FILES {
        let mut f = io::open(common::root_file(stem)).unwrap();
        let t = f.tree(TREE).unwrap();
        let names = common::flat_branches(stem);
        assert!(names.len() > 50, "{stem}: {} flat branches", names.len());
        for name in &names {
            let (values, counts) = common::load_flat(stem, name);
            let b = t.read_float(name).unwrap_or_else(|e| panic!("{stem}: {e}"));
            assert_eq!(b.layout(), FloatLayout::Jagged, "{name}");
            assert_eq!(b.entries() as u64, t.entries());
            assert_eq!(bits(&b.values), bits(&values), "{stem}:{name} values");
            let c: Vec<i64> = b.counts().iter().map(|&c| c as i64).collect();
            assert_eq!(c, counts, "{stem}:{name} counts");
        }
    }
}

/// Branch listing agrees with what the data README says about the two files.
#[test]
fn lists_float_branches_of_both_files() {
    // (file, entries, jagged std::vector<float>, flat float) from shared/data/README.md
    for (stem, entries, jagged, flat) in [
        (common::DEV, 40, 283, 254),
        (common::HELD_OUT, 100, 331, 19),
    ] {
        let mut f = io::open(common::root_file(stem)).unwrap();
        assert!(f.tree_names().contains(&TREE.to_string()));
        let t = f.tree(TREE).unwrap();
        assert_eq!(t.entries(), entries);
        let sel = t.select(&[]).unwrap();
        let n_jagged = sel
            .floats
            .iter()
            .filter(|b| b.kind == BranchKind::Float(FloatLayout::Jagged))
            .count();
        let n_flat = sel
            .floats
            .iter()
            .filter(|b| b.kind == BranchKind::Float(FloatLayout::Flat))
            .count();
        assert_eq!((n_jagged, n_flat), (jagged, flat), "{stem}");
        // Nested vectors are skipped with a reason, not silently.
        let nested = sel
            .skipped
            .iter()
            .find(|s| s.name == "AnalysisJetsAuxDyn.SumPtTrkPt500")
            .expect("listed as skipped");
        assert!(nested.reason.contains("nested"), "{}", nested.reason);
        // Every float branch reads, with the tree's entry count.
        for info in &sel.floats {
            let b = t.read_float(&info.name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(b.entries() as u64, entries, "{}", info.name);
        }
    }
}

#[test]
fn selection_by_glob_and_exact_name() {
    let mut f = io::open(common::root_file(common::DEV)).unwrap();
    let t = f.tree(TREE).unwrap();
    let sel = t
        .select(&[BranchPattern::parse("AnalysisElectronsAuxDyn.*").unwrap()])
        .unwrap();
    assert!(sel
        .floats
        .iter()
        .all(|b| b.name.starts_with("AnalysisElectronsAuxDyn.")));
    assert!(sel
        .floats
        .iter()
        .any(|b| b.name == "AnalysisElectronsAuxDyn.pt"));
    assert!(
        !sel.skipped.is_empty(),
        "non-float electron branches are reported"
    );
    assert!(sel
        .skipped
        .iter()
        .all(|s| s.name.starts_with("AnalysisElectronsAuxDyn.") && !s.reason.is_empty()));
    let flat_names: Vec<String> = common::flat_branches(common::DEV)
        .into_iter()
        .filter(|n| n.starts_with("AnalysisElectronsAuxDyn."))
        .collect();
    for n in &flat_names {
        assert!(sel.floats.iter().any(|b| &b.name == n), "{n} not selected");
    }

    let exact = t
        .select(&[BranchPattern::parse("AnalysisJetsAuxDyn.pt").unwrap()])
        .unwrap();
    assert_eq!(exact.floats.len(), 1);

    let e = t
        .select(&[BranchPattern::parse("AnalysisJetsAuxDyn.nope").unwrap()])
        .unwrap_err();
    assert!(matches!(e, Error::MissingBranch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("CollectionTree")
            && msg.contains("AnalysisJetsAuxDyn.nope")
            && msg.contains(common::DEV),
        "{msg}"
    );

    let e = t
        .select(&[BranchPattern::parse("AnalysisJetsAuxDyn.SumPtTrkPt500").unwrap()])
        .unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    let e = t
        .select(&[BranchPattern::parse("NoSuchContainer*").unwrap()])
        .unwrap_err();
    assert!(e.to_string().contains("matches no branch"), "{e}");
    assert!(t.read_float("AnalysisJetsAuxDyn.SumPtTrkPt500").is_err());
}

#[test]
fn chunked_reading_equals_whole_reading() {
    let mut f = io::open(common::root_file(common::HELD_OUT)).unwrap();
    let t = f.tree(TREE).unwrap();
    for name in [
        "AnalysisJetsAuxDyn.pt",
        "EventInfoAuxDyn.actualInteractionsPerCrossing",
        "AnalysisPhotonsAuxDyn.eta",
    ] {
        let whole = t.read_float(name).unwrap();
        for per in [1, 7, 100, 1000] {
            let mut values = Vec::new();
            let mut counts = Vec::new();
            let mut next = 0u64;
            for chunk in t.read_float_chunks(name, per).unwrap() {
                let chunk = chunk.unwrap();
                assert_eq!(chunk.first_entry, next);
                assert!(chunk.branch.entries() <= per);
                next += chunk.branch.entries() as u64;
                values.extend_from_slice(&chunk.branch.values);
                counts.extend(chunk.branch.counts());
            }
            assert_eq!(next, t.entries());
            assert_eq!(bits(&values), bits(&whole.values), "{name} per {per}");
            assert_eq!(counts, whole.counts());
        }
    }
}

/// One pass over the baskets gives the whole reading (values and entry structure) and the
/// baskets' value counts: every float branch of both PHYSLITE files (`std::vector<float>`
/// and `float`) and of the CMS NanoAOD file (`float` and `float[n]` C arrays).
#[test]
fn reading_with_basket_counts_equals_whole_reading() {
    let nano = common::data_dir().join("nano_dy.root");
    let files = [
        (common::root_file(common::DEV), TREE),
        (common::root_file(common::HELD_OUT), TREE),
        (nano, "Events"),
    ];
    for (path, tree) in files {
        let mut f = io::open(&path).unwrap();
        let t = f.tree(tree).unwrap();
        let sel = t.select(&[]).unwrap();
        let mut jagged = 0;
        for info in &sel.floats {
            let name = &info.name;
            let whole = t.read_float(name).unwrap();
            let (b, blocks) = t.read_float_baskets(name).unwrap();
            assert_eq!(bits(&b.values), bits(&whole.values), "{name}");
            assert_eq!(b.offsets, whole.offsets, "{name}");
            let mut per_basket = Vec::new();
            t.for_each_float_values(name, |v| per_basket.push(v.len()))
                .unwrap();
            assert_eq!(blocks, per_basket, "{name}");
            jagged += whole.offsets.is_some() as usize;
        }
        assert!(jagged > 50, "{}: {jagged} jagged branches", path.display());
    }
}

/// Real branches (flat and jagged, from both writers' files) plus special values survive a
/// write and a read back bit for bit, structure included.
#[test]
fn write_then_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("roundtrip.root");
    let mut f = io::open(common::root_file(common::HELD_OUT)).unwrap();
    let t = f.tree(TREE).unwrap();
    let sel = t
        .select(&[
            BranchPattern::parse("Analysis*AuxDyn.*").unwrap(),
            BranchPattern::parse("EventInfoAuxDyn.*").unwrap(),
        ])
        .unwrap();
    let originals: Vec<FloatBranch> = sel
        .floats
        .iter()
        .map(|b| t.read_float(&b.name).unwrap())
        .collect();
    assert!(originals.iter().any(|b| b.layout() == FloatLayout::Flat));
    let n = t.entries() as usize;
    let special = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE / 3.0,
        f32::MAX,
        -1.0,
    ];
    let flat_special = FloatBranch::flat(
        "Synthetic.special",
        (0..n).map(|i| special[i % special.len()]).collect(),
    );
    let counts: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let jag_values: Vec<f32> = (0..counts.iter().sum::<usize>())
        .map(|i| special[i % special.len()] * 0.5)
        .collect();
    let jag_special = FloatBranch::from_counts("Synthetic.jagged", jag_values, &counts).unwrap();

    let mut w = TreeWriter::new(&out, TREE);
    for b in originals.iter().chain([&flat_special, &jag_special]) {
        w.add(b.clone()).unwrap();
    }
    let written = w.write().unwrap();
    assert_eq!(written.entries, n);
    assert_eq!(written.branches, originals.len() + 2);

    let mut back = io::open(&out).unwrap();
    let bt = back.tree(TREE).unwrap();
    assert_eq!(bt.entries(), n as u64);
    for b in originals.iter().chain([&flat_special, &jag_special]) {
        let r = bt.read_float(&b.name).unwrap();
        assert_eq!(r.layout(), b.layout(), "{}", b.name);
        assert_eq!(r.offsets, b.offsets, "{}", b.name);
        assert_eq!(bits(&r.values), bits(&b.values), "{}", b.name);
    }
    // No temporary files are left beside the output.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["roundtrip.root".to_string()]);
}

#[test]
fn writer_rejects_inconsistent_branches_and_failed_writes_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.root");
    let mut w = TreeWriter::new(&out, TREE);
    w.add(FloatBranch::flat("a", vec![1.0, 2.0])).unwrap();
    assert!(matches!(
        w.add(FloatBranch::flat("b", vec![1.0])),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(
        w.add(FloatBranch::flat("a", vec![1.0, 2.0])).is_err(),
        "duplicate name"
    );
    assert!(FloatBranch::jagged("j", vec![1.0], vec![0, 2]).is_err());
    assert!(FloatBranch::jagged("j", vec![1.0], vec![1, 1]).is_err());
    assert!(
        TreeWriter::new(&out, TREE).write().is_err(),
        "nothing to write"
    );

    // Target directory missing: an error naming it, nothing created.
    let missing = dir.path().join("no/such/dir/out.root");
    let mut w = TreeWriter::new(&missing, TREE);
    w.add(FloatBranch::flat("a", vec![1.0])).unwrap();
    let e = w.write().unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");

    // The final rename fails (the target is a non-empty directory): the completely written
    // temporary file is removed and the target is untouched.
    let target = dir.path().join("taken.root");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let mut w = TreeWriter::new(&target, TREE);
    w.add(FloatBranch::flat("a", vec![1.0, 2.0])).unwrap();
    assert!(w.write().is_err());
    assert!(target.join("keep").exists());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["taken.root".to_string()],
        "temporary file left behind"
    );
}

fn copy_prefix(src: &std::path::Path, dst: &std::path::Path, len: usize) {
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(dst, &bytes[..len.min(bytes.len())]).unwrap();
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = common::root_file(common::DEV);

    let e = io::open(dir.path().join("missing.root")).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("missing.root"),
        "{e}"
    );

    let text = dir.path().join("text.root");
    std::fs::write(&text, "this is not a ROOT file\n").unwrap();
    let e = io::open(&text).unwrap_err();
    assert!(
        e.to_string().contains("not a ROOT file") && e.to_string().contains("text.root"),
        "{e}"
    );

    let empty = dir.path().join("empty.root");
    std::fs::write(&empty, b"").unwrap();
    assert!(io::open(&empty)
        .unwrap_err()
        .to_string()
        .contains("not a ROOT file"));

    for len in [
        10,
        100,
        5000,
        1_000_000,
        std::fs::metadata(&real).unwrap().len() as usize - 1,
    ] {
        let cut = dir.path().join(format!("cut{len}.root"));
        copy_prefix(&real, &cut, len);
        let e = io::open(&cut).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{len}: {e}");
        assert!(e.to_string().contains(&format!("cut{len}.root")), "{e}");
    }

    let mut f = io::open(&real).unwrap();
    let e = f.tree("NoSuchTree").unwrap_err();
    assert!(matches!(e, Error::MissingTree { .. }), "{e}");
    assert!(
        e.to_string().contains("NoSuchTree") && e.to_string().contains(common::DEV),
        "{e}"
    );
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The compressed payload of a branch's baskets damaged (file size intact): reading that
/// branch is an error naming the file, tree and branch, never a panic; the other branches
/// still read.
#[test]
fn corrupt_baskets_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let real = common::root_file(common::DEV);
    let bytes = std::fs::read(&real).unwrap();
    let target = "AnalysisJetsAuxDyn.pt";
    // A basket's key holds the class 'TBasket', the branch name and the tree name in clear,
    // followed by the zlib-compressed payload.
    let mut key = Vec::new();
    key.push(target.len() as u8);
    key.extend_from_slice(target.as_bytes());
    key.push(TREE.len() as u8);
    key.extend_from_slice(TREE.as_bytes());
    let hits = find_all(&bytes, &key);
    assert!(!hits.is_empty(), "no basket key of {target} found");
    let mut damaged = bytes.clone();
    for h in &hits {
        let payload = h + key.len();
        for b in &mut damaged[payload + 16..payload + 80] {
            *b ^= 0x5A;
        }
    }
    let path = dir.path().join("damaged.root");
    std::fs::write(&path, &damaged).unwrap();
    let result = std::panic::catch_unwind(|| {
        let mut f = io::open(&path).unwrap();
        let t = f.tree(TREE).unwrap();
        let e = t
            .read_float(target)
            .expect_err("damaged baskets must not read");
        let m = e.to_string();
        assert!(
            m.contains("damaged.root") && m.contains(TREE) && m.contains(target),
            "{m}"
        );
        assert_eq!(
            t.read_float("AnalysisElectronsAuxDyn.pt")
                .unwrap()
                .values
                .len(),
            13
        );
        m
    });
    let m = result.expect("no panic may escape refloat::io");
    assert!(!m.contains('\n'), "one line: {m}");
}

fn dir_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Commit after check: a real file rewritten into a [`io::PendingOutput`] is checked there;
/// when the check fails the pending file is dropped, leaving no output and an existing
/// target as it was; when it passes, the commit puts exactly the checked file in place.
#[test]
fn pending_output_is_committed_only_after_its_check() {
    use refloat::io::rewrite::{rewrite_floats, RewriteOptions};
    use refloat::io::PendingOutput;
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::DEV);
    let target = dir.path().join("out.root");
    std::fs::write(&target, b"previous").unwrap();
    let q = refloat::Quantiser32::new(10, refloat::RoundingMode::Nearest).unwrap();
    let opts = RewriteOptions {
        tree: TREE.into(),
        branches: vec!["AnalysisJetsAuxDyn.pt".into()],
        compression: None,
        verify_written: false,
        copies: Default::default(),
        threads: 0,
    };
    let write = |pending: &PendingOutput| {
        rewrite_floats(&input, pending.path(), &opts, |b| {
            q.quantise_slice(b.values);
            Ok(())
        })
        .unwrap()
    };
    // A check that reads the written file and finds it wrong (it expects 7 bits).
    let check = |path: &std::path::Path, bits: u32| -> Result<(), String> {
        let mut f = io::open(path).map_err(|e| e.to_string())?;
        let v = f
            .tree(TREE)
            .and_then(|t| t.read_float("AnalysisJetsAuxDyn.pt"))
            .map_err(|e| e.to_string())?;
        match refloat::quantise::infer_mantissa_bits_f32(&v.values) {
            Ok(n) if n <= bits => Ok(()),
            other => Err(format!("{other:?} bits, expected at most {bits}")),
        }
    };

    let pending = PendingOutput::beside(&target).unwrap();
    assert_eq!(pending.path().parent(), target.parent(), "written beside");
    write(&pending);
    let e = check(pending.path(), 7).unwrap_err();
    assert!(e.contains("10"), "{e}");
    drop(pending);
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(
        dir_names(dir.path()),
        ["out.root"],
        "no temporary file left"
    );

    // A panic between writing and committing (a bug in a check) removes the file as well.
    let r = std::panic::catch_unwind(|| {
        let pending = PendingOutput::beside(&target).unwrap();
        write(&pending);
        panic!("check crashed");
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(dir_names(dir.path()), ["out.root"]);

    let pending = PendingOutput::beside(&target).unwrap();
    let written = write(&pending);
    check(pending.path(), 10).unwrap();
    let checked = std::fs::read(pending.path()).unwrap();
    assert_eq!(pending.commit().unwrap(), target);
    assert_eq!(std::fs::read(&target).unwrap(), checked);
    assert_eq!(written.output_bytes, checked.len() as u64);
    assert_eq!(dir_names(dir.path()), ["out.root"]);
}

/// A panic inside the transform of `rewrite_floats` becomes an error naming the file, and
/// leaves neither an output nor oxyroot's temporary `.NAME.tmpPID` beside it.
#[test]
fn panic_in_the_rewrite_callback_is_an_error_and_leaves_no_file() {
    use refloat::io::rewrite::{rewrite_floats, RewriteOptions};
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::DEV);
    let out = dir.path().join("out.root");
    let opts = RewriteOptions {
        tree: TREE.into(),
        branches: vec![
            "AnalysisJetsAuxDyn.pt".into(),
            "AnalysisJetsAuxDyn.eta".into(),
        ],
        compression: None,
        verify_written: false,
        copies: Default::default(),
        threads: 0,
    };
    let mut baskets = 0;
    let e = rewrite_floats(&input, &out, &opts, |b| {
        baskets += 1;
        if b.branch == "AnalysisJetsAuxDyn.eta" {
            panic!("callback bug");
        }
        Ok(())
    })
    .unwrap_err();
    assert!(baskets >= 2, "the rewrite was under way: {baskets} baskets");
    let text = e.to_string();
    assert!(
        text.contains("callback bug") && text.contains(&*input.to_string_lossy()),
        "{text}"
    );
    assert_eq!(dir_names(dir.path()), Vec::<String>::new(), "nothing left");
}
