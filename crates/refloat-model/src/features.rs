//! Model inputs and targets, built from stored values (pure functions, no libtorch).
//!
//! The data of a model is a group of `F` variables of the same objects (e.g. the `pt`,
//! `eta`, `phi` of every jet): `F` columns of equal length `N`, stored with the same
//! quantiser, and the event structure as `offsets` (`events + 1` entries, event `e` holds
//! objects `offsets[e]..offsets[e + 1]`).
//!
//! Per value (variable `j` of object `i`, stored value `s`) three features:
//! * `z = (asinh(s / scale_j) − mean_j) / std_j` ([`VarNorm::z`]);
//! * the kept mantissa bits as a fraction in `[0, 1)`: the position of `s` inside its binade;
//! * `1` if the value is taken as exact ([`ExactPolicy`]) or is not finite, else `0`.
//!
//! Inpainting adds event context per object: `ln(1 + objects in the event) / 3`, the rank
//! of the object in its event divided by the object count, and the `z` of every variable of
//! the previous and the next object of the same event (0 when there is none) with two
//! presence flags: `5F + 4` inputs per object in all ([`inpainting_inputs`]).
//!
//! The target of a value is where its original lies inside the interval of originals of the
//! stored value: `t = (original − lo) / (hi − lo)` in `[0, 1]` ([`interval_fraction`]). It
//! is masked out for exact, non-finite and zero-width values, which no model moves.

use refloat_core::bounds::Interval;
use refloat_core::correct::ExactPolicy;
use refloat_core::error::{Error, Result};
use refloat_core::quantise::Quantiser32;

use super::meta::VarNorm;

/// Per-value features (see the module documentation).
pub const PER_VALUE: usize = 3;

/// Number of inpainting inputs per object for `variables` variables: `5F + 4`.
#[inline]
pub fn inpainting_inputs(variables: usize) -> usize {
    5 * variables + 4
}

/// The kept mantissa bits of `s` as a fraction in `[0, 1)` (0 when nothing is kept).
#[inline]
pub fn kept_mantissa_fraction(s: f32, q: &Quantiser32) -> f32 {
    let n = q.mantissa_bits();
    if n == 0 {
        return 0.0;
    }
    let kept = (s.to_bits() & 0x007F_FFFF) >> q.dropped_bits();
    kept as f32 / (1u32 << n) as f32
}

/// Whether a stored value is left alone by every correction: non-finite, exact by the
/// policy, or with an interval of zero width.
#[inline]
pub fn is_fixed(s: f32, q: &Quantiser32, policy: &ExactPolicy) -> bool {
    !s.is_finite()
        || policy.is_exact(s, q)
        || q.interval(s)
            .is_none_or(|iv| iv.width().is_nan() || iv.width() <= 0.0)
}

/// Where `original` lies inside `iv`, as a fraction in `[0, 1]` of its width from the
/// numerically lower end (`None` for a zero-width interval or non-finite input).
///
/// ```
/// use refloat_model::features::interval_fraction;
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Truncate)?;
/// let iv = q.interval(1.0).unwrap();
/// assert_eq!(interval_fraction(1.0, &iv), Some(0.0));
/// # Ok::<(), refloat_core::Error>(())
/// ```
#[inline]
pub fn interval_fraction(original: f32, iv: &Interval<f32>) -> Option<f64> {
    let w = iv.width();
    if w.is_nan() || w <= 0.0 || !original.is_finite() {
        return None;
    }
    Some(((original as f64 - iv.lo as f64) / w).clamp(0.0, 1.0))
}

/// The value at fraction `f` of the interval of `stored`, clamped into it: the model output
/// mapped back so that **`quantise(result) == stored` holds by construction**. A NaN `f`
/// or a value without an interval gives `stored` back.
///
/// ```
/// use refloat_model::features::value_at_fraction;
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
/// for f in [-1.0f32, 0.0, 0.3, 1.0, 7.0, f32::NAN] {
///     let x = value_at_fraction(1.5, f, &q);
///     assert_eq!(q.quantise(x), 1.5);
/// }
/// # Ok::<(), refloat_core::Error>(())
/// ```
#[inline]
pub fn value_at_fraction(stored: f32, f: f32, q: &Quantiser32) -> f32 {
    match q.interval(stored) {
        Some(iv) => value_in_interval(stored, f, &iv, q),
        None => stored,
    }
}

