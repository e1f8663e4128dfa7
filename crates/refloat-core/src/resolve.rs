//! **The one resolver**: how a branch was rounded and which of its values are exact by
//! nature, decided once, the same way for every front door (the file pipelines, the C API on
//! files and on buffers, the cxx bridge, the C++ headers and RDataFrame, the ROOT macro,
//! Python).
//!
//! A correction is safe when it moves a value only inside the interval of originals the
//! producer could have stored it from. The asymmetry decides every default here: correcting
//! at *more* bits than the producer used only leaves some gain unused; correcting at *fewer*
//! bits can move a value out of its interval. So:
//!
//! * **Kept bits** of a branch are the largest apparent bits of its values (`23 −` trailing
//!   zero mantissa bits), raised to the producer's declared precision where it is known
//!   ([`declared`]: CMSSW's NanoAOD columns), and taken from the user where given. The
//!   largest apparent bits is the producer's precision unless every value happens to have
//!   fewer bits, which for `N` informative values happens with chance `2^−N`: a branch with
//!   fewer than [`MIN_BITS_EVIDENCE`] informative values (values that are not exact by nature)
//!   is *weak*, and so is one whose values do not show rounding at their largest apparent
//!   bits: below the top binade some values must have exactly that many bits, which a
//!   lattice (integers, 0.5 GeV steps) never gives; from [`FINE_BITS`] up the top binade
//!   suffices. In an ATLAS tree a strong branch whose bits are one of the stream's levels
//!   (Athena rounds a stream's floats at one or two configured precisions: the bits its
//!   strong branches show) keeps them, any other takes the stream's highest level at or
//!   above its apparent bits; elsewhere a weak branch is left as stored, with a note, unless
//!   the user gives the bits.
//! * **Per-value precision** ([`Resolution::per_value`]) only for a branch shown to mix
//!   precisions (NanoAOD's precision expressions: GenPart mass at 20 bits for top quarks, 8
//!   for the rest), on evidence that a lattice, sentinels or a few exact values cannot give
//!   ([`mixed_precisions`]).
//! * **Scheme**: the user's, else the one the values show with confidence
//!   ([`crate::detect`]), else the format's producer ([`Format::producer_mode`]: CMS for
//!   NanoAOD's `Events`, ATLAS's for `CollectionTree` and anything else).
//! * **Exact values** ([`crate::correct::ExactPolicy`]): ±0 and short mantissas, the
//!   conventional sentinels, the branch's **spikes** (a stored value that recurs far more
//!   often than its neighbouring codes: [`SPIKE_MIN_COUNT`], [`SPIKE_RATIO`],
//!   [`SPIKE_ALPHA`], [`SPIKE_PLAIN_COUNT`]) and the branch's **lattice** (a power-of-two step that most values lie
//!   on, far beyond chance: [`LATTICE_ALPHA`]).
//!
//! Evidence is gathered a chunk at a time ([`Evidence`], memory bounded by the number of
//! distinct values, at most [`COUNT_CAP`]) and resolved per tree ([`resolve_tree`]) or for
//! one buffer ([`resolve_f32`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF, Poisson};

use crate::correct::{
    CorrectionReport, Corrector, ExactCounts, ExactPolicy, ExactRule, Lattice, Method, SENTINELS,
};
use crate::detect::{apparent_bits, Detection, Detector};
use crate::error::{Error, Result};
use crate::quantise::{Quantiser32, RoundingMode};

pub mod declared;

/// Fewest informative values (finite, non-zero mantissa, not exact by nature) for a branch's
/// largest apparent bits to be taken as its kept bits: with fewer, every value could have
/// fewer bits than the producer kept by chance (`2^−N`).
pub const MIN_BITS_EVIDENCE: u64 = 12;

/// Apparent bits from which values in a single binade are taken as rounded there rather
/// than as a lattice of the same step: lattices that nature and producers make (integers,
/// 0.5 GeV trigger steps, k/255 weights) are coarse, a few bits below a value's magnitude;
/// one 2^16 times finer than the values on it is not one of them.
pub const FINE_BITS: u32 = 16;

/// Fewest occurrences of a stored value for it to be a spike.
pub const SPIKE_MIN_COUNT: u64 = 3;
/// A spike occurs at least this many times more often than its neighbouring codes predict.
pub const SPIKE_RATIO: f64 = 4.0;
/// A spike's count is this unlikely (Poisson, under its neighbours' density), after the
/// Bonferroni correction for the number of values tested.
pub const SPIKE_ALPHA: f64 = 1e-3;
/// Neighbouring codes on each side a spike is compared with.
pub const SPIKE_NEIGHBOURS: u32 = 2;
/// A value seen at least this often whose neighbouring codes hold together fewer than a
/// quarter of its count is a spike whatever the density around it.
pub const SPIKE_PLAIN_COUNT: u64 = 5;
/// Most spikes a branch keeps (the most frequent): a branch with more (a discrete variable
/// of many values, or copies of the same events) has the others corrected like any value.
pub const MAX_SPIKES: usize = 1024;

/// A lattice's excess of values on it is this unlikely for continuous values (Poisson),
/// across the steps tried.
pub const LATTICE_ALPHA: f64 = 1e-6;
/// Lattice steps tried: `2^LATTICE_STEPS.start ..= 2^LATTICE_STEPS.end`.
pub const LATTICE_STEPS: std::ops::RangeInclusive<i32> = -12..=16;

/// Distinct stored values counted per branch for the spikes (memory: 8 bytes each, twice).
/// Beyond it the values seen least often are dropped (a spike recurs, and stays), so a
/// branch's counts take the same memory however long it is. A branch that shows a value at
/// full precision (23 apparent bits) is not corrected, and stops counting.
pub const COUNT_CAP: usize = 1 << 14;

/// The formats whose producers refloat knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// ATLAS xAOD (PHYSLITE's `CollectionTree`): `CxxUtils::FloatCompressor`, one precision
    /// for the floats of a stream.
    Atlas,
    /// CMS NanoAOD (`Events`): `MiniFloatConverter`, a declared precision per column.
    Cms,
    /// Anything else (ATLAS's rule where the values cannot tell).
    #[default]
    Unknown,
}

impl Format {
    /// The format of a tree from its name: `CollectionTree` is ATLAS's, `Events` CMS's.
    pub fn of_tree(tree: &str) -> Format {
        match tree {
            crate::io::ATLAS_TREE => Format::Atlas,
            crate::io::CMS_TREE => Format::Cms,
            _ => Format::Unknown,
        }
    }

    /// The rounding its producer uses: CMS's for NanoAOD, ATLAS's `nearest` otherwise.
    pub fn producer_mode(self) -> RoundingMode {
        match self {
            Format::Cms => RoundingMode::Cms,
            _ => RoundingMode::Nearest,
        }
    }

    /// The name used in reports and accepted by [`Format::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Atlas => "atlas",
            Format::Cms => "cms",
            Format::Unknown => "unknown",
        }
    }

    /// `atlas` (or `physlite`, `CollectionTree`), `cms` (or `nanoaod`, `Events`), `unknown`
    /// (or empty).
    pub fn parse(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "atlas" | "physlite" | "collectiontree" => Ok(Format::Atlas),
            "cms" | "nanoaod" | "events" => Ok(Format::Cms),
            "unknown" | "" => Ok(Format::Unknown),
            _ => Err(Error::InvalidArgument(format!(
                "unknown format '{s}' (expected atlas, cms or unknown)"
            ))),
        }
    }
}

/// What the user says about a branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    /// Kept bits; `None`: resolved.
    pub bits: Option<u32>,
    /// Rounding scheme; `None`: resolved.
    pub mode: Option<RoundingMode>,
    /// Leave values exact by nature alone (default); `false`: only ±0 (for a branch known to
    /// be continuous).
    pub leave_exact: bool,
}

impl Default for Given {
    fn default() -> Self {
        Given {
            bits: None,
            mode: None,
            leave_exact: true,
        }
    }
}

/// Where a resolved setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The user's.
    Given,
    /// The stored values'.
    Detected,
    /// The producer's declared precision ([`declared`]), above what the values show.
    Declared,
    /// The tree's precision (a weak branch of an ATLAS tree).
    Tree,
    /// The format's producer (the values could not tell the scheme).
    Format,
    /// Nothing to go on: the branch is left as stored.
    None,
}

