//! Comparing several keys at once: an address with the sixteen lanes of an IPv6 prefix
//! group (see `table::groups`), with the four slots of an IPv4 host's two buckets, and, in
//! the IPv6 batches, eight keys' summary bits read together. The
//! crate's third use of `unsafe`, beside mapping files (`src/mmap.rs`) and prefetch hints
//! (`src/prefetch.rs`). On x86_64 the lanes are compared four at a time with SSE2 and each
//! comparison's four results taken as four bits of one mask, where the compiler split the
//! plain loop into scalar and vector parts and OR-reduced the results lane by lane (DROPv6
//! hits ran 40–50 % faster); the four host slots are one comparison of keys and one of
//! values, where the plain loop took a comparison, a test and a conditional move per slot
//! (host hits ran 14–28 % faster). A build that targets AVX2 compares the lanes eight at a
//! time, and one that targets AVX-512F all sixteen in one vector, whose one test gives the
//! mask (DROPv6 mixed traffic 9–13 % faster in a native build on a Xeon). Where the CPU
//! has AVX-512F, found when a table is loaded ([`Avx512`]), the IPv6 batches gather eight
//! keys' summary words at once, in every build (uniform batches 13–25 % faster).
//! Elsewhere, the plain loops, [`matching_scalar`], [`host_slots_scalar`] and
//! [`summary_bits_scalar`], which tests also compare against (under Miri too, but for the
//! summary bits, whose wide version Miri does not build).

use zerocopy::byteorder::little_endian::U64;

use crate::format::{HOST_EMPTY, RawBucket4};

/// Lanes in a group.
pub(crate) const LANES: usize = 16;

/// Bit `i` set where `(bits ^ lane_bits[i]) & lane_mask[i] == 0`: the lanes that match
/// `bits`.
#[inline(always)]
pub(crate) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
    // The widest comparison the build targets: AVX-512 (all sixteen lanes in one vector,
    // one test giving the mask), AVX2 (two vectors of eight), SSE2 (four of four).
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", not(miri)))]
    // SAFETY: `avx512::matching` requires AVX-512F alone, which this build targets (the
    // cfg above): the program only runs on CPUs that have it.
    return unsafe { avx512::matching(bits, lane_bits, lane_mask) };
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        not(all(target_feature = "avx512f", not(miri)))
    ))]
    // SAFETY: as above, for AVX2 and `avx2::matching`.
    return unsafe { avx2::matching(bits, lane_bits, lane_mask) };
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "sse2",
        not(target_feature = "avx2")
    ))]
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

/// Proof, found when a table is loaded, that this CPU has AVX-512F: then the IPv6 batches
/// read their summary bits eight keys at a time (one gather of eight summary words), in
/// every build. One call per batch of 64 keys, so a build that does not target AVX-512F
/// pays a call it cannot inline once a batch, not once a key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// `Some` where the CPU has AVX-512F; `None` elsewhere and under Miri.
    pub(crate) fn detect() -> Option<Avx512> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Avx512(()));
        }
        None
    }

    /// The summary bits of the blocks of the first `n` keys (at most 64) whose top 64 bits
    /// are `heads`, in a summary of `2^width` blocks (`summary`: two bits a block, 32
    /// blocks a word; `width` from 6 to 24): bit `i` of the first mask is key `i`'s
    /// prefix bit, of the second its host bit. Bits at `n` and above are 0. A block past
    /// the summary's words (none in a validated table) reads the last word.
    #[inline(always)]
    pub(crate) fn summary_bits(
        self,
        heads: &[u64; 64],
        n: usize,
        summary: &[U64],
        width: u32,
    ) -> (u64, u64) {
        if summary.is_empty() {
            return (0, 0);
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        // SAFETY: `avx512::summary_bits` requires AVX-512F, which an `Avx512` proves (its
        // one constructor, `detect`, checks the CPU), and a non-empty `summary` (checked
        // above).
        return unsafe { avx512::summary_bits(heads, n, summary, width) };
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        summary_bits_scalar(heads, n, summary, width)
    }
}

/// [`Avx512::summary_bits`], one key at a time.
#[cfg_attr(all(target_arch = "x86_64", not(miri), not(test)), allow(dead_code))]
fn summary_bits_scalar(heads: &[u64; 64], n: usize, summary: &[U64], width: u32) -> (u64, u64) {
    let (mut covered, mut hosts) = (0u64, 0u64);
    let last = summary.len().saturating_sub(1);
    for (i, h) in heads.iter().take(n).enumerate() {
        let block = h.checked_shr(64u32.saturating_sub(width)).unwrap_or(0);
        let word = usize::try_from(block >> 5).unwrap_or(usize::MAX).min(last);
        let two = summary
            .get(word)
            .map_or(0, |w| w.get() >> ((block & 31) << 1));
        covered |= (two & 1) << i;
        hosts |= ((two >> 1) & 1) << i;
    }
    (covered, hosts)
}

