//! Full structural validation of untrusted table bytes.
//!
//! Every check uses only fields that an earlier check has validated, and every number read
//! from the input goes through checked arithmetic. The numbers in the error messages are the
//! invariants of `FORMAT.md`.

use zerocopy::FromBytes;
use zerocopy::byteorder::little_endian::{U32, U64};

use super::{
    ATTR_MASK, DIRECT_BITS, FIXED_HEADER_LEN, Family, HEADER_LEN, HOST_EMPTY, HOST_FLAG, LEAF_FLAG,
    MAGIC, MAX_FILE_LEN, NO_RISK, NONE, RawAttr, RawHeader, RawNode, RawSection, RawTuple,
    SECTION_COUNT, STRIDE, SUMMARY_BITS, SUPPORTED_VERSIONS, Section, V4, V6, buckets_of, checksum,
    filter_probe, mark_host, mark_prefix,
};
use crate::error::{LoadError, LoadErrorKind};

/// Options for loading a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Verify the checksum (invariant 6). On by default. Turning it off skips only the
    /// corruption check: the structural checks still run, so loading and lookups still
    /// cannot panic or read out of bounds, but a damaged file may give wrong answers.
    pub verify_checksum: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            verify_checksum: true,
        }
    }
}

impl LoadOptions {
    /// Sets whether to verify the checksum.
    pub const fn verify_checksum(mut self, yes: bool) -> LoadOptions {
        self.verify_checksum = yes;
        self
    }
}

/// A validated view of one family's sections.
#[derive(Debug)]
pub(crate) struct Fam<'a, F: Family> {
    pub(crate) entries: &'a [F::RawEntry],
    pub(crate) tuples: &'a [RawTuple],
    pub(crate) direct_bits: u32,
    pub(crate) direct: &'a [U32],
    pub(crate) nodes: &'a [RawNode],
    pub(crate) leaves: &'a [U32],
    pub(crate) seed: u32,
    /// Host buckets of `F::BUCKET` slots; empty slots hold `HOST_EMPTY`.
    pub(crate) hosts: &'a [F::RawBucket],
    /// The jump depth `J` (0: none) and the jump table: paths (top `J` bits) to a node's
    /// index, or to `LEAF_FLAG | tuple` for a region inside one leaf run.
    pub(crate) jump_bits: u32,
    pub(crate) jumps: &'a [F::RawBucket],
    /// Per filled host slot's value: the address's entry per list (`HOST_FLAG | attr` for
    /// its own host entries, else a prefix entry or `NONE`).
    pub(crate) host_tuples: &'a [RawTuple],
    /// The number of host entries (the `HOST_FLAG` elements of the filled slots' tuples).
    pub(crate) host_count: usize,
    /// The host filter: every filled host's mask is set in its word.
    pub(crate) filter: &'a [U64],
    /// Width of the summary in bits (`2^summary_bits` blocks).
    pub(crate) summary_bits: u32,
    /// Two bits per block: bit `2i` clear, every address of block `i` maps to tuple 0; bit
    /// `2i + 1` clear, no host lies in block `i`.
    pub(crate) summary: &'a [U64],
}

/// A validated view of a whole table.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    pub(crate) format_version: u32,
    pub(crate) list_version: u64,
    pub(crate) created_unix: u64,
    pub(crate) checksum: u64,
    /// UTF-8 when validated; read through `str::from_utf8` each time all the same, since
    /// a mapped file can change after validation (against the contract).
    pub(crate) strings: &'a [u8],
    pub(crate) string_offsets: &'a [U32],
    pub(crate) attrs: &'a [RawAttr],
    pub(crate) v4: Fam<'a, V4>,
    pub(crate) v6: Fam<'a, V6>,
}

fn corrupt(invariant: u8, detail: String) -> LoadError {
    LoadError::format(LoadErrorKind::Corrupt, invariant, detail)
}

