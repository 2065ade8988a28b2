//! The C types and constants, and their conversions to and from the library's types.
//!
//! Layouts are `#[repr(C)]` and mirrored by hand in `include/c2trie.h`; the test
//! `tests/header.rs` compiles a C program against the header and compares every size,
//! offset and constant with the values here.

use std::ffi::{c_char, c_int};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use c2trie::policy::{EmbeddedV4, Encoding, Reason};
use c2trie::{Decision, EntryRef, List, Mode, Verdict};

use std::mem::{align_of, offset_of, size_of};
use std::ops::Range;

use crate::boundary::{CallerLayout, Error, Place, check_size, copy_part, put, read_size};

/// Success.
pub const C2TRIE_OK: c_int = 0;
/// A required pointer argument was NULL.
pub const C2TRIE_ERR_NULL: c_int = 1;
/// An argument is out of range: an unknown mode, family or flag, an address that does not
/// parse, a batch too large to address.
pub const C2TRIE_ERR_ARGUMENT: c_int = 2;
/// A file could not be opened, read or mapped.
pub const C2TRIE_ERR_IO: c_int = 3;
/// The bytes are not a valid c2trie table (wrong magic, unsupported version, checksum
/// mismatch, broken invariant).
pub const C2TRIE_ERR_INVALID_TABLE: c_int = 4;
/// A reload was refused: the offered table's `list_version` is not newer than the one in
/// service.
pub const C2TRIE_ERR_ROLLBACK: c_int = 5;
/// The live handle has no table in service.
pub const C2TRIE_ERR_NO_TABLE: c_int = 6;
/// The `size` field of a caller-allocated struct is 0 or smaller than any layout this
/// library accepts: the struct was not initialized with its `_INIT` macro or function.
pub const C2TRIE_ERR_SIZE: c_int = 7;
/// An internal error (a bug in c2trie): a panic was caught at the boundary.
pub const C2TRIE_ERR_PANIC: c_int = 99;

/// IPv4 address family.
pub const C2TRIE_FAMILY_V4: u8 = 4;
/// IPv6 address family.
pub const C2TRIE_FAMILY_V6: u8 = 6;

/// The user approved list.
pub const C2TRIE_LIST_APPROVED: c_int = 0;
/// The user blocked list.
pub const C2TRIE_LIST_BLOCKED: c_int = 1;
/// The vendor global C&C list.
pub const C2TRIE_LIST_GLOBAL: c_int = 2;
/// No list.
pub const C2TRIE_LIST_NONE: c_int = -1;
/// How many lists a table has.
pub const C2TRIE_LISTS: usize = 3;

/// A list is ignored.
pub const C2TRIE_MODE_OFF: c_int = 0;
/// A list's addresses are let through and reported.
pub const C2TRIE_MODE_LOG: c_int = 1;
/// A list's addresses are blocked.
pub const C2TRIE_MODE_BLOCK: c_int = 2;

/// No list decides: let it through.
pub const C2TRIE_VERDICT_PASS: c_int = 0;
/// An approved entry covers the address: let it through.
pub const C2TRIE_VERDICT_ALLOW: c_int = 1;
/// A log-only list covers the address: let it through and report it.
pub const C2TRIE_VERDICT_LOG: c_int = 2;
/// A blocking list covers the address: refuse it.
pub const C2TRIE_VERDICT_BLOCK: c_int = 3;

/// An entry decided.
pub const C2TRIE_REASON_LISTED: c_int = 0;
/// No list decided.
pub const C2TRIE_REASON_UNLISTED: c_int = 1;
/// No table was in service; the live handle's fail mode decided.
pub const C2TRIE_REASON_NO_TABLE: c_int = 2;

/// Fail open: pass every address while no table is in service.
pub const C2TRIE_FAIL_OPEN: c_int = 0;
/// Fail closed: block every address while no table is in service.
pub const C2TRIE_FAIL_CLOSED: c_int = 1;

/// Reload flag: map the file instead of reading it (see the header for the contract).
pub const C2TRIE_RELOAD_MAP: u32 = 1;
/// Reload flag: accept a table whose `list_version` is not newer (an operator rollback).
pub const C2TRIE_RELOAD_FORCE: u32 = 2;

/// The IPv4-in-IPv6 encodings, in the bit order of the `C2TRIE_EMBED_*` constants. Fixed here, not
/// taken from the library's list, so that the C bit values never move.
pub(crate) const ENCODINGS: [Encoding; 10] = [
    Encoding::Mapped,
    Encoding::Compatible,
    Encoding::Translated,
    Encoding::Nat64WellKnown,
    Encoding::Nat64LocalUse,
    Encoding::Nat64Operator,
    Encoding::SixToFour,
    Encoding::TeredoServer,
    Encoding::TeredoClient,
    Encoding::Isatap,
];

