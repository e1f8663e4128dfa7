//! The file pipelines for C (`refloat_compress_file`, `refloat_correct_file`,
//! `refloat_advise_file`, `refloat_analyse_file`) and the cxx bridge (`compress_file`, `correct_file`): one request type both front doors fill, one
//! call into [`crate::pipeline`], one set of totals both report. No semantics of their own.

use std::path::Path;

use super::options::{method, refloat_rounding, rounding_mode};

/// `REFLOAT_DETECT` as the options carry it.
const DETECT: u32 = refloat_rounding::REFLOAT_DETECT as u32;
use super::FfiError;
use crate::io::rewrite::CopyCheck;
use crate::pipeline::{self, CompressOptions, CorrectOptions, Correction, Progress, Select};
use crate::Quantiser32;

/// What a front door asks of a file pipeline (C enums as plain integers).
pub(crate) struct FileRequest {
    /// Tree; `None`: the file's analysis tree ([`crate::io::choose_analysis_tree`]).
    pub tree: Option<String>,
    /// Names or globs; empty: every float branch.
    pub branches: Vec<String>,
    /// Kept bits: required by compress; `None`: inferred per branch by correct.
    pub bits: Option<u32>,
    pub mode: u32,
    pub method: u32,
    pub seed: u64,
    /// `zstd:5`, `none`, …; `None`: the input's.
    pub compression: Option<String>,
    pub verify: bool,
    /// Whose defaults apply; `None`: the tree's.
    pub format: Option<crate::resolve::Format>,
    /// Correct: leave values exact by nature alone.
    pub leave_exact: bool,
    /// Copy records that do not decode (listed in the report) instead of failing.
    pub allow_damaged_copies: bool,
    /// Threads that decompress and compress baskets; 0: every core.
    pub threads: usize,
}

/// What a pipeline did, in the numbers every front door reports: the C API's
/// `refloat_file_report` (the bridge copies it into its own `FileReport`).
pub(crate) use super::options::refloat_file_report as FileTotals;

/// Kept bits as the front doors pass them: `-1` infers them, `0..` are given.
pub(crate) fn bits_arg(bits: i32, name: &str) -> Result<Option<u32>, FfiError> {
    match bits {
        -1 => Ok(None),
        b if b >= 0 => Ok(Some(b as u32)),
        b => Err(FfiError::invalid_argument(format!(
            "{name} {b}: expected 0..=23, or -1 to infer them"
        ))),
    }
}

impl FileRequest {
    /// The scheme of the format's producer for `input`'s selected tree (`REFLOAT_DETECT` in
    /// compress).
    fn producer_mode(&self, input: &Path) -> Result<crate::RoundingMode, FfiError> {
        match self.format {
            Some(f) => Ok(f.producer_mode()),
            None => Ok(pipeline::producer_mode(input, &self.select())?),
        }
    }

    /// The scheme asked for; `REFLOAT_DETECT`: the format's producer's for `input`.
    fn mode_or_producer(&self, input: &Path) -> Result<crate::RoundingMode, FfiError> {
        match self.mode {
            DETECT => self.producer_mode(input),
            m => rounding_mode(m),
        }
    }

    /// The scheme asked for; `None` (`REFLOAT_DETECT`): resolved per branch.
    fn given_mode(&self) -> Result<Option<crate::RoundingMode>, FfiError> {
        match self.mode {
            DETECT => Ok(None),
            m => rounding_mode(m).map(Some),
        }
    }

    fn select(&self) -> Select {
        Select {
            tree: self.tree.clone(),
            branches: self.branches.clone(),
        }
    }

    fn copies(&self) -> CopyCheck {
        if self.allow_damaged_copies {
            CopyCheck::Warn
        } else {
            CopyCheck::Error
        }
    }

    fn compression(&self) -> Result<Option<crate::io::rewrite::Compression>, FfiError> {
        Ok(self.compression.as_deref().map(str::parse).transpose()?)
    }

