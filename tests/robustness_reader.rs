//! The ROOT reader under hostile input: zero-length, truncated (many cut points, with and
//! without the header's end pointer patched to match) and bit-flipped (seeded, many
//! positions) copies of the real files in `../shared/data`, made in a temporary directory.
//!
//! For every copy the reader must return either data or an error that names the file; it must
//! never panic, never hang (each read runs in a thread with a deadline) and never make a
//! huge allocation (a counting global allocator records the largest single request).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use refloat::io;

/// Largest single allocation request seen in the whole test binary, in bytes.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Largest single allocation request on this thread, in bytes.
    static LARGEST_HERE: Cell<usize> = const { Cell::new(0) };
    /// Set while a backtrace is being captured (its own allocations are not inspected).
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// Where the first allocation above the cap on this thread came from.
    static WHERE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn record(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    let _ = LARGEST_HERE.try_with(|l| l.set(l.get().max(size)));
    if size > ALLOCATION_CAP && CAPTURING.try_with(|c| !c.replace(true)).unwrap_or(false) {
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let _ = WHERE.try_with(|w| {
            let mut w = w.borrow_mut();
            if w.is_none() {
                *w = Some(format!("allocation of {size} bytes at\n{bt}"));
            }
        });
        let _ = CAPTURING.try_with(|c| c.set(false));
    }
}