/// `::ffff:a.b.c.d`.
pub const C2TRIE_EMBED_MAPPED: u32 = 1 << 0;
/// `::a.b.c.d` (deprecated IPv4-compatible).
pub const C2TRIE_EMBED_COMPATIBLE: u32 = 1 << 1;
/// `::ffff:0:a.b.c.d` (SIIT).
pub const C2TRIE_EMBED_TRANSLATED: u32 = 1 << 2;
/// `64:ff9b::/96` (NAT64 well-known prefix).
pub const C2TRIE_EMBED_NAT64: u32 = 1 << 3;
/// `64:ff9b:1::/48` (NAT64 local-use prefix).
pub const C2TRIE_EMBED_NAT64_LOCAL: u32 = 1 << 4;
/// Operator NAT64 prefixes (`c2trie_policy_add_nat64_prefix`).
pub const C2TRIE_EMBED_NAT64_OPERATOR: u32 = 1 << 5;
/// `2002::/16` (6to4).
pub const C2TRIE_EMBED_6TO4: u32 = 1 << 6;
/// Teredo server address.
pub const C2TRIE_EMBED_TEREDO_SERVER: u32 = 1 << 7;
/// Teredo client address.
pub const C2TRIE_EMBED_TEREDO_CLIENT: u32 = 1 << 8;
/// ISATAP interface identifier (`::0:5efe:a.b.c.d`, `::200:5efe:a.b.c.d`) under any /64.
pub const C2TRIE_EMBED_ISATAP: u32 = 1 << 9;
/// Every encoding (the default).
pub const C2TRIE_EMBED_ALL: u32 = (1 << 10) - 1;

/// An IP address: family plus bytes in network order. IPv4 uses `bytes[0..4]`; the rest is
/// zero on output and ignored on input.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct c2trie_addr {
    /// [`C2TRIE_FAMILY_V4`] or [`C2TRIE_FAMILY_V6`].
    pub family: u8,
    /// The address, network byte order.
    pub bytes: [u8; 16],
}

/// One list's longest match, or one entry of a table.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct c2trie_match {
    /// `sizeof(c2trie_match)` as the caller was compiled: set by `C2TRIE_MATCH_INIT`, read
    /// by the library to know which fields the caller has.
    pub size: u32,
    /// The entry's list (`C2TRIE_LIST_*`); [`C2TRIE_LIST_NONE`] when `found` is 0.
    pub list: c_int,
    /// 1 when the list has an entry covering the address; 0 otherwise, and then every other
    /// field but `size` and `list` is zero or NULL.
    pub found: u8,
    /// The prefix's family.
    pub family: u8,
    /// The prefix length.
    pub prefix_len: u8,
    /// Risk score 0–100; 255 when the entry has none.
    pub risk: u8,
    /// The prefix's network address, network byte order (IPv4 in the first 4 bytes).
    pub prefix: [u8; 16],
    /// Expiry, seconds since the Unix epoch; 0 when the entry does not expire.
    pub expires: u64,
    /// The entry's source (feed name): UTF-8, **not** NUL-terminated, `source_len` bytes,
    /// borrowed from the table.
    pub source: *const c_char,
    /// Length of `source` in bytes.
    pub source_len: usize,
    /// The entry's tag, as `source`; NULL when the entry has no tag.
    pub tag: *const c_char,
    /// Length of `tag` in bytes.
    pub tag_len: usize,
}

impl Default for c2trie_match {
    fn default() -> c2trie_match {
        NO_MATCH
    }
}

/// A list's answer where it has no entry covering the address.
const NO_MATCH: c2trie_match = c2trie_match {
    size: size_of::<c2trie_match>() as u32,
    list: C2TRIE_LIST_NONE,
    found: 0,
    family: 0,
    prefix_len: 0,
    risk: 0,
    prefix: [0; 16],
    expires: 0,
    source: std::ptr::null(),
    source_len: 0,
    tag: std::ptr::null(),
    tag_len: 0,
};

/// The answer for an address no list covers.
pub(crate) const NO_MATCHES: c2trie_matches = c2trie_matches {
    lists: [NO_MATCH; C2TRIE_LISTS],
};

// `MatchesLayout::write` writes a whole `c2trie_matches` into `C2TRIE_LISTS` matches'
// worth of the caller's bytes.
const _: () = assert!(size_of::<c2trie_matches>() == C2TRIE_LISTS * size_of::<c2trie_match>());