/// [`value_at_fraction`] with the stored value's interval `iv` already at hand.
#[inline]
pub fn value_in_interval(stored: f32, f: f32, iv: &Interval<f32>, q: &Quantiser32) -> f32 {
    if f.is_nan() {
        return stored;
    }
    let f = f.clamp(0.0, 1.0) as f64;
    let x = (iv.lo as f64 + f * iv.width()) as f32;
    let x = iv.clamp(x);
    // The interval is a contiguous run of patterns, so this always holds; keep the stored
    // value rather than ever break the invariant.
    if q.quantise(x).to_bits() == stored.to_bits() {
        x
    } else {
        stored
    }
}

/// Check that `columns` are equally long and `offsets` describe them.
pub fn check_group(columns: &[&[f32]], offsets: &[usize]) -> Result<usize> {
    let n = columns.first().map_or(0, |c| c.len());
    for (j, c) in columns.iter().enumerate() {
        if c.len() != n {
            return Err(Error::LengthMismatch {
                what: format!("variable {j} vs variable 0"),
                left: c.len(),
                right: n,
            });
        }
    }
    if offsets.first() != Some(&0)
        || offsets.windows(2).any(|w| w[1] < w[0])
        || offsets.last() != Some(&n)
    {
        return Err(Error::InvalidInput(format!(
            "event offsets must start at 0, never decrease and end at the number of objects ({n})"
        )));
    }
    Ok(n)
}

/// Per-value features `[z, kept-mantissa fraction, fixed flag]` of one stored value.
#[inline]
fn per_value(s: f32, norm: &VarNorm, q: &Quantiser32, policy: &ExactPolicy) -> [f32; PER_VALUE] {
    let fixed = is_fixed(s, q, policy);
    [
        norm.z(s),
        kept_mantissa_fraction(s, q),
        if fixed { 1.0 } else { 0.0 },
    ]
}

/// Inpainting inputs, row-major `[N, 5F + 4]` (see the module documentation).
///
/// # Errors
/// [`Error::LengthMismatch`] / [`Error::InvalidInput`] for inconsistent columns or offsets,
/// or a number of columns other than `norms.len()`.
pub fn inpainting_features(
    columns: &[&[f32]],
    offsets: &[usize],
    norms: &[VarNorm],
    q: &Quantiser32,
    policy: &ExactPolicy,
) -> Result<Vec<f32>> {
    let n = check_group(columns, offsets)?;
    let f = norms.len();
    if columns.len() != f {
        return Err(Error::LengthMismatch {
            what: "columns vs model variables".into(),
            left: columns.len(),
            right: f,
        });
    }
    let width = inpainting_inputs(f);
    // Each value's own features once (its `z` is also its neighbours' context).
    let own: Vec<Vec<[f32; PER_VALUE]>> = columns
        .iter()
        .zip(norms)
        .map(|(c, norm)| c.iter().map(|&s| per_value(s, norm, q, policy)).collect())
        .collect();
    let mut out = vec![0f32; n * width];
    for e in offsets.windows(2) {
        let (start, end) = (e[0], e[1]);
        let count = end - start;
        for i in start..end {
            let row = &mut out[i * width..(i + 1) * width];
            for j in 0..f {
                row[PER_VALUE * j..PER_VALUE * (j + 1)].copy_from_slice(&own[j][i]);
            }
            let ctx = PER_VALUE * f;
            row[ctx] = ((1 + count) as f32).ln() / 3.0;
            row[ctx + 1] = (i - start) as f32 / count as f32;
            if i > start {
                row[ctx + 2] = 1.0;
                for j in 0..f {
                    row[ctx + 4 + j] = own[j][i - 1][0];
                }
            }
            if i + 1 < end {
                row[ctx + 3] = 1.0;
                for j in 0..f {
                    row[ctx + 4 + f + j] = own[j][i + 1][0];
                }
            }
        }
    }
    Ok(out)
}

/// Autoencoder (per-value mode) inputs, channel-major `[3F, N]`: the per-value features of
/// each variable along the sequence of objects.
///
/// # Errors
/// As [`inpainting_features`] (offsets are not needed: the sequence runs across events).
pub fn sequence_features(
    columns: &[&[f32]],
    norms: &[VarNorm],
    q: &Quantiser32,
    policy: &ExactPolicy,
) -> Result<Vec<f32>> {
    let n = columns.first().map_or(0, |c| c.len());
    sequence_features_range(columns, norms, q, policy, 0..n)
}