fn usize_of(x: u64) -> usize {
    // Every value passed here is at most MAX_FILE_LEN (checked first), which fits in usize
    // on every platform this crate supports (32 and 64 bit).
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// Casts a section to records, checking invariant 8.
fn records<T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable + ?Sized>(
    bytes: &[u8],
    section: Section,
) -> Result<&T, LoadError> {
    if !bytes.len().is_multiple_of(section.record_len()) {
        return Err(corrupt(
            8,
            format!(
                "{} section is {} bytes, not a multiple of its {}-byte records",
                section.name(),
                bytes.len(),
                section.record_len()
            ),
        ));
    }
    T::ref_from_bytes(bytes).map_err(|_| {
        corrupt(
            8,
            format!(
                "{} section has a length its records cannot fill",
                section.name()
            ),
        )
    })
}

/// Validates `bytes` and returns the view a `Table` reads through.
pub(crate) fn validate(bytes: &[u8], opts: LoadOptions) -> Result<Layout<'_>, LoadError> {
    // 1. Long enough for the fixed header.
    let Ok((header, _)) = RawHeader::ref_from_prefix(bytes) else {
        return Err(LoadError::format(
            LoadErrorKind::NotATable,
            1,
            format!(
                "{} bytes is shorter than the {FIXED_HEADER_LEN}-byte header",
                bytes.len()
            ),
        ));
    };
    // 2. Magic.
    if header.magic != MAGIC {
        return Err(LoadError::format(
            LoadErrorKind::NotATable,
            2,
            "the file does not start with the c2trie magic bytes".to_owned(),
        ));
    }
    // 3. Version.
    let version = header.format_version.get();
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(LoadError::format(
            LoadErrorKind::UnsupportedVersion { found: version },
            3,
            format!("format version {version}"),
        ));
    }
    // 4. Flags, header length, section count.
    if header.flags.get() != 0 {
        return Err(corrupt(
            4,
            format!("flags are {:#x}, expected 0", header.flags.get()),
        ));
    }
    if header.header_len.get() as usize != HEADER_LEN
        || header.section_count.get() as usize != SECTION_COUNT
    {
        return Err(corrupt(
            4,
            format!(
                "header length {} and section count {} (expected {HEADER_LEN} and {SECTION_COUNT})",
                header.header_len.get(),
                header.section_count.get()
            ),
        ));
    }
    // 5. File length.
    let file_len = header.file_len.get();
    if file_len > MAX_FILE_LEN || file_len != bytes.len() as u64 || bytes.len() < HEADER_LEN {
        return Err(corrupt(
            5,
            format!(
                "header says {file_len} bytes, the input has {} (truncated?)",
                bytes.len()
            ),
        ));
    }
    // 6. Checksum.
    let stored = header.checksum.get();
    if opts.verify_checksum {
        let actual = checksum(bytes);
        if actual != stored {
            return Err(LoadError::format(
                LoadErrorKind::ChecksumMismatch,
                6,
                format!("stored {stored:#018x}, computed {actual:#018x}"),
            ));
        }
    }
    // 7. Sections are contiguous, in order, from the end of the header to the end of file.
    let table_bytes = bytes.get(FIXED_HEADER_LEN..HEADER_LEN).unwrap_or(&[]);
    let table: &[RawSection] = <[RawSection]>::ref_from_bytes(table_bytes)
        .map_err(|_| corrupt(7, "section table is cut short".to_owned()))?;
    let mut sections: [&[u8]; SECTION_COUNT] = [&[]; SECTION_COUNT];
    let mut at = HEADER_LEN as u64;
    for ((slot, rec), section) in sections.iter_mut().zip(table).zip(Section::ALL) {
        let (offset, len) = (rec.offset.get(), rec.len.get());
        let end = offset.checked_add(len).filter(|e| *e <= file_len);
        let Some(end) = end.filter(|_| offset == at) else {
            return Err(corrupt(
                7,
                format!(
                    "{} section at {offset}+{len} (expected to start at {at} and end by {file_len})",
                    section.name()
                ),
            ));
        };
        *slot = bytes.get(usize_of(offset)..usize_of(end)).unwrap_or(&[]);
        at = end;
    }
    if at != file_len {
        return Err(corrupt(
            7,
            format!(
                "{} bytes after the last section",
                file_len.saturating_sub(at)
            ),
        ));
    }
    let sec = |s: Section| -> &[u8] { sections.get(s as usize).copied().unwrap_or(&[]) };

    // 9. Parameters.
    let params = [
        ("IPv4 direct bits", header.v4_direct_bits, DIRECT_BITS),
        ("IPv6 direct bits", header.v6_direct_bits, DIRECT_BITS),
        ("IPv4 summary bits", header.v4_summary_bits, SUMMARY_BITS),
        ("IPv6 summary bits", header.v6_summary_bits, SUMMARY_BITS),
    ];
    for (what, value, range) in params {
        if !range.contains(&value) {
            return Err(corrupt(9, format!("{what} is {value}, outside {range:?}")));
        }
    }
    if header.reserved != [0; 14] {
        return Err(corrupt(9, "reserved header bytes are not zero".to_owned()));
    }

    // 10. Strings.
    let string_offsets: &[U32] = records(sec(Section::StringOffsets), Section::StringOffsets)?;
    let string_bytes = sec(Section::StringBytes);
    let strings = std::str::from_utf8(string_bytes)
        .map_err(|e| corrupt(10, format!("string bytes are not UTF-8: {e}")))?;
    let Some((first, _)) = string_offsets.split_first() else {
        return Err(corrupt(10, "string offsets section is empty".to_owned()));
    };
    if first.get() != 0 {
        return Err(corrupt(10, "first string offset is not 0".to_owned()));
    }
    let mut prev = 0u32;
    for o in string_offsets {
        let o = o.get();
        if o < prev || !strings.is_char_boundary(o as usize) {
            return Err(corrupt(
                10,
                format!("string offset {o} is out of order or splits a char"),
            ));
        }
        prev = o;
    }
    if prev as usize != strings.len() {
        return Err(corrupt(
            10,
            "last string offset is not the end of the string bytes".into(),
        ));
    }
    let n_strings = string_offsets.len().saturating_sub(1);

    // 11. Attributes.
    let attrs: &[RawAttr] = records(sec(Section::Attrs), Section::Attrs)?;
    if attrs.len() > (1 << 30) {
        return Err(corrupt(
            11,
            format!("{} attributes, more than 2^30", attrs.len()),
        ));
    }
    for (i, a) in attrs.iter().enumerate() {
        let tag = a.tag.get();
        let bad = if a.list > 2 {
            Some(format!("list code {}", a.list))
        } else if a.risk > 100 && a.risk != NO_RISK {
            Some(format!("risk {}", a.risk))
        } else if a.reserved != [0; 2] {
            Some("reserved bytes are not zero".to_owned())
        } else if a.source.get() as usize >= n_strings {
            Some(format!("source string {} of {n_strings}", a.source.get()))
        } else if tag != NONE && tag as usize >= n_strings {
            Some(format!("tag string {tag} of {n_strings}"))
        } else {
            None
        };
        if let Some(bad) = bad {
            return Err(corrupt(11, format!("attribute {i}: {bad}")));
        }
    }

    let v4 = family::<V4>(
        V4_SECTIONS.map(sec),
        V4_SECTIONS,
        [
            header.v4_direct_bits,
            header.v4_summary_bits,
            header.v4_jump_bits,
        ],
        header.hash_seed.get(),
        attrs,
    )?;
    let v6 = family::<V6>(
        V6_SECTIONS.map(sec),
        V6_SECTIONS,
        [
            header.v6_direct_bits,
            header.v6_summary_bits,
            header.v6_jump_bits,
        ],
        header.hash_seed.get(),
        attrs,
    )?;

    Ok(Layout {
        format_version: version,
        list_version: header.list_version.get(),
        created_unix: header.created_unix.get(),
        checksum: stored,
        strings: string_bytes,
        string_offsets,
        attrs,
        v4,
        v6,
    })
}