/// Every list's longest match for one address, indexed by `C2TRIE_LIST_*`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct c2trie_matches {
    /// `lists[C2TRIE_LIST_APPROVED]`, `lists[C2TRIE_LIST_BLOCKED]`, `lists[C2TRIE_LIST_GLOBAL]`.
    pub lists: [c2trie_match; C2TRIE_LISTS],
}

/// A verdict and what decided it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct c2trie_decision {
    /// `sizeof(c2trie_decision)` as the caller was compiled: set by `C2TRIE_DECISION_INIT`,
    /// read by the library to know which fields the caller has.
    pub size: u32,
    /// `C2TRIE_VERDICT_*`.
    pub verdict: c_int,
    /// `C2TRIE_REASON_*`.
    pub reason: c_int,
    /// The deciding list (`C2TRIE_LIST_*`), or [`C2TRIE_LIST_NONE`].
    pub list: c_int,
    /// The bit index (0–9) of the `C2TRIE_EMBED_*` encoding through which an embedded IPv4
    /// address decided, or -1 when the address itself decided.
    pub via: c_int,
    /// The address whose lookup decided: the address asked, or the IPv4 address it embeds.
    pub matched: c2trie_addr,
    /// The deciding entry (`found == 0` when no entry decided).
    pub entry: c2trie_match,
    /// The `list_version` of the table decided against; 0 for `C2TRIE_REASON_NO_TABLE`.
    pub list_version: u64,
    /// The live handle's generation that decided; 0 for decisions against a table handle.
    pub generation: u64,
}

impl Default for c2trie_decision {
    fn default() -> c2trie_decision {
        c2trie_decision {
            size: size_of::<c2trie_decision>() as u32,
            verdict: C2TRIE_VERDICT_PASS,
            reason: C2TRIE_REASON_UNLISTED,
            list: C2TRIE_LIST_NONE,
            via: -1,
            matched: c2trie_addr::default(),
            entry: c2trie_match::default(),
            list_version: 0,
            generation: 0,
        }
    }
}

/// A table's header and counts.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct c2trie_table_info {
    /// The file format version.
    pub format_version: u32,
    /// The feed serial number given at compile time.
    pub list_version: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// The XXH3-64 checksum stored in the header.
    pub checksum: u64,
    /// Size of the table in bytes.
    pub bytes: u64,
    /// Number of entries in all lists.
    pub entries: u64,
    /// Entries per list (`C2TRIE_LIST_*`) and family (0 IPv4, 1 IPv6).
    pub counts: [[u64; 2]; C2TRIE_LISTS],
}

/// What a successful reload put in service.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct c2trie_swap {
    /// The new generation.
    pub generation: u64,
    /// The new table's `list_version`.
    pub list_version: u64,
    /// The replaced table's `list_version`, when `had_previous` is 1.
    pub previous_version: u64,
    /// 1 when a table was in service before.
    pub had_previous: u8,
}

/// The state of a live handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct c2trie_live_info {
    /// The generation in service: 0 before the first table, then one more per swap.
    pub generation: u64,
    /// The `list_version` in service (0 when `has_table` is 0).
    pub list_version: u64,
    /// The creation time of the table in service (0 when `has_table` is 0).
    pub created_unix: u64,
    /// 1 when a table is in service.
    pub has_table: u8,
    /// The handle's `C2TRIE_FAIL_*` mode.
    pub fail_mode: c_int,
}

#[inline]
pub(crate) fn addr_to_c(addr: IpAddr) -> c2trie_addr {
    let mut bytes = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            bytes[..4].copy_from_slice(&a.octets());
            c2trie_addr {
                family: C2TRIE_FAMILY_V4,
                bytes,
            }
        }
        IpAddr::V6(a) => c2trie_addr {
            family: C2TRIE_FAMILY_V6,
            bytes: a.octets(),
        },
    }
}

pub(crate) fn addr_from_c(addr: &c2trie_addr) -> Result<IpAddr, Error> {
    match addr.family {
        C2TRIE_FAMILY_V4 => {
            let [a, b, c, d, ..] = addr.bytes;
            Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
        }
        C2TRIE_FAMILY_V6 => Ok(IpAddr::V6(Ipv6Addr::from(addr.bytes))),
        f => Err(Error::argument(format!(
            "address family {f} (expected C2TRIE_FAMILY_V4 = 4 or C2TRIE_FAMILY_V6 = 6)"
        ))),
    }
}

#[inline]
pub(crate) fn list_to_c(list: List) -> c_int {
    match list {
        List::Approved => C2TRIE_LIST_APPROVED,
        List::Blocked => C2TRIE_LIST_BLOCKED,
        List::Global => C2TRIE_LIST_GLOBAL,
    }
}

