//! Core checks on a tiny real-data fixture committed to the repository, so that they run on a
//! fresh clone without `../shared/data`.
//!
//! `tests/fixtures/tiny_physlite.root` holds the first 20 entries of the development ATLAS
//! PHYSLITE file (full-precision floats), written by uproot (`tests/fixtures/make_tiny.py`
//! makes it and `tiny_physlite.expect.json`, which lists per branch the number of values, the
//! per-entry counts of jagged branches and the first 10 values as float32 bit patterns):
//! jagged `AnalysisJetsAuxDyn.pt` / `.eta` (uproot's `float[]` with counter branches
//! `nAnalysisJetsAuxDyn.*`) and flat `float` `EventInfoAuxDyn.GenFiltHT`,
//! `EventInfoAuxDyn.TruthIsoCentralEventShape_rho`. The rest of the suite needs the full data
//! in `../shared/data` (or `REFLOAT_DATA_DIR`) and says so when it is missing.

use std::path::PathBuf;

use refloat::correct::{correct_in_place_f32, verify_requantises_f32, Method};
use refloat::io::{self, FloatBranch};
use refloat::quantise::infer_mantissa_bits_f32;
use refloat::{Quantiser32, RoundingMode};

const TREE: &str = "CollectionTree";
const BITS: u32 = 10;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expect() -> serde_json::Value {
    let path = fixture("tiny_physlite.expect.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/fixtures/make_tiny.py)", path.display()));
    serde_json::from_str(&text).expect("parse tiny_physlite.expect.json")
}

/// Names of the branches the JSON lists, in its order.
fn expected_names(exp: &serde_json::Value) -> Vec<String> {
    exp["branches"]
        .as_object()
        .expect("branches object")
        .keys()
        .cloned()
        .collect()
}

/// Every branch the JSON lists, read by refloat.
fn read_all() -> Vec<FloatBranch> {
    let exp = expect();
    let mut f = io::open(fixture("tiny_physlite.root")).expect("open tiny_physlite.root");
    let t = f.tree(TREE).expect("tree CollectionTree");
    expected_names(&exp)
        .iter()
        .map(|n| {
            t.read_float(n)
                .unwrap_or_else(|e| panic!("read_float({n}): {e}"))
        })
        .collect()
}

#[test]
fn fixture_values_match_expected_bits() {
    let exp = expect();
    let n_entries = exp["entries"].as_u64().unwrap();
    let mut f = io::open(fixture("tiny_physlite.root")).expect("open tiny_physlite.root");
    let t = f.tree(TREE).expect("tree CollectionTree");
    assert_eq!(t.entries(), n_entries);

    let sel = t.select(&io::parse_patterns::<&str>(&[]).unwrap()).unwrap();
    let selected: Vec<&str> = sel.floats.iter().map(|b| b.name.as_str()).collect();
    let names = expected_names(&exp);
    assert_eq!(names.len(), 4, "two jagged + two flat branches in the JSON");
    for name in &names {
        assert!(
            selected.contains(&name.as_str()),
            "{name} not among the selected float branches {selected:?} (skipped: {:?})",
            sel.skipped
        );
    }
    // the int32 counters uproot adds are not float branches
    assert!(!selected.iter().any(|n| n.starts_with('n')), "{selected:?}");

    for name in &names {
        let e = &exp["branches"][name.as_str()];
        let b = t.read_float(name).unwrap();
        assert_eq!(b.name, *name);
        assert_eq!(
            b.values.len() as u64,
            e["count"].as_u64().unwrap(),
            "{name}: value count"
        );
        let want: Vec<u32> = e["first_bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| u32::try_from(x.as_u64().unwrap()).unwrap())
            .collect();
        assert_eq!(want.len(), 10, "{name}");
        let got: Vec<u32> = b.values[..want.len()].iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, want, "{name}: first values, bit for bit");
        match e["kind"].as_str().unwrap() {
            "jagged" => {
                let offsets = b
                    .offsets
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: flat?"));
                assert_eq!(offsets.len() as u64, n_entries + 1, "{name}");
                let counts: Vec<u64> = offsets.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
                let want_counts: Vec<u64> = e["counts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect();
                assert_eq!(counts, want_counts, "{name}: per-entry counts");
            }
            "flat" => {
                assert!(b.offsets.is_none(), "{name}: should be flat");
                assert_eq!(b.values.len() as u64, n_entries, "{name}");
            }
            k => panic!("{name}: unknown kind {k}"),
        }
    }
    // the jet pt values are physical: positive, finite, in MeV
    let pt = t.read_float("AnalysisJetsAuxDyn.pt").unwrap();
    assert!(pt.values.iter().all(|&x| x.is_finite() && x > 1000.0));
}

#[test]
fn quantised_fixture_infers_bits_and_intervals_contain_originals() {
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    for b in read_all() {
        let original = &b.values;
        // full-precision originals use more than BITS mantissa bits
        assert!(
            infer_mantissa_bits_f32(original).unwrap() > BITS,
            "{}: originals look already rounded",
            b.name
        );
        let mut stored = original.clone();
        q.quantise_slice(&mut stored);
        for (s, o) in stored.iter().zip(original) {
            assert_eq!(s.to_bits(), q.quantise(*o).to_bits(), "{}", b.name);
        }
        assert_ne!(&stored, original, "{}: quantising changed nothing", b.name);
        assert!(
            infer_mantissa_bits_f32(&stored).unwrap() <= BITS,
            "{}: inferred more than {BITS} bits after quantising",
            b.name
        );
        let mut lo = vec![0f32; stored.len()];
        let mut hi = vec![0f32; stored.len()];
        refloat::bounds::intervals_f32(&stored, BITS, RoundingMode::Nearest, &mut lo, &mut hi)
            .unwrap();
        for i in 0..stored.len() {
            let o = original[i];
            assert!(
                lo[i] <= o && o <= hi[i],
                "{}[{i}]: original {o:e} outside [{:e}, {:e}] of stored {:e}",
                b.name,
                lo[i],
                hi[i],
                stored[i]
            );
            assert!(lo[i] <= stored[i] && stored[i] <= hi[i], "{}[{i}]", b.name);
            // the interval is tight: at most one quantisation step wide
            if stored[i] == 0.0 {
                continue;
            }
            let step = (stored[i].abs() as f64) * 2f64.powi(-(BITS as i32)) * 2.0;
            assert!(
                ((hi[i] - lo[i]) as f64) <= step,
                "{}[{i}]: interval [{:e}, {:e}] wider than a step",
                b.name,
                lo[i],
                hi[i]
            );
        }
    }
}

#[test]
fn midpoint_correction_requantises_to_stored() {
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    for b in read_all() {
        let mut stored = b.values.clone();
        q.quantise_slice(&mut stored);
        let mut corrected = stored.clone();
        correct_in_place_f32(&mut corrected, &q, Method::Midpoint).unwrap();
        verify_requantises_f32(&corrected, &stored, &q)
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        for (i, (c, s)) in corrected.iter().zip(&stored).enumerate() {
            assert_eq!(q.quantise(*c).to_bits(), s.to_bits(), "{}[{i}]", b.name);
        }
        // the check is not vacuous: a value moved out of its interval is caught
        let mut broken = corrected.clone();
        broken[0] = stored[0] * (1.0 + 4.0 * 2f32.powi(-(BITS as i32)));
        assert!(
            verify_requantises_f32(&broken, &stored, &q).is_err(),
            "{}: verifier missed a value outside its interval",
            b.name
        );
    }
}
