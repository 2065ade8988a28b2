#![doc = include_str!("FORMAT.md")]
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use zerocopy::byteorder::little_endian::{U32, U64, U128};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) mod validate;
pub(crate) mod writer;

/// The 8 bytes every compiled table starts with.
pub const MAGIC: [u8; 8] = *b"C2TRIE\0\0";

/// The format version this crate writes.
pub const FORMAT_VERSION: u32 = 1;

/// The format versions this crate reads.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// The largest table this crate writes or reads, in bytes (4 GiB - 1).
pub const MAX_FILE_LEN: u64 = u32::MAX as u64;

/// The fixed part of the header, in bytes.
pub(crate) const FIXED_HEADER_LEN: usize = 64;

/// Number of sections in a version-1 table.
pub(crate) const SECTION_COUNT: usize = 17;

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

/// Bounds for the host hash table's bucket-count exponent.
pub(crate) const BUCKET_BITS: std::ops::RangeInclusive<u8> = 0..=28;

/// The most host slots one bucket may hold; bounds the work of a lookup.
pub(crate) const MAX_BUCKET: u32 = 32;

/// Host slot values keep the list in their top two bits and the attribute index below.
pub(crate) const ATTR_MASK: u32 = (1 << 30) - 1;

/// Risk value meaning "no risk given".
pub(crate) const NO_RISK: u8 = 0xFF;

/// Sections of a version-1 table, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Section {
    StringOffsets = 0,
    StringBytes,
    Attrs,
    V4Entries,
    V4Tuples,
    V4Direct,
    V4Nodes,
    V4Leaves,
    V4Buckets,
    V4Hosts,
    V6Entries,
    V6Tuples,
    V6Direct,
    V6Nodes,
    V6Leaves,
    V6Buckets,
    V6Hosts,
}

impl Section {
    pub(crate) const ALL: [Section; SECTION_COUNT] = [
        Section::StringOffsets,
        Section::StringBytes,
        Section::Attrs,
        Section::V4Entries,
        Section::V4Tuples,
        Section::V4Direct,
        Section::V4Nodes,
        Section::V4Leaves,
        Section::V4Buckets,
        Section::V4Hosts,
        Section::V6Entries,
        Section::V6Tuples,
        Section::V6Direct,
        Section::V6Nodes,
        Section::V6Leaves,
        Section::V6Buckets,
        Section::V6Hosts,
    ];

    /// The size of one record of this section.
    pub(crate) const fn record_len(self) -> usize {
        match self {
            Section::StringBytes => 1,
            Section::StringOffsets
            | Section::V4Direct
            | Section::V4Leaves
            | Section::V4Buckets
            | Section::V6Direct
            | Section::V6Leaves
            | Section::V6Buckets => 4,
            Section::V4Hosts => 8,
            Section::V4Entries | Section::V4Tuples | Section::V6Tuples => 12,
            Section::Attrs => 20,
            Section::V6Hosts => 20,
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
            Section::V4Buckets => "IPv4 host buckets",
            Section::V4Hosts => "IPv4 host slots",
            Section::V6Entries => "IPv6 entries",
            Section::V6Tuples => "IPv6 tuples",
            Section::V6Direct => "IPv6 direct table",
            Section::V6Nodes => "IPv6 nodes",
            Section::V6Leaves => "IPv6 leaves",
            Section::V6Buckets => "IPv6 host buckets",
            Section::V6Hosts => "IPv6 host slots",
        }
    }
}

/// The fixed 64-byte header.
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
    pub(crate) v4_bucket_bits: u8,
    pub(crate) v6_bucket_bits: u8,
    pub(crate) hash_seed: U32,
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

/// An IPv4 host slot.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawHost4 {
    pub(crate) key: U32,
    pub(crate) value: U32,
}

/// An IPv6 host slot.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawHost6 {
    pub(crate) key: U128,
    pub(crate) value: U32,
}

/// What differs between the IPv4 and the IPv6 half of a table.
pub(crate) trait Family: 'static {
    /// Address width in bits.
    const BITS: u32;
    /// The family's name in error messages.
    const NAME: &'static str;
    /// The address as an integer.
    type Int: Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug;
    /// The on-disk entry record.
    type RawEntry: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy;
    /// The on-disk host slot.
    type RawHost: FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy;

    fn entry_addr(e: &Self::RawEntry) -> Self::Int;
    fn entry_len(e: &Self::RawEntry) -> u8;
    fn entry_attr(e: &Self::RawEntry) -> u32;
    fn entry_reserved(e: &Self::RawEntry) -> [u8; 3];
    fn make_entry(addr: Self::Int, len: u8, attr: u32) -> Self::RawEntry;
    fn host_key(h: &Self::RawHost) -> Self::Int;
    fn host_value(h: &Self::RawHost) -> u32;
    fn make_host(key: Self::Int, value: u32) -> Self::RawHost;
    /// The address, left-aligned in a `u128` (IPv4 in the top 32 bits).
    fn to_u128(a: Self::Int) -> u128;
    /// Bits `[off, off + stride)` of the left-aligned address (zeros past the address).
    /// Requires `off < BITS` and `1 <= stride <= 24`.
    fn slot(a: Self::Int, off: u32, stride: u32) -> usize;
    /// The host hash bucket of `a` for a table with `2^bits` buckets.
    fn bucket(a: Self::Int, seed: u32, bits: u32) -> usize;
}

/// Marker type for IPv4.
#[derive(Debug)]
pub(crate) enum V4 {}
/// Marker type for IPv6.
#[derive(Debug)]
pub(crate) enum V6 {}

/// A strong 64-bit mixer (the finalizer of SplitMix64).
#[inline(always)]
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline(always)]
fn top_bits(h: u64, bits: u32) -> usize {
    // `bits` is at most 28 (validated), so the shift is in range; 0 bits means one bucket.
    if bits == 0 {
        0
    } else {
        h.wrapping_shr(64u32.wrapping_sub(bits)) as usize
    }
}

impl Family for V4 {
    const BITS: u32 = 32;
    const NAME: &'static str = "IPv4";
    type Int = u32;
    type RawEntry = RawEntry4;
    type RawHost = RawHost4;

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
    fn host_key(h: &RawHost4) -> u32 {
        h.key.get()
    }
    #[inline(always)]
    fn host_value(h: &RawHost4) -> u32 {
        h.value.get()
    }
    fn make_host(key: u32, value: u32) -> RawHost4 {
        RawHost4 {
            key: key.into(),
            value: value.into(),
        }
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
    fn bucket(a: u32, seed: u32, bits: u32) -> usize {
        top_bits(mix64(u64::from(a) ^ (u64::from(seed) << 32)), bits)
    }
}

impl Family for V6 {
    const BITS: u32 = 128;
    const NAME: &'static str = "IPv6";
    type Int = u128;
    type RawEntry = RawEntry6;
    type RawHost = RawHost6;

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
    fn host_key(h: &RawHost6) -> u128 {
        h.key.get()
    }
    #[inline(always)]
    fn host_value(h: &RawHost6) -> u32 {
        h.value.get()
    }
    fn make_host(key: u128, value: u32) -> RawHost6 {
        RawHost6 {
            key: key.into(),
            value: value.into(),
        }
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
    fn bucket(a: u128, seed: u32, bits: u32) -> usize {
        let s = u64::from(seed);
        let hi = (a >> 64) as u64;
        let lo = a as u64;
        top_bits(
            mix64(lo ^ s) ^ mix64(hi ^ (s << 32) ^ 0x9e37_79b9_7f4a_7c15),
            bits,
        )
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