pub(crate) fn mode_from_c(mode: c_int, which: &str) -> Result<Mode, Error> {
    match mode {
        C2TRIE_MODE_OFF => Ok(Mode::Off),
        C2TRIE_MODE_LOG => Ok(Mode::LogOnly),
        C2TRIE_MODE_BLOCK => Ok(Mode::Block),
        m => Err(Error::argument(format!(
            "policy {which} mode {m} (expected C2TRIE_MODE_OFF, _LOG or _BLOCK)"
        ))),
    }
}

pub(crate) fn mode_to_c(mode: Mode) -> c_int {
    match mode {
        Mode::Off => C2TRIE_MODE_OFF,
        Mode::LogOnly => C2TRIE_MODE_LOG,
        _ => C2TRIE_MODE_BLOCK,
    }
}

/// Turns the encodings on and off as the `C2TRIE_EMBED_*` bits say; operator NAT64
/// prefixes are kept.
pub(crate) fn set_embedded_bits(e: &mut EmbeddedV4, bits: u32) -> Result<(), Error> {
    if bits & !C2TRIE_EMBED_ALL != 0 {
        return Err(Error::argument(format!(
            "embedded bits {bits:#x} outside C2TRIE_EMBED_ALL"
        )));
    }
    for (bit, enc) in ENCODINGS.iter().enumerate() {
        e.set(*enc, bits & (1 << bit) != 0);
    }
    Ok(())
}

/// The `C2TRIE_EMBED_*` bits of the encodings that are on.
pub(crate) fn embedded_bits(e: &EmbeddedV4) -> u32 {
    ENCODINGS
        .iter()
        .enumerate()
        .filter(|(_, enc)| e.is_enabled(**enc))
        .fold(0, |m, (bit, _)| m | 1 << bit)
}

#[inline]
pub(crate) fn verdict_to_c(v: Verdict) -> c_int {
    match v {
        Verdict::Pass => C2TRIE_VERDICT_PASS,
        Verdict::Allow => C2TRIE_VERDICT_ALLOW,
        Verdict::Log => C2TRIE_VERDICT_LOG,
        Verdict::Block => C2TRIE_VERDICT_BLOCK,
    }
}

fn reason_to_c(r: Reason) -> c_int {
    match r {
        Reason::Listed => C2TRIE_REASON_LISTED,
        Reason::NoTable => C2TRIE_REASON_NO_TABLE,
        _ => C2TRIE_REASON_UNLISTED,
    }
}

/// Whether entry strings are handed out. They borrow the table, so they are withheld where
/// the table may be released as soon as the call returns (live-handle decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strings {
    Borrow,
    Withhold,
}

#[inline]
pub(crate) fn match_to_c(e: Option<EntryRef<'_>>, strings: Strings) -> c2trie_match {
    let Some(e) = e else {
        return c2trie_match::default();
    };
    let prefix = e.prefix();
    let c = addr_to_c(prefix.network());
    let mut m = c2trie_match {
        list: list_to_c(e.list()),
        found: 1,
        family: c.family,
        prefix_len: prefix.prefix_len(),
        risk: e.risk().unwrap_or(255),
        prefix: c.bytes,
        expires: e.expires().unwrap_or(0),
        ..c2trie_match::default()
    };
    if strings == Strings::Borrow {
        let source = e.source();
        m.source = source.as_ptr().cast();
        m.source_len = source.len();
        if let Some(tag) = e.tag() {
            m.tag = tag.as_ptr().cast();
            m.tag_len = tag.len();
        }
    }
    m
}

/// Calls `f` with `hits` for C: with [`NO_MATCHES`] itself where no list covers the
/// address (most lookups), so that nothing is built and the copy reads a constant.
#[inline]
pub(crate) fn with_matches<R>(hits: &c2trie::Hits<'_>, f: impl FnOnce(&c2trie_matches) -> R) -> R {
    if hits.is_empty() {
        f(&NO_MATCHES)
    } else {
        f(&matches_to_c(hits))
    }
}

fn matches_to_c(hits: &c2trie::Hits<'_>) -> c2trie_matches {
    let mut out = c2trie_matches::default();
    for list in List::ALL {
        if let Some(slot) = out.lists.get_mut(list.index()) {
            *slot = match_to_c(hits.get(list), Strings::Borrow);
        }
    }
    out
}