/// [`sequence_features`] of the objects `range` only, channel-major `[3F, range.len()]`:
/// a window of the sequence, built without the whole.
///
/// # Errors
/// As [`sequence_features`], and [`Error::InvalidInput`] for a range outside the columns.
pub fn sequence_features_range(
    columns: &[&[f32]],
    norms: &[VarNorm],
    q: &Quantiser32,
    policy: &ExactPolicy,
    range: std::ops::Range<usize>,
) -> Result<Vec<f32>> {
    let n = columns.first().map_or(0, |c| c.len());
    check_group(columns, &[0, n])?;
    if columns.len() != norms.len() {
        return Err(Error::LengthMismatch {
            what: "columns vs model variables".into(),
            left: columns.len(),
            right: norms.len(),
        });
    }
    if range.start > range.end || range.end > n {
        return Err(Error::InvalidInput(format!(
            "objects {range:?} outside the {n} of the columns"
        )));
    }
    let m = range.len();
    let mut out = vec![0f32; PER_VALUE * columns.len() * m];
    for (j, (col, norm)) in columns.iter().zip(norms).enumerate() {
        let (z, rest) = out[PER_VALUE * j * m..PER_VALUE * (j + 1) * m].split_at_mut(m);
        let (kept, fixed) = rest.split_at_mut(m);
        for (i, &s) in col[range.clone()].iter().enumerate() {
            let v = per_value(s, norm, q, policy);
            (z[i], kept[i], fixed[i]) = (v[0], v[1], v[2]);
        }
    }
    Ok(out)
}

/// Targets and mask, variable-major `[F, N]`: `t = interval_fraction(original, interval of
/// stored)`, mask 1 where a model may move the value (not [`is_fixed`]).
///
/// # Errors
/// [`Error::LengthMismatch`] if original and stored columns differ in shape;
/// [`Error::NotQuantised`] if a stored value is not a stored value of `q`.
pub fn targets(
    originals: &[&[f32]],
    stored: &[&[f32]],
    q: &Quantiser32,
    policy: &ExactPolicy,
) -> Result<(Vec<f32>, Vec<f32>)> {
    if originals.len() != stored.len() {
        return Err(Error::LengthMismatch {
            what: "original vs stored columns".into(),
            left: originals.len(),
            right: stored.len(),
        });
    }
    let n = stored.first().map_or(0, |c| c.len());
    let mut t = vec![0.5f32; stored.len() * n];
    let mut m = vec![0f32; stored.len() * n];
    for (j, (o, s)) in originals.iter().zip(stored).enumerate() {
        if o.len() != n || s.len() != n {
            return Err(Error::LengthMismatch {
                what: format!("original vs stored values of variable {j}"),
                left: o.len(),
                right: s.len(),
            });
        }
        for i in 0..n {
            let iv = q.interval_at(s[i], i)?;
            if is_fixed(s[i], q, policy) {
                continue;
            }
            if let Some(f) = interval_fraction(o[i], &iv) {
                t[j * n + i] = f as f32;
                m[j * n + i] = 1.0;
            }
        }
    }
    Ok((t, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoundingMode;

    #[test]
    fn fraction_round_trip_stays_in_interval() {
        let q = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
        for &x in &[1.0f32, 1.9999, -3.25, 1e-30, 123456.7, -0.0012] {
            let s = q.quantise(x);
            let iv = q.interval(s).unwrap();
            let f = interval_fraction(x, &iv).unwrap();
            let back = value_at_fraction(s, f as f32, &q);
            assert_eq!(q.quantise(back), s);
            assert!(
                (back as f64 - x as f64).abs()
                    <= iv.width() * 1e-5 + f64::from(f32::EPSILON) * x.abs() as f64 * 2.0
            );
        }
    }

    #[test]
    fn context_features() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let norms = vec![VarNorm::fit("a", &[1.0, 2.0, 3.0])];
        let col = [1.0f32, 2.0, 3.0];
        let x =
            inpainting_features(&[&col], &[0, 2, 3], &norms, &q, &ExactPolicy::default()).unwrap();
        let w = inpainting_inputs(1);
        assert_eq!(x.len(), 3 * w);
        // object 0: no previous, has next
        assert_eq!((x[5], x[6]), (0.0, 1.0));
        // object 1: has previous (z of object 0), no next
        assert_eq!((x[w + 5], x[w + 6]), (1.0, 0.0));
        assert_eq!(x[w + 7], norms[0].z(1.0));
        // object 2 is alone in its event
        assert_eq!((x[2 * w + 4], x[2 * w + 5], x[2 * w + 6]), (0.0, 0.0, 0.0));
        assert!(
            inpainting_features(&[&col], &[0, 2], &norms, &q, &ExactPolicy::default()).is_err()
        );
    }
}
