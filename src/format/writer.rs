//! Serialization: lays out the header, the section table and the sections, then seals the
//! checksum. Infallible once the compiler has checked the size limits.
//!
//! Sizes here come from the compiler's own vectors, not from untrusted input, and the
//! compiler refuses tables over `MAX_FILE_LEN` first, so plain arithmetic cannot overflow.
#![allow(clippy::arithmetic_side_effects)]

use zerocopy::IntoBytes;

use super::{
    CHECKSUM_AT, FORMAT_VERSION, Family, HEADER_LEN, MAGIC, RawAttr, RawHeader, RawNode,
    RawSection, RawTuple, SECTION_COUNT, V4, V6, checksum,
};

/// One family's half of a table, ready to be written.
#[derive(Debug, Default)]
pub(crate) struct FamilyParts<F: Family> {
    pub(crate) entries: Vec<F::RawEntry>,
    pub(crate) tuples: Vec<RawTuple>,
    pub(crate) direct_bits: u8,
    pub(crate) direct: Vec<u32>,
    pub(crate) nodes: Vec<RawNode>,
    pub(crate) leaves: Vec<u32>,
    pub(crate) hosts: Vec<F::RawBucket>,
    /// The jump depth `J` (0: no jump table) and the jump table: paths (an address's top
    /// `J` bits) to a trie node's index (a node at offset `J`) or to `LEAF_FLAG | tuple`
    /// (a prefix of length `J` whose region is one leaf run).
    pub(crate) jump_bits: u8,
    pub(crate) jumps: Vec<F::RawBucket>,
    /// Per distinct host address: per list, its host entry (`HOST_FLAG | attr`), else the
    /// longest prefix entry covering it, else `NONE`.
    pub(crate) host_tuples: Vec<RawTuple>,
    /// The host filter: one word per group of hosts (see `filter_probe`).
    pub(crate) filter: Vec<u64>,
    pub(crate) summary_bits: u8,
    /// Two bits for each of `2^summary_bits` blocks: bit `2i` is set when some trie leaf in
    /// block `i` has a tuple other than 0, bit `2i + 1` when a host lies in block `i`.
    pub(crate) summary: Vec<u64>,
}

/// Everything a table holds, ready to be written.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) list_version: u64,
    pub(crate) created_unix: u64,
    pub(crate) hash_seed: u32,
    pub(crate) string_offsets: Vec<u32>,
    pub(crate) string_bytes: Vec<u8>,
    pub(crate) attrs: Vec<RawAttr>,
    pub(crate) v4: FamilyParts<V4>,
    pub(crate) v6: FamilyParts<V6>,
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64s(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Parts {
    /// The total file length this would serialize to.
    pub(crate) fn file_len(&self) -> u64 {
        self.sections().iter().map(|s| s.len() as u64).sum::<u64>() + HEADER_LEN as u64
    }

    fn sections(&self) -> [std::borrow::Cow<'_, [u8]>; SECTION_COUNT] {
        use std::borrow::Cow::{Borrowed, Owned};
        [
            Borrowed(self.v4.hosts.as_bytes()),
            Borrowed(self.v6.hosts.as_bytes()),
            Borrowed(self.v4.jumps.as_bytes()),
            Borrowed(self.v6.jumps.as_bytes()),
            Owned(u64s(&self.v4.filter)),
            Owned(u64s(&self.v6.filter)),
            Owned(u64s(&self.v4.summary)),
            Owned(u64s(&self.v6.summary)),
            Borrowed(self.v4.host_tuples.as_bytes()),
            Borrowed(self.v6.host_tuples.as_bytes()),
            Owned(u32s(&self.string_offsets)),
            Borrowed(&self.string_bytes),
            Borrowed(self.attrs.as_bytes()),
            Borrowed(self.v4.entries.as_bytes()),
            Borrowed(self.v4.tuples.as_bytes()),
            Owned(u32s(&self.v4.direct)),
            Borrowed(self.v4.nodes.as_bytes()),
            Owned(u32s(&self.v4.leaves)),
            Borrowed(self.v6.entries.as_bytes()),
            Borrowed(self.v6.tuples.as_bytes()),
            Owned(u32s(&self.v6.direct)),
            Borrowed(self.v6.nodes.as_bytes()),
            Owned(u32s(&self.v6.leaves)),
        ]
    }

    /// Serializes the table. The caller has checked `file_len() <= MAX_FILE_LEN`.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let sections = self.sections();
        let file_len = HEADER_LEN + sections.iter().map(|s| s.len()).sum::<usize>();
        let header = RawHeader {
            magic: MAGIC,
            format_version: FORMAT_VERSION.into(),
            flags: 0.into(),
            header_len: (HEADER_LEN as u32).into(),
            section_count: (SECTION_COUNT as u32).into(),
            file_len: (file_len as u64).into(),
            checksum: 0.into(),
            list_version: self.list_version.into(),
            created_unix: self.created_unix.into(),
            v4_direct_bits: self.v4.direct_bits,
            v6_direct_bits: self.v6.direct_bits,
            v4_summary_bits: self.v4.summary_bits,
            v6_summary_bits: self.v6.summary_bits,
            hash_seed: self.hash_seed.into(),
            v4_jump_bits: self.v4.jump_bits,
            v6_jump_bits: self.v6.jump_bits,
            reserved: [0; 14],
        };
        let mut out = Vec::with_capacity(file_len);
        out.extend_from_slice(header.as_bytes());
        let mut offset = HEADER_LEN as u64;
        for s in &sections {
            let rec = RawSection {
                offset: offset.into(),
                len: (s.len() as u64).into(),
            };
            out.extend_from_slice(rec.as_bytes());
            offset += s.len() as u64;
        }
        for s in &sections {
            out.extend_from_slice(s);
        }
        let sum = checksum(&out);
        if let Some(field) = out.get_mut(CHECKSUM_AT..CHECKSUM_AT + 8) {
            field.copy_from_slice(&sum.to_le_bytes());
        }
        out
    }
}
