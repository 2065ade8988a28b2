#![doc = include_str!("FORMAT.md")]
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use zerocopy::byteorder::little_endian::{U32, U64, U128};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) mod validate;
pub(crate) mod writer;

/// The 8 bytes every compiled table starts with.
pub const MAGIC: [u8; 8] = *b"C2TRIE\0\0";

/// The format version this crate writes.
pub const FORMAT_VERSION: u32 = 2;

/// The format versions this crate reads. Version 1 tables are refused with
/// [`LoadErrorKind::UnsupportedVersion`](crate::LoadErrorKind::UnsupportedVersion): recompile
/// the feeds.
pub const SUPPORTED_VERSIONS: &[u32] = &[2];

/// The largest table this crate writes or reads, in bytes (4 GiB - 1).
pub const MAX_FILE_LEN: u64 = u32::MAX as u64;

/// The fixed part of the header, in bytes.
pub(crate) const FIXED_HEADER_LEN: usize = 80;

/// Number of sections in a version-2 table.
pub(crate) const SECTION_COUNT: usize = 23;

/// Header plus section table, in bytes.
pub(crate) const HEADER_LEN: usize = FIXED_HEADER_LEN + SECTION_COUNT * 16;

/// Byte range of the checksum field inside the header.
pub(crate) const CHECKSUM_AT: usize = 32;

// The checksum field lies inside the fixed header.
const _: () = assert!(CHECKSUM_AT < FIXED_HEADER_LEN - 8);

/// Marks "no entry" in a tuple and "no string" in an attribute's tag.
pub(crate) const NONE: u32 = u32::MAX;

/// Set in a direct-table slot that holds a tuple id rather than a node index.
pub(crate) const LEAF_FLAG: u32 = 1 << 31;

/// The stride, in bits, of every node below the direct table.
pub(crate) const STRIDE: u32 = 6;

/// Bounds for the direct table's width, in bits.
pub(crate) const DIRECT_BITS: std::ops::RangeInclusive<u8> = 4..=24;

/// Bounds for the summary's width, in bits: the summary has `2^s` bits, at least one word.
pub(crate) const SUMMARY_BITS: std::ops::RangeInclusive<u8> = 6..=24;

/// The value of an empty host or jump slot (its key is 0).
pub(crate) const HOST_EMPTY: u32 = u32::MAX;

/// The attribute index below 2^30.
pub(crate) const ATTR_MASK: u32 = (1 << 30) - 1;

/// Set in a host tuple's element that names a host entry (its attribute in the low 30 bits)
/// rather than a prefix entry.
pub(crate) const HOST_FLAG: u32 = 1 << 31;

/// Risk value meaning "no risk given".
pub(crate) const NO_RISK: u8 = 0xFF;

/// Sections of a version-2 table, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Section {
    V4Hosts = 0,
    V6Hosts,
    V4Jumps,
    V6Jumps,
    V4Filter,
    V6Filter,
    V4Summary,
    V6Summary,
    V4HostTuples,
    V6HostTuples,
    StringOffsets,
    StringBytes,
    Attrs,
    V4Entries,
    V4Tuples,
    V4Direct,
    V4Nodes,
    V4Leaves,
    V6Entries,
    V6Tuples,
    V6Direct,
    V6Nodes,
    V6Leaves,
}

impl Section {
    pub(crate) const ALL: [Section; SECTION_COUNT] = [
        Section::V4Hosts,
        Section::V6Hosts,
        Section::V4Jumps,
        Section::V6Jumps,
        Section::V4Filter,
        Section::V6Filter,
        Section::V4Summary,
        Section::V6Summary,
        Section::V4HostTuples,
        Section::V6HostTuples,
        Section::StringOffsets,
        Section::StringBytes,
        Section::Attrs,
        Section::V4Entries,
        Section::V4Tuples,
        Section::V4Direct,
        Section::V4Nodes,
        Section::V4Leaves,
        Section::V6Entries,
        Section::V6Tuples,
        Section::V6Direct,
        Section::V6Nodes,
        Section::V6Leaves,
    ];