/// The slots of two IPv4 host buckets that hold `key` with a value other than
/// `HOST_EMPTY`: bits 0 and 1 for the first bucket's slots, 2 and 3 for the second's.
/// (The buckets' keys and values are little-endian, as x86_64 reads them.)
#[inline(always)]
pub(crate) fn host_slots(key: u32, b1: &RawBucket4, b2: &RawBucket4) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: as in `matching`: `sse2::host_slots` only requires SSE2, which this build
    // targets.
    return unsafe { sse2::host_slots(key, b1, b2) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    host_slots_scalar(key, b1, b2)
}

/// [`host_slots`], one slot at a time.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
#[inline(always)]
fn host_slots_scalar(key: u32, b1: &RawBucket4, b2: &RawBucket4) -> u32 {
    let mut hit = 0;
    for (i, b) in [b1, b2].into_iter().enumerate() {
        for (j, (k, v)) in b.keys.iter().zip(&b.values).enumerate() {
            let m = (k.get() == key) & (v.get() != HOST_EMPTY);
            hit |= u32::from(m) << (2 * i + j);
        }
    }
    hit
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_castsi128_ps, _mm_cmpeq_epi32,
        _mm_movemask_ps, _mm_set1_epi32, _mm_setzero_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64,
        _mm_xor_si128,
    };

    use super::LANES;
    use crate::format::{HOST_EMPTY, RawBucket4};

    /// [`super::host_slots`] with SSE2: the four keys compared at once, and the four
    /// values with `HOST_EMPTY`.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn host_slots(key: u32, b1: &RawBucket4, b2: &RawBucket4) -> u32 {
        // A bucket is its two keys, then its two values.
        let a: __m128i = zerocopy::transmute!(*b1);
        let b: __m128i = zerocopy::transmute!(*b2);
        let keys = _mm_unpacklo_epi64(a, b);
        let values = _mm_unpackhi_epi64(a, b);
        let equal = _mm_cmpeq_epi32(keys, _mm_set1_epi32(key.cast_signed()));
        let empty = _mm_cmpeq_epi32(values, _mm_set1_epi32(HOST_EMPTY.cast_signed()));
        let hit = _mm_andnot_si128(empty, equal);
        _mm_movemask_ps(_mm_castsi128_ps(hit)).cast_unsigned()
    }

    /// [`super::matching`] with SSE2.
    #[cfg_attr(any(target_feature = "avx2", not(test)), allow(dead_code))]
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