impl Source {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Source::Given => "given",
            Source::Detected => "detected",
            Source::Declared => "declared",
            Source::Tree => "tree",
            Source::Format => "format",
            Source::None => "none",
        }
    }
}

/// Counts of stored values by pattern, in bounded memory (open addressing; at [`COUNT_CAP`]
/// distinct patterns the rarest are dropped, see [`PatternCounts::prune`]).
#[derive(Clone, Debug)]
struct PatternCounts {
    /// (pattern, count) per slot, [`PatternCounts::EMPTY`] patterns free; saturating
    /// counts (a spike's count beyond 4 G values changes nothing). Empty: counting stopped.
    slots: Vec<(u32, u32)>,
    len: usize,
    /// Whether rare patterns were dropped (counts are then lower bounds).
    full: bool,
}

impl PatternCounts {
    const EMPTY: u32 = u32::MAX; // a NaN pattern: only finite values are counted

    /// A table that counts nothing (a full-precision branch).
    fn stopped() -> Self {
        PatternCounts {
            slots: Vec::new(),
            len: 0,
            full: false,
        }
    }

    fn new() -> Self {
        PatternCounts {
            slots: vec![(Self::EMPTY, 0); 1 << 10],
            len: 0,
            full: false,
        }
    }

    /// Fibonacci hashing on the upper half of a 64-bit product: stored values end in many
    /// zero bits, which a 32-bit product keeps in its low bits (and then in the slots).
    #[inline]
    fn slot(&self, u: u32) -> usize {
        let mask = self.slots.len() - 1;
        ((u64::from(u).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & mask
    }

    #[inline]
    fn add(&mut self, u: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(u);
        loop {
            let (k, c) = &mut self.slots[i];
            if *k == u {
                *c = c.saturating_add(1);
                return;
            }
            if *k == Self::EMPTY {
                if self.len >= COUNT_CAP {
                    self.prune();
                    return self.add_count(u, 1);
                }
                self.slots[i] = (u, 1);
                self.len += 1;
                if 2 * self.len > self.slots.len() {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Makes room when [`COUNT_CAP`] patterns are held: drops the rarest (those seen once,
    /// then twice, …) until a quarter of the room is free. A value that recurs keeps being
    /// counted; its count is then a lower bound ([`PatternCounts::full`]).
    fn prune(&mut self) {
        let mut kept: Vec<(u32, u64)> = self.iter().collect();
        let target = COUNT_CAP * 3 / 4;
        if kept.len() > target {
            // The smallest floor (from 1) that leaves at most `target` patterns seen more
            // often than it: the (target + 1)-th largest count. Ties go together, so what is
            // kept does not depend on the table's order.
            let mut counts: Vec<u64> = kept.iter().map(|&(_, c)| c).collect();
            let (_, nth, _) = counts.select_nth_unstable_by(target, |a, b| b.cmp(a));
            let floor = (*nth).max(1);
            kept.retain(|&(_, c)| c > floor);
        }
        self.slots.fill((Self::EMPTY, 0));
        self.len = 0;
        self.full = true;
        for (u, c) in kept {
            self.add_count(u, c);
        }
    }

    fn grow(&mut self) {
        let old: Vec<(u32, u64)> = self.iter().collect();
        self.slots = vec![(Self::EMPTY, 0); 2 * self.slots.len()];
        let mask = self.slots.len() - 1;
        for (u, c) in old {
            let mut i = self.slot(u);
            while self.slots[i].0 != Self::EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = (u, c as u32);
        }
    }

    fn get(&self, u: u32) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(u);
        loop {
            match self.slots[i] {
                (k, c) if k == u => return c as u64,
                (Self::EMPTY, _) => return 0,
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn merge(&mut self, other: &PatternCounts) {
        if other.slots.is_empty() {
            *self = PatternCounts::stopped();
            return;
        }
        for (u, c) in other.iter() {
            self.add_count(u, c);
        }
        self.full |= other.full;
    }

    /// `add` of `count` values of pattern `u`.
    fn add_count(&mut self, u: u32, count: u64) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(u);
        loop {
            let (k, c) = &mut self.slots[i];
            if *k == u {
                *c = c.saturating_add(count.min(u32::MAX as u64) as u32);
                return;
            }
            if *k == Self::EMPTY {
                if self.len >= COUNT_CAP {
                    self.prune();
                    return self.add_count(u, count);
                }
                self.slots[i] = (u, count.min(u32::MAX as u64) as u32);
                self.len += 1;
                if 2 * self.len > self.slots.len() {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & (mask);
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.slots
            .iter()
            .filter(|(k, _)| *k != Self::EMPTY)
            .map(|&(k, c)| (k, c as u64))
    }
}

/// Index of the (apparent bits, biased exponent) cell of a finite, non-zero magnitude.
#[inline]
fn cell(a: u32, biased: u32) -> usize {
    (a as usize) * 256 + biased as usize
}

/// Evidence about one branch, fed a chunk at a time in any order.
#[derive(Clone, Debug)]
pub struct Evidence {
    values: u64,
    zeros: u64,
    non_finite: u64,
    /// Finite non-zero values per (apparent bits, biased exponent).
    cells: Vec<u64>,
    counts: PatternCounts,
    detector: Detector,
}

impl Default for Evidence {
    fn default() -> Self {
        Self::new()
    }
}

impl Evidence {
    /// No values yet.
    pub fn new() -> Self {
        Evidence {
            values: 0,
            zeros: 0,
            non_finite: 0,
            cells: vec![0; 24 * 256],
            counts: PatternCounts::new(),
            detector: Detector::new(),
        }
    }

    /// Take in more stored values of the branch. A long slice is read in pieces of
    /// [`Evidence::PIECE`] values on every core, merged in order: the same evidence as one
    /// piece, except that counts past [`COUNT_CAP`] patterns may be pruned otherwise.
    pub fn add(&mut self, data: &[f32]) {
        use rayon::prelude::*;
        if data.len() < 2 * Self::PIECE {
            return self.add_piece(data);
        }
        // Pieces in rounds, so that memory stays bounded by the round, not the slice.
        for round in data.chunks(Self::PIECE * Self::PIECES_PER_ROUND) {
            let pieces: Vec<Evidence> = round
                .par_chunks(Self::PIECE)
                .map(|piece| {
                    let mut e = Evidence::new();
                    if self.counts.slots.is_empty() {
                        e.counts = PatternCounts::stopped();
                    }
                    e.add_piece(piece);
                    e
                })
                .collect();
            for e in &pieces {
                self.merge(e);
            }
        }
    }

    /// Values per piece of a long slice read in parallel ([`Evidence::add`]).
    pub const PIECE: usize = 1 << 20;
    const PIECES_PER_ROUND: usize = 16;

    /// [`Evidence::add`] on one thread.
    fn add_piece(&mut self, data: &[f32]) {
        self.values += data.len() as u64;
        for &x in data {
            let u = x.to_bits();
            let mag = u & 0x7FFF_FFFF;
            if mag >= 0x7F80_0000 {
                self.non_finite += 1;
                continue;
            }
            if mag == 0 {
                self.zeros += 1;
                continue;
            }
            let a = apparent_bits(x);
            self.cells[cell(a, mag >> 23)] += 1;
            if !self.counts.slots.is_empty() {
                if a == 23 {
                    // Full precision: nothing to correct, no spike to look for.
                    self.counts = PatternCounts::stopped();
                } else {
                    self.counts.add(u);
                }
            }
            self.detector.add_codes(mag, a);
        }
    }

    /// The detector of the values taken in, its totals set from the cells.
    fn detector(&self) -> Detector {
        let mut d = self.detector.clone();
        d.set_totals(&self.cells);
        d
    }

    /// Values taken in (all of them, non-finite included).
    pub fn values(&self) -> u64 {
        self.values
    }

    /// Take in what `other` saw of the same branch (another chunk, file or partition of
    /// it): the result is the evidence of both (resolution is then that of the whole
    /// branch, wherever its pieces were read).
    pub fn merge(&mut self, other: &Evidence) {
        self.values += other.values;
        self.zeros += other.zeros;
        self.non_finite += other.non_finite;
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            *a += b;
        }
        self.counts.merge(&other.counts);
        self.detector.merge(&other.detector);
    }

    /// The evidence as bytes (JSON of its non-zero counts), to be sent where pieces of a
    /// branch meet ([`Evidence::from_bytes`], [`Evidence::merge`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let cells: Vec<(u32, u64)> = self
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u32, *c))
            .collect();
        let parts = EvidenceParts {
            values: self.values,
            zeros: self.zeros,
            non_finite: self.non_finite,
            cells,
            counts: self.counts.iter().collect(),
            counts_full: self.counts.full,
            counts_stopped: self.counts.slots.is_empty(),
            detector: self.detector(),
        };
        serde_json::to_vec(&parts).map_err(|e| Error::InvalidInput(format!("evidence: {e}")))
    }

    /// Evidence written by [`Evidence::to_bytes`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bytes that are not such evidence.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let p: EvidenceParts = serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidInput(format!("not refloat evidence: {e}")))?;
        let mut e = Evidence::new();
        e.values = p.values;
        e.zeros = p.zeros;
        e.non_finite = p.non_finite;
        for (i, c) in p.cells {
            *e.cells.get_mut(i as usize).ok_or_else(|| {
                Error::InvalidInput("not refloat evidence: a cell out of range".into())
            })? = c;
        }
        for (u, c) in p.counts {
            e.counts.add_count(u, c);
        }
        e.counts.full |= p.counts_full;
        if p.counts_stopped {
            e.counts = PatternCounts::stopped();
        }
        e.detector = p.detector;
        Ok(e)
    }
}

/// [`Evidence`] as it is written and read back.
#[derive(Serialize, Deserialize)]
struct EvidenceParts {
    values: u64,
    zeros: u64,
    non_finite: u64,
    cells: Vec<(u32, u64)>,
    counts: Vec<(u32, u64)>,
    counts_full: bool,
    counts_stopped: bool,
    detector: Detector,
}

/// A stored value flagged as a spike, with its count and what its neighbours predicted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    pub value: f32,
    pub count: u64,
    /// Occurrences its neighbouring codes predict for it.
    pub expected: f64,
}

/// How a branch was rounded and what is exact in it: what every correction and every check
/// of the branch uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resolution {
    /// Values of the branch (non-finite included).
    pub values: u64,
    /// Kept bits to correct at; `None`: the branch is left as stored (see `note`).
    pub bits: Option<u32>,
    pub bits_source: Source,
    /// The largest apparent bits of the values (`None`: no value has a non-zero mantissa).
    pub apparent_bits: Option<u32>,
    /// Informative values behind the bits (finite, non-zero mantissa, not exact by nature).
    pub evidence_values: u64,
    /// The producer's declared precision for this branch, where known.
    pub declared: Option<declared::Declared>,
    /// The scheme.
    pub mode: RoundingMode,
    pub mode_source: Source,
    /// The precisions of a branch shown to mix them, largest first (each value is corrected
    /// at the smallest that holds its apparent bits); empty: every value at `bits`.
    pub per_value: Vec<u32>,
    /// The spikes found (left alone).
    pub spikes: Vec<Spike>,
    /// The lattice found (its values left alone where informative).
    pub lattice: Option<Lattice>,
    /// Whether values exact by nature are left alone (the user's `leave_exact`).
    pub leave_exact: bool,
    /// What the values say of the scheme (and its posterior).
    pub detection: Detection,
    /// Why the branch is left as stored, or anything else worth saying.
    pub note: Option<String>,
}

impl Resolution {
    /// The values this branch leaves alone.
    pub fn policy(&self) -> ExactPolicy {
        if !self.leave_exact {
            return ExactPolicy::ZEROS_ONLY;
        }
        let spikes: Vec<f32> = self.spikes.iter().map(|s| s.value).collect();
        let mut p = ExactPolicy::default().with_branch(&spikes, self.lattice);
        // A mixed branch's lattice was found at its largest precision: a value on it is left
        // alone whatever precision it is corrected at (judged at fewer bits, values of the
        // finer precision that lie on the lattice would be moved by the coarser one).
        if self.mixed() {
            p.lattice_bits = self.bits;
        }
        // Corrected at more bits than its values show, under CMS's rule: a value that would
        // be the top code at the values' bits has its interval only above it there.
        if let (Some(b), Some(m), RoundingMode::Cms) = (self.bits, self.apparent_bits, self.mode) {
            if b > m && !self.mixed() {
                p.top_code_bits = Some(m);
            }
        }
        p
    }

    /// Whether the values are corrected per value, at their own precision.
    pub fn mixed(&self) -> bool {
        self.per_value.len() > 1
    }

    /// The kept bits of one stored value: its cluster's in a mixed branch, else the branch's.
    pub fn bits_of(&self, x: f32) -> Option<u32> {
        if !self.mixed() {
            return self.bits;
        }
        let a = apparent_bits(x);
        self.per_value
            .iter()
            .rev()
            .copied()
            .find(|&b| a <= b)
            .or(self.bits)
    }

    /// The branch's quantiser (`None` when it is left as stored).
    pub fn quantiser(&self) -> Result<Option<Quantiser32>> {
        self.bits
            .map(|b| Quantiser32::new(b, self.mode))
            .transpose()
    }

    /// The corrector of this branch with `method` (dither seeded for `branch` under the one
    /// seeding rule; prior-mean's density from `sample`, stored values of the branch).
    /// `None` when the branch is left as stored.
    pub fn corrector(
        &self,
        method: Method,
        branch: &str,
        sample: &[f32],
    ) -> Result<Option<BranchCorrector>> {
        let Some(bits) = self.bits else {
            return Ok(None);
        };
        let precisions: Vec<u32> = if self.mixed() {
            self.per_value.clone()
        } else {
            vec![bits]
        };
        let policy = self.policy();
        let by_bits = precisions
            .iter()
            .map(|&n| {
                let q = Quantiser32::new(n, self.mode)?;
                let c = Corrector::for_branch(q, method, branch, policy.clone(), sample);
                Ok((n, std::sync::Arc::new(c)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(BranchCorrector {
            per_value: self.mixed().then(|| self.per_value.clone()),
            by_bits,
        }))
    }

    /// The resolution as JSON (what `refloat inspect --json` gives per branch).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::InvalidInput(format!("resolution to JSON: {e}")))
    }

    /// A resolution read back from [`Resolution::to_json`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for text that is not a resolution.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("not a refloat resolution: {e}")))
    }

    /// One line for reports: `10 bits (detected), cms (detected, p = 0.99); 3 spikes, lattice 0.5`.
    pub fn describe(&self) -> String {
        let bits = match self.bits {
            None => "left as stored".to_string(),
            Some(_) if self.mixed() => format!(
                "{} bits per value (mixed)",
                self.per_value
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            Some(b) => format!("{b} bits ({})", self.bits_source.name()),
        };
        let (_, p) = self.detection.best();
        let mode = match self.mode_source {
            Source::Detected => format!("{} (detected, p = {p:.2})", self.mode),
            s => format!("{} ({})", self.mode, s.name()),
        };
        let mut exact = Vec::new();
        if !self.spikes.is_empty() {
            exact.push(format!(
                "{} spike{}",
                self.spikes.len(),
                if self.spikes.len() == 1 { "" } else { "s" }
            ));
        }
        if let Some(l) = self.lattice {
            exact.push(format!("lattice {}", 2f64.powi(l.step_log2)));
        }
        let mut s = format!("{bits}, {mode}");
        if !exact.is_empty() {
            s.push_str("; ");
            s.push_str(&exact.join(", "));
        }
        if let Some(n) = &self.note {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }
}

/// The correctors of one branch: one, or one per precision of a mixed branch (shared: a
/// clone, e.g. the check of what was written, costs no copy of prior-mean's tables).
#[derive(Clone, Debug)]
pub struct BranchCorrector {
    per_value: Option<Vec<u32>>,
    by_bits: Vec<(u32, std::sync::Arc<Corrector>)>,
}

impl BranchCorrector {
    /// The corrector of a stored value (its own precision's in a mixed branch).
    fn of(&self, x: f32) -> &Corrector {
        match &self.per_value {
            None => &self.by_bits[0].1,
            Some(p) => {
                let a = apparent_bits(x);
                let bits = p.iter().rev().copied().find(|&b| a <= b).unwrap_or(p[0]);
                &self
                    .by_bits
                    .iter()
                    .find(|(b, _)| *b == bits)
                    .expect("a corrector per precision")
                    .1
            }
        }
    }

    /// Correct a piece of the branch in place; `offset` is the index of `data[0]` in the
    /// whole branch (the one seeding rule). Every corrected value re-quantises to its stored
    /// value at its precision; exact values are left alone.
    ///
    /// # Errors
    /// [`Error::NotQuantised`] naming the first value that is not stored; `data` untouched.
    pub fn correct_in_place(&self, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
        if self.per_value.is_none() {
            return self.by_bits[0].1.correct_in_place(data, offset);
        }
        for (i, &x) in data.iter().enumerate() {
            let c = self.of(x);
            if !c.quantiser().is_stored(x) {
                return Err(c
                    .quantiser()
                    .interval_at(x, offset as usize + i)
                    .unwrap_err());
            }
        }
        let mut report = CorrectionReport::default();
        for (i, x) in data.iter_mut().enumerate() {
            let c = self.of(*x);
            if !x.is_finite() {
                report.non_finite += 1;
            } else if let Some(rule) = c.policy().rule(*x, c.quantiser()) {
                report.left_exact += 1;
                report.exact.add(rule);
            } else {
                *x = c.estimate(*x, offset + i as u64);
                report.corrected += 1;
            }
        }
        Ok(report)
    }

    /// Check corrected values against their stored ones: each re-quantises to its stored
    /// value at its precision, and each value exact by nature is unchanged. The message
    /// names the first value (from 0) that does not.
    pub fn check(&self, corrected: &[f32], stored: &[f32]) -> std::result::Result<(), String> {
        self.check_with(corrected, stored, true)
    }

    /// [`Self::check`] without the exact values' check: only the invariant (e.g. originals
    /// against the values stored from them).
    pub fn check_invariant(
        &self,
        corrected: &[f32],
        stored: &[f32],
    ) -> std::result::Result<(), String> {
        self.check_with(corrected, stored, false)
    }

    fn check_with(
        &self,
        corrected: &[f32],
        stored: &[f32],
        exact_unchanged: bool,
    ) -> std::result::Result<(), String> {
        if corrected.len() != stored.len() {
            return Err(format!(
                "{} values written for {} stored",
                corrected.len(),
                stored.len()
            ));
        }
        for (i, (c, s)) in corrected.iter().zip(stored).enumerate() {
            let k = self.of(*s);
            let q = k.quantiser();
            let same = c.to_bits() == s.to_bits();
            if !same && exact_unchanged && k.policy().is_exact(*s, q) {
                return Err(format!(
                    "value {i}: {s:e} is exact by nature (left alone) but was written as {c:e}"
                ));
            }
            if !same && q.quantise(*c).to_bits() != s.to_bits() {
                return Err(format!(
                    "value {i}: corrected {c:e} does not re-quantise to the stored {s:e} at {} kept bits ({})",
                    q.mantissa_bits(),
                    q.mode()
                ));
            }
        }
        Ok(())
    }

    /// The precisions used, largest first.
    pub fn precisions(&self) -> Vec<u32> {
        self.by_bits.iter().map(|(b, _)| *b).collect()
    }
}

/// What one branch's evidence shows, before the tree's precision is known.
#[derive(Clone, Debug)]
pub struct BranchEvidence {
    values: u64,
    apparent: Option<u32>,
    evidence_values: u64,
    /// The spikes when the branch is corrected at its apparent bits, one bit more, and two
    /// or more bits more (beyond two, no neighbouring code can hold a value).
    spikes: [Vec<Spike>; 3],
    lattice: Option<Lattice>,
    clusters: Vec<u32>,
    /// Whether the informative values look rounded at the largest apparent bits (not shown
    /// otherwise).
    rounded: bool,
    /// Whether they show it: values below the top binade at those bits, which a lattice
    /// as fine as the top binade's kept step cannot give.
    confirmed: bool,
    /// What the values say of the scheme, at their own precisions (the detector itself is
    /// not kept: a tree's branches wait for each other before they are resolved).
    detection: Detection,
    counts_full: bool,
    leave_exact: bool,
}

impl BranchEvidence {
    /// The informative values (see [`Resolution::evidence_values`]).
    pub fn evidence_values(&self) -> u64 {
        self.evidence_values
    }
    /// The largest apparent bits.
    pub fn apparent_bits(&self) -> Option<u32> {
        self.apparent
    }
}

impl Evidence {
    /// What the evidence shows (`leave_exact`: find spikes and the lattice, and keep exact
    /// values out of the bits' evidence; `format`: whose scheme the detection favours).
    pub fn finish(mut self, leave_exact: bool, format: Format) -> BranchEvidence {
        self.detector.set_totals(&self.cells);
        let apparent = (1..24u32)
            .rev()
            .find(|&a| (0..256).any(|e| self.cells[cell(a, e)] > 0));
        let mut informative = self.cells.clone();
        let mut before_lattice = informative.clone();
        let mut spikes = Vec::new();
        let mut candidates = Vec::new();
        let mut tests = 0usize;
        let mut lattice = None;
        if let (Some(n), true) = (apparent, leave_exact) {
            // Short mantissas and sentinels out first (they are exact whatever the bits).
            for a in 0..=2u32.min(n.saturating_sub(2)) {
                for e in 0..256 {
                    informative[cell(a, e)] = 0;
                }
            }
            for s in SENTINELS {
                let c = self.counts.get(s.to_bits());
                if c > 0 {
                    let i = cell(apparent_bits(s), s.to_bits() >> 23 & 0xFF);
                    informative[i] = informative[i].saturating_sub(c);
                }
            }
            // Spikes compared with their neighbours at their own precision (a branch that
            // mixes precisions has its coarse values on a coarser grid).
            let raw = mixed_precisions(&informative, n);
            let grid = |a: u32| raw.iter().rev().copied().find(|&b| a <= b).unwrap_or(n);
            (candidates, tests) = spike_candidates(&self.counts, &self.cells, grid);
            spikes = spikes_at(&candidates, tests, |c| c.grid);
            for s in &spikes {
                let u = s.value.to_bits();
                let i = cell(apparent_bits(s.value), (u >> 23) & 0xFF);
                informative[i] = informative[i].saturating_sub(s.count);
            }
            // Values that do not show rounding at their largest apparent bits (binades
            // without values at those bits) are a lattice if they all lie on one: every
            // value of it is then exact. Otherwise some may lie on one beyond chance.
            if !rounded_at(&informative, n, below(&mixed_precisions(&informative, n))) {
                lattice = find_pure_lattice(&informative);
            }
            lattice = lattice.or_else(|| find_lattice(&informative, n));
            before_lattice = informative.clone();
            if let Some(l) = lattice {
                remove_lattice(&mut informative, l, n);
            }
        }
        let evidence_values = (1..24)
            .flat_map(|a| (0..256).map(move |e| (a, e)))
            .map(|(a, e)| informative[cell(a, e)])
            .sum();
        let clusters = match apparent {
            Some(n) => raise_clusters(&mixed_precisions(&informative, n), &before_lattice),
            None => Vec::new(),
        };
        let rounded = apparent.is_none_or(|n| rounded_at(&informative, n, below(&clusters)));
        let confirmed = apparent.is_some_and(|n| rounding_shown(&informative, n, below(&clusters)));
        // The spikes at finer bits than the grid, found at them and at the grid.
        let finer = |more: u32| -> Vec<Spike> {
            let mut all = spikes_at(&candidates, tests, |c| c.grid + more);
            for s in &spikes {
                if !all.iter().any(|t| t.value.to_bits() == s.value.to_bits()) {
                    all.push(*s);
                }
            }
            all.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.total_cmp(&b.value)));
            all.truncate(MAX_SPIKES);
            all
        };
        let (one, more) = (finer(1), finer(2));
        BranchEvidence {
            values: self.values,
            apparent,
            evidence_values,
            spikes: [spikes, one, more],
            lattice,
            detection: self
                .detector
                .finish_with_clusters(Some(format.producer_mode()), clusters.clone()),
            clusters,
            rounded,
            confirmed,
            counts_full: self.counts.full,
            leave_exact,
        }
    }
}

/// A stored value seen at least [`SPIKE_MIN_COUNT`] times, with the counts of the values
/// [`SPIKE_NEIGHBOURS`] codes around it at the branch's apparent bits (`near[j]` at offset
/// `j − 2`, the middle entry unused), and the number of values in its binade.
#[derive(Clone, Copy, Debug)]
struct SpikeCandidate {
    pattern: u32,
    count: u64,
    /// The precision whose grid the value lies on (its cluster's in a mixed branch).
    grid: u32,
    near: [u64; 5],
    binade_total: u64,
}

/// The values of `counts` that are spikes at their grid's bits or at one or two bits more
/// (see [`spikes_at`]), with what [`spikes_at`] needs of their neighbourhood; and the number
/// of values tested (those seen at least [`SPIKE_MIN_COUNT`] times: the Bonferroni factor).
/// Values lie on their grid, so the neighbours at any finer bits are among those kept.
fn spike_candidates(
    counts: &PatternCounts,
    cells: &[u64],
    grid: impl Fn(u32) -> u32,
) -> (Vec<SpikeCandidate>, usize) {
    let binade_totals: Vec<u64> = (0..256u32)
        .map(|e| (0..24).map(|a| cells[cell(a, e)]).sum())
        .collect();
    let policy = ExactPolicy::default();
    let tested = |u: u32, c: u64| {
        let x = f32::from_bits(u);
        let q = Quantiser32::new(grid(apparent_bits(x)).min(23), RoundingMode::Truncate)
            .expect("bits in range");
        c >= SPIKE_MIN_COUNT
            && !matches!(
                policy.rule(x, &q),
                Some(ExactRule::Zero | ExactRule::ShortMantissa | ExactRule::Sentinel)
            )
    };
    let tests = counts.iter().filter(|&(u, c)| tested(u, c)).count();
    let kept = counts
        .iter()
        .filter(|&(u, c)| tested(u, c))
        .map(|(u, c)| {
            let g = grid(apparent_bits(f32::from_bits(u))).min(23);
            let step = 1u32 << (23 - g);
            let sign = u & 0x8000_0000;
            let mag = u & 0x7FFF_FFFF;
            let mut near = [0u64; 5];
            for (i, j) in (-2i64..=2).enumerate().filter(|(_, j)| *j != 0) {
                let m = mag as i64 + j * step as i64;
                if m > 0 && m < 0x7F80_0000 {
                    near[i] = counts.get(sign | m as u32);
                }
            }
            SpikeCandidate {
                pattern: u,
                count: c,
                grid: g,
                near,
                binade_total: binade_totals[(mag >> 23) as usize],
            }
        })
        .filter(|cand| (0..=2).any(|more| is_spike(cand, cand.grid + more, tests).is_some()))
        .collect::<Vec<_>>();
    let mut kept = kept;
    if kept.len() > 3 * MAX_SPIKES {
        kept.sort_by(|a, b| b.count.cmp(&a.count).then(a.pattern.cmp(&b.pattern)));
        kept.truncate(3 * MAX_SPIKES);
    }
    (kept, tests)
}

/// The spikes among `candidates` when each is corrected at `bits(candidate)` (at least its
/// grid's bits), `tests` values tested in all: a value is compared with the codes
/// [`SPIKE_NEIGHBOURS`] on each side at those bits (see the module's doc).
fn spikes_at(
    candidates: &[SpikeCandidate],
    tests: usize,
    bits: impl Fn(&SpikeCandidate) -> u32,
) -> Vec<Spike> {
    let mut spikes: Vec<Spike> = candidates
        .iter()
        .filter_map(|cand| is_spike(cand, bits(cand), tests))
        .collect();
    spikes.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.total_cmp(&b.value)));
    spikes.truncate(MAX_SPIKES);
    spikes
}

/// `cand` as a spike when corrected at `bits`, `tests` values tested in all.
fn is_spike(cand: &SpikeCandidate, bits: u32, tests: usize) -> Option<Spike> {
    let c = cand.count;
    let b = bits.max(cand.grid);
    let finer = (b - cand.grid).min(31);
    // Codes j = ±1, ±2 at `b` are at ±j / 2^finer codes of the grid: only those that land on
    // it can hold values.
    let mut near = 0u64;
    for j in 1..=SPIKE_NEIGHBOURS as u64 {
        if j % (1 << finer) == 0 {
            let o = (j >> finer) as usize;
            near += cand.near[2 - o] + cand.near[2 + o];
        }
    }
    let codes = 2.0 * SPIKE_NEIGHBOURS as f64;
    let floor = cand.binade_total.saturating_sub(c) as f64 / 2f64.powi(b.min(20) as i32);
    let expected = (near as f64 / codes).max(floor).max(1e-9);
    let plain = c >= SPIKE_PLAIN_COUNT && 4 * near < c;
    let unlikely = (c as f64) >= SPIKE_RATIO * expected
        && Poisson::new(expected).map_or(0.0, |p| p.sf(c - 1)) * tests.max(1) as f64 <= SPIKE_ALPHA;
    (plain || unlikely).then_some(Spike {
        value: f32::from_bits(cand.pattern),
        count: c,
        expected,
    })
}

/// Whether informative values with more than `floor` apparent bits look rounded at `n`
/// bits: rounding at `n` bits gives about half the values of every binade exactly `n`
/// apparent bits; over the binades below the highest (where a lattice of integers, say, also
/// shows them), too few at `n` (a binomial tail below 10⁻³) says the values were coarser than
/// `n` bits before any rounding.
fn rounded_at(cells: &[u64], n: u32, floor: u32) -> bool {
    let (_, total, _) = below_top(cells, n, floor);
    total == 0 || rounding_tail(cells, n, floor) > 1e-3
}

/// Whether the values show rounding at `n` bits rather than a lattice whose step is the top
/// binade's kept step (integers in [32, 64) at 5 bits, say): some of the values below the
/// top binade, with more than `floor` apparent bits, have exactly `n`. In the top binade the
/// two look alike; below it such a lattice leaves every value with fewer bits.
/// From [`FINE_BITS`] up the top binade's values are taken to show it (see there).
fn rounding_shown(cells: &[u64], n: u32, floor: u32) -> bool {
    let (_, total, at_n) = below_top(cells, n, floor);
    let tail = rounding_tail(cells, n, floor);
    (total > 0 && at_n > 0 && tail > 1e-3) || (n >= FINE_BITS && tail > 1e-3)
}

/// (top binade, values below it with apparent bits in `floor+1..=n`, those at exactly `n`).
fn below_top(cells: &[u64], n: u32, floor: u32) -> (u32, u64, u64) {
    let values = |e: u32| -> u64 { (floor + 1..=n).map(|a| cells[cell(a, e)]).sum() };
    let Some(top) = (1..255u32).rev().find(|&e| values(e) > 0) else {
        return (0, 0, 0);
    };
    let total: u64 = (1..top).map(values).sum();
    let at_n: u64 = (1..top).map(|e| cells[cell(n, e)]).sum();
    (top, total, at_n)
}

/// The binomial chance of as few values at `n` bits below the top binade as seen, were they
/// rounded at `n` (half of them would be).
fn rounding_tail(cells: &[u64], n: u32, floor: u32) -> f64 {
    let (_, total, at_n) = below_top(cells, n, floor);
    if total == 0 {
        return 1.0;
    }
    Binomial::new(0.5, total).map_or(1.0, |b| b.cdf(at_n))
}

/// The apparent bits below the top precision of `clusters` (those of the next one; 0).
fn below(clusters: &[u32]) -> u32 {
    clusters.get(1).copied().unwrap_or(0)
}

/// The coarsest power-of-two step that at least 99 % of the informative values (at least
/// 8) are multiples of, as a lattice all of whose values are exact.
fn find_pure_lattice(cells: &[u64]) -> Option<Lattice> {
    let total: u64 = (1..24u32)
        .flat_map(|a| (1..255u32).map(move |e| (a, e)))
        .map(|(a, e)| cells[cell(a, e)])
        .sum();
    if total < 8 {
        return None;
    }
    LATTICE_STEPS
        .rev()
        .find(|&s| {
            let on: u64 = (1..24u32)
                .flat_map(|a| (1..255u32).map(move |e| (a, e)))
                .filter(|&(a, e)| e as i32 - 127 - a as i32 >= s)
                .map(|(a, e)| cells[cell(a, e)])
                .sum();
            100 * on >= 99 * total
        })
        .map(|s| Lattice {
            step_log2: s,
            min_gap: Lattice::ALWAYS,
        })
}

/// The lattice of a branch at `bits` kept bits from its informative cells, if its values lie
/// on one far beyond chance (see the module's doc).
fn find_lattice(cells: &[u64], bits: u32) -> Option<Lattice> {
    struct Step {
        s: i32,
        on: f64,
        fraction: f64,
    }
    let mut significant: Vec<Step> = Vec::new();
    let tests = LATTICE_STEPS.clone().count() as f64;
    for s in LATTICE_STEPS {
        let (mut on, mut informative, mut expected) = (0f64, 0f64, 0f64);
        for a in 3..24u32 {
            for biased in 1..255u32 {
                let c = cells[cell(a, biased)];
                if c == 0 {
                    continue;
                }
                let e = biased as i32 - 127;
                let gap = s - (e - bits as i32);
                if gap < 2 {
                    continue;
                }
                informative += c as f64;
                expected += c as f64 * 2f64.powi(-gap);
                if e - a as i32 >= s {
                    on += c as f64;
                }
            }
        }
        if on < 5.0 || informative == 0.0 {
            continue;
        }
        let tail = Poisson::new(expected.max(1e-9)).map_or(0.0, |p| p.sf(on as u64 - 1));
        if tail * tests <= LATTICE_ALPHA {
            significant.push(Step {
                s,
                on,
                fraction: on / informative,
            });
        }
    }
    let best = significant.iter().map(|t| t.fraction).fold(0.0, f64::max);
    let step = significant
        .iter()
        .filter(|t| t.fraction >= 0.75 * best && t.on >= 5.0)
        .max_by_key(|t| t.s)?;
    Some(Lattice {
        step_log2: step.s,
        min_gap: if step.fraction >= 0.95 { 0 } else { 1 },
    })
}

/// Takes the values on `lattice` (where it holds at `bits`) out of `cells`.
fn remove_lattice(cells: &mut [u64], lattice: Lattice, bits: u32) {
    for a in 1..24u32 {
        for biased in 1..255u32 {
            let e = biased as i32 - 127;
            let gap = lattice.step_log2 - (e - bits as i32);
            if e - a as i32 >= lattice.step_log2 && gap >= lattice.min_gap {
                cells[cell(a, biased)] = 0;
            }
        }
    }
}

/// The precisions a branch mixes, largest first, from its informative values (exact ones
/// taken out) whose largest apparent bits is `n`: `vec![n]` unless a smaller count `b` holds
/// the pattern of rounding at `b` bits on its own:
///
/// * `n < 23` (a branch at full precision was not rounded by its producer: its values with
///   few bits are sums or copies of rounded values, not a second precision), and at least 8
///   informative values at `n` bits (a branch whose values at `n` are all spikes shows no
///   first precision to compare with);
/// * `b >= MIN_CLUSTER_BITS` and at least 2 bits below the cluster above (a lattice rounded
///   at `n` bits, such as k/255 weights, piles its values onto codes one bit coarser), at
///   least 8 values at exactly `b` apparent bits, far more than the clusters above explain
///   (`> 8×` their geometric tail, plus 3);
/// * rounding's geometric pattern: at least 30 % of the values at `b` or fewer bits (down to
///   3) have exactly `b` (about half do for rounding at `b` bits);
/// * spread over at least 3 binades (a few exact values, or one repeated constant, are not);
/// * at the scale of the values above: the binades of the values at `b` bits come within 2
///   binades of those of the clusters above (tiny values near 1e−7 with few bits, left by
///   cancellations such as a massless particle's mass, are noise, not a precision).
pub fn mixed_precisions(cells: &[u64], n: u32) -> Vec<u32> {
    let at = |a: u32| -> u64 { (0..256).map(|e| cells[cell(a, e)]).sum() };
    let binades = |lo: u32, hi: u32| -> Option<(u32, u32)> {
        let present: Vec<u32> = (0..256u32)
            .filter(|&e| (lo..=hi).any(|a| cells[cell(a, e)] > 0))
            .collect();
        Some((*present.first()?, *present.last()?))
    };
    let mut clusters: Vec<(u32, f64)> = vec![(n, 2.0 * at(n) as f64)];
    if n >= 23 || at(n) < 8 {
        return vec![n];
    }
    for b in (crate::detect::MIN_CLUSTER_BITS..n).rev() {
        let observed = at(b) as f64;
        let explained: f64 = clusters
            .iter()
            .map(|&(c, size)| size * 0.5f64.powi((c - b + 1) as i32))
            .sum();
        if observed < 8.0 || observed <= 8.0 * explained + 3.0 {
            continue;
        }
        let below: u64 = (3..=b).map(at).sum();
        let spread = (0..256).filter(|&e| cells[cell(b, e)] > 0).count();
        let last = clusters.last().expect("the main cluster").0;
        let near = match (binades(b, b), binades(b + 1, n)) {
            (Some((lo, hi)), Some((alo, ahi))) => lo <= ahi + 2 && alo <= hi + 2,
            _ => false,
        };
        if observed >= 0.3 * below as f64 && spread >= 3 && near && b + 2 <= last {
            clusters.push((b, 2.0 * observed));
        }
    }
    clusters.into_iter().map(|(b, _)| b).collect()
}

/// `clusters` ([`mixed_precisions`], largest first) with each lower precision raised to the
/// largest apparent bits below the cluster above it whose values in `cells` that cluster
/// cannot explain (`> 8×` its geometric tail, plus 3). `cells` are the values to be
/// corrected before any lattice is taken out: a lattice takes out the values at the finer
/// bits of a coarse precision first, and a precision whose values at its own bits lie in too
/// few binades to show the mix shows it a bit lower. Correcting at more bits is always safe.
fn raise_clusters(clusters: &[u32], cells: &[u64]) -> Vec<u32> {
    let at = |a: u32| -> u64 { (0..256).map(|e| cells[cell(a, e)]).sum() };
    let mut out: Vec<(u32, f64)> = Vec::with_capacity(clusters.len());
    for &b in clusters {
        let top = match out.last() {
            None => b,
            Some(&(last, _)) => {
                let explained = |a: u32| -> f64 {
                    out.iter()
                        .map(|&(c, size)| size * 0.5f64.powi((c - a + 1) as i32))
                        .sum()
                };
                (b + 1..last)
                    .rev()
                    .find(|&a| at(a) as f64 > 8.0 * explained(a) + 3.0)
                    .unwrap_or(b)
            }
        };
        if out.last().is_none_or(|&(last, _)| top < last) {
            out.push((top, 2.0 * at(top) as f64));
        }
    }
    out.into_iter().map(|(b, _)| b).collect()
}

/// Resolve every branch of a tree: `branches` are (name, evidence, the user's word) in any
/// order. In an ATLAS tree the precisions its well-evidenced branches show
/// ([`MIN_LEVEL_EVIDENCE`] informative values) are the stream's levels (Athena rounds a
/// stream's floats at one or two configured precisions), and every other branch is
/// corrected at the smallest level at or above its own apparent bits.
pub fn resolve_tree(
    format: Format,
    branches: Vec<(String, BranchEvidence, Given)>,
) -> Vec<(String, Resolution)> {
    resolve_tree_within(format, branches, &[])
}

/// [`resolve_tree`] of some of a tree's branches: `rest` is the evidence of its other float
/// branches, which count towards the stream's levels only, so that a branch resolves the same
/// whichever branches are selected with it.
pub fn resolve_tree_within(
    format: Format,
    branches: Vec<(String, BranchEvidence, Given)>,
    rest: &[(BranchEvidence, Given)],
) -> Vec<(String, Resolution)> {
    let levels = stream_levels(
        branches
            .iter()
            .map(|(_, e, g)| (e, g))
            .chain(rest.iter().map(|(e, g)| (e, g))),
    );
    branches
        .into_iter()
        .map(|(name, evidence, given)| {
            let declared = declared::lookup(format, &name);
            let r = resolve(format, evidence, &given, declared, &levels);
            (name, r)
        })
        .collect()
}

/// Fewest informative values for a branch's bits to count as a level of its ATLAS stream.
pub const MIN_LEVEL_EVIDENCE: u64 = 64;

/// The precisions (below 23) that well-evidenced branches show, ascending.
fn stream_levels<'a>(branches: impl Iterator<Item = (&'a BranchEvidence, &'a Given)>) -> Vec<u32> {
    let mut levels: Vec<u32> = branches
        .filter(|(e, g)| g.bits.is_none() && e.evidence_values >= MIN_LEVEL_EVIDENCE && e.confirmed)
        .filter_map(|(e, _)| e.apparent)
        .filter(|&b| b < 23)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// Resolve one buffer (a whole branch, or a piece of one) on its own: no tree around it, so
/// a weak buffer is left as stored unless `given.bits` says its bits.
///
/// ```
/// use refloat_core::resolve::{resolve_f32, Format, Given, Source};
/// use refloat_core::{quantise::quantise_slice_f32, RoundingMode};
/// // Continuous values and 50 sentinels, rounded like CMS at 10 kept bits.
/// let mut v: Vec<f32> = (0..2000).map(|i| 1.0 + (i as f32 * 0.618034).fract() * 60.0).collect();
/// v.extend([-999.0f32; 50]);
/// quantise_slice_f32(&mut v, 10, RoundingMode::Cms)?;
/// let r = resolve_f32(&v, &Given::default(), Format::Cms);
/// assert_eq!((r.bits, r.bits_source), (Some(10), Source::Detected));
/// assert_eq!(r.mode, RoundingMode::Cms);
/// assert!(r.policy().is_exact(-999.0, &r.quantiser()?.unwrap()));
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn resolve_f32(data: &[f32], given: &Given, format: Format) -> Resolution {
    resolve_named_f32(data, given, format, "")
}

/// [`resolve_f32`] for a buffer of the branch `branch` (its declared precision applies).
pub fn resolve_named_f32(data: &[f32], given: &Given, format: Format, branch: &str) -> Resolution {
    let mut e = Evidence::new();
    e.add(data);
    let evidence = e.finish(given.leave_exact, format);
    let levels = stream_levels(std::iter::once((&evidence, given)));
    resolve(
        format,
        evidence,
        given,
        declared::lookup(format, branch),
        &levels,
    )
}

/// Resolve one branch from its evidence gathered piece by piece ([`Evidence::merge`]), as
/// [`resolve_named_f32`] resolves it from all its values at once.
pub fn resolve_evidence(
    evidence: Evidence,
    given: &Given,
    format: Format,
    branch: &str,
) -> Resolution {
    let evidence = evidence.finish(given.leave_exact, format);
    let levels = stream_levels(std::iter::once((&evidence, given)));
    resolve(
        format,
        evidence,
        given,
        declared::lookup(format, branch),
        &levels,
    )
}

/// Resolve one branch from its evidence (see the module's doc).
pub fn resolve(
    format: Format,
    evidence: BranchEvidence,
    given: &Given,
    declared: Option<declared::Declared>,
    levels: &[u32],
) -> Resolution {
    let mut note: Option<String> = None;
    let strong = (evidence.evidence_values >= MIN_BITS_EVIDENCE && evidence.confirmed)
        || evidence.apparent == Some(23);
    let (bits, bits_source) = match (given.bits, evidence.apparent) {
        (Some(b), _) => (Some(b), Source::Given),
        (None, None) => {
            note = Some(format!(
                "no finite value with a non-zero mantissa among {} values: bits unknown, left as stored",
                evidence.values
            ));
            (None, Source::None)
        }
        (None, Some(m)) => match (declared, strong) {
            (Some(declared::Declared { bits: Some(d), .. }), _) if d > m => {
                (Some(d), Source::Declared)
            }
            (Some(_), _) => (Some(m), Source::Detected),
            // An ATLAS stream's levels: its own bits where they are one and the values show
            // them, else the stream's highest level (the branch may have been rounded at any
            // level at or above its apparent bits; correcting at more bits is safe).
            (None, _) if format == Format::Atlas && !levels.is_empty() => {
                match levels.iter().copied().filter(|&l| l >= m).max() {
                    Some(_) if strong && levels.contains(&m) => (Some(m), Source::Detected),
                    Some(l) => {
                        note = Some(format!(
                            "{m} apparent bits over {} informative values: corrected at the stream's highest level, {l}",
                            evidence.evidence_values
                        ));
                        (Some(l), Source::Tree)
                    }
                    None => {
                        note = Some(format!(
                            "{m} apparent bits, more than the stream's levels ({}): taken as not rounded",
                            levels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
                        ));
                        (Some(23), Source::Tree)
                    }
                }
            }
            (None, true) => (Some(m), Source::Detected),
            (None, false) => {
                note = Some(
                    if evidence.rounded && evidence.evidence_values < MIN_BITS_EVIDENCE {
                        format!(
                        "only {} informative values: too few to tell its kept bits ({m} seen); left as stored (give the bits)",
                        evidence.evidence_values
                    )
                    } else if evidence.rounded {
                        format!(
                        "its values do not show rounding at their {m} apparent bits below their top binade (a lattice as fine as its kept step looks the same there): left as stored (give the bits)"
                    )
                    } else {
                        format!(
                        "its values do not show rounding at their {m} apparent bits (coarser by nature): left as stored (give the bits)"
                    )
                    },
                );
                (None, Source::None)
            }
        },
    };
    if bits == Some(23) && note.is_none() {
        note = Some("23 bits: full precision, nothing to correct".into());
    }
    // Per value only where the branch is shown to mix and the bits are its own (and no
    // declaration says one precision for the whole column).
    // ATLAS rounds a variable at one precision; a CMS column declared with one precision
    // does not mix either.
    let may_mix = format != Format::Atlas && declared.is_none_or(|d| d.expression);
    let per_value = if bits_source == Source::Detected && evidence.clusters.len() > 1 && may_mix {
        evidence.clusters.clone()
    } else {
        Vec::new()
    };
    let single_precision = per_value.is_empty();
    // The scheme as the values show it at their own precisions (corrected at more bits than
    // they show, their codes at those bits say nothing of the scheme).
    let detection = evidence.detection;
    let (mode, mode_source) = match (given.mode, detection.mode) {
        (Some(m), _) => (m, Source::Given),
        (None, Some(m)) => (m, Source::Detected),
        (None, None) => (format.producer_mode(), Source::Format),
    };
    if evidence.counts_full {
        let more = format!(
            "more than {COUNT_CAP} distinct values: spikes looked for among the values that recur"
        );
        note = Some(match note {
            Some(n) => format!("{n}; {more}"),
            None => more,
        });
    }
    Resolution {
        values: evidence.values,
        bits,
        bits_source,
        apparent_bits: evidence.apparent,
        evidence_values: evidence.evidence_values,
        declared,
        mode,
        mode_source,
        per_value,
        // Spikes compared with their neighbouring codes at the bits the branch is corrected
        // at (those found at its apparent bits stay spikes).
        spikes: {
            let [at, one, more] = evidence.spikes;
            match (bits, evidence.apparent) {
                (Some(b), Some(m)) if b == m + 1 && single_precision => one,
                (Some(b), Some(m)) if b > m + 1 && single_precision => more,
                _ => at,
            }
        },
        lattice: evidence.lattice,
        leave_exact: evidence.leave_exact,
        detection,
        note,
    }
}

/// What every buffer correction of a front door does when it is handed no resolution:
/// resolve the buffer on its own ([`resolve_named_f32`] with `at.branch`), then correct it
/// under that resolution with `method` (dither seeded for `at.branch` from index
/// `at.first_index`). A buffer whose bits cannot be told is an error unless `given.bits`
/// says them.
///
/// # Errors
/// [`Error::CannotInferBits`] as above; [`Error::NotQuantised`] for a value that is not a
/// stored value under the resolution (the buffer is untouched then).
///
/// ```
/// use refloat_core::correct::{BranchPosition, Method};
/// use refloat_core::resolve::{correct_resolving_f32, Format, Given};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Cms)?;
/// let mut v: Vec<f32> = [1.2345f32, -999.0, 47.11, 0.5].iter().map(|&x| q.quantise(x)).collect();
/// let given = Given { bits: Some(10), ..Given::default() };
/// let (r, report) = correct_resolving_f32(&mut v, &given, Format::Cms, Method::Midpoint,
///     BranchPosition::default())?;
/// assert_eq!((r.bits, r.mode), (Some(10), RoundingMode::Cms));
/// assert_eq!(v[1], -999.0); // a sentinel stays
/// assert_eq!(report.exact.sentinel, 1);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn correct_resolving_f32(
    data: &mut [f32],
    given: &Given,
    format: Format,
    method: Method,
    at: crate::correct::BranchPosition<'_>,
) -> Result<(Resolution, CorrectionReport)> {
    let r = resolve_named_f32(data, given, format, at.branch);
    let report = match r.corrector(method, at.branch, data)? {
        Some(c) => c.correct_in_place(data, at.first_index)?,
        None if given.bits.is_none() => {
            return Err(Error::CannotInferBits(format!(
                "{} (give the kept bits, or resolve the whole branch first)",
                r.note.as_deref().unwrap_or("the kept bits cannot be told")
            )))
        }
        None => CorrectionReport::default(),
    };
    Ok((r, report))
}

/// How many values of each kind a branch's exact-value rules cover, counted on stored
/// values (for reports that do not correct).
pub fn exact_counts(resolution: &Resolution, data: &[f32]) -> Result<ExactCounts> {
    let mut counts = ExactCounts::default();
    let policy = resolution.policy();
    let Some(q) = resolution.quantiser()? else {
        return Ok(counts);
    };
    for &x in data {
        let qx = match resolution.bits_of(x) {
            Some(b) if b != q.mantissa_bits() => Quantiser32::new(b, resolution.mode)?,
            _ => q,
        };
        if let Some(rule) = policy.rule(x, &qx) {
            counts.add(rule);
        }
    }
    Ok(counts)
}

/// The resolutions of a tree by name (for lookups).
pub type Resolutions = HashMap<String, Resolution>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantise::quantise_slice_f32;

    fn smooth(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let u = (i as f64 * 0.618_033_988_75).fract();
                (scale as f64 * (-u.ln()) + 0.1) as f32
            })
            .collect()
    }

    #[test]
    fn a_lattice_of_half_steps_is_left_alone_and_not_a_second_precision() {
        // L1 pt in 0.5 GeV steps, stored by CMS at 8 bits.
        let mut v: Vec<f32> = smooth(3000, 30.0)
            .iter()
            .map(|x| (x * 2.0).round() / 2.0)
            .collect();
        quantise_slice_f32(&mut v, 8, RoundingMode::Cms).unwrap();
        let r = resolve_f32(&v, &Given::default(), Format::Cms);
        // Every value is on the lattice: nothing is left to correct, nor to tell bits by.
        assert_eq!(r.bits, None, "{}", r.describe());
        assert!(!r.mixed(), "{}", r.describe());
        assert_eq!(r.lattice.map(|l| l.step_log2), Some(-1), "{}", r.describe());
        // At the declared 8 bits (TrigObj_l1pt's), the lattice values stay as they are.
        let r = resolve_named_f32(&v, &Given::default(), Format::Cms, "TrigObj_l1pt");
        assert_eq!(
            (r.bits, r.bits_source),
            (Some(8), Source::Detected),
            "{}",
            r.describe()
        );
        let q = r.quantiser().unwrap().unwrap();
        assert!(r.policy().is_exact(30.5, &q) && r.policy().is_exact(6.5, &q));
        assert!(!r.policy().is_exact(30.625, &q));
    }

    #[test]
    fn a_real_mix_of_precisions_is_found() {
        let mut hi = smooth(3000, 40.0);
        let mut lo: Vec<f32> = smooth(3000, 40.0).iter().map(|x| x * 1.7).collect();
        quantise_slice_f32(&mut hi, 20, RoundingMode::Cms).unwrap();
        quantise_slice_f32(&mut lo, 8, RoundingMode::Cms).unwrap();
        let all: Vec<f32> = hi.iter().chain(&lo).copied().collect();
        let r = resolve_f32(&all, &Given::default(), Format::Cms);
        assert_eq!(r.per_value, vec![20, 8], "{}", r.describe());
        assert!(lo.iter().filter(|x| r.bits_of(**x) != Some(8)).count() == 0);
    }

    #[test]
    fn a_sentinel_and_a_spike_are_exact_and_out_of_the_evidence() {
        let mut v = smooth(2000, 5.0);
        v.extend(std::iter::repeat_n(2044.0f32, 40));
        v.extend(std::iter::repeat_n(-999.0f32, 40));
        quantise_slice_f32(&mut v, 10, RoundingMode::Cms).unwrap();
        let r = resolve_f32(&v, &Given::default(), Format::Cms);
        assert_eq!(
            r.spikes.iter().map(|s| s.value).collect::<Vec<_>>(),
            vec![2044.0]
        );
        assert!(r.evidence_values <= 2000);
    }

    #[test]
    fn few_values_are_weak_and_left_as_stored_unless_the_tree_or_user_says() {
        let mut v = vec![1.234f32, 5.678, 9.1011];
        quantise_slice_f32(&mut v, 10, RoundingMode::Nearest).unwrap();
        let r = resolve_f32(&v, &Given::default(), Format::Atlas);
        assert_eq!(r.bits, None, "{}", r.describe());
        let mut e = Evidence::new();
        e.add(&v);
        let r = resolve(
            Format::Atlas,
            e.finish(true, Format::Atlas),
            &Given::default(),
            None,
            &[7, 12],
        );
        assert_eq!((r.bits, r.bits_source), (Some(12), Source::Tree));
        let given = Given {
            bits: Some(10),
            ..Given::default()
        };
        assert_eq!(resolve_f32(&v, &given, Format::Unknown).bits, Some(10));
    }

    #[test]
    fn full_precision_sums_of_rounded_values_are_not_mixed() {
        let mut ten = smooth(300, 30.0);
        quantise_slice_f32(&mut ten, 10, RoundingMode::Cms).unwrap();
        let mut v = smooth(3000, 100.0);
        v.extend(&ten);
        let r = resolve_f32(&v, &Given::default(), Format::Cms);
        assert_eq!(r.bits, Some(23), "{}", r.describe());
        assert!(!r.mixed());
    }

    #[test]
    fn evidence_merged_from_pieces_resolves_as_the_whole() {
        let mut v = smooth(3000, 30.0);
        v.extend(std::iter::repeat_n(-999.0f32, 20));
        v.extend(std::iter::repeat_n(1022.0f32, 30));
        quantise_slice_f32(&mut v, 8, RoundingMode::Cms).unwrap();
        let whole = resolve_f32(&v, &Given::default(), Format::Cms);
        let mut merged = Evidence::new();
        for piece in v.chunks(700) {
            let mut e = Evidence::new();
            e.add(piece);
            merged.merge(&Evidence::from_bytes(&e.to_bytes().unwrap()).unwrap());
        }
        let pieces = resolve_evidence(merged, &Given::default(), Format::Cms, "");
        assert_eq!(pieces.to_json().unwrap(), whole.to_json().unwrap());
        let back = Resolution::from_json(&whole.to_json().unwrap()).unwrap();
        assert_eq!(back.to_json().unwrap(), whole.to_json().unwrap());
        assert!(Evidence::from_bytes(b"nonsense").is_err());
    }

    #[test]
    fn pattern_counts_count_and_stop_at_the_cap() {
        let mut c = PatternCounts::new();
        for i in 0..5000u32 {
            c.add(i % 1234 + 1);
        }
        assert_eq!(c.get(1), 5);
        assert_eq!(c.get(1234), 4);
        assert_eq!(c.get(99999), 0);
        assert_eq!(c.iter().map(|(_, n)| n).sum::<u64>(), 5000);
    }
}