#[inline]
pub(crate) fn decision_to_c(
    d: &Decision<'_>,
    generation: u64,
    strings: Strings,
) -> c2trie_decision {
    c2trie_decision {
        verdict: verdict_to_c(d.verdict()),
        reason: reason_to_c(d.reason()),
        list: d.list().map_or(C2TRIE_LIST_NONE, list_to_c),
        via: d
            .via()
            .and_then(|v| ENCODINGS.iter().position(|e| *e == v))
            .and_then(|i| c_int::try_from(i).ok())
            .unwrap_or(-1),
        matched: addr_to_c(d.matched_addr()),
        entry: match_to_c(d.entry(), strings),
        list_version: d.list_version().unwrap_or(0),
        generation,
        ..c2trie_decision::default()
    }
}

/// The bytes of a C struct that no field covers (padding), as ranges, on this target. A
/// struct written to a caller's memory has them zeroed after it ([`zero_gaps`]): a typed
/// copy carries padding as whatever bytes were there, which could be the library's
/// (halves of pointers), and would differ between identical calls.
pub(crate) trait Gaps {
    const GAPS: &'static [Range<usize>];
}

/// The end of field `$f` of `$t`.
macro_rules! end_of {
    ($t:ty, $f:ident) => {
        offset_of!($t, $f) + size_of_field!($t, $f)
    };
}

/// The size of field `$f` of `$t`, in a constant.
macro_rules! size_of_field {
    ($t:ty, $f:ident) => {{
        const fn size<T, F>(_: fn(&T) -> &F) -> usize {
            size_of::<F>()
        }
        size(|v: &$t| &v.$f)
    }};
}

impl Gaps for c2trie_match {
    const GAPS: &'static [Range<usize>] = &[
        end_of!(c2trie_match, prefix)..offset_of!(c2trie_match, expires),
        end_of!(c2trie_match, tag_len)..size_of::<c2trie_match>(),
    ];
}

impl Gaps for c2trie_decision {
    /// Its own gap after `matched`, and `entry`'s (a [`c2trie_match`]'s) at `entry`. (No gap
    /// follows `entry` or `generation` on any target: both end on a `u64`'s alignment;
    /// checked here.)
    const GAPS: &'static [Range<usize>] = {
        const _: () = assert!(
            end_of!(c2trie_decision, entry) == offset_of!(c2trie_decision, list_version)
                && end_of!(c2trie_decision, generation) == size_of::<c2trie_decision>()
        );
        const E: usize = offset_of!(c2trie_decision, entry);
        const G: &[Range<usize>] = c2trie_match::GAPS;
        &[
            end_of!(c2trie_decision, matched)..E,
            E + G[0].start..E + G[0].end,
            E + G[1].start..E + G[1].end,
        ]
    };
}

impl Gaps for c2trie_table_info {
    const GAPS: &'static [Range<usize>] = &[
        end_of!(c2trie_table_info, format_version)..offset_of!(c2trie_table_info, list_version),
        end_of!(c2trie_table_info, counts)..size_of::<c2trie_table_info>(),
    ];
}

// A list of gaps that holds one, not a range to collect.
#[allow(clippy::single_range_in_vec_init)]
impl Gaps for c2trie_swap {
    const GAPS: &'static [Range<usize>] =
        &[end_of!(c2trie_swap, had_previous)..size_of::<c2trie_swap>()];
}

impl Gaps for c2trie_live_info {
    const GAPS: &'static [Range<usize>] = &[
        end_of!(c2trie_live_info, has_table)..offset_of!(c2trie_live_info, fail_mode),
        end_of!(c2trie_live_info, fail_mode)..size_of::<c2trie_live_info>(),
    ];
}

impl Gaps for c2trie_matches {
    const GAPS: &'static [Range<usize>] = {
        const M: usize = size_of::<c2trie_match>();
        const G: &[Range<usize>] = c2trie_match::GAPS;
        // Three matches back to back (`C2TRIE_LISTS`, checked below), none between them.
        const _: () = assert!(C2TRIE_LISTS == 3 && size_of::<c2trie_matches>() == 3 * M);
        &[
            G[0].start..G[0].end,
            G[1].start..G[1].end,
            G[0].start + M..G[0].end + M,
            G[1].start + M..G[1].end + M,
            G[0].start + 2 * M..G[0].end + 2 * M,
            G[1].start + 2 * M..G[1].end + 2 * M,
        ]
    };
}

/// [`put`] for a struct with gaps: the gaps are zeroed after the write.
///
/// # Safety
///
/// As [`put`].
pub(crate) unsafe fn put_struct<T: Gaps>(p: *mut T, what: &str, value: T) -> Result<(), Error> {
    // SAFETY: the caller's guarantee.
    unsafe { put(p, what, value) }?;
    // SAFETY: `put` succeeded, so `p` is valid for writing a `T`, which holds its gaps.
    unsafe { zero_gaps(p.cast(), T::GAPS) };
    Ok(())
}