#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_castsi256_ps, _mm256_cmpeq_epi32, _mm256_movemask_ps,
        _mm256_set1_epi32, _mm256_setzero_si256, _mm256_xor_si256,
    };

    use super::LANES;

    /// [`super::matching`] with AVX2: two vectors of eight lanes.
    #[cfg_attr(
        all(target_feature = "avx512f", not(miri), not(test)),
        allow(dead_code)
    )]
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
        let lane_bits: [__m256i; LANES / 8] = zerocopy::transmute!(*lane_bits);
        let lane_mask: [__m256i; LANES / 8] = zerocopy::transmute!(*lane_mask);
        let key = _mm256_set1_epi32(bits.cast_signed());
        let zero = _mm256_setzero_si256();
        let mut hit = 0u32;
        for (q, (b, m)) in lane_bits.into_iter().zip(lane_mask).enumerate() {
            let equal = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_xor_si256(b, key), m), zero);
            // One bit per lane: the sign bits of the eight all-ones or all-zeros results.
            let eight = _mm256_movemask_ps(_mm256_castsi256_ps(equal)).cast_unsigned();
            hit |= eight << (8 * q);
        }
        hit
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod avx512 {
    use core::arch::x86_64::{
        _mm512_and_si512, _mm512_i64gather_epi64, _mm512_loadu_si512, _mm512_min_epu64,
        _mm512_set1_epi32, _mm512_set1_epi64, _mm512_slli_epi64, _mm512_srli_epi64,
        _mm512_srlv_epi64, _mm512_test_epi64_mask, _mm512_testn_epi32_mask, _mm512_xor_si512,
    };
    use zerocopy::byteorder::little_endian::U64;

    use super::LANES;

    /// [`super::matching`] with AVX-512: the sixteen lanes in one vector, and the mask of
    /// the lanes whose masked difference is zero from one test.
    #[cfg_attr(not(target_feature = "avx512f"), allow(dead_code))]
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn matching(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> u32 {
        // SAFETY: the array is 64 readable bytes, behind a reference; the load has no
        // alignment requirement. (zerocopy converts the narrower vectors on stable Rust,
        // not this one.)
        let b = unsafe { _mm512_loadu_si512(lane_bits.as_ptr().cast()) };
        // SAFETY: as above.
        let m = unsafe { _mm512_loadu_si512(lane_mask.as_ptr().cast()) };
        let differ = _mm512_xor_si512(b, _mm512_set1_epi32(bits.cast_signed()));
        u32::from(_mm512_testn_epi32_mask(differ, m))
    }

    /// [`super::Avx512::summary_bits`] with AVX-512F: eight keys' blocks shifted out of
    /// their heads at once, their words gathered, their two bits shifted down and tested.
    ///
    /// # Safety
    ///
    /// `summary` is not empty (the gather reads words up to its last).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn summary_bits(
        heads: &[u64; 64],
        n: usize,
        summary: &[U64],
        width: u32,
    ) -> (u64, u64) {
        let last = _mm512_set1_epi64(summary.len().saturating_sub(1) as i64);
        let shift = _mm512_set1_epi64(i64::from(64u32.saturating_sub(width)));
        let (one, two) = (_mm512_set1_epi64(1), _mm512_set1_epi64(2));
        let low_five = _mm512_set1_epi64(31);
        let (mut covered, mut hosts) = (0u64, 0u64);
        for (g, eight) in heads.chunks_exact(8).enumerate().take(n.div_ceil(8)) {
            // SAFETY: `eight` is 64 readable bytes behind a reference; the load has no
            // alignment requirement.
            let h = unsafe { _mm512_loadu_si512(eight.as_ptr().cast()) };
            // A shift by 64 or more gives 0, as `checked_shr` in the plain loop.
            let block = _mm512_srlv_epi64(h, shift);
            let word = _mm512_min_epu64(_mm512_srli_epi64::<5>(block), last);
            // SAFETY: every index is at most `summary.len() - 1` (the minimum above; the
            // caller guarantees a word), so each of the eight reads is of a word of
            // `summary`, whose `U64`s are eight bytes each.
            let words = unsafe { _mm512_i64gather_epi64::<8>(word, summary.as_ptr().cast()) };
            let at = _mm512_slli_epi64::<1>(_mm512_and_si512(block, low_five));
            let bits = _mm512_srlv_epi64(words, at);
            covered |= u64::from(_mm512_test_epi64_mask(bits, one)) << (8 * g);
            hosts |= u64::from(_mm512_test_epi64_mask(bits, two)) << (8 * g);
        }
        let keep = 1u64
            .checked_shl(n as u32)
            .map_or(u64::MAX, |b| b.wrapping_sub(1));
        (covered & keep, hosts & keep)
    }
}

#[cfg(test)]
mod tests {
    use super::{LANES, host_slots, host_slots_scalar, matching, matching_scalar};
    use crate::format::mix64;
    use crate::format::{HOST_EMPTY, RawBucket4};

    /// The comparisons to check: `matching` (the SSE2 one where the build has it, called
    /// directly so that a cfg mistake cannot make the test compare the loop with itself),
    /// and the plain loop.
    fn both(bits: u32, lane_bits: &[u32; LANES], lane_mask: &[u32; LANES]) -> [u32; 2] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: as in `matching`: the build targets SSE2.
        let vector = unsafe { super::sse2::matching(bits, lane_bits, lane_mask) };
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        let vector = matching(bits, lane_bits, lane_mask);
        // The wider comparisons, where the build targets them (`.ci/run` runs these tests
        // in such builds too), each checked the same way.
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        {
            // SAFETY: as in `matching`: the build targets AVX2.
            let wide = unsafe { super::avx2::matching(bits, lane_bits, lane_mask) };
            assert_eq!(wide, vector);
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", not(miri)))]
        {
            // SAFETY: as in `matching`: the build targets AVX-512F.
            let wide = unsafe { super::avx512::matching(bits, lane_bits, lane_mask) };
            assert_eq!(wide, vector);
        }
        assert_eq!(matching(bits, lane_bits, lane_mask), vector);
        [vector, matching_scalar(bits, lane_bits, lane_mask)]
    }

    /// The host slots to check, as `both` does for the lanes.
    fn both_slots(key: u32, b1: &RawBucket4, b2: &RawBucket4) -> [u32; 2] {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: as in `host_slots`: the build targets SSE2.
        let vector = unsafe { super::sse2::host_slots(key, b1, b2) };
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        let vector = host_slots(key, b1, b2);
        assert_eq!(host_slots(key, b1, b2), vector);
        [vector, host_slots_scalar(key, b1, b2)]
    }