    /// Runs [`pipeline::compress_file`].
    pub fn compress(
        &self,
        input: &Path,
        output: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError> {
        let bits = self.bits.ok_or_else(|| {
            FfiError::invalid_argument(
                "compress: mantissa_bits must be given (0..=23), not inferred",
            )
        })?;
        let mode = self.mode_or_producer(input)?;
        let opts = CompressOptions {
            select: self.select(),
            quantiser: Quantiser32::new(bits, mode)?,
            bits: Vec::new(),
            compression: self.compression()?,
            measure_sizes: false,
            copies: self.copies(),
            threads: self.threads,
        };
        let r = pipeline::compress_file(input, output, &opts, progress)?;
        Ok(FileTotals {
            branches: r.branches.len() as u64,
            values: r.values,
            changed: r.branches.iter().map(|b| b.changed).sum(),
            input_bytes: r.written.input_bytes,
            output_bytes: r.written.output_bytes,
            floats_left_alone: r.floats_left_alone.len() as u64,
            damaged_copies: r.written.damaged_copies.len() as u64,
            ..FileTotals::default()
        })
    }

    /// Runs [`pipeline::correct_file`].
    pub fn correct(
        &self,
        input: &Path,
        output: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError> {
        let opts = CorrectOptions {
            select: self.select(),
            bits: self.bits,
            mode: self.given_mode()?,
            compression: self.compression()?,
            verify: self.verify,
            format: self.format,
            leave_exact: self.leave_exact,
            copies: self.copies(),
            threads: self.threads,
        };
        let m = method(self.method, self.seed)?;
        let r = pipeline::correct_file(input, output, Correction::Method(m), &opts, progress)?;
        let total = r.total();
        Ok(FileTotals {
            branches: r.branches.len() as u64,
            values: r.values as u64,
            changed: r.branches.iter().map(|b| b.changed as u64).sum(),
            corrected: total.corrected as u64,
            left_exact: total.left_exact as u64,
            non_finite: total.non_finite as u64,
            left_short_mantissa: total.exact.short_mantissa as u64,
            left_sentinel: total.exact.sentinel as u64,
            left_spike: total.exact.spike as u64,
            left_lattice: total.exact.lattice as u64,
            floats_left_alone: r.floats_left_alone.len() as u64,
            not_inferable: r
                .branches
                .iter()
                .filter(|b| b.mantissa_bits.is_none())
                .count() as u64,
            verified_values: r.verified_values as u64,
            damaged_copies: r.written.damaged_copies.len() as u64,
            input_bytes: r.written.input_bytes,
            output_bytes: r.written.output_bytes,
        })
    }
}

impl FileRequest {
    /// Runs [`pipeline::advise_file`] and writes its JSON to `output`.
    pub fn advise(
        &self,
        input: &Path,
        output: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError> {
        let mode = self.mode_or_producer(input)?;
        let opts = pipeline::AdviseFileOptions {
            select: self.select(),
            advise: crate::advise::AdviseOptions {
                mode,
                ..Default::default()
            },
            resolutions: Vec::new(),
            measure_sizes: true,
        };
        let r = pipeline::advise_file(input, &opts, progress)?;
        r.write_json(output)?;
        Ok(FileTotals {
            branches: r.branches.len() as u64,
            values: r.branches.iter().map(|b| b.advice.values).sum(),
            ..FileTotals::default()
        })
    }

    /// Runs [`pipeline::analyse_file`] on `original` and `compressed`.
    pub fn analyse_report(
        &self,
        original: &Path,
        compressed: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<pipeline::AnalyseReport, FfiError> {
        let mode = self.mode_or_producer(original)?;
        let opts = pipeline::AnalyseOptions {
            select: self.select(),
            bits: self.bits,
            mode,
        };
        Ok(pipeline::analyse_file(
            original, compressed, &opts, progress,
        )?)
    }

    /// [`Self::analyse_report`], its JSON written to `output`.
    pub fn analyse(
        &self,
        original: &Path,
        compressed: &Path,
        output: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError> {
        let r = self.analyse_report(original, compressed, progress)?;
        r.write_json(output)?;
        Ok(FileTotals {
            branches: r.branches.len() as u64,
            values: r.pooled.count as u64,
            ..FileTotals::default()
        })
    }

    /// Runs [`pipeline::verify_file`] on `stored` and `corrected` (bits and scheme resolved
    /// per branch unless given, as correct resolves them).
    pub fn verify(
        &self,
        stored: &Path,
        corrected: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<pipeline::VerifyReport, FfiError> {
        let opts = pipeline::VerifyOptions {
            select: self.select(),
            bits: self.bits,
            mode: self.given_mode()?,
            format: self.format,
            leave_exact: self.leave_exact,
        };
        Ok(pipeline::verify_file(stored, corrected, &opts, progress)?)
    }

    /// Runs [`pipeline::inspect_file`] on `input`: the tree asked for, else every tree.
    pub fn inspect(
        &self,
        input: &Path,
        progress: &mut pipeline::ProgressFn<'_>,
    ) -> Result<pipeline::InspectReport, FfiError> {
        let patterns = crate::io::parse_patterns(&self.branches)?;
        Ok(pipeline::inspect_file(
            input,
            self.tree.as_deref(),
            &patterns,
            progress,
        )?)
    }
}

/// The totals of a verification: branches and values checked (all of them verified).
pub(crate) fn verify_totals(r: &pipeline::VerifyReport) -> FileTotals {
    FileTotals {
        branches: r.branches.len() as u64,
        values: r.values as u64,
        verified_values: r.values as u64,
        ..FileTotals::default()
    }
}

/// The totals of an inspection: float branches and their values, every tree.
pub(crate) fn inspect_totals(r: &pipeline::InspectReport) -> FileTotals {
    let floats = || {
        r.trees
            .iter()
            .flat_map(|t| &t.branches)
            .filter(|b| matches!(b.kind, crate::io::BranchKind::Float(_)))
    };
    FileTotals {
        branches: floats().count() as u64,
        values: floats().filter_map(|b| b.values).sum::<usize>() as u64,
        ..FileTotals::default()
    }
}

/// A progress callback that drops every report.
pub(crate) fn no_progress(_: Progress<'_>) {}