/// One family's sections, in the order `family` takes them.
const V4_SECTIONS: [Section; 10] = [
    Section::V4Entries,
    Section::V4Tuples,
    Section::V4Direct,
    Section::V4Nodes,
    Section::V4Leaves,
    Section::V4Hosts,
    Section::V4Filter,
    Section::V4Summary,
    Section::V4HostTuples,
    Section::V4Jumps,
];
const V6_SECTIONS: [Section; 10] = [
    Section::V6Entries,
    Section::V6Tuples,
    Section::V6Direct,
    Section::V6Nodes,
    Section::V6Leaves,
    Section::V6Hosts,
    Section::V6Filter,
    Section::V6Summary,
    Section::V6HostTuples,
    Section::V6Jumps,
];

impl<F: Family> Fam<'_, F> {
    /// The host entries: (key, attribute), slot by slot, lists in order.
    pub(crate) fn hosts(&self) -> impl Iterator<Item = (F::Int, u32)> + '_ {
        self.hosts
            .iter()
            .flat_map(|b| F::bucket_keys(b).iter().zip(F::bucket_values(b)))
            .filter(|(_, v)| v.get() != HOST_EMPTY)
            .flat_map(move |(k, v)| {
                let t = self
                    .host_tuples
                    .get(v.get() as usize)
                    .map_or([NONE; 3], |t| t.0.map(|e| e.get()));
                let key = F::key(k);
                t.into_iter()
                    .filter(|e| *e != NONE && *e & HOST_FLAG != 0)
                    .map(move |e| (key, e & !HOST_FLAG))
            })
    }
}

fn attr_list(attrs: &[RawAttr], attr: u32) -> Option<u8> {
    attrs.get(attr as usize).map(|a| a.list)
}

/// What is wrong with a host slot that the combined check of invariant 18 did not pass.
/// The first argument is the slot's bucket and its key's two buckets.
#[cold]
fn host_slot_error<F: Family>(
    (bucket, b1, b2): (usize, usize, usize),
    (key, value): (F::Int, u32),
    copies: usize,
) -> String {
    if value == HOST_EMPTY {
        "an empty slot has a key".to_owned()
    } else if bucket != b1 && bucket != b2 {
        format!("key {key:?} is in neither of its buckets")
    } else if copies > 1 {
        format!("key {key:?} fills {copies} slots")
    } else {
        format!("host tuple {value} out of range")
    }
}

/// The first prefix entry named by host tuple `t` that does not contain the host `key`.
#[inline(always)]
fn uncovered<F: Family>(t: &RawTuple, entries: &[F::RawEntry], key: F::Int) -> Option<u32> {
    t.0.iter().map(|e| e.get()).find(|&e| {
        e != NONE
            && e & HOST_FLAG == 0
            && entries.get(e as usize).is_none_or(|x| {
                let len = u32::from(F::entry_len(x));
                let cut = |a: F::Int| F::to_u128(a).checked_shr(128u32.saturating_sub(len));
                cut(F::entry_addr(x)).unwrap_or(0) != cut(key).unwrap_or(0)
            })
    })
}

/// In the per-tuple host counts of invariant 18's check: the tuple names a prefix entry,
/// whose cover of each host naming the tuple is checked.
const NAMES_PREFIX: u8 = 0x80;