/// The bytes `gaps` cover.
const fn gap_total(gaps: &[Range<usize>]) -> usize {
    let (mut i, mut total) = (0, 0);
    while i < gaps.len() {
        total += gaps[i].end - gaps[i].start;
        i += 1;
    }
    total
}

/// Checks, at compile time, that `$t`'s fields and its listed gaps add up to its size: a
/// field added without its gaps listed fails the build.
macro_rules! gaps_complete {
    ($t:ty { $($f:ident),* $(,)? }) => {
        const _: () = assert!(
            0 $(+ size_of_field!($t, $f))* + gap_total(<$t as Gaps>::GAPS) == size_of::<$t>()
        );
    };
}

gaps_complete!(c2trie_match {
    size,
    list,
    found,
    family,
    prefix_len,
    risk,
    prefix,
    expires,
    source,
    source_len,
    tag,
    tag_len,
});
// `entry` counts whole there, and its gaps are among the decision's: counted once.
const _: () = assert!(
    size_of_field!(c2trie_decision, size)
        + size_of_field!(c2trie_decision, verdict)
        + size_of_field!(c2trie_decision, reason)
        + size_of_field!(c2trie_decision, list)
        + size_of_field!(c2trie_decision, via)
        + size_of_field!(c2trie_decision, matched)
        + size_of_field!(c2trie_decision, entry)
        + size_of_field!(c2trie_decision, list_version)
        + size_of_field!(c2trie_decision, generation)
        + gap_total(c2trie_decision::GAPS)
        - gap_total(c2trie_match::GAPS)
        == size_of::<c2trie_decision>()
);
gaps_complete!(c2trie_table_info {
    format_version,
    list_version,
    created_unix,
    checksum,
    bytes,
    entries,
    counts,
});
gaps_complete!(c2trie_swap {
    generation,
    list_version,
    previous_version,
    had_previous
});
gaps_complete!(c2trie_live_info {
    generation,
    list_version,
    created_unix,
    has_table,
    fail_mode
});

/// Zeroes the gaps `gaps` of a struct written at `p`.
///
/// # Safety
///
/// `p` is valid for writing up to the end of every range in `gaps`.
pub(crate) unsafe fn zero_gaps(p: *mut u8, gaps: &[Range<usize>]) {
    for g in gaps {
        // SAFETY: the caller's guarantee: the range lies within the writable bytes.
        unsafe { p.wrapping_add(g.start).write_bytes(0, g.len()) };
    }
}

/// The smallest `c2trie_match.size` accepted: the layout of the first release with the
/// field (this one). Never raised: older callers keep working.
pub(crate) const MATCH_MIN_SIZE: usize = size_of::<c2trie_match>();
/// The smallest `c2trie_decision.size` accepted, as [`MATCH_MIN_SIZE`].
pub(crate) const DECISION_MIN_SIZE: usize = size_of::<c2trie_decision>();

/// A caller's `c2trie_matches`: three `c2trie_match` of the caller's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatchesLayout {
    entry: usize,
}

impl MatchesLayout {
    /// [`CallerLayout::read`] for a layout other than this release's: every size checked.
    /// Out of line, so that the common case's checks inline into the calls.
    ///
    /// # Safety
    ///
    /// As [`CallerLayout::read`]: `p` is an initialized `c2trie_matches`.
    #[cold]
    #[inline(never)]
    unsafe fn read_checked(p: *const u8, at: Place<'_>) -> Result<MatchesLayout, Error> {
        let check = |size, list: usize| {
            check_size(
                size,
                (MATCH_MIN_SIZE, align_of::<c2trie_match>()),
                format_args!("{at}lists[{list}].size"),
                "c2trie_match",
                "C2TRIE_MATCHES_INIT or c2trie_matches_init",
            )
        };
        // SAFETY: the caller's guarantee: `p` is an initialized `c2trie_matches`, whose
        // first field is `lists[0].size`.
        let entry = check(unsafe { read_size(p, 0) }, 0)?;
        for list in 1..C2TRIE_LISTS {
            // SAFETY: the caller's struct holds `C2TRIE_LISTS` matches of `entry` bytes
            // (the size it declared), each starting with its `size`.
            let size = unsafe { read_size(p, list * entry) };
            if check(size, list)? != entry {
                return Err(Error::new(
                    C2TRIE_ERR_SIZE,
                    format!(
                        "{at}lists[{list}].size {size} differs from {at}lists[0].size {entry}: \
                         initialize it with C2TRIE_MATCHES_INIT or c2trie_matches_init"
                    ),
                ));
            }
        }
        Ok(MatchesLayout { entry })
    }
}

