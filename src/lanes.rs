//! Comparing an address with the sixteen lanes of an IPv6 prefix group at once (see
//! `table::groups`): the crate's third use of `unsafe`, beside mapping files
//! (`src/mmap.rs`) and prefetch hints (`src/prefetch.rs`). On x86_64 the lanes are compared
//! four at a time with SSE2 and each comparison's four results taken as four bits of one
//! mask, where the compiler split the plain loop into scalar and vector parts and OR-reduced
//! the results lane by lane (DROPv6 hits ran 40–50 % faster). Elsewhere, the plain loop,
//! [`matching_scalar`], which tests also compare against (under Miri too).

/// Lanes in a group.
pub(crate) const LANES: usize = 16;

/// Bit `i` set where `(bits ^ lane_bits[i]) & lane_mask[i] == 0`: the lanes that match
/// `bits`.
#[inline(always)]
pub(crate) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sse2::matching` is safe code that needs the CPU to have SSE2 (its
    // `target_feature`), and SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    return unsafe { sse2::matching(bits, lane_bits, lane_mask) };
    #[cfg(not(target_arch = "x86_64"))]
    matching_scalar(bits, lane_bits, lane_mask)
}

/// [`matching`], one lane at a time.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[inline(always)]
pub(crate) fn matching_scalar(
    bits: u32,
    lane_bits: &[u32; LANES],
    lane_mask: &[u32; LANES],
) -> u32 {
    let mut hit = 0u32;
    for (i, (b, m)) in lane_bits.iter().zip(lane_mask).enumerate() {
        hit |= u32::from((bits ^ b) & m == 0) << i;
    }
    hit
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_castsi128_ps, _mm_cmpeq_epi32, _mm_movemask_ps, _mm_set1_epi32,
        _mm_setzero_si128, _mm_xor_si128,
    };

    use super::LANES;

    /// Lanes `at..at + 4` as a vector: a copy of 16 bytes, which the compiler makes one
    /// load.
    #[inline(always)]
    fn four(v: &[u32; LANES], at: usize) -> __m128i {
        let lanes: [u32; 4] = v
            .get(at..at + 4)
            .and_then(|l| l.try_into().ok())
            .unwrap_or_default();
        zerocopy::transmute!(lanes)
    }

    /// [`super::matching`] with SSE2.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
        let key = _mm_set1_epi32(bits.cast_signed());
        let zero = _mm_setzero_si128();
        let mut hit = 0u32;
        for q in 0..LANES / 4 {
            let diff = _mm_xor_si128(four(lane_bits, 4 * q), key);
            let equal = _mm_cmpeq_epi32(_mm_and_si128(diff, four(lane_mask, 4 * q)), zero);
            // One bit per lane: the sign bits of the four all-ones or all-zeros results.
            let four_bits = _mm_movemask_ps(_mm_castsi128_ps(equal)).cast_unsigned();
            hit |= four_bits << (4 * q);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::{LANES, matching, matching_scalar};
    use crate::format::mix64;

    /// The vector comparison agrees with the plain loop: random lanes and addresses, lanes
    /// equal to the address under their mask, masks of every length, a zero mask.
    #[test]
    fn matching_agrees_with_the_plain_loop() {
        let mut r = 1u64;
        let mut next = || {
            r = mix64(r);
            r as u32
        };
        let rounds = if cfg!(miri) { 300 } else { 20_000u32 };
        for round in 0..rounds {
            let bits = next();
            let mut lane_bits = [0u32; LANES];
            let mut lane_mask = [0u32; LANES];
            for i in 0..LANES {
                let len = next() % 33;
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                lane_mask[i] = mask;
                // Half the lanes match the address, half are random.
                lane_bits[i] = if next() & 1 == 0 {
                    bits & mask
                } else {
                    next() & mask
                };
            }
            let want = matching_scalar(bits, &lane_bits, &lane_mask);
            assert_eq!(
                matching(bits, &lane_bits, &lane_mask),
                want,
                "round {round}"
            );
            if round == 0 {
                assert_ne!(want, 0);
            }
        }
    }
}