fn family<'a, F: Family>(
    bytes: [&'a [u8]; 10],
    names: [Section; 10],
    [direct_bits, summary_bits, jump_bits]: [u8; 3],
    seed: u32,
    attrs: &[RawAttr],
) -> Result<Fam<'a, F>, LoadError> {
    let [
        b_entries,
        b_tuples,
        b_direct,
        b_nodes,
        b_leaves,
        b_hosts,
        b_filter,
        b_summary,
        b_host_tuples,
        b_jumps,
    ] = bytes;
    let [
        s_entries,
        s_tuples,
        s_direct,
        s_nodes,
        s_leaves,
        s_hosts,
        s_filter,
        s_summary,
        s_host_tuples,
        s_jumps,
    ] = names;
    let entries: &[F::RawEntry] = records(b_entries, s_entries)?;
    let tuples: &[RawTuple] = records(b_tuples, s_tuples)?;
    let direct: &[U32] = records(b_direct, s_direct)?;
    let nodes: &[RawNode] = records(b_nodes, s_nodes)?;
    let leaves: &[U32] = records(b_leaves, s_leaves)?;
    let hosts: &[F::RawBucket] = records(b_hosts, s_hosts)?;
    let filter: &[U64] = records(b_filter, s_filter)?;
    let summary: &[U64] = records(b_summary, s_summary)?;
    let host_tuples: &[RawTuple] = records(b_host_tuples, s_host_tuples)?;
    let jumps: &[F::RawBucket] = records(b_jumps, s_jumps)?;
    let fam = F::NAME;

    // 9 (continued): table sizes follow from the parameters.
    let d = u32::from(direct_bits);
    if d >= F::BITS {
        return Err(corrupt(
            9,
            format!("{fam} direct bits {d} not below the address width"),
        ));
    }
    if direct.len() != 1usize << d {
        return Err(corrupt(
            9,
            format!("{fam} direct table has {} slots, not 2^{d}", direct.len()),
        ));
    }
    // `summary_bits` is in 6..=24 (checked with the header), below every address width.
    let s = u32::from(summary_bits);
    if summary.len() != 1usize << s.saturating_sub(5) {
        return Err(corrupt(
            9,
            format!(
                "{fam} summary has {} words, not 2 bits for each of 2^{s} blocks",
                summary.len()
            ),
        ));
    }

    // The jump depth: 0 without a jump table, else below the direct table's and inside the
    // address.
    let jump = u32::from(jump_bits);
    let jump_ok = if jump == 0 {
        jumps.is_empty()
    } else {
        jump > d && jump < F::BITS
    };
    if !jump_ok {
        return Err(corrupt(
            9,
            format!(
                "{fam} jump depth {jump} with {} jump buckets (direct bits {d})",
                jumps.len()
            ),
        ));
    }

    // 12. Entries: canonical, sorted, pointing at attributes of their list.
    let mut prev: Option<(F::Int, u8, u8)> = None;
    for (i, e) in entries.iter().enumerate() {
        let (addr, len, attr) = (F::entry_addr(e), F::entry_len(e), F::entry_attr(e));
        let bad = if u32::from(len) >= F::BITS {
            Some(format!(
                "prefix length {len} (hosts belong in the host table)"
            ))
        } else if F::to_u128(addr).checked_shl(u32::from(len)).unwrap_or(0) != 0 {
            Some("bits set past the prefix length".to_owned())
        } else if F::entry_reserved(e) != [0; 3] {
            Some("reserved bytes are not zero".to_owned())
        } else {
            None
        };
        if let Some(bad) = bad {
            return Err(corrupt(12, format!("{fam} entry {i}: {bad}")));
        }
        let Some(list) = attr_list(attrs, attr) else {
            return Err(corrupt(
                12,
                format!("{fam} entry {i}: attribute {attr} out of range"),
            ));
        };
        let key = (addr, len, list);
        if prev.is_some_and(|p| p >= key) {
            return Err(corrupt(
                12,
                format!("{fam} entry {i} is out of order or repeated"),
            ));
        }
        prev = Some(key);
    }

    // 13. Tuples.
    match tuples.first() {
        None => return Err(corrupt(13, format!("{fam} tuple table is empty"))),
        // Tuple 0 is "no list": what a lookup reports when the summary rules out a prefix.
        Some(t) if t.0.iter().any(|e| e.get() != NONE) => {
            return Err(corrupt(13, format!("{fam} tuple 0 names an entry")));
        }
        Some(_) => {}
    }
    for (i, t) in tuples.iter().enumerate() {
        for (pos, e) in t.0.iter().enumerate() {
            let e = e.get();
            if e == NONE {
                continue;
            }
            let list = entries
                .get(e as usize)
                .and_then(|x| attr_list(attrs, F::entry_attr(x)));
            if list.map(usize::from) != Some(pos) {
                return Err(corrupt(
                    13,
                    format!("{fam} tuple {i}: slot {pos} names entry {e} of another list or none"),
                ));
            }
        }
    }

    // 14–17. The trie: direct slots, then nodes in breadth-first order. Node children and
    // leaf runs, concatenated in parent order, must tile `nodes` and `leaves` exactly; every
    // child lies after its parent, so the walk cannot loop.
    let n_tuples = tuples.len();
    let mut next_node = 0usize;
    let mut depth: Vec<u8> = Vec::new();
    for (slot, v) in direct.iter().enumerate() {
        let v = v.get();
        if v & LEAF_FLAG != 0 {
            if (v & !LEAF_FLAG) as usize >= n_tuples {
                return Err(corrupt(
                    14,
                    format!("{fam} direct slot {slot}: tuple out of range"),
                ));
            }
        } else if v as usize != next_node || next_node >= nodes.len() {
            return Err(corrupt(
                14,
                format!("{fam} direct slot {slot} names node {v}, expected node {next_node}"),
            ));
        } else {
            next_node = next_node.saturating_add(1);
            depth.push(0);
        }
    }
    let mut next_leaf = 0usize;
    for (i, n) in nodes.iter().enumerate() {
        let (children, runs) = (n.children.get(), n.leaf_runs.get());
        let (base_child, base_leaf) = (n.base_child.get() as usize, n.base_leaf.get() as usize);
        let Some(&level) = depth.get(i) else {
            return Err(corrupt(15, format!("{fam} node {i} has no parent")));
        };
        // 16. Depth: the node's bit offset must lie inside the address.
        let offset = d.checked_add(u32::from(level).saturating_mul(STRIDE));
        if offset.is_none_or(|o| o >= F::BITS) {
            return Err(corrupt(
                16,
                format!("{fam} node {i} lies below the last address bit"),
            ));
        }
        let leaf_slots = !children;
        let bad = if children & runs != 0 {
            Some("a slot is both a child and a leaf run".to_owned())
        } else if leaf_slots != 0 && runs & (leaf_slots & leaf_slots.wrapping_neg()) == 0 {
            Some("the first leaf slot does not start a run".to_owned())
        } else if children != 0 && (base_child != next_node || base_child <= i) {
            Some(format!(
                "children start at {base_child}, expected {next_node}"
            ))
        } else if children == 0 && base_child != 0 {
            Some("no children but a non-zero child base".to_owned())
        } else if base_leaf != next_leaf {
            Some(format!("leaves start at {base_leaf}, expected {next_leaf}"))
        } else {
            None
        };
        if let Some(bad) = bad {
            return Err(corrupt(15, format!("{fam} node {i}: {bad}")));
        }
        let kids = children.count_ones() as usize;
        next_node = next_node
            .checked_add(kids)
            .filter(|n| *n <= nodes.len())
            .ok_or_else(|| {
                corrupt(
                    15,
                    format!("{fam} node {i}: children run past the node table"),
                )
            })?;
        let child_level = level.saturating_add(1);
        depth.extend(std::iter::repeat_n(child_level, kids));
        next_leaf = next_leaf
            .checked_add(runs.count_ones() as usize)
            .filter(|n| *n <= leaves.len())
            .ok_or_else(|| corrupt(15, format!("{fam} node {i}: leaves run past the table")))?;
    }
    if next_node != nodes.len() || next_leaf != leaves.len() {
        return Err(corrupt(
            15,
            format!(
                "{fam} trie uses {next_node} of {} nodes and {next_leaf} of {} leaves",
                nodes.len(),
                leaves.len()
            ),
        ));
    }
    // 17. Leaves name tuples.
    if let Some((i, l)) = leaves
        .iter()
        .enumerate()
        .find(|(_, l)| l.get() as usize >= n_tuples)
    {
        return Err(corrupt(
            17,
            format!("{fam} leaf {i} names tuple {}", l.get()),
        ));
    }

    // 22. Leaves cover their entries: every entry a leaf's tuple names contains all the
    // addresses of the leaf's slots, so no tuple can answer with an entry that does not
    // match (a tuple rewritten, checksum recomputed, would otherwise pass and answer wrong).
    leaf_cover::<F>(direct, d, nodes, leaves, tuples, entries)?;

    // 18. Host tuples: each element is `NONE`, an entry of its list, or a host entry
    // (`HOST_FLAG | attr`) of its list, and each tuple has a host entry. Per tuple, its
    // count of host entries and whether it names a prefix entry are kept for the slots
    // below.
    let mut host_entries: Vec<u8> = Vec::with_capacity(host_tuples.len());
    for (i, t) in host_tuples.iter().enumerate() {
        let mut own = 0u8;
        let mut names_prefix = false;
        for (pos, e) in t.0.iter().enumerate() {
            let e = e.get();
            let ok = if e == NONE {
                true
            } else if e & HOST_FLAG != 0 {
                own = own.saturating_add(1);
                e & !HOST_FLAG <= ATTR_MASK
                    && attr_list(attrs, e & !HOST_FLAG).map(usize::from) == Some(pos)
            } else {
                names_prefix = true;
                entries
                    .get(e as usize)
                    .and_then(|x| attr_list(attrs, F::entry_attr(x)))
                    .map(usize::from)
                    == Some(pos)
            };
            if !ok {
                return Err(corrupt(
                    18,
                    format!(
                        "{fam} host tuple {i}: slot {pos} names {e:#x}, not an entry of its list"
                    ),
                ));
            }
        }
        if own == 0 {
            return Err(corrupt(18, format!("{fam} host tuple {i} names no host")));
        }
        host_entries.push(own | if names_prefix { NAMES_PREFIX } else { 0 });
    }
    let mut host_count = 0usize;
    // The host filter the hosts call for (checked as invariant 19, after 18), gathered in
    // the same pass: one hash per host.
    let mut want_filter = vec![0u64; filter.len()];
    // And the host bits of the summary (checked as invariant 20).
    let mut host_blocks = vec![0u64; summary.len()];
    // 18 (continued). Host slots: empty, or naming a host tuple and in one of their key's
    // two buckets. A million hosts pass here, so a slot's checks are combined without a
    // branch (whether a slot is empty, and which of its two buckets a key is in, are coin
    // flips that would mispredict); only a slot that fails them is looked at again, to say
    // why.
    for (bucket, b) in hosts.iter().enumerate() {
        // The compiler writes each address once: a filled slot's key is in no other filled
        // slot of its bucket. (The key's other bucket is not read: that would cost a cache
        // miss per host at load.) A bucket has two slots (`F::BUCKET`), so a filled slot's
        // copies are two when both are filled with one key, else one.
        const { assert!(F::BUCKET == 2) };
        let (keys, values) = (F::bucket_keys(b), F::bucket_values(b));
        let twice = match (keys, values) {
            ([k1, k2], [v1, v2]) => {
                (F::key(k1) == F::key(k2)) & (v1.get() != HOST_EMPTY) & (v2.get() != HOST_EMPTY)
            }
            _ => true,
        };
        let copies = if twice { 2 } else { 1 };
        for (k, v) in keys.iter().zip(values) {
            let (key, value) = (F::key(k), v.get());
            let filled = value != HOST_EMPTY;
            let h = F::hash(key, seed);
            let (b1, b2) = buckets_of(h, hosts.len());
            // No tuple for an empty slot: `HOST_EMPTY` is past any index.
            let info = host_entries.get(value as usize).copied();
            let fine = if filled {
                ((bucket == b1) | (bucket == b2)) & (copies <= 1) & info.is_some()
            } else {
                key == F::Int::default()
            };
            if !fine {
                let bad = host_slot_error::<F>((bucket, b1, b2), (key, value), copies);
                return Err(corrupt(18, format!("{fam} host in bucket {bucket}: {bad}")));
            }
            // A host inside a listed prefix: its tuple's prefix entries must contain it.
            if info.is_some_and(|i| i & NAMES_PREFIX != 0)
                && let Some(e) = host_tuples
                    .get(value as usize)
                    .and_then(|t| uncovered::<F>(t, entries, key))
            {
                return Err(corrupt(
                    18,
                    format!(
                        "{fam} host in bucket {bucket}: key {key:?} names host tuple {value}, \
                         whose entry {e} does not contain it"
                    ),
                ));
            }
            // A filled slot's host entries, host bit and filter bits; nothing for an
            // empty one.
            let on = u64::from(filled);
            let own = info.map_or(0, |i| i & !NAMES_PREFIX);
            host_count = host_count.saturating_add(usize::from(own));
            // (`s` is 6 to 24: invariant 9.)
            mark_host::<F>(&mut host_blocks, key, s, on);
            let (w, mask) = filter_probe(h, want_filter.len());
            if let Some(w) = want_filter.get_mut(w) {
                *w |= mask & on.wrapping_neg();
            }
        }
    }

    // 19. The host filter is exactly the union of the filled hosts' masks.
    if filter.len() > u32::MAX as usize || (filter.is_empty() != (host_count == 0)) {
        // (Every filled slot names a tuple with a host entry, so no host entry means no
        // filled slot.)
        return Err(corrupt(
            19,
            format!(
                "{fam} host filter has {} words for {host_count} hosts",
                filter.len()
            ),
        ));
    }
    if let Some(i) = want_filter
        .iter()
        .zip(filter)
        .position(|(a, b)| *a != b.get())
    {
        return Err(corrupt(
            19,
            format!("{fam} host filter word {i} differs from its hosts' bits"),
        ));
    }

    // 20. The summary marks exactly the blocks where some leaf names a tuple other than 0
    // (even bits) and those holding a host (odd bits).
    let (want, paths) = trie_blocks(direct, d, nodes, leaves, s);
    if let Some(i) = want
        .iter()
        .zip(&host_blocks)
        .zip(summary)
        .position(|((a, h), b)| (a | h) != b.get())
    {
        return Err(corrupt(
            20,
            format!("{fam} summary word {i} differs from the trie"),
        ));
    }

    // 21. Jump slots: empty, or a path (top J address bits, nothing below) in one of its
    // two buckets, naming the node at that path and depth or, with `LEAF_FLAG`, the tuple
    // of the one leaf run its region lies in. The leaf entries are walked after the loop,
    // in path order, so that consecutive walks share their upper nodes in the cache (in
    // bucket order, each walk's nodes were cache misses).
    let mut leaf_entries: Vec<(u128, usize, u32)> = Vec::new();
    for (bucket, b) in jumps.iter().enumerate() {
        for (k, v) in F::bucket_keys(b).iter().zip(F::bucket_values(b)) {
            let (key, value) = (F::key(k), v.get());
            let bad = if value == HOST_EMPTY {
                (key != F::Int::default()).then(|| "an empty slot has a key".to_owned())
            } else {
                let (b1, b2) = buckets_of(F::hash(key, seed), jumps.len());
                let path = F::to_u128(key);
                if bucket != b1 && bucket != b2 {
                    Some(format!("key {key:?} is in neither of its buckets"))
                } else if F::top(key, jump) != key {
                    Some(format!("key {key:?} has bits below depth {jump}"))
                } else if value & LEAF_FLAG != 0 {
                    leaf_entries.push((path, bucket, value & !LEAF_FLAG));
                    None
                } else {
                    (paths.get(value as usize).copied() != Some((path, jump)))
                        .then(|| format!("node {value} is not the node at {key:?}/{jump}"))
                }
            };
            if let Some(bad) = bad {
                return Err(corrupt(
                    21,
                    format!("{fam} jump slot in bucket {bucket}: {bad}"),
                ));
            }
        }
    }
    leaf_entries.sort_unstable_by_key(|e| e.0);
    for &(path, bucket, tuple) in &leaf_entries {
        if uniform_tuple::<F>(direct, d, nodes, leaves, path, jump) != Some(tuple) {
            return Err(corrupt(
                21,
                format!(
                    "{fam} jump slot in bucket {bucket}: the region {path:#x}/{jump} (left-aligned) \
                     is not inside one leaf run naming tuple {tuple}"
                ),
            ));
        }
    }

    Ok(Fam {
        entries,
        tuples,
        direct_bits: d,
        direct,
        nodes,
        leaves,
        seed,
        hosts,
        jump_bits: jump,
        jumps,
        host_tuples,
        host_count,
        filter,
        summary_bits: s,
        summary,
    })
}