impl CallerLayout for MatchesLayout {
    type Value = c2trie_matches;

    const LEAD: &'static str = "lists[0].size";

    fn lead(&self) -> usize {
        self.entry
    }

    fn differs(&self, _: &MatchesLayout) -> Option<(&'static str, usize, usize)> {
        // The whole layout is `lists[0].size` (every list's size equals it).
        None
    }

    #[inline(always)]
    unsafe fn read(p: *const u8, at: Place<'_>) -> Result<MatchesLayout, Error> {
        // The common case first: a caller compiled with this release's header, whose sizes
        // need no further check (a batch reads every element's sizes; three calls to
        // `check_size` each took about 7 % of a batch's time).
        const OWN: usize = size_of::<c2trie_match>();
        // SAFETY: the caller's guarantee: `p` is an initialized `c2trie_matches`, whose
        // first field is `lists[0].size`.
        let first = unsafe { read_size(p, 0) };
        if first as usize == OWN
            && (1..C2TRIE_LISTS).all(|list| {
                // SAFETY: the caller's struct holds `C2TRIE_LISTS` matches of `OWN` bytes
                // (the size its first declares), each starting with its `size`.
                unsafe { read_size(p, list * OWN) == first }
            })
        {
            return Ok(MatchesLayout { entry: OWN });
        }
        // SAFETY: the caller's guarantee, passed on.
        unsafe { MatchesLayout::read_checked(p, at) }
    }

    fn stride(&self) -> usize {
        C2TRIE_LISTS * self.entry
    }

    unsafe fn write(&self, p: *mut u8, value: &c2trie_matches) {
        if self.entry == size_of::<c2trie_match>() {
            // This release's layout: one typed write, then the sizes, where the copies below
            // call memmove per list.
            // SAFETY: `p` is valid for writing `stride()` = `C2TRIE_LISTS * entry` bytes,
            // the size of a `c2trie_matches` (asserted beside `NO_MATCHES`). The write is
            // unaligned: it asks no more alignment than `read`'s aligned reads of the size
            // fields already relied on.
            unsafe { p.cast::<c2trie_matches>().write_unaligned(*value) };
            for i in 0..C2TRIE_LISTS {
                let size = p.wrapping_add(i * self.entry).cast::<u32>();
                // SAFETY: match `i`'s `size`, its first field, lies within the bytes just
                // written.
                unsafe { size.write_unaligned(self.entry as u32) };
                // SAFETY: match `i`'s gaps lie within its `entry` bytes, just written.
                unsafe { zero_gaps(p.wrapping_add(i * self.entry), c2trie_match::GAPS) };
            }
            return;
        }
        for (i, m) in value.lists.iter().enumerate() {
            let m = c2trie_match {
                size: self.entry as u32,
                ..*m
            };
            // SAFETY: match `i` of the caller's struct starts `i * entry` bytes in and is
            // `entry` bytes long, within the `stride` writable bytes.
            unsafe {
                copy_part(
                    &m,
                    0..size_of::<c2trie_match>(),
                    p,
                    i * self.entry,
                    (i + 1) * self.entry,
                )
            };
            // SAFETY: as above; the gaps lie within this release's match, no longer than
            // the caller's `entry` (checked by `read`).
            unsafe { zero_gaps(p.wrapping_add(i * self.entry), c2trie_match::GAPS) };
        }
    }
}

/// A caller's `c2trie_decision`: its size and the size of its `entry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecisionLayout {
    size: usize,
    entry: usize,
}

impl DecisionLayout {
    /// This release's layout.
    const OWN: DecisionLayout = DecisionLayout {
        size: size_of::<c2trie_decision>(),
        entry: size_of::<c2trie_match>(),
    };