    /// The size of one record of this section.
    pub(crate) const fn record_len(self) -> usize {
        match self {
            Section::StringBytes => 1,
            Section::StringOffsets
            | Section::V4Direct
            | Section::V4Leaves
            | Section::V6Direct
            | Section::V6Leaves => 4,
            Section::V4Filter | Section::V6Filter | Section::V4Summary | Section::V6Summary => 8,
            Section::V4Entries
            | Section::V4Tuples
            | Section::V6Tuples
            | Section::V4HostTuples
            | Section::V6HostTuples => 12,
            Section::Attrs => 20,
            Section::V4Hosts | Section::V4Jumps => 16,
            Section::V6Hosts | Section::V6Jumps => 40,
            Section::V4Nodes | Section::V6Nodes | Section::V6Entries => 24,
        }
    }

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Section::StringOffsets => "string offsets",
            Section::StringBytes => "string bytes",
            Section::Attrs => "attributes",
            Section::V4Entries => "IPv4 entries",
            Section::V4Tuples => "IPv4 tuples",
            Section::V4Direct => "IPv4 direct table",
            Section::V4Nodes => "IPv4 nodes",
            Section::V4Leaves => "IPv4 leaves",
            Section::V4Hosts => "IPv4 host buckets",
            Section::V6Entries => "IPv6 entries",
            Section::V6Tuples => "IPv6 tuples",
            Section::V6Direct => "IPv6 direct table",
            Section::V6Nodes => "IPv6 nodes",
            Section::V6Leaves => "IPv6 leaves",
            Section::V6Hosts => "IPv6 host buckets",
            Section::V4Filter => "IPv4 host filter",
            Section::V6Filter => "IPv6 host filter",
            Section::V4Summary => "IPv4 summary",
            Section::V6Summary => "IPv6 summary",
            Section::V4HostTuples => "IPv4 host tuples",
            Section::V4Jumps => "IPv4 jump table",
            Section::V6Jumps => "IPv6 jump table",
            Section::V6HostTuples => "IPv6 host tuples",
        }
    }
}

/// The fixed 80-byte header.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawHeader {
    pub(crate) magic: [u8; 8],
    pub(crate) format_version: U32,
    pub(crate) flags: U32,
    pub(crate) header_len: U32,
    pub(crate) section_count: U32,
    pub(crate) file_len: U64,
    pub(crate) checksum: U64,
    pub(crate) list_version: U64,
    pub(crate) created_unix: U64,
    pub(crate) v4_direct_bits: u8,
    pub(crate) v6_direct_bits: u8,
    pub(crate) v4_summary_bits: u8,
    pub(crate) v6_summary_bits: u8,
    pub(crate) hash_seed: U32,
    pub(crate) v4_jump_bits: u8,
    pub(crate) v6_jump_bits: u8,
    pub(crate) reserved: [u8; 14],
}

/// One section-table record.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawSection {
    pub(crate) offset: U64,
    pub(crate) len: U64,
}

/// An attribute record: which list, which source, which metadata.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawAttr {
    pub(crate) list: u8,
    pub(crate) risk: u8,
    pub(crate) reserved: [u8; 2],
    pub(crate) source: U32,
    pub(crate) tag: U32,
    pub(crate) expires: U64,
}

/// A trie node: a 64-slot multibit node with popcount-compressed children and leaves.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawNode {
    pub(crate) children: U64,
    pub(crate) leaf_runs: U64,
    pub(crate) base_leaf: U32,
    pub(crate) base_child: U32,
}

/// Three entry indices, one per list (`NONE` when the list has no match).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawTuple(pub(crate) [U32; 3]);

/// An IPv4 prefix entry.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawEntry4 {
    pub(crate) addr: U32,
    pub(crate) len: u8,
    pub(crate) reserved: [u8; 3],
    pub(crate) attr: U32,
}

/// An IPv6 prefix entry.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawEntry6 {
    pub(crate) addr: U128,
    pub(crate) len: u8,
    pub(crate) reserved: [u8; 3],
    pub(crate) attr: U32,
}

/// An IPv4 host bucket: 2 slots, keys then values (16 bytes, so a bucket never straddles
/// a cache line when the table starts 16-byte aligned).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawBucket4 {
    pub(crate) keys: [U32; 2],
    pub(crate) values: [U32; 2],
}

/// An IPv6 host bucket: 2 slots, keys then values (40 bytes).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawBucket6 {
    pub(crate) keys: [U128; 2],
    pub(crate) values: [U32; 2],
}

