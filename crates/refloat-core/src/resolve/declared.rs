//! The precision producers declare for their columns: CMSSW's NanoAOD (`Var(…, precision=N)`,
//! precision expressions, `addColumn<float>(…, N)` in the table producers), taken from the
//! public cms-sw/cmssw sources across NanoAOD versions (`data/cmssw_nanoaod_precision.tsv`,
//! with each row's source; its README says how it was built). Where versions differ the
//! table holds the largest precision any declares: the resolver never corrects a value at
//! fewer bits than this, so a stale entry costs gain, never safety.

use serde::{Deserialize, Serialize};

use super::Format;

/// A column's declared precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// Kept bits declared (the largest over versions); `None` for a per-object precision
    /// expression, whose values may mix precisions.
    pub bits: Option<u32>,
    /// Whether some version declares a per-object precision expression.
    pub expression: bool,
}

/// The table, as shipped.
const CMSSW_NANOAOD: &str = include_str!("../../data/cmssw_nanoaod_precision.tsv");

fn table() -> &'static std::collections::HashMap<&'static str, Declared> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<&'static str, Declared>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        CMSSW_NANOAOD
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                let name = f.next()?.trim();
                let bits: u32 = f.next()?.trim().parse().ok()?;
                let expression = f.next().is_some_and(|e| e.trim() == "1");
                Some((
                    name,
                    Declared {
                        bits: (!expression).then_some(bits.min(23)),
                        expression,
                    },
                ))
            })
            .collect()
    })
}

/// The declared precision of branch `branch` of a tree of format `format` (NanoAOD only).
///
/// ```
/// use refloat_core::resolve::{declared::lookup, Format};
/// assert_eq!(lookup(Format::Cms, "TrigObj_l1pt").and_then(|d| d.bits), Some(8));
/// assert!(lookup(Format::Cms, "GenPart_mass").is_some_and(|d| d.expression));
/// assert_eq!(lookup(Format::Atlas, "TrigObj_l1pt"), None);
/// ```
pub fn lookup(format: Format, branch: &str) -> Option<Declared> {
    match format {
        Format::Cms => table().get(branch).copied(),
        _ => None,
    }
}

/// Number of columns the table knows.
pub fn known_columns() -> usize {
    table().len()
}