    /// [`CallerLayout::read`] for a layout other than this release's, whose `size` field
    /// holds `size`: both sizes checked. Out of line, so that the common case's checks
    /// inline into the calls.
    ///
    /// # Safety
    ///
    /// As [`CallerLayout::read`]: `p` is an initialized `c2trie_decision`.
    #[cold]
    #[inline(never)]
    unsafe fn read_checked(
        p: *const u8,
        size: u32,
        at: Place<'_>,
    ) -> Result<DecisionLayout, Error> {
        const INIT: &str = "C2TRIE_DECISION_INIT or c2trie_decision_init";
        let size = check_size(
            size,
            (DECISION_MIN_SIZE, align_of::<c2trie_decision>()),
            format_args!("{at}size"),
            "c2trie_decision",
            INIT,
        )?;
        // SAFETY: the caller's guarantee: `p` is an initialized `c2trie_decision`, here
        // of at least `DECISION_MIN_SIZE` bytes (checked), so it holds `entry`, whose first
        // field is its `size`, at `ENTRY_AT` as in every layout.
        let entry = unsafe { read_size(p, ENTRY_AT) };
        let entry = check_size(
            entry,
            (MATCH_MIN_SIZE, align_of::<c2trie_match>()),
            format_args!("{at}entry.size"),
            "c2trie_match",
            INIT,
        )?;
        // The fields after `entry` follow the caller's `entry`; at least those of the first
        // layout must fit.
        if size < ENTRY_AT + entry + (DECISION_MIN_SIZE - TAIL_AT) {
            return Err(Error::new(
                C2TRIE_ERR_SIZE,
                format!(
                    "{at}size {size} is too small for an entry of {entry} bytes: initialize it \
                     with {INIT}"
                ),
            ));
        }
        Ok(DecisionLayout { size, entry })
    }
}

/// Where `c2trie_decision.entry` starts, in every layout.
const ENTRY_AT: usize = offset_of!(c2trie_decision, entry);
/// Where the fields after `entry` start in this release's layout.
const TAIL_AT: usize = offset_of!(c2trie_decision, list_version);

impl CallerLayout for DecisionLayout {
    type Value = c2trie_decision;

    const LEAD: &'static str = "size";

    fn lead(&self) -> usize {
        self.size
    }

    fn differs(&self, other: &DecisionLayout) -> Option<(&'static str, usize, usize)> {
        (self.entry != other.entry).then_some(("entry.size", self.entry, other.entry))
    }

    #[inline(always)]
    unsafe fn read(p: *const u8, at: Place<'_>) -> Result<DecisionLayout, Error> {
        // SAFETY: the caller's guarantee: `p` is an initialized `c2trie_decision`, whose
        // first field is its `size`.
        let size = unsafe { read_size(p, 0) };
        // The common case first, as for `c2trie_matches`: a caller compiled with this
        // release's header, whose sizes need no further check.
        if size as usize == size_of::<c2trie_decision>() {
            // SAFETY: the struct is this release's, so it holds `entry` at `ENTRY_AT`, whose
            // first field is its `size`.
            let entry = unsafe { read_size(p, ENTRY_AT) };
            if entry as usize == size_of::<c2trie_match>() {
                return Ok(DecisionLayout::OWN);
            }
        }
        // SAFETY: the caller's guarantee, passed on.
        unsafe { DecisionLayout::read_checked(p, size, at) }
    }

    fn stride(&self) -> usize {
        self.size
    }

    #[inline]
    unsafe fn write(&self, p: *mut u8, value: &c2trie_decision) {
        let d = c2trie_decision {
            size: self.size as u32,
            entry: c2trie_match {
                size: self.entry as u32,
                ..value.entry
            },
            ..*value
        };
        if *self == DecisionLayout::OWN {
            // This release's layout: one typed write, where the copies below call
            // `memcpy` three times.
            // SAFETY: `p` is valid for writing `stride()` = `size_of::<c2trie_decision>()`
            // bytes. The write is unaligned: it asks no more alignment than `read`'s
            // aligned reads of the size fields already relied on.
            unsafe { p.cast::<c2trie_decision>().write_unaligned(d) };
            // SAFETY: the gaps lie within the `size_of::<c2trie_decision>()` bytes written.
            unsafe { zero_gaps(p, c2trie_decision::GAPS) };
            return;
        }
        let n = self.size;
        // SAFETY: the three parts land within the caller's `size` bytes, which are
        // writable: the fields before `entry`, `entry` clipped to the caller's `entry.size`,
        // then the fields after it at the caller's offset.
        unsafe { copy_part(&d, 0..ENTRY_AT, p, 0, n) };
        // SAFETY: as above.
        unsafe {
            copy_part(
                &d,
                ENTRY_AT..TAIL_AT,
                p,
                ENTRY_AT,
                (ENTRY_AT + self.entry).min(n),
            )
        };
        // SAFETY: as above.
        unsafe {
            copy_part(
                &d,
                TAIL_AT..size_of::<c2trie_decision>(),
                p,
                ENTRY_AT + self.entry,
                n,
            )
        };
        // SAFETY: the decision's gaps lie before `entry`, within the first part written,
        // and within this release's match at `entry`, no longer than the caller's (checked
        // by `read`), at the same offset in every layout.
        unsafe { zero_gaps(p, c2trie_decision::GAPS) };
    }
}