/// What differs between the IPv4 and the IPv6 half of a table.
pub(crate) trait Family: 'static {
    /// Address width in bits.
    const BITS: u32;
    /// The family's name in error messages.
    const NAME: &'static str;
    /// The address as an integer.
    type Int: Copy + Eq + Ord + Default + std::hash::Hash + std::fmt::Debug;
    /// The on-disk entry record.
    type RawEntry: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy;
    /// The on-disk host key.
    type RawKey: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy;
    /// The on-disk host bucket: `BUCKET` keys, then `BUCKET` values.
    type RawBucket: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy;
    /// Slots per host bucket.
    const BUCKET: usize;

    fn entry_addr(e: &Self::RawEntry) -> Self::Int;
    fn entry_len(e: &Self::RawEntry) -> u8;
    fn entry_attr(e: &Self::RawEntry) -> u32;
    fn entry_reserved(e: &Self::RawEntry) -> [u8; 3];
    fn make_entry(addr: Self::Int, len: u8, attr: u32) -> Self::RawEntry;
    fn key(k: &Self::RawKey) -> Self::Int;
    fn bucket_keys(b: &Self::RawBucket) -> &[Self::RawKey];
    fn bucket_values(b: &Self::RawBucket) -> &[U32];
    /// A bucket from `BUCKET` keys and values (missing ones are empty slots).
    fn make_bucket(slots: &[(Self::Int, u32)]) -> Self::RawBucket;
    /// The value of the last slot, in `b1` then `b2`, whose key is `key` and whose value
    /// is not `HOST_EMPTY`; `HOST_EMPTY` if none is (a missing bucket holds nothing). By
    /// default [`scan_buckets`].
    #[inline(always)]
    fn probe_pair(
        key: Self::Int,
        b1: Option<&Self::RawBucket>,
        b2: Option<&Self::RawBucket>,
    ) -> u32 {
        scan_buckets::<Self>(key, b1, b2)
    }
    /// The address, left-aligned in a `u128` (IPv4 in the top 32 bits).
    fn to_u128(a: Self::Int) -> u128;
    /// Bits `[off, off + stride)` of the left-aligned address (zeros past the address).
    /// Requires `off < BITS` and `1 <= stride <= 24`.
    fn slot(a: Self::Int, off: u32, stride: u32) -> usize;
    /// The top `bits` bits of the address: `slot(a, 0, bits)`, for `1 <= bits <= 24`
    /// (a direct table's or a summary's width).
    #[inline(always)]
    fn head(a: Self::Int, bits: u32) -> usize {
        Self::slot(a, 0, bits)
    }
    /// The 64-bit host hash of `a`.
    fn hash(a: Self::Int, seed: u32) -> u64;
    /// `a` with only its top `bits` bits kept (all of them when `bits >= BITS`).
    fn top(a: Self::Int, bits: u32) -> Self::Int;
    /// The two candidate buckets of `a` in a table of `n` buckets (`n` below 2^32; both
    /// are 0 when `n` is 0).
    #[inline(always)]
    fn buckets(a: Self::Int, seed: u32, n: usize) -> (usize, usize) {
        buckets_of(Self::hash(a, seed), n)
    }
}

/// The value of the last slot, in `b1` then `b2`, whose key is `key` and whose value is
/// not `HOST_EMPTY`; `HOST_EMPTY` if none is. Every slot is compared and the matching value
/// kept with conditional moves: which slot holds a host is random, and a branch per slot
/// would mispredict on most host hits. The buckets are scanned one after the other in
/// straight-line code (as an iterator over both, the scan ran a host hit about a fifth
/// slower).
#[inline(always)]
pub(crate) fn scan_buckets<F: Family + ?Sized>(
    key: F::Int,
    b1: Option<&F::RawBucket>,
    b2: Option<&F::RawBucket>,
) -> u32 {
    let scan = |b: &F::RawBucket, mut found: u32| {
        for (k, v) in F::bucket_keys(b).iter().zip(F::bucket_values(b)) {
            let v = v.get();
            let m = (F::key(k) == key) & (v != HOST_EMPTY);
            found = std::hint::select_unpredictable(m, v, found);
        }
        found
    };
    let mut found = HOST_EMPTY;
    if let Some(b) = b1 {
        found = scan(b, found);
    }
    if let Some(b) = b2 {
        found = scan(b, found);
    }
    found
}