/// The tuple of the one leaf run that the left-aligned region `path/j` lies inside, in a
/// trie that satisfies 14–17 (invariant 21 states the rule); `None` when the region spans
/// leaves of different tuples, holds a child node, or is a whole node's region (whose
/// slots the compiler never makes all equal). `j` is below the address width and above
/// the direct table's `d`.
fn uniform_tuple<F: Family>(
    direct: &[U32],
    d: u32,
    nodes: &[RawNode],
    leaves: &[U32],
    path: u128,
    j: u32,
) -> Option<u32> {
    // Bits `off .. off + w` of the path (w ≤ 24), as an integer.
    let bits = |off: u32, w: u32| -> u32 {
        path.checked_shl(off)
            .and_then(|x| x.checked_shr(128u32.checked_sub(w)?))
            .unwrap_or(0) as u32
    };
    // The leaf index of a node's leaf slot `v`.
    let leaf_of = |runs: u64, base: u32, v: u32| -> Option<usize> {
        let upto = u64::MAX.checked_shr(63u32.checked_sub(v)?)?;
        (base as usize)
            .checked_add((runs & upto).count_ones() as usize)?
            .checked_sub(1)
    };
    let slot = direct.get(bits(0, d) as usize)?.get();
    if slot & LEAF_FLAG != 0 {
        // `j > d`: the region lies inside this slot's.
        return Some(slot & !LEAF_FLAG);
    }
    let (mut node, mut off) = (slot as usize, d);
    for _ in 0..=F::BITS / STRIDE {
        let n = nodes.get(node)?;
        let (children, runs, base) = (n.children.get(), n.leaf_runs.get(), n.base_leaf.get());
        let end = off.checked_add(STRIDE)?;
        if end <= j {
            // The region lies inside one slot of this node.
            let v = bits(off, STRIDE);
            let bit = 1u64.checked_shl(v)?;
            if children & bit == 0 {
                return leaves.get(leaf_of(runs, base, v)?).map(|l| l.get());
            }
            let rank = (children & bit.wrapping_sub(1)).count_ones() as usize;
            node = (n.base_child.get() as usize).checked_add(rank)?;
            off = end;
            continue;
        }
        if off >= j {
            return None;
        }
        // `off < j < end`: the region is `2^(end - j)` consecutive slots, all leaves of one
        // tuple when uniform.
        let span = 1u32.checked_shl(end.checked_sub(j)?)?;
        let first = bits(off, j.checked_sub(off)?).checked_shl(end.checked_sub(j)?)?;
        let last = first.checked_add(span)?.checked_sub(1)?;
        let mask = u64::MAX
            .checked_shr(64u32.checked_sub(span)?)?
            .checked_shl(first)?;
        if children & mask != 0 {
            return None;
        }
        let own = leaves.get(leaf_of(runs, base, first)?..=leaf_of(runs, base, last)?)?;
        let t = own.first()?.get();
        return own.iter().all(|l| l.get() == t).then_some(t);
    }
    None
}