    /// The summary bits read eight keys at a time (where this CPU has AVX-512F) equal the
    /// plain loop's, and the plain loop's equal each key's block read alone, for every
    /// summary width, every count of keys, and blocks past the summary's words.
    #[test]
    // Under Miri the wide comparison is not compiled, and the plain loop has no unsafe code.
    #[cfg_attr(miri, ignore)]
    fn summary_bits_agree_with_each_block_read_alone() {
        use super::{Avx512, summary_bits_scalar};
        use zerocopy::byteorder::little_endian::U64;
        let mut r = 11u64;
        let mut next = || {
            r = mix64(r);
            r
        };
        let wide = Avx512::detect();
        for round in 0..400 {
            let width = 6 + round % 19;
            // Every other round, a summary shorter than the blocks call for.
            let words = (1usize << (width - 5)) >> (round / 19 % 2);
            let summary: Vec<U64> = (0..words).map(|_| U64::new(next())).collect();
            let heads: [u64; 64] = std::array::from_fn(|_| next());
            for n in [0, 1, 7, 8, 9, 63, 64, (round % 65) as usize] {
                let plain = summary_bits_scalar(&heads, n, &summary, width);
                for (i, h) in heads.iter().enumerate() {
                    let block = (h >> (64 - width)) as usize;
                    let word = summary[(block >> 5).min(words - 1)].get();
                    let two = (word >> ((block & 31) * 2)) & 3;
                    let on = u64::from(i < n);
                    assert_eq!(
                        (plain.0 >> i) & 1,
                        two & 1 & on,
                        "round {round} n {n} key {i}"
                    );
                    assert_eq!(
                        (plain.1 >> i) & 1,
                        (two >> 1) & on,
                        "round {round} n {n} key {i}"
                    );
                }
                if let Some(w) = wide {
                    assert_eq!(
                        w.summary_bits(&heads, n, &summary, width),
                        plain,
                        "round {round} n {n}"
                    );
                }
            }
        }
    }

    fn bucket(keys: [u32; 2], values: [u32; 2]) -> RawBucket4 {
        RawBucket4 {
            keys: keys.map(Into::into),
            values: values.map(Into::into),
        }
    }

    /// Bit `2i + j` for slot `j` of bucket `i`, each alone; a key with an empty value is
    /// no match; a key in every slot sets every bit; the other slots' keys and values do
    /// not leak into a slot's bit.
    #[test]
    fn host_slots_sets_the_bit_of_each_slot() {
        let key = 0xc000_0201;
        for slot in 0..4 {
            let mut keys = [!key; 4];
            keys[slot] = key;
            let b1 = bucket([keys[0], keys[1]], [7, 8]);
            let b2 = bucket([keys[2], keys[3]], [9, 10]);
            assert_eq!(both_slots(key, &b1, &b2), [1 << slot; 2], "slot {slot}");
            let e1 = bucket([keys[0], keys[1]], [HOST_EMPTY; 2]);
            let e2 = bucket([keys[2], keys[3]], [HOST_EMPTY; 2]);
            assert_eq!(both_slots(key, &e1, &e2), [0; 2], "empty slot {slot}");
        }
        let all = bucket([key; 2], [1, 2]);
        assert_eq!(both_slots(key, &all, &all), [0b1111; 2]);
        // A value equal to the key, a key equal to an empty value.
        let mixed = bucket([key, HOST_EMPTY], [key, HOST_EMPTY]);
        assert_eq!(both_slots(key, &mixed, &mixed), [0b0101; 2]);
        assert_eq!(both_slots(HOST_EMPTY, &mixed, &mixed), [0; 2]);
    }

    /// The vector comparison agrees with the plain loop on random buckets whose keys are
    /// often the probed one and whose values are often empty.
    #[test]
    fn host_slots_agree_with_the_plain_loop() {
        let mut r = 7u64;
        let mut next = || {
            r = mix64(r);
            r as u32
        };
        let rounds = if cfg!(miri) { 300 } else { 20_000u32 };
        for round in 0..rounds {
            let key = next();
            let pick = |n: u32| match n % 3 {
                0 => key,
                1 => HOST_EMPTY,
                _ => n,
            };
            let b1 = bucket([pick(next()), pick(next())], [pick(next()), pick(next())]);
            let b2 = bucket([pick(next()), pick(next())], [pick(next()), pick(next())]);
            let [vector, plain] = both_slots(key, &b1, &b2);
            assert_eq!(vector, plain, "round {round}");
        }
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