/// The two candidate buckets of a key with host hash `h` in a table of `n` buckets.
#[inline(always)]
pub(crate) fn buckets_of(h: u64, n: usize) -> (usize, usize) {
    {
        let n = n as u64;
        // Fast range reduction: (x * n) >> 32 maps a uniform 32-bit x onto 0..n.
        let b1 = ((h & 0xffff_ffff).wrapping_mul(n) >> 32) as usize;
        let b2 = ((h >> 32).wrapping_mul(n) >> 32) as usize;
        (b1, b2)
    }
}

/// The host-filter word and mask of a key with host hash `h`, in a filter of `n` words (`n`
/// below 2^32): the word is `(((h >> 16) & 0xffff_ffff) * n) >> 32`, the mask has bits
/// `h & 63`, `(h >> 6) & 63` and `(h >> 12) & 63` set. A filled host's mask bits are all set
/// in its word; an address whose bits are not all set is no host.
#[inline(always)]
pub(crate) fn filter_probe(h: u64, n: usize) -> (usize, u64) {
    let word = (((h >> 16) & 0xffff_ffff).wrapping_mul(n as u64) >> 32) as usize;
    let mask = (1u64 << (h & 63)) | (1u64 << ((h >> 6) & 63)) | (1u64 << ((h >> 12) & 63));
    (word, mask)
}

/// Marker type for IPv4.
#[derive(Debug)]
pub(crate) enum V4 {}
/// Marker type for IPv6.
#[derive(Debug)]
pub(crate) enum V6 {}

/// A strong 64-bit mixer (the finalizer of SplitMix64).
#[inline(always)]
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The inverse of [`mix64`]: tests use it to choose keys with a given hash.
#[cfg(test)]
pub(crate) fn unmix64(mut z: u64) -> u64 {
    z ^= (z >> 31) ^ (z >> 62);
    z = z.wrapping_mul(0x3196_42b2_d24d_8ec3);
    z ^= (z >> 27) ^ (z >> 54);
    z = z.wrapping_mul(0x96de_1b17_3f11_9089);
    z ^ (z >> 30) ^ (z >> 60)
}

impl Family for V4 {
    const BITS: u32 = 32;
    const NAME: &'static str = "IPv4";
    type Int = u32;
    type RawEntry = RawEntry4;
    type RawKey = U32;
    type RawBucket = RawBucket4;
    const BUCKET: usize = 2;

    #[inline(always)]
    fn entry_addr(e: &RawEntry4) -> u32 {
        e.addr.get()
    }
    #[inline(always)]
    fn entry_len(e: &RawEntry4) -> u8 {
        e.len
    }
    #[inline(always)]
    fn entry_attr(e: &RawEntry4) -> u32 {
        e.attr.get()
    }
    fn entry_reserved(e: &RawEntry4) -> [u8; 3] {
        e.reserved
    }
    fn make_entry(addr: u32, len: u8, attr: u32) -> RawEntry4 {
        RawEntry4 {
            addr: addr.into(),
            len,
            reserved: [0; 3],
            attr: attr.into(),
        }
    }
    #[inline(always)]
    fn key(k: &U32) -> u32 {
        k.get()
    }
    #[inline(always)]
    fn bucket_keys(b: &RawBucket4) -> &[U32] {
        &b.keys
    }
    #[inline(always)]
    fn bucket_values(b: &RawBucket4) -> &[U32] {
        &b.values
    }
    #[inline(always)]
    fn probe_pair(key: u32, b1: Option<&RawBucket4>, b2: Option<&RawBucket4>) -> u32 {
        // A missing bucket holds nothing: the other one probed twice finds what it holds.
        let (b1, b2) = match (b1, b2) {
            (Some(b1), Some(b2)) => (b1, b2),
            (Some(b), None) | (None, Some(b)) => (b, b),
            (None, None) => return HOST_EMPTY,
        };
        // The four slots compared at once; the last that holds the key names the value.
        let slots = crate::lanes::host_slots(key, b1, b2);
        let Some(last) = slots.checked_ilog2() else {
            return HOST_EMPTY;
        };
        let b = if last >= 2 { b2 } else { b1 };
        b.values
            .get(last as usize & 1)
            .map_or(HOST_EMPTY, |v| v.get())
    }
    fn make_bucket(slots: &[(u32, u32)]) -> RawBucket4 {
        let mut b = RawBucket4 {
            keys: [U32::ZERO; 2],
            values: [U32::new(HOST_EMPTY); 2],
        };
        for ((k, v), (key, value)) in b.keys.iter_mut().zip(&mut b.values).zip(slots) {
            *k = (*key).into();
            *v = (*value).into();
        }
        b
    }
    #[inline(always)]
    fn to_u128(a: u32) -> u128 {
        u128::from(a) << 96
    }
    #[inline(always)]
    fn slot(a: u32, off: u32, stride: u32) -> usize {
        // Left-align in 64 bits. Validated tables keep off < 32 and 1 <= stride <= 24, so
        // the wrapping shifts never wrap; on other input they give some slot, never a panic.
        (u64::from(a) << 32)
            .wrapping_shl(off)
            .wrapping_shr(64u32.wrapping_sub(stride)) as usize
    }
    #[inline(always)]
    fn hash(a: u32, seed: u32) -> u64 {
        mix64(u64::from(a) ^ (u64::from(seed) << 32))
    }
    #[inline(always)]
    fn top(a: u32, bits: u32) -> u32 {
        a & u32::MAX
            .checked_shl(32u32.saturating_sub(bits))
            .unwrap_or(0)
    }
}

