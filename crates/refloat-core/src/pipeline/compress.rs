//! [`compress_file`](super::compress_file): a drop-in copy with the selected float branches
//! rounded, and its size table.

use super::*;

/// Options of [`compress_file`].
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub select: Select,
    /// The rounding (kept bits and scheme) of every branch no rule of `bits` matches.
    pub quantiser: Quantiser32,
    /// Kept bits per branch name or glob (the first matching rule applies; same scheme as
    /// `quantiser`): e.g. the recommendations of [`advise_file`].
    pub bits: Vec<(BranchPattern, u32)>,
    /// Output compression; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Measure the seed study's size table (`ATLAS_COMPRESSION.md`) of the output (re-reads both
    /// files' basket sizes).
    pub measure_sizes: bool,
    /// A copied record (another branch's basket, an object) that does not decode: an error
    /// (default) or listed in [`Rewritten::damaged_copies`].
    pub copies: CopyCheck,
    /// Threads that decompress and compress baskets ([`RewriteOptions::threads`]: 0 every
    /// core); the output is the same bytes whatever the count.
    pub threads: usize,
}

/// Per-branch result of [`compress_file`].
#[derive(Serialize, Debug, Clone)]
pub struct CompressedBranch {
    pub name: String,
    pub layout: FloatLayout,
    /// Kept mantissa bits it was rounded to.
    pub mantissa_bits: u32,
    pub values: u64,
    /// Values whose bits changed.
    pub changed: u64,
}

/// What [`compress_file`] did.
#[derive(Serialize, Debug, Clone)]
pub struct CompressReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tree: String,
    pub entries: u64,
    pub mantissa_bits: u32,
    pub mode: RoundingMode,
    pub branches: Vec<CompressedBranch>,
    pub values: u64,
    /// Branches of the tree that were not rounded (copied as stored), with the reason.
    pub skipped: Vec<Skipped>,
    /// The float values of the file left as stored ([`floats_left_alone`]).
    pub floats_left_alone: Vec<Skipped>,
    /// ROOT's compression setting of the input (`algorithm * 100 + level`).
    pub input_compression_setting: i32,
    pub written: Rewritten,
    /// The seed study's size table (`ATLAS_COMPRESSION.md`) of the tree (`None` when not measured).
    pub sizes: Option<SizeTable>,
    /// `1 − output / input` of the whole file.
    pub file_saving: f64,
}

/// Rounds the selected float branches of `input` and writes the drop-in copy `output`.
pub fn compress_file(
    input: &Path,
    output: &Path,
    opts: &CompressOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<CompressReport> {
    refuse_same_file(input, output)?;
    let mut loaded = load(input, &opts.select)?;
    let floats_left_alone = floats_left_alone(&mut loaded);
    let names: Vec<String> = loaded
        .selection
        .floats
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let mut changed = vec![0u64; names.len()];
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let quantisers: Vec<Quantiser32> = names
        .iter()
        .map(|n| match opts.bits.iter().find(|(p, _)| p.matches(n)) {
            Some(&(_, bits)) => Quantiser32::new(bits, opts.quantiser.mode())
                .map_err(|e| Error::InvalidArgument(format!("kept bits of branch '{n}': {e}"))),
            None => Ok(opts.quantiser),
        })
        .collect::<Result<_>>()?;
    let pending = PendingOutput::beside(output)?;
    let mut bar = StageReporter::start(Stage::Rounding, names.len(), progress);
    let mut written = rewrite_floats(
        input,
        pending.path(),
        &RewriteOptions {
            tree: loaded.tree.name().to_string(),
            branches: names.clone(),
            compression: opts.compression,
            verify_written: false,
            copies: opts.copies,
            threads: opts.threads,
        },
        |b| {
            let i = index[b.branch];
            if b.first_value == 0 {
                bar.branch(b.branch);
            }
            let q = quantisers[i];
            for x in b.values.iter_mut() {
                let y = q.quantise(*x);
                changed[i] += u64::from(y.to_bits() != x.to_bits());
                *x = y;
            }
            Ok(())
        },
    )?;
    bar.finish();
    let sizes = if opts.measure_sizes {
        let context = |e: Error| {
            Error::InvalidInput(format!(
                "{}: measuring the size table: {e}",
                output.display()
            ))
        };
        let mut table =
            SizeTable::measure(input, pending.path(), loaded.tree.name()).map_err(context)?;
        if fault_injected("sizes") {
            return Err(Error::InvalidInput(format!(
                "{}: measuring the size table failed on purpose ({FAULT_ENV}=sizes, for tests)",
                output.display()
            )));
        }
        table.after.path = output.to_path_buf();
        Some(table)
    } else {
        None
    };
    written.path = pending.commit()?;
    let branches: Vec<CompressedBranch> = loaded
        .selection
        .floats
        .iter()
        .zip(&written.values)
        .zip(&changed)
        .zip(&quantisers)
        .map(|(((info, (_, values)), changed), q)| CompressedBranch {
            name: info.name.clone(),
            layout: info.float_layout().unwrap_or(FloatLayout::Flat),
            mantissa_bits: q.mantissa_bits(),
            values: *values,
            changed: *changed,
        })
        .collect();
    Ok(CompressReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        mantissa_bits: opts.quantiser.mantissa_bits(),
        mode: opts.quantiser.mode(),
        values: branches.iter().map(|b| b.values).sum(),
        branches,
        skipped: loaded.selection.skipped.clone(),
        floats_left_alone,
        input_compression_setting: loaded.file.compression(),
        file_saving: 1.0 - written.output_bytes as f64 / written.input_bytes.max(1) as f64,
        written,
        sizes,
    })
}
