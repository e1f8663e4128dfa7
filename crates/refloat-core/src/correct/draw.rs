//! The random draws of dither and the placement of a draw inside an interval: leaf helpers
//! that [`super`] (the corrector) and its kernel both use. From `(seed, index)` alone, so
//! that any split of a buffer gives the same values.

/// The 64 random bits shared by the indices `2·pair` and `2·pair + 1` of the stream `seed`:
/// the SplitMix64 finaliser of the mixed pair (one hash serves two values, so dither costs
/// one 64-bit hash per two values).
#[inline(always)]
pub fn pair_bits(seed: u64, pair: u64) -> u64 {
    crate::stats::splitmix64_mix(
        seed ^ pair
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0xD1B5_4A32_D192_ED03),
    )
}

/// The random 32-bit word of `index`: the low half of [`pair_bits`]`(seed, index / 2)` for an
/// even index, the high half for an odd one.
#[inline(always)]
pub fn index_bits(seed: u64, index: u64) -> u32 {
    (pair_bits(seed, index >> 1) >> (32 * (index & 1))) as u32
}

/// The uniform number in `[0, 1)` of a random word: its top 24 bits, as an `f32` (exact;
/// multiples of 2^−24).
#[inline(always)]
pub fn word_uniform(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform number in `[0, 1)` from `(seed, index)` alone: [`word_uniform`] of
/// [`index_bits`].
#[inline(always)]
pub fn unit_uniform(seed: u64, index: u64) -> f32 {
    word_uniform(index_bits(seed, index))
}

/// Dither's value at uniform `u` in `[0, 1)` inside the interval `[lo, hi]` (`f32` ends,
/// `lo <= hi`): `lo + u (hi − lo)` in `f32`, kept at most `hi` (the sum cannot fall below `lo`,
/// every step rounding monotonically). Single precision, so that the loops run 16 values per
/// AVX-512 vector.
#[inline(always)]
pub fn dither_in(lo: f32, hi: f32, u: f32) -> f32 {
    let x = lo + u * (hi - lo);
    if x > hi {
        hi
    } else {
        x
    }
}