impl Family for V6 {
    const BITS: u32 = 128;
    const NAME: &'static str = "IPv6";
    type Int = u128;
    type RawEntry = RawEntry6;
    type RawKey = U128;
    type RawBucket = RawBucket6;
    const BUCKET: usize = 2;

    #[inline(always)]
    fn entry_addr(e: &RawEntry6) -> u128 {
        e.addr.get()
    }
    #[inline(always)]
    fn entry_len(e: &RawEntry6) -> u8 {
        e.len
    }
    #[inline(always)]
    fn entry_attr(e: &RawEntry6) -> u32 {
        e.attr.get()
    }
    fn entry_reserved(e: &RawEntry6) -> [u8; 3] {
        e.reserved
    }
    fn make_entry(addr: u128, len: u8, attr: u32) -> RawEntry6 {
        RawEntry6 {
            addr: addr.into(),
            len,
            reserved: [0; 3],
            attr: attr.into(),
        }
    }
    #[inline(always)]
    fn key(k: &U128) -> u128 {
        k.get()
    }
    #[inline(always)]
    fn bucket_keys(b: &RawBucket6) -> &[U128] {
        &b.keys
    }
    #[inline(always)]
    fn bucket_values(b: &RawBucket6) -> &[U32] {
        &b.values
    }
    fn make_bucket(slots: &[(u128, u32)]) -> RawBucket6 {
        let mut b = RawBucket6 {
            keys: [U128::ZERO; 2],
            values: [U32::new(HOST_EMPTY); 2],
        };
        for ((k, v), (key, value)) in b.keys.iter_mut().zip(&mut b.values).zip(slots) {
            *k = (*key).into();
            *v = (*value).into();
        }
        b
    }
    #[inline(always)]
    fn to_u128(a: u128) -> u128 {
        a
    }
    #[inline(always)]
    fn slot(a: u128, off: u32, stride: u32) -> usize {
        // As for IPv4: off < 128 and 1 <= stride <= 24 in validated tables.
        a.wrapping_shl(off)
            .wrapping_shr(128u32.wrapping_sub(stride)) as usize
    }
    #[inline(always)]
    fn head(a: u128, bits: u32) -> usize {
        // The top 24 bits lie in the high half: a 64-bit shift, where `slot` shifts 128.
        ((a >> 64) as u64).wrapping_shr(64u32.wrapping_sub(bits)) as usize
    }
    #[inline(always)]
    fn hash(a: u128, seed: u32) -> u64 {
        let s = u64::from(seed);
        let hi = (a >> 64) as u64;
        let lo = a as u64;
        mix64(lo ^ s) ^ mix64(hi ^ (s << 32) ^ 0x9e37_79b9_7f4a_7c15)
    }
    #[inline(always)]
    fn top(a: u128, bits: u32) -> u128 {
        a & u128::MAX
            .checked_shl(128u32.saturating_sub(bits))
            .unwrap_or(0)
    }
}

