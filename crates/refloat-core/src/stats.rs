//! Small statistics shared by the modules above: one median (and the upper-middle value where
//! a result must be one of the values), one quantile, one SplitMix64, one text of a panic
//! payload. Binning (bins, quantile cuts, counts) is [`crate::histogram`]'s.

/// The median of `values` (the mean of the two middle values for an even count, as numpy),
/// `None` if empty. NaN sorts last (`f64::total_cmp`); filter it out first if it may occur.
///
/// ```
/// use refloat_core::stats::median;
/// assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
/// assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    Some(median_in_place(&mut v))
}

/// [`median`] of a non-empty slice, reordering it (no copy; linear time).
///
/// # Panics
/// If `v` is empty.
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let m = n / 2;
    let (_, hi, _) = v.select_nth_unstable_by(m, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..m].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    }
}

/// The `p` quantile (`0 ≤ p ≤ 1`) of sorted, non-empty `v`: numpy's default convention
/// (linear interpolation between the closest ranks), so `quantile_sorted(v, 0.5)` is
/// [`median`].
pub fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    let pos = p * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    match v.get(i + 1) {
        Some(&b) => v[i] + f * (b - v[i]),
        None => v[i],
    }
}

/// The upper of the two middle values of sorted `v` (`v[n / 2]`; the median itself for an
/// odd count), `None` if empty. Not numpy's median (which averages the middle pair, see
/// [`median`]): for counts and discrete settings where the result must be one of the values.
///
/// ```
/// use refloat_core::stats::upper_median_sorted;
/// assert_eq!(upper_median_sorted(&[1, 2, 3, 4]), Some(3));
/// assert_eq!(upper_median_sorted(&[1.0, 2.0, 3.0]), Some(2.0));
/// assert_eq!(upper_median_sorted::<u32>(&[]), None);
/// ```
pub fn upper_median_sorted<T: Copy>(v: &[T]) -> Option<T> {
    v.get(v.len() / 2).copied()
}

/// SplitMix64's output function (Steele, Lea and Flood 2014): a bijective 64-bit mix.
#[inline]
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The SplitMix64 generator: a seeded, reproducible stream (splits, batches, windows).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64_mix(self.0)
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
