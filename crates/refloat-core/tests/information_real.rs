//! The information measurements of `refloat_core::information` on the development file
//! (`DAOD_PHYSLITE_21.2.108.0.art.pool.root` in `../shared/data`, or `$REFLOAT_DATA_DIR`):
//! jets at 7 kept bits, round to nearest, and the event-info control.

use std::path::PathBuf;

use refloat_core::information::{
    bitwise_information, dropped_bit_predictability, Ceiling, CeilingOptions, Neighbour,
    F32_SIGN_EXPONENT_BITS,
};
use refloat_core::io::{self, BranchPattern, FloatBranch};
use refloat_core::{Quantiser32, RoundingMode};

/// The development file, as the workspace's tests find it (`tests/common`).
fn development_file() -> PathBuf {
    let dir = match std::env::var_os("REFLOAT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    let p = dir.join("DAOD_PHYSLITE_21.2.108.0.art.pool.root");
    assert!(
        p.exists(),
        "real data file {} is missing (set REFLOAT_DATA_DIR?)",
        p.display()
    );
    p
}

fn read(pattern: &str) -> Vec<FloatBranch> {
    let tree = io::open(development_file())
        .unwrap()
        .tree("CollectionTree")
        .unwrap();
    let sel = tree
        .select(&[BranchPattern::parse(pattern).unwrap()])
        .unwrap();
    sel.floats
        .iter()
        .map(|b| tree.read_float(&b.name).unwrap())
        .filter(|b| !b.values.is_empty())
        .collect()
}

#[test]
fn jets_dropped_bits_at_7_nearest_are_little_predictable() {
    let jets = read("AnalysisJetsAuxDyn.*");
    assert!(jets.len() > 10, "{} jet branches", jets.len());
    let pt = jets
        .iter()
        .find(|b| b.name == "AnalysisJetsAuxDyn.pt")
        .expect("jet pt");
    let eta = jets
        .iter()
        .find(|b| b.name == "AnalysisJetsAuxDyn.eta")
        .expect("jet eta");
    let quantiser = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
    let options = CeilingOptions::default();
    let mut pooled = Ceiling::empty(options.sub_bins);
    let mut kinematics = Ceiling::empty(options.sub_bins);
    let mut jvt = None;
    for b in &jets {
        let other = if b.name == pt.name { eta } else { pt };
        let other = (other.offsets == b.offsets).then_some(other.values.as_slice());
        let c = dropped_bit_predictability(
            &b.values,
            b.offsets.as_deref(),
            other,
            &quantiser,
            &options,
        )
        .unwrap();
        pooled.merge(&c).unwrap();
        let variable = b.name.trim_start_matches("AnalysisJetsAuxDyn.");
        if ["pt", "eta", "phi", "m"].contains(&variable) {
            kinematics.merge(&c).unwrap();
        }
        if variable == "Jvt" {
            jvt = Some(c);
        }
    }
    let gain = pooled.classifier_gain;
    eprintln!(
        "jets, 7 bits nearest: {} values, {} exact, deficit {:.4}, marginal gain {:.4} ± {:.4}, \
         classifier gain {:.4} ± {:.4} bits/value",
        pooled.values,
        pooled.exact,
        pooled.entropy_deficit(),
        pooled.marginal_gain.mean(),
        pooled.marginal_gain.se(),
        gain.mean(),
        gain.se()
    );
    assert!(pooled.values > 5_000, "{} values", pooled.values);
    assert!(
        pooled.exact > 0,
        "jets have exact values (zeros, sentinels)"
    );
    assert!(
        gain.se().is_finite() && gain.se() < 0.01,
        "SE {} bits",
        gain.se()
    );
    // What the table's features can predict is small: below 0.02 bits per value for the
    // group as a whole.
    assert!(
        gain.upper_limit(2.0) < 0.02,
        "gain {} ± {}",
        gain.mean(),
        gain.se()
    );
    // The kinematics (pt, eta, phi, m): nothing measurable, and the leave-one-out smoothing
    // keeps the cost of useless features small.
    let k = kinematics.classifier_gain;
    assert!(
        !k.is_significant(2.0),
        "kinematics gain {} ± {}",
        k.mean(),
        k.se()
    );
    assert!(k.mean() > -0.02, "kinematics overfitting cost {}", k.mean());
    // Jvt (a likelihood piled up near 1): its density inside the intervals is steep, which
    // both the marginal and the magnitude cells see.
    let jvt = jvt.expect("AnalysisJetsAuxDyn.Jvt");
    assert!(jvt.classifier_gain.is_significant(2.0) && jvt.classifier_gain.mean() > 0.05);
    assert!(jvt.marginal_gain.is_significant(2.0));
    // The marginal is close to uniform at 7 bits: the density slope inside one interval.
    assert!(
        pooled.entropy_deficit() < 0.05,
        "{}",
        pooled.entropy_deficit()
    );
}

#[test]
fn bitwise_information_of_jets_and_the_event_control() {
    let jets = read("AnalysisJetsAuxDyn.pt");
    let pt = &jets[0];
    let info =
        bitwise_information(&pt.values, pt.offsets.as_deref(), Neighbour::NextObject).unwrap();
    // pt-ordered jets: the next jet's exponent follows this one's.
    assert!(info.sign_exponent() > 0.0, "{:?}", info.bits);
    assert!(info.kept_mantissa_bits_for(0.99).unwrap() < 23);

    // Consecutive events are independent: mantissa positions survive the 0.99 filter at
    // about the false-positive rate only.
    let events = read("EventInfoAuxDyn.*");
    let flat: Vec<&FloatBranch> = events.iter().filter(|b| b.offsets.is_none()).collect();
    assert!(flat.len() > 100, "{} flat event-info branches", flat.len());
    let mut surviving = 0;
    let mut positions = 0;
    for b in flat {
        let info = bitwise_information(&b.values, None, Neighbour::NextEvent).unwrap();
        surviving += info.bits[F32_SIGN_EXPONENT_BITS..]
            .iter()
            .filter(|&&x| x > 0.0)
            .count();
        positions += info.bits.len() - F32_SIGN_EXPONENT_BITS;
    }
    let rate = surviving as f64 / positions as f64;
    assert!(
        rate < 0.02,
        "{surviving}/{positions} mantissa positions survive"
    );
}