/// In a summary of `2^s` blocks (two bits each, 32 blocks a word), sets the prefix bits (bit
/// `2i`) of the blocks that the left-aligned prefix `addr/len` meets.
pub(crate) fn mark_prefix(words: &mut [u64], addr: u128, len: u32, s: u32) {
    let first = (addr >> 128u32.saturating_sub(s)) as usize;
    let count = 1usize << s.saturating_sub(len);
    let end = first.saturating_add(count);
    let mut b = first;
    // A word at a time: the run's blocks in each word it meets, as one mask.
    while b < end {
        // `lo` below 32 and `n` from 1 to 32 - `lo`, so the shifts below stay under 64.
        let lo = b % 32;
        let n = end.saturating_sub(b).min(32usize.saturating_sub(lo));
        let run = 1u64
            .checked_shl((n as u32).saturating_mul(2))
            .unwrap_or(0)
            .wrapping_sub(1);
        if let Some(w) = words.get_mut(b / 32) {
            *w |= (run & 0x5555_5555_5555_5555) << (lo << 1);
        }
        b = b.saturating_add(n);
    }
}

/// In a summary of `2^s` blocks (`s` from 6 to 24, invariant 9), sets the host bit (bit `2i + 1`) of
/// the block holding the host `key` when `on` is 1; nothing when it is 0.
#[inline(always)]
pub(crate) fn mark_host<F: Family>(words: &mut [u64], key: F::Int, s: u32, on: u64) {
    let b = F::head(key, s);
    if let Some(w) = words.get_mut(b / 32) {
        *w |= (on << 1) << ((b % 32) << 1);
    }
}

/// The checksum of a whole table: XXH3-64 over every byte, the checksum field read as zeros.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let (head, rest) = bytes.split_at(CHECKSUM_AT.min(bytes.len()));
    h.update(head);
    h.update(&[0u8; 8]);
    h.update(rest.get(8..).unwrap_or(&[]));
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::{Family, V4, V6, mix64};

    /// `mark_prefix` sets exactly the prefix bits of the blocks a run meets, as marking
    /// them one block at a time does, for runs inside a word, across words and at the end,
    /// from prefixes (the run aligned to its length) and from any address (a run that
    /// starts inside a word and crosses into the next, which no caller makes).
    #[test]
    fn mark_prefix_sets_each_block_of_the_run() {
        let s = 12u32;
        for len in 0..=s + 2 {
            for (first, aligned) in [0u128, 1, 5, 31, 32, 33, 64, 100, 4064, 4095]
                .into_iter()
                .flat_map(|f| [(f, true), (f, false)])
            {
                let addr = first << (128 - s);
                let addr = if aligned {
                    addr & !(u128::MAX.checked_shr(len).unwrap_or(0))
                } else {
                    addr
                };
                let mut got = vec![0u64; 1 << (s - 5)];
                super::mark_prefix(&mut got, addr, len, s);
                let mut want = vec![0u64; 1 << (s - 5)];
                let b0 = (addr >> (128 - s)) as usize;
                for b in b0..b0.saturating_add(1usize << s.saturating_sub(len)) {
                    if let Some(w) = want.get_mut(b / 32) {
                        *w |= 1 << ((b % 32) << 1);
                    }
                }
                assert_eq!(got, want, "len {len} first {first} aligned {aligned}");
            }
        }
    }

    /// `head`, IPv6's shortcut through the high half, is `slot` at offset 0 for every width
    /// a direct table or a summary may have.
    #[test]
    fn head_is_slot_at_offset_zero() {
        for i in 0..1000u64 {
            let a6 = (u128::from(mix64(2 * i)) << 64) | u128::from(mix64(2 * i + 1));
            let a4 = mix64(!i) as u32;
            for bits in 1..=24 {
                assert_eq!(V6::head(a6, bits), V6::slot(a6, 0, bits), "{a6:x}/{bits}");
                assert_eq!(V4::head(a4, bits), V4::slot(a4, 0, bits), "{a4:x}/{bits}");
            }
        }
        assert_eq!(V6::head(u128::MAX, 24), 0xff_ffff);
        assert_eq!(V6::head(1 << 127, 1), 1);
    }
}
