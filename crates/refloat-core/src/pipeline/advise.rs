//! [`advise_file`](super::advise_file): the kept-bit sweep of every selected branch, with each
//! rounded branch's compressed size.

use super::*;
use crate::advise;

/// Options of [`advise_file`].
#[derive(Clone, Debug, Default)]
pub struct AdviseFileOptions {
    pub select: Select,
    /// The sweep's settings (scheme, bits swept, criteria).
    pub advise: AdviseOptions,
    /// Resolutions per branch name or glob; the first matching rule applies.
    pub resolutions: Vec<(BranchPattern, advise::Resolution)>,
    /// Measure the compressed size at every kept-bit count: each basket's rounded values,
    /// big-endian as ROOT writes them, recompressed with the file's algorithm and level.
    pub measure_sizes: bool,
}

/// One branch of [`advise_file`].
#[derive(Serialize, Debug, Clone)]
pub struct AdvisedBranch {
    #[serde(flatten)]
    pub advice: BranchAdvice,
    pub layout: FloatLayout,
    /// How the input's values were stored (full precision: 23 bits).
    pub input: Detection,
    /// The artefact detector on the input's values as stored, without originals (only when
    /// the input is itself rounded: fewer than 23 kept bits).
    pub input_artefacts: Option<Artefacts>,
    /// Compressed bytes of the input's values, measured like the sweep's sizes.
    pub input_bytes: Option<u64>,
    /// The bitwise real information of the input's values ([`crate::information`]).
    pub information: Option<BranchInformation>,
}

/// The bitwise real information of a branch's values, with its neighbour stated: the next
/// object of the same event for a jagged branch, the next event for a flat one (independent
/// events: a control, whose surviving bits are false positives).
#[derive(Serialize, Debug, Clone)]
pub struct BranchInformation {
    /// `next object` or `next event (control)`.
    pub neighbour: &'static str,
    pub pairs: usize,
    /// Information over all bits, and over the mantissa bits, in bits per value.
    pub total: f64,
    pub mantissa: f64,
    /// Klöwer's rule: the kept mantissa bits holding 99 % of the information.
    pub kept_bits_99: Option<u32>,
    /// The information of the input's last kept mantissa bit (bits per value, 0 below the
    /// significance filter): whether the lowest kept bit still carries information.
    pub last_kept_bit: Option<f64>,
    /// Per bit position: 0 sign, 1–8 exponent, 9–31 mantissa.
    pub bits: Vec<f64>,
}

impl BranchInformation {
    fn of(values: &[f32], offsets: Option<&[usize]>, input_bits: Option<u32>) -> Result<Self> {
        use crate::information::{bitwise_information, Neighbour, F32_SIGN_EXPONENT_BITS};
        let (neighbour, name) = match offsets {
            Some(_) => (Neighbour::NextObject, "next object"),
            None => (Neighbour::NextEvent, "next event (control)"),
        };
        let info = bitwise_information(values, offsets, neighbour)?;
        Ok(BranchInformation {
            neighbour: name,
            pairs: info.pairs,
            total: info.total(),
            mantissa: info.mantissa(),
            kept_bits_99: info.kept_mantissa_bits_for(0.99).ok(),
            last_kept_bit: input_bits
                .filter(|&b| b > 0)
                .map(|b| info.bits[F32_SIGN_EXPONENT_BITS + b as usize - 1]),
            bits: info.bits.to_vec(),
        })
    }
}

/// What [`advise_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct AdviceReport {
    pub input: PathBuf,
    pub tree: String,
    pub entries: u64,
    /// The compression the sizes were measured with (the input's).
    pub compression: String,
    pub options: AdviseOptions,
    pub branches: Vec<AdvisedBranch>,
    /// Branches that could not be swept (e.g. fewer than 2 finite values), with the reason.
    pub not_swept: Vec<Skipped>,
    /// Float-like branches outside the selection's reach, with the reason.
    pub skipped: Vec<Skipped>,
}

impl AdviceReport {
    /// The report as JSON: what `refloat advise --json` writes, and what
    /// [`advised_bits`] reads back (`branches[].name`, `branches[].recommended_bits`).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::InvalidInput(format!("advice as JSON: {e}")))
    }

    /// Writes [`Self::to_json`] to `path`, atomically (beside it, then renamed).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        super::write_json_atomically(path, self.to_json()?)
    }
}

