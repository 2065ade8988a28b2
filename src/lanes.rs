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
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: `sse2::matching` is safe code whose only requirement is its
    // `target_feature`, SSE2, and this build targets SSE2 (the cfg above): the program only
    // runs on CPUs that have it. (Every x86_64 target but the soft-float ones enables it.)
    return unsafe { sse2::matching(bits, lane_bits, lane_mask) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    matching_scalar(bits, lane_bits, lane_mask)
}

/// [`matching`], one lane at a time.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
#[inline(always)]
fn matching_scalar(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
    let mut hit = 0u32;
    for (i, (b, m)) in lane_bits.iter().zip(lane_mask).enumerate() {
        hit |= u32::from((bits ^ b) & m == 0) << i;
    }
    hit
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_castsi128_ps, _mm_cmpeq_epi32, _mm_movemask_ps, _mm_set1_epi32,
        _mm_setzero_si128, _mm_xor_si128,
    };

    use super::LANES;

    /// [`super::matching`] with SSE2.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
        // Four vectors of four lanes each: plain copies, which the compiler makes loads.
        let lane_bits: [__m128i; LANES / 4] = zerocopy::transmute!(*lane_bits);
        let lane_mask: [__m128i; LANES / 4] = zerocopy::transmute!(*lane_mask);
        let key = _mm_set1_epi32(bits.cast_signed());
        let zero = _mm_setzero_si128();
        let mut hit = 0u32;
        for (q, (b, m)) in lane_bits.into_iter().zip(lane_mask).enumerate() {
            let equal = _mm_cmpeq_epi32(_mm_and_si128(_mm_xor_si128(b, key), m), zero);
            // One bit per lane: the sign bits of the four all-ones or all-zeros results.
            let four = _mm_movemask_ps(_mm_castsi128_ps(equal)).cast_unsigned();
            hit |= four << (4 * q);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::{LANES, matching, matching_scalar};
    use crate::format::mix64;

    /// The comparisons to check: `matching` (the SSE2 one where the build has it, called
    /// directly so that a cfg mistake cannot make the test compare the loop with itself),
    /// and the plain loop.
    fn both(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> [u32; 2] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: as in `matching`: the build targets SSE2.
        let vector = unsafe { super::sse2::matching(bits, lane_bits, lane_mask) };
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        let vector = matching(bits, lane_bits, lane_mask);
        assert_eq!(matching(bits, lane_bits, lane_mask), vector);
        [vector, matching_scalar(bits, lane_bits, lane_mask)]
    }

    /// Fixed cases, so that a wrong bit order or operand shows: every lane matches under a
    /// zero mask; only the last lane matches; only lane `i` matches, for each `i`.
    #[test]
    fn matching_sets_bit_i_for_lane_i() {
        let bits = 0x2001_0db8;
        assert_eq!(both(bits, &[7; LANES], &[0; LANES]), [0xffff; 2]);
        let mut lane_bits = [!bits; LANES];
        lane_bits[LANES - 1] = bits;
        assert_eq!(both(bits, &lane_bits, &[u32::MAX; LANES]), [0x8000; 2]);
        for i in 0..LANES {
            let mut lane_bits = [!bits; LANES];
            lane_bits[i] = bits;
            assert_eq!(
                both(bits, &lane_bits, &[u32::MAX; LANES]),
                [1 << i; 2],
                "lane {i}"
            );
        }
    }

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
            let [vector, plain] = both(bits, &lane_bits, &lane_mask);
            assert_eq!(vector, plain, "round {round}");
            if round == 0 {
                assert_ne!(plain, 0);
            }
        }
    }
}