struct Counting;

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        record(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        record(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        record(new);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// No single allocation may exceed this while reading a copy of a ~2 MB file: the largest
/// legitimate buffer is one decompressed basket or one branch's values.
const ALLOCATION_CAP: usize = 256 << 20;
/// A read of one copy must finish within this time.
const DEADLINE: Duration = Duration::from_secs(60);

/// What reading a copy gave.
#[derive(Debug)]
enum Outcome {
    /// Opened, and every float branch read (`values` in total).
    Read { values: usize },
    /// An error: its message.
    Error(String),
}

/// Opens `path`, lists its trees and branches, and reads every float branch; the first error
/// ends it. Errors must name the file.
fn read_everything(path: &Path) -> Outcome {
    let run = || -> refloat::Result<usize> {
        let mut file = io::open(path)?;
        let mut values = 0;
        for name in file.tree_names() {
            let tree = file.tree(&name)?;
            let sel = tree.select(&[])?;
            for b in &sel.floats {
                values += tree.read_float(&b.name)?.values.len();
            }
        }
        Ok(values)
    };
    match run() {
        Ok(values) => Outcome::Read { values },
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// [`read_everything`] in a thread with a deadline; fails the test on a panic or a hang.
fn read_guarded(path: &Path) -> Outcome {
    read_checked(path, false)
}

/// [`read_guarded`], and with `enforce_cap` fails on an allocation above [`ALLOCATION_CAP`].
fn read_checked(path: &Path, enforce_cap: bool) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    let handle = std::thread::spawn(move || {
        let o = read_everything(&p);
        let largest = LARGEST_HERE.with(|l| l.get());
        let at = WHERE.with(|w| w.borrow_mut().take());
        let _ = tx.send((o, largest, at));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok((o, largest, at)) => {
            handle.join().expect("reader thread");
            assert!(
                !enforce_cap || largest <= ALLOCATION_CAP,
                "reading {} made an allocation of {largest} bytes (cap {ALLOCATION_CAP}); outcome {o:?}; {}",
                path.display(),
                at.unwrap_or_default()
            );
            if let Outcome::Error(m) = &o {
                assert!(
                    m.contains(&*path.to_string_lossy()),
                    "error does not name the file {}: {m}",
                    path.display()
                );
            }
            o
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "reading {} did not finish within {DEADLINE:?}",
            path.display()
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let e = handle.join().expect_err("thread ended without a result");
            panic!(
                "reading {} panicked: {:?}",
                path.display(),
                e.downcast_ref::<String>()
                    .cloned()
                    .or(e.downcast_ref::<&str>().map(|s| s.to_string()))
            )
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write a corrupt copy");
    p
}

/// Sets the `TFile` header's end pointer (`fEND`) to `end`, so that a truncated file gets
/// past the reader's size check and into oxyroot.
fn patch_end(bytes: &mut [u8], end: u64) {
    let version = i32::from_be_bytes(bytes[4..8].try_into().unwrap());
    if version > 1_000_000 {
        bytes[12..20].copy_from_slice(&end.to_be_bytes());
    } else {
        bytes[12..16].copy_from_slice(&(end as i32).to_be_bytes());
    }
}

/// Summary line for the log: outcomes and the distinct error kinds (oxyroot panics included).
fn summarise(what: &str, outcomes: &[(String, Outcome)]) {
    let ok = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Read { .. }))
        .count();
    let panics: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Error(m) if m.contains("oxyroot panicked") => Some(m),
            _ => None,
        })
        .collect();
    eprintln!(
        "{what}: {} copies, {ok} read, {} errors ({} of them oxyroot panics turned into errors); largest allocation so far {} bytes",
        outcomes.len(),
        outcomes.len() - ok,
        panics.len(),
        LARGEST.load(Ordering::Relaxed)
    );
    let mut kinds: Vec<String> = panics
        .iter()
        .map(|m| {
            m.rsplit_once("oxyroot panicked")
                .map(|x| x.1.to_string())
                .unwrap_or_default()
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    for k in kinds.iter().take(20) {
        eprintln!("  oxyroot panic: {k}");
    }
}

#[test]
fn zero_length_and_non_root_files_are_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.root", b"");
    match read_guarded(&empty) {
        Outcome::Error(m) => assert!(m.contains("not a ROOT file"), "{m}"),
        o => panic!("empty file read as {o:?}"),
    }
    let text = write(dir.path(), "text.root", b"this is not a ROOT file\n");
    match read_guarded(&text) {
        Outcome::Error(m) => assert!(m.contains("not a ROOT file"), "{m}"),
        o => panic!("text file read as {o:?}"),
    }
    let sig = write(dir.path(), "sig.root", b"root");
    match read_guarded(&sig) {
        Outcome::Error(m) => assert!(m.contains("truncated"), "{m}"),
        o => panic!("bare signature read as {o:?}"),
    }
    let missing = dir.path().join("missing.root");
    match read_guarded(&missing) {
        Outcome::Error(m) => assert!(m.contains("missing.root"), "{m}"),
        o => panic!("missing file read as {o:?}"),
    }
}

#[test]
fn truncated_copies_are_errors_never_panics_or_hangs() {
    let dir = tempfile::tempdir().unwrap();
    for stem in common::FILES {
        let bytes = std::fs::read(common::root_file(stem)).unwrap();
        let n = bytes.len();
        // Cut points: the first bytes, evenly spaced ones, and many near the end (where ROOT
        // keeps the directory, the key list and the streamer infos).
        let mut cuts: Vec<usize> = vec![1, 3, 4, 8, 15, 16, 20, 63, 64, 100, 255, 256, 1000];
        cuts.extend((1..24).map(|k| n * k / 24));
        cuts.extend((1..=40).map(|k| n - k * 997));
        cuts.extend([n - 1, n - 2, n - 8, n - 64]);
        cuts.sort();
        cuts.dedup();
        let mut outcomes = Vec::new();
        let full = read_guarded(&common::root_file(stem));
        for &cut in &cuts {
            let p = write(dir.path(), &format!("{stem}.cut{cut}.root"), &bytes[..cut]);
            let o = read_guarded(&p);
            match &o {
                Outcome::Error(m) => assert!(
                    m.contains("truncated") || m.contains("not a ROOT file"),
                    "cut at {cut}: {m}"
                ),
                Outcome::Read { .. } => {
                    panic!("{stem} cut at {cut} of {n} bytes was read without an error")
                }
            }
            outcomes.push((format!("cut{cut}"), o));
            // The same cut with the header patched to agree: now oxyroot meets the damage.
            if cut >= 64 {
                let mut patched = bytes[..cut].to_vec();
                patch_end(&mut patched, cut as u64);
                let p = write(
                    dir.path(),
                    &format!("{stem}.cut{cut}.patched.root"),
                    &patched,
                );
                let o = read_guarded(&p);
                if let Outcome::Read { values } = &o {
                    let values = *values;
                    // Only possible if the cut removed nothing the reader needs; then the
                    // values must be those of the whole file.
                    assert!(
                        matches!(full, Outcome::Read { values: v } if v == values),
                        "{stem} patched cut at {cut}: partial data returned as complete"
                    );
                }
                outcomes.push((format!("cut{cut}p"), o));
                let _ = std::fs::remove_file(&p);
            }
            let _ = std::fs::remove_file(&p);
        }
        summarise(&format!("{stem} truncated"), &outcomes);
    }
}

#[test]
fn bit_flipped_copies_read_or_fail_cleanly() {
    bit_flips(false);
}

/// No read of a damaged file allocates without bound: lengths read from the file are checked
/// against the file size (`RootFileReader::read_at`), against a maximum compression ratio
/// (`Key::load`) and against the bytes left in the record (`TBranch` `fMaxBaskets`) before
/// anything is allocated (third_party/oxyroot, see its REFLOAT_CHANGES.md).
#[test]
fn bit_flipped_copies_never_allocate_without_bound() {
    bit_flips(true);
}

fn bit_flips(enforce_cap: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_0006);
    for stem in common::FILES {
        let bytes = std::fs::read(common::root_file(stem)).unwrap();
        let n = bytes.len();
        let mut outcomes = Vec::new();
        // Flips in the header and the tail (directory, keys, streamers), and anywhere.
        for k in 0..60 {
            let mut copy = bytes.clone();
            let flips = 1 + k % 4;
            for _ in 0..flips {
                let pos = match k % 3 {
                    0 => rng.gen_range(0..512.min(n)),
                    1 => rng.gen_range(n.saturating_sub(64 << 10)..n),
                    _ => rng.gen_range(0..n),
                };
                copy[pos] ^= 1 << rng.gen_range(0..8);
            }
            let p = write(dir.path(), &format!("{stem}.flip{k}.root"), &copy);
            outcomes.push((format!("flip{k}"), read_checked(&p, enforce_cap)));
            let _ = std::fs::remove_file(&p);
        }
        summarise(&format!("{stem} bit-flipped"), &outcomes);
    }
}