/// Per-branch kept bits from an advice's JSON ([`AdviceReport::to_json`]): one exact-name
/// rule per branch, its `recommended_bits`, for [`CompressOptions::bits`].
///
/// # Errors
/// [`Error::InvalidInput`] for text that is not such JSON, naming what is missing.
pub fn advised_bits(json: &str) -> Result<Vec<(BranchPattern, u32)>> {
    let bad = |why: String| Error::InvalidInput(format!("advice JSON: {why}"));
    let advice: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("not JSON ({e})")))?;
    let branches = advice["branches"]
        .as_array()
        .ok_or_else(|| bad("no 'branches' list (expected the JSON of refloat advise)".into()))?;
    branches
        .iter()
        .enumerate()
        .map(
            |(i, b)| match (b["name"].as_str(), b["recommended_bits"].as_u64()) {
                (Some(name), Some(bits)) if bits <= 23 => {
                    Ok((BranchPattern::Exact(name.to_string()), bits as u32))
                }
                _ => Err(bad(format!(
                    "branch {i} lacks a 'name' or 'recommended_bits' in 0..=23"
                ))),
            },
        )
        .collect()
}

/// The bytes of `values` compressed basket by basket: `blocks` are the baskets' value counts.
pub(super) fn recompressed_bytes(
    values: &[f32],
    blocks: &[usize],
    compression: Compression,
) -> Result<u64> {
    let mut total = 0u64;
    let mut at = 0usize;
    for &n in blocks {
        let bytes: Vec<u8> = values[at..at + n]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        at += n;
        total += compression.compressed_len(bytes)? as u64;
    }
    Ok(total)
}

/// Sweeps every selected float branch of `input` over kept bits (see [`crate::advise`]):
/// the input's values are the originals (for an input already rounded, such as NanoAOD,
/// its stored values stand in for them).
///
/// # Errors
/// File, tree and selection errors; [`Error::InvalidArgument`] for unusable options.
pub fn advise_file(
    input: &Path,
    opts: &AdviseFileOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<AdviceReport> {
    use rayon::prelude::*;
    let loaded = load(input, &opts.select)?;
    let compression = Compression::from_root_setting(loaded.file.compression())?;
    let infos = &loaded.selection.floats;
    // Read (serial: one file), then sweep the branches in parallel.
    let mut read = Vec::with_capacity(infos.len());
    let mut bar = StageReporter::start(Stage::Reading, infos.len(), progress);
    for info in infos {
        bar.branch(&info.name);
        // The baskets' value counts (for their recompressed sizes) and the entry structure
        // (for the information's neighbours), in one read.
        let (branch, blocks) = loaded.tree.read_float_baskets(&info.name)?;
        read.push((info, branch.values, blocks, branch.offsets));
    }
    bar.finish();
    // In parallel, a few branches at a time (the progress callback stays on this thread).
    type Read<'a> = (&'a BranchInfo, Vec<f32>, Vec<usize>, Option<Vec<usize>>);
    let sweep_one = |(info, values, blocks, offsets): &Read<'_>| -> std::result::Result<AdvisedBranch, Skipped> {
            let resolution = opts
                .resolutions
                .iter()
                .find(|(p, _)| p.matches(&info.name))
                .map(|(_, r)| *r);
            let not_swept = |e: Error| Skipped {
                name: info.name.clone(),
                type_name: info.type_name.clone(),
                reason: e.to_string(),
            };
            let mut size = |v: &[f32]| recompressed_bytes(v, blocks, compression);
            let advice = sweep_branch(
                &info.name,
                values,
                resolution,
                &opts.advise,
                if opts.measure_sizes { Some(&mut size) } else { None },
            )
            .map_err(not_swept)?;
            let input = crate::detect::detect_f32(values);
            let input_artefacts = match input.bits {
                Some(bits) if bits < 23 => {
                    let mode = input.mode.unwrap_or(opts.advise.mode);
                    let q = Quantiser32::new(bits, mode).map_err(not_swept)?;
                    Some(
                        crate::advise::artefacts_of_stored(
                            values,
                            &q,
                            &ExactPolicy::default(),
                            &opts.advise.artefacts,
                        )
                        .map_err(not_swept)?,
                    )
                }
                _ => None,
            };
            let input_bytes = if opts.measure_sizes {
                Some(recompressed_bytes(values, blocks, compression).map_err(not_swept)?)
            } else {
                None
            };
            let information = BranchInformation::of(values, offsets.as_deref(), input.bits).ok();
            Ok(AdvisedBranch {
                advice,
                layout: info.float_layout().unwrap_or(FloatLayout::Flat),
                input,
                input_artefacts,
                input_bytes,
                information,
            })
    };
    let mut bar = StageReporter::start(Stage::Sweeping, read.len(), progress);
    let mut results = Vec::with_capacity(read.len());
    for chunk in read.chunks(4 * rayon::current_num_threads().max(1)) {
        for (info, ..) in chunk {
            bar.branch(&info.name);
        }
        results.extend(chunk.par_iter().map(sweep_one).collect::<Vec<_>>());
    }
    bar.finish();
    let (mut branches, mut not_swept) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(b) => branches.push(b),
            Err(s) => not_swept.push(s),
        }
    }
    Ok(AdviceReport {
        input: input.to_path_buf(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        compression: compression.to_string(),
        options: opts.advise,
        branches,
        not_swept,
        skipped: loaded.selection.skipped.clone(),
    })
}