/// Invariant 22 over a trie that satisfies 14–17: for each direct leaf slot and each leaf
/// run, every entry of its tuple contains the run's first and last reachable slot (an entry
/// is one prefix, so it then contains every slot between), checked as containing the
/// smallest prefix that holds both. Linear in the trie.
fn leaf_cover<F: Family>(
    direct: &[U32],
    d: u32,
    nodes: &[RawNode],
    leaves: &[U32],
    tuples: &[RawTuple],
    entries: &[F::RawEntry],
) -> Result<(), LoadError> {
    let fam = F::NAME;
    // Whether the prefix (lo, len), left-aligned, lies inside every entry of tuple `t`.
    let check = |t: u32, lo: u128, len: u32, what: &dyn Fn() -> String| {
        let Some(tuple) = tuples.get(t as usize) else {
            return Ok(());
        };
        for e in tuple.0 {
            let e = e.get();
            if e == NONE {
                continue;
            }
            let Some(ent) = entries.get(e as usize) else {
                continue;
            };
            let elen = u32::from(F::entry_len(ent));
            let eaddr = F::to_u128(F::entry_addr(ent));
            let inside = elen <= len
                && (elen == 0
                    || (lo ^ eaddr)
                        .checked_shr(128u32.saturating_sub(elen))
                        .unwrap_or(0)
                        == 0);
            if !inside {
                return Err(corrupt(
                    22,
                    format!(
                        "{fam} {}: tuple {t} names entry {e}, which does not contain it",
                        what()
                    ),
                ));
            }
        }
        Ok(())
    };
    let mut at: Vec<(u128, u32)> = Vec::with_capacity(nodes.len());
    for (slot, v) in direct.iter().enumerate() {
        let v = v.get();
        let addr = (slot as u128)
            .checked_shl(128u32.saturating_sub(d))
            .unwrap_or(0);
        if v & LEAF_FLAG != 0 {
            check(v & !LEAF_FLAG, addr, d, &|| format!("direct slot {slot}"))?;
        } else {
            at.push((addr, d));
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        let Some(&(addr, len)) = at.get(i) else { break };
        let (children, runs) = (n.children.get(), n.leaf_runs.get());
        let base = n.base_leaf.get() as usize;
        // Below the node: 6 more bits. A node lies above the last address bit (16), but
        // its slots may reach past it: those bits read as 0, so only the slots whose bits
        // past the address are 0 are reachable, and only those are checked.
        let sub_len = len.saturating_add(STRIDE);
        let beyond = sub_len.saturating_sub(F::BITS);
        let reachable: u64 = match beyond {
            0 => u64::MAX,
            b => (0..64u32)
                .step_by(1usize << b.min(6))
                .fold(0u64, |m, v| m | (1u64 << v)),
        };
        let slot_addr = |v: u32| {
            let v = u128::from(v);
            addr | match sub_len.checked_sub(128) {
                None | Some(0) => v.checked_shl(128u32.saturating_sub(sub_len)).unwrap_or(0),
                Some(over) => v.checked_shr(over).unwrap_or(0),
            }
        };
        let child_len = sub_len.min(128);
        let mut c = children;
        while c != 0 {
            at.push((slot_addr(c.trailing_zeros()), child_len));
            c &= c.wrapping_sub(1);
        }
        let leaf_slots = !children & reachable;
        let mut r = runs;
        let mut k = 0usize;
        while r != 0 {
            let first = r.trailing_zeros();
            r &= r.wrapping_sub(1);
            let next = if r == 0 { 64 } else { r.trailing_zeros() };
            // The run's reachable leaf slots: from `first` up to the next run's start.
            let upto = if next == 64 {
                u64::MAX
            } else {
                (1u64 << next).wrapping_sub(1)
            };
            let own = leaf_slots & upto & !(1u64 << first).wrapping_sub(1);
            if own != 0
                && let Some(t) = leaves.get(base.wrapping_add(k))
            {
                let t = t.get();
                let (lo, hi) = (
                    own.trailing_zeros(),
                    63u32.saturating_sub(own.leading_zeros()),
                );
                // The smallest prefix holding both ends: an entry contains both exactly
                // when it contains that prefix.
                let (a, b) = (slot_addr(lo), slot_addr(hi));
                let common = (a ^ b).leading_zeros().min(child_len);
                let what = || format!("node {i} leaf {}", base.wrapping_add(k));
                check(t, a, common, &what)?;
            }
            k = k.wrapping_add(1);
        }
    }
    Ok(())
}

/// The summary a validated trie (invariants 14–17) calls for: every leaf naming a tuple
/// other than 0 marks the blocks its slot's addresses fall in. A node at or below the
/// summary's depth lies in one block, so only its leaves are read. Linear in the trie plus
/// the summary.
fn trie_blocks(
    direct: &[U32],
    d: u32,
    nodes: &[RawNode],
    leaves: &[U32],
    s: u32,
) -> (Vec<u64>, Vec<(u128, u32)>) {
    let mut words = vec![0u64; 1usize << s.saturating_sub(5)];
    // Each node's left-aligned prefix and length; nodes come in breadth-first order and
    // every parent precedes its children (invariant 15).
    let mut at: Vec<(u128, u32)> = Vec::with_capacity(nodes.len());
    for (slot, v) in direct.iter().enumerate() {
        let v = v.get();
        let addr = (slot as u128)
            .checked_shl(128u32.saturating_sub(d))
            .unwrap_or(0);
        if v & LEAF_FLAG != 0 {
            if v & !LEAF_FLAG != 0 {
                mark_prefix(&mut words, addr, d, s);
            }
        } else {
            at.push((addr, d));
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        let Some(&(addr, len)) = at.get(i) else { break };
        let children = n.children.get();
        let runs = n.leaf_runs.get();
        let base = n.base_leaf.get() as usize;
        let sub_len = len.saturating_add(STRIDE);
        if len >= s {
            // One block: marked if any of the node's leaves names a tuple other than 0;
            // the children inherit the block.
            let count = runs.count_ones() as usize;
            let own = leaves.get(base..base.saturating_add(count)).unwrap_or(&[]);
            if own.iter().any(|l| l.get() != 0) {
                mark_prefix(&mut words, addr, len, s);
            }
            // Children in slot order. A node with children lies above the last address
            // bit (invariant 16), so the shift is in range.
            let shift = 128u32.saturating_sub(sub_len);
            let mut c = children;
            while c != 0 {
                let v = u128::from(c.trailing_zeros());
                at.push((addr | v.checked_shl(shift).unwrap_or(0), sub_len));
                c &= c.wrapping_sub(1);
            }
            continue;
        }
        // Here `len < s <= 24`, so `sub_len` is below 30 and the shifts stay in range.
        let shift = 128u32.saturating_sub(sub_len);
        let slot_addr = |v: u32| addr | u128::from(v).checked_shl(shift).unwrap_or(0);
        let mut c = children;
        while c != 0 {
            at.push((slot_addr(c.trailing_zeros()), sub_len));
            c &= c.wrapping_sub(1);
        }
        // The leaf slots whose leaf names a tuple other than 0, from one pass over the
        // node's runs: a run spans the slots from its start to the next run's start, and
        // starts at a leaf slot (invariant 15), so each leaf is reached from its own slots.
        let count = runs.count_ones() as usize;
        let own = leaves.get(base..base.saturating_add(count)).unwrap_or(&[]);
        let mut named = 0u64;
        let mut r = runs;
        // (Without branches on the leaves: whether a leaf names a tuple is a coin flip.)
        for leaf in own {
            let first = r.trailing_zeros();
            r &= r.wrapping_sub(1);
            // Slots `first..next`, `next` the next run's start (64 for the last run).
            let upto = if r == 0 {
                u64::MAX
            } else {
                (1u64 << r.trailing_zeros()).wrapping_sub(1)
            };
            let named_leaf = u64::from(leaf.get() != 0).wrapping_neg();
            named |= upto & !(1u64 << first).wrapping_sub(1) & named_leaf;
        }
        let named = named & !children;
        if named == 0 {
            continue;
        }
        // Slots per block: 1 when a slot covers whole blocks, else 2^(sub_len - s). Each
        // block's first slot gets the bits of the block's slots, and the blocks marked are
        // those whose first slot's bit is then set: one per set bit, not one test per
        // block.
        let group = 1u32 << sub_len.saturating_sub(s).min(6);
        let mut any = named;
        let mut k = 1;
        while k < group {
            any |= any >> k;
            k <<= 1;
        }
        // Bits 0, group, 2 group, …: the blocks' first slots.
        // (`group` 64: the divisor is `u64::MAX`, the quotient 1, bit 0 alone.)
        let firsts = u64::MAX
            .checked_div(1u64.checked_shl(group).unwrap_or(0).wrapping_sub(1))
            .unwrap_or(1);
        let mut marked = any & firsts;
        while marked != 0 {
            let a = marked.trailing_zeros();
            marked &= marked.wrapping_sub(1);
            mark_prefix(&mut words, slot_addr(a), sub_len.min(s), s);
        }
    }
    (words, at)
}
