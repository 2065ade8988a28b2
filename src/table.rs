//! The read side: a validated, immutable table and its lookups.

use std::fmt;
use std::hint::select_unpredictable;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use zerocopy::byteorder::little_endian::{U32, U64};

use crate::entry::{List, Meta};
use crate::error::LoadError;
use crate::format::validate::{Fam, Layout, LoadOptions, validate};
use crate::format::{
    ATTR_MASK, FIXED_HEADER_LEN, Family, HOST_EMPTY, HOST_FLAG, LEAF_FLAG, MAX_FILE_LEN, NO_RISK,
    NONE, RawAttr, RawTuple, STRIDE, V4, V6, buckets_of, filter_probe,
};
use crate::prefetch::prefetch;

mod answers;
mod flat;
mod flat6;
mod groups;
mod lengths;
mod query;

use flat::Flat;
use flat6::Flat6;
use groups::Groups;
use lengths::Lengths;

/// Where a table's bytes live.
enum Storage {
    Owned(Box<[u8]>),
    Static(&'static [u8]),
    #[cfg(feature = "mmap")]
    Mapped(memmap2::Mmap),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Owned(b) => b,
            Storage::Static(b) => b,
            #[cfg(feature = "mmap")]
            Storage::Mapped(m) => m,
        }
    }
}

self_cell::self_cell!(
    struct Cell {
        owner: Storage,
        #[covariant]
        dependent: Layout,
    }
);

/// A compiled table: validated on load, immutable, `Send + Sync`.
///
/// Built only through validation ([`Table::from_bytes`], [`Table::read_file`],
/// [`Table::map_file`]), so once you hold one, [`Table::lookup`] cannot panic, loop or read
/// out of bounds, and it never allocates.
///
/// | operation | cost |
/// |---|---|
/// | load | one pass over the bytes (checksum) plus one over each section; the jump table's leaf entries, sorted, are each checked by a walk down their path; prefix groups or per-length tables (below): two passes over the IPv6 prefix entries and, unless the table has more tuples than the compiler writes, one over the IPv6 tuples (twice when a list passes the groups' first checks and fails a later one: at most 4,096 entries), and for the per-length tables two passes per length over the distinct prefixes; for an IPv4 list of mostly prefixes, one pass over the IPv4 summary (the /17 map, below) and, for its expansion, one over the direct table and the nodes one level below it; for the IPv6 expansion, the prefix groups' passes over the entries and tuples, then one over the /16s and, in each region that prefixes divide, its 256 parts, down to /48 |
/// | lookup, address on no list (most) | its block's two summary bits, plus one host-filter word where the block holds a host; usually cached |
/// | lookup, host | the above + two 2-slot host buckets, which name its host tuple (no trie walk) |
/// | lookup, IPv4 otherwise | the above + at most 1 + ⌈(32 − d) / 6⌉ trie steps (d = 8–18), fewer from a jump entry (none from a leaf entry) |
/// | single lookup, IPv4 list of mostly prefixes (below) | where the expansion is built: its /17's chunk number in a 256 KiB array, then its /24's entry in the chunk, with no branch on whether the address is listed; the trie lookup (above) only for a /24 holding a host or a prefix longer than /24. Otherwise: its /17's bit in a 16 KiB map (most addresses on no list stop there); a host as above; any other address, its direct slot, one node and one leaf, without a branch between them; a trie step more per six bits only below a node's child |
/// | lookup, IPv6 otherwise | the above + at most 1 + ⌈(128 − d) / 6⌉ trie steps, fewer from a jump entry (none from a leaf entry) |
/// | lookup, IPv6 with prefix groups (below) | a host as above (with IPv6 hosts in the table, every lookup reads its block's summary bits first); any other address, its /12's bit in a 512-byte map (most addresses on no list stop there), its /16 block's byte and, where the block has a group, the group (three cache lines: up to 15 prefixes and the block's covering one, compared at once) and the answer's tuple: no trie step |
/// | lookup, IPv6 with the expansion (below) | its /16's chunk number (a 128 KiB array; most addresses on no list stop there); otherwise its /24's chunk number and its /32's entry, with no branch between them, then the answer's tuple; two more words under a /32 that longer prefixes divide; the trie lookup (above) only under a /48 holding a host or a prefix longer than /48 |
/// | lookup, IPv6 with per-length tables (below) | an address on no list or a host as above; any other address whose block a prefix meets, one cache line per prefix length (at most four, longest first, up to the first that matches; now and then a second line for a length) and the answer's tuple: no trie step |
/// | reading [`Hits`] | one tuple of three words: the lookup finds it, `get`, `contains` and `is_empty` read it |
/// | memory | the file, plus the prefix groups where built: 64.5 KiB + 192 B a group, at most 113 KiB; or the per-length tables where built: about 26 B a distinct IPv6 prefix, at most 6.8 MB; plus 16 KiB for an IPv4 list of mostly prefixes, and its expansion where built: 256 KiB + 256 B a chunk, at most 16.25 MiB (65,536 chunks); or, for an IPv6 list of mostly prefixes, its expansion where built: 128 KiB + 512 B a chunk, at most 16.1 MiB (32,767 chunks) |
///
/// **Prefix groups.** A table with a small IPv6 prefix list (Spamhaus DROPv6 is one) also
/// gets, at load, an index derived from the validated table: per /16 block, the block's
/// prefixes longest first, compared with the address all at once. Such a list's trie starts
/// from a small direct table, so its hits would walk four to seven nodes. The list fits
/// when its IPv6 prefix entries number at most 4,096 (a prefix in several lists counts
/// once per list; hosts, /128, are not prefix entries and do not count), none is longer
/// than /48, no /16 block holds more than 15 distinct prefixes longer than /16, and at most
/// 255 blocks hold or are covered by a prefix (a /9 covers 128); other tables do without.
/// On every table the compiler writes, the groups give the answers the trie gives (tested
/// against it and against a linear scan). A table altered after compiling (and re-sealed)
/// may name shorter entries than the longest in its trie: the groups, built from the
/// entries, may then answer otherwise than the trie, and as the trie's, their answers name
/// only entries that contain the address. A table with more IPv6 tuples than the compiler
/// writes gets no groups.
///
/// **IPv4 lists of mostly prefixes.** Where a table's IPv4 prefix entries outnumber its
/// IPv4 host entries (country blocks, provider ranges, Spamhaus DROP), single IPv4 lookups
/// go another way, built at load from the validated summary: a bit per /17, set where a
/// summary block meeting it meets a prefix or holds a host. Traffic to such a list mixes
/// addresses on it with addresses on none, in no order a branch predictor learns, and its
/// hits mostly end one node below the direct table; the trie lookup branches on the
/// summary and again on the direct slot, and each mispredicted branch waits for a load of
/// a table of a megabyte. Where the list has 512 prefixes or more (an 18-bit direct table)
/// and at most 32,767 distinct IPv4 answers (an answer names each list's longest match:
/// one per prefix entry on a list of one list's entries, more where the lists overlap),
/// such lookups go through the **expansion**: per /17 a
/// chunk number, per chunk the answers of the /17's 128 /24s, each a tuple or "ask the
/// trie" (a host or a prefix longer than /24 in that /24). Every address reads two words,
/// listed or not, and no branch depends on which; a /17 no entry meets reads chunk 0, all
/// "no list", and the /17s inside one prefix share a chunk. Where it would take more than
/// 65,536 distinct chunks, or the list is smaller, the one branch left on hit-or-miss
/// reads a bit per /17 in a 16 KiB map, which stays cached, and the direct slot, node and
/// leaf are read and chosen between with conditional moves. The answers are the trie's
/// (tested against it). Batches keep the trie lookup, which already orders its work by
/// pass rather than by address.
///
/// **IPv6 lists of mostly prefixes.** A table whose IPv6 prefix entries outnumber its IPv6
/// hosts, that gets neither prefix groups nor per-length tables (IPv6 country blocks:
/// thousands of /29s, /32s and /48s and a dozen other lengths), and that has at most
/// 32,767 distinct IPv6 answers gets, at load, the IPv6 **expansion**: 8 bits a level,
/// per /16 a chunk of its /24s, per /24 a chunk of its /32s, each an answer; and where
/// longer prefixes divide a /32, per /32 a chunk of its /40s and per /40 a chunk of its
/// /48s. An address whose /16 no entry meets stops at its first word; any other reads
/// three, with no branch between them on whether it is listed, and two more under a
/// divided /32; only under a /48 holding a host or a longer prefix does it take the trie.
/// Chunk 0 of each level is "no list", and the regions inside one prefix share a chunk,
/// so chunks are stored only where prefixes divide a region. Where it would take more than
/// 32,767 chunks the table does without. The answers are those of the prefix groups'
/// paragraph (above): on every table the compiler writes, the trie's. Batches look each
/// address up in turn, as with the groups.
///
/// **Per-length tables.** A table whose IPv6 prefixes have few lengths (an abuse list of
/// /32s, /48s and /64s) and that gets no groups gets instead, at load, a hash table per
/// prefix length from the prefix's top bits to its answer. Its trie walks a node per six
/// bits below the direct table (five for a /48 under the 18-bit direct table of a
/// 100k-entry list); a lookup there probes the lengths once each, longest first, up to the
/// first that holds the address. The list fits when its IPv6 prefix entries number at most
/// 262,144 (counted as above), have at most four distinct lengths and none is longer than
/// /64, and when cuckoo placement fits every prefix (with a hash salted at random at each
/// load, retried with new salts: for distinct keys at half load, practically always);
/// other tables do without. Batches (`lookup_v6_batch`, `lookup_v6_each`, `lookup_batch`)
/// go through them too: the first lines of every key a batch leaves to the prefixes are
/// prefetched, for all lengths, before the first is probed. What the groups paragraph says
/// of altered tables holds for these tables too.
pub struct Table {
    cell: Cell,
    /// The prefix groups of a small IPv6 list (see `groups`), built from the validated
    /// table; `None` where they do not fit.
    v6_groups: Option<Groups>,
    /// The per-length prefix tables of an IPv6 list of few prefix lengths (see `lengths`),
    /// where it has no groups; `None` where they do not fit.
    v6_lengths: Option<Lengths>,
    /// The expansion of an IPv6 list made mostly of prefixes (see `flat6`), where it has
    /// neither groups nor per-length tables; `None` where it does not fit.
    v6_flat: Option<Flat6>,
    /// Whether single IPv4 lookups read the host filter before the host buckets (see
    /// [`filter_pays`]).
    v4_filter: bool,
    /// The coarse map and the expansion of an IPv4 list made mostly of prefixes (see
    /// `flat`), through which its single lookups go; `None` for other lists.
    v4_flat: Option<Flat>,
    /// Where the CPU has AVX-512F: the IPv6 batches' summary pass reads eight keys' bits at
    /// once (see `lanes`).
    wide: Option<crate::lanes::Avx512>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("list_version", &self.list_version())
            .field("bytes", &self.as_bytes().len())
            .finish_non_exhaustive()
    }
}

impl Table {
    fn new(storage: Storage, opts: LoadOptions) -> Result<Table, LoadError> {
        let cell = Cell::try_new(storage, |s| validate(s.bytes(), opts))?;
        let v6_groups = Groups::build(cell.borrow_dependent());
        let v6_lengths = match v6_groups {
            Some(_) => None,
            None => Lengths::build(cell.borrow_dependent()),
        };
        let v6_flat = match (&v6_groups, &v6_lengths) {
            (None, None) => Flat6::build(cell.borrow_dependent(), flat6::MAX_CHUNKS),
            _ => None,
        };
        let v4_filter = filter_pays(&cell.borrow_dependent().v4);
        let v4_flat = Flat::build(&cell.borrow_dependent().v4);
        Ok(Table {
            cell,
            v6_groups,
            v6_lengths,
            v6_flat,
            v4_filter,
            v4_flat,
            wide: crate::lanes::Avx512::detect(),
        })
    }

    /// Validates `bytes` and takes ownership of them.
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the bytes are not a valid table; never panics.
    pub fn from_bytes(bytes: impl Into<Box<[u8]>>) -> Result<Table, LoadError> {
        Table::new(Storage::Owned(bytes.into()), LoadOptions::default())
    }

    /// As [`Table::from_bytes`], with options (e.g. skipping the checksum).
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the bytes are not a valid table; never panics.
    pub fn from_bytes_with(
        bytes: impl Into<Box<[u8]>>,
        opts: LoadOptions,
    ) -> Result<Table, LoadError> {
        Table::new(Storage::Owned(bytes.into()), opts)
    }

    /// Validates bytes that live for the whole program (e.g. `include_bytes!`).
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the bytes are not a valid table; never panics.
    pub fn from_static(bytes: &'static [u8]) -> Result<Table, LoadError> {
        Table::new(Storage::Static(bytes), LoadOptions::default())
    }

    /// Reads a table file into memory and validates it. Safe: later changes to the file do
    /// not affect the table.
    ///
    /// On Linux (with the default `mmap` feature), a table of 4 MiB or more is read into
    /// anonymous memory advised for transparent huge pages: where the kernel grants them,
    /// loading takes far fewer page faults, and lookups, which land at random across a
    /// large table, miss the TLB less. The bytes are a private copy all the same.
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the file cannot be read or is not a valid table.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Table, LoadError> {
        use std::io::Read;
        let path = path.as_ref();
        // Only a regular file: a FIFO would block the open, a device read forever.
        let md = std::fs::metadata(path).map_err(LoadError::io)?;
        if !md.is_file() {
            return Err(LoadError::io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            )));
        }
        let mut file = std::fs::File::open(path).map_err(LoadError::io)?;
        let len = file.metadata().map_err(LoadError::io)?.len();
        // The header first: a file that no table can be, by its length or by what its
        // header says, is refused before the rest is read or memory reserved for it.
        let mut header = Vec::with_capacity(FIXED_HEADER_LEN);
        (&mut file)
            .take(FIXED_HEADER_LEN as u64)
            .read_to_end(&mut header)
            .map_err(LoadError::io)?;
        precheck(len, &header)?;
        #[cfg(all(feature = "mmap", target_os = "linux"))]
        if len >= HUGE_PAGES_FROM {
            return read_huge(file, len, &header);
        }
        let mut bytes = alloc(len as usize)?;
        bytes.extend_from_slice(&header);
        // At most one byte past the stated length: a file that grew meanwhile is refused.
        file.take((len + 1).saturating_sub(header.len() as u64))
            .read_to_end(&mut bytes)
            .map_err(LoadError::io)?;
        Table::from_bytes(bytes)
    }

    /// Copies `bytes` and validates the copy, like [`Table::from_bytes`], for input from an
    /// untrusted caller (the C ABI's `c2trie_table_from_bytes`): an input shorter than the
    /// header, without the magic, longer than the format allows (4 GiB − 1 bytes) or whose
    /// header states another length is refused before anything is copied, and a failed allocation is an error
    /// ([`LoadErrorKind::Io`](crate::LoadErrorKind::Io)), never an abort.
    ///
    /// # Errors
    ///
    /// As [`Table::from_bytes`].
    pub fn from_slice(bytes: &[u8]) -> Result<Table, LoadError> {
        precheck(
            bytes.len() as u64,
            &bytes[..bytes.len().min(FIXED_HEADER_LEN)],
        )?;
        let mut v = alloc(bytes.len())?;
        v.extend_from_slice(bytes);
        Table::from_bytes(v)
    }

    #[cfg(feature = "mmap")]
    pub(crate) fn from_mapped(map: memmap2::Mmap) -> Result<Table, LoadError> {
        Table::new(Storage::Mapped(map), LoadOptions::default())
    }

    fn layout(&self) -> &Layout<'_> {
        self.cell.borrow_dependent()
    }

    /// The table's bytes, exactly as loaded.
    pub fn as_bytes(&self) -> &[u8] {
        self.cell.borrow_owner().bytes()
    }

    /// The feed's serial number given at compile time.
    pub fn list_version(&self) -> u64 {
        self.layout().list_version
    }

    /// When the table was compiled, in seconds since the Unix epoch.
    pub fn created_unix(&self) -> u64 {
        self.layout().created_unix
    }

    /// The format version of the loaded bytes.
    pub fn format_version(&self) -> u32 {
        self.layout().format_version
    }

    /// The stored (and, by default, verified) XXH3-64 checksum.
    pub fn checksum(&self) -> u64 {
        self.layout().checksum
    }

    /// The number of entries in `list` of the given family (`false` for IPv4, `true` for
    /// IPv6).
    pub fn count(&self, list: List, ipv6: bool) -> usize {
        self.entries()
            .filter(|e| e.list() == list && e.prefix().addr().is_ipv6() == ipv6)
            .count()
    }

    /// The total number of entries, all lists and families.
    pub fn len(&self) -> usize {
        let l = self.layout();
        l.v4.entries.len() + l.v4.host_count + l.v6.entries.len() + l.v6.host_count
    }

    /// Whether the table has no entry at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry: IPv4 prefixes, IPv4 hosts, IPv6 prefixes, IPv6 hosts. Prefixes are
    /// sorted by (address, length, list); hosts come in hash-table order. Allocates nothing
    /// per entry.
    pub fn entries(&self) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let l = self.layout();
        let v4 = l.v4.entries.iter().map(move |e| EntryRef {
            layout: l,
            prefix: IpNet::V4(v4_net(V4::entry_addr(e), V4::entry_len(e))),
            attr: V4::entry_attr(e),
        });
        let v4h = l.v4.hosts().map(move |(k, attr)| EntryRef {
            layout: l,
            prefix: IpNet::V4(v4_net(k, 32)),
            attr,
        });
        let v6 = l.v6.entries.iter().map(move |e| EntryRef {
            layout: l,
            prefix: IpNet::V6(v6_net(V6::entry_addr(e), V6::entry_len(e))),
            attr: V6::entry_attr(e),
        });
        let v6h = l.v6.hosts().map(move |(k, attr)| EntryRef {
            layout: l,
            prefix: IpNet::V6(v6_net(k, 128)),
            attr,
        });
        v4.chain(v4h).chain(v6).chain(v6h)
    }

    /// For each list, the longest entry covering `addr`. Never panics, never allocates.
    ///
    /// IPv6 addresses are looked up as IPv6 only; the [`Policy`](crate::Policy) also
    /// checks the IPv4 address an IPv6 address may embed.
    #[inline(always)]
    pub fn lookup(&self, addr: IpAddr) -> Hits<'_> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// [`Table::lookup`] for an IPv4 address.
    #[inline(always)]
    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Hits<'_> {
        let l = self.layout();
        let key = u32::from(addr);
        Hits {
            layout: l,
            addr: Address::v4(key),
            hits: match &self.v4_flat {
                Some(flat) => flat.find(&l.v4, self.v4_filter, key),
                None => find(&l.v4, self.v4_filter, key),
            },
        }
    }

    /// [`Table::lookup`] for an IPv6 address.
    #[inline(always)]
    pub fn lookup_v6(&self, addr: Ipv6Addr) -> Hits<'_> {
        let l = self.layout();
        let key = u128::from(addr);
        Hits {
            layout: l,
            addr: Address::v6(key),
            hits: find_v6(
                &l.v6,
                self.v6_groups.as_ref(),
                self.v6_lengths.as_ref(),
                self.v6_flat.as_ref(),
                key,
            ),
        }
    }
}

impl Table {
    /// [`Table::lookup_v4`] for many addresses: `out` is cleared and receives one [`Hits`]
    /// per address, in order. Lookups are interleaved so that their memory accesses
    /// overlap. Allocates only if `out` lacks capacity. [`Table::lookup_v4_each`] avoids
    /// the output vector.
    pub fn lookup_v4_batch<'t>(&'t self, addrs: &[Ipv4Addr], out: &mut Vec<Hits<'t>>) {
        out.clear();
        out.reserve(addrs.len());
        self.lookup_v4_each(addrs, |h| out.push(h));
    }

    /// [`Table::lookup_v4`] for many addresses, calling `f` with each address's [`Hits`]
    /// in order. Lookups are interleaved, 64 at a time, so that their memory accesses
    /// overlap. Never allocates; the batch's state takes about 3 KiB of stack in a release
    /// build (more in a debug build), so a thread with a very small stack should look up
    /// singly.
    ///
    /// ```
    /// # use c2trie::{Compiler, List, Meta, Table};
    /// # let mut c = Compiler::new();
    /// # c.add(List::Blocked, "192.0.2.0/24".parse()?, "x", Meta::default())?;
    /// # let table = Table::from_bytes(c.to_vec()?)?;
    /// let addrs = ["192.0.2.1".parse()?, "198.51.100.1".parse()?];
    /// let mut blocked = 0;
    /// table.lookup_v4_each(&addrs, |hits| blocked += usize::from(hits.contains(List::Blocked)));
    /// assert_eq!(blocked, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup_v4_each<'t>(&'t self, addrs: &[Ipv4Addr], mut f: impl FnMut(Hits<'t>)) {
        let l = self.layout();
        let fam = &l.v4;
        // Two batches in flight: the newer one's summary pass runs, and its filter words
        // start loading, before the older one is answered; first, the addresses of the
        // batch after them start loading.
        let mut keys = [[0u32; BATCH]; 2];
        let mut hits = [[&NO_TUPLE; BATCH]; 2];
        let mut masks: [(Mask, Mask); 2] = [(0, 0); 2];
        let chunks = addrs.len().div_ceil(BATCH);
        for n in 0..=chunks {
            if n < chunks {
                prefetch_next(addrs, n);
                let chunk = addrs.get(n * BATCH..).unwrap_or(&[]);
                let (Some(k), Some(h), Some(m)) = (
                    keys.get_mut(n & 1),
                    hits.get_mut(n & 1),
                    masks.get_mut(n & 1),
                ) else {
                    return;
                };
                for (k, a) in k.iter_mut().zip(chunk) {
                    *k = u32::from(*a);
                }
                *m = summary_pass(fam, k.iter().take(chunk.len()).copied(), h);
                prefetch_filter(fam, k, m.1);
            }
            if let Some(p) = n.checked_sub(1)
                && let (Some(k), Some(h), Some(m)) =
                    (keys.get(p & 1), hits.get_mut(p & 1), masks.get(p & 1))
            {
                if m.0 | m.1 != 0 {
                    past_summary(fam, k, *m, h);
                }
                let len = addrs.len().saturating_sub(p * BATCH).min(BATCH);
                for (key, hit) in k.iter().zip(h.iter()).take(len) {
                    f(Hits {
                        layout: l,
                        addr: Address::v4(*key),
                        hits: hit,
                    });
                }
            }
        }
    }

    /// [`Table::lookup_v6`] for many addresses, as [`Table::lookup_v4_batch`].
    pub fn lookup_v6_batch<'t>(&'t self, addrs: &[Ipv6Addr], out: &mut Vec<Hits<'t>>) {
        out.clear();
        out.reserve(addrs.len());
        self.lookup_v6_each(addrs, |h| out.push(h));
    }

    /// [`Table::lookup_v6`] for many addresses, as [`Table::lookup_v4_each`].
    pub fn lookup_v6_each<'t>(&'t self, addrs: &[Ipv6Addr], mut f: impl FnMut(Hits<'t>)) {
        if self.v6_groups.is_some() || self.v6_flat.is_some() {
            // Prefix groups or the expansion: a few cached lines a lookup (the expansion
            // leaves a few addresses to the trie), little whose loads a batch could
            // overlap; staging the keys would only add work.
            for a in addrs {
                f(self.lookup_v6(*a));
            }
            return;
        }
        let l = self.layout();
        let fam = &l.v6;
        let mut keys = [0u128; BATCH];
        let mut hits = [&NO_TUPLE; BATCH];
        for (n, chunk) in addrs.chunks(BATCH).enumerate() {
            prefetch_next(addrs, n);
            // The summary pass reads the addresses themselves: for most of them its bits
            // are the whole answer, and only the others are copied out as keys.
            let (covered, host_blocks) = summary_pass_v6(
                self.wide,
                fam,
                chunk.iter().map(|a| u128::from(*a)),
                &mut hits,
            );
            let maybe = covered | host_blocks;
            if maybe != 0 {
                for i in bits(maybe) {
                    if let (Some(k), Some(a)) = (keys.get_mut(i), chunk.get(i)) {
                        *k = u128::from(*a);
                    }
                }
                past_summary_v6(
                    fam,
                    self.v6_lengths.as_ref(),
                    &keys,
                    (covered, host_blocks),
                    &mut hits,
                );
            }
            for (a, h) in chunk.iter().zip(&hits) {
                f(Hits {
                    layout: l,
                    addr: Address::v6(u128::from(*a)),
                    hits: h,
                });
            }
        }
    }

    /// [`Table::lookup`] for many addresses of either family, as
    /// [`Table::lookup_v4_batch`].
    pub fn lookup_batch<'t>(&'t self, addrs: &[IpAddr], out: &mut Vec<Hits<'t>>) {
        let l = self.layout();
        out.clear();
        out.reserve(addrs.len());
        let (mut k4, mut k6) = ([0u32; BATCH], [0u128; BATCH]);
        let (mut h4, mut h6) = ([&NO_TUPLE; BATCH], [&NO_TUPLE; BATCH]);
        for (n, chunk) in addrs.chunks(BATCH).enumerate() {
            prefetch_next(addrs, n);
            let (mut n4, mut n6) = (0, 0);
            for a in chunk {
                match a {
                    IpAddr::V4(a) => {
                        if let Some(k) = k4.get_mut(n4) {
                            *k = u32::from(*a);
                        }
                        n4 += 1;
                    }
                    IpAddr::V6(a) => {
                        if let Some(k) = k6.get_mut(n6) {
                            *k = u128::from(*a);
                        }
                        n6 += 1;
                    }
                }
            }
            find_batch(&l.v4, k4.get(..n4).unwrap_or(&[]), &mut h4);
            find_batch_v6(
                self.wide,
                &l.v6,
                self.v6_groups.as_ref(),
                self.v6_lengths.as_ref(),
                self.v6_flat.as_ref(),
                k6.get(..n6).unwrap_or(&[]),
                &mut h6,
            );
            let (mut i4, mut i6) = (h4.iter(), h6.iter());
            out.extend(chunk.iter().map(|a| {
                let h = match a {
                    IpAddr::V4(_) => i4.next(),
                    IpAddr::V6(_) => i6.next(),
                };
                Hits {
                    layout: l,
                    addr: Address::of(*a),
                    hits: h.copied().unwrap_or(&NO_TUPLE),
                }
            }));
        }
    }
}

fn v4_net(addr: u32, len: u8) -> Ipv4Net {
    // `len` is at most 32: validated (invariant 12) or a host.
    Ipv4Net::new(Ipv4Addr::from(addr), len.min(32)).unwrap_or_default()
}

fn v6_net(addr: u128, len: u8) -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::from(addr), len.min(128)).unwrap_or_default()
}

/// Refuses, before anything is copied or allocated, an input of `len` bytes that no table
/// can be, from its first bytes `header` (up to the fixed header): shorter than the fixed
/// header (invariant 1), without the magic (2), longer than `MAX_FILE_LEN` or unequal to
/// the length the header states (5). Validation checks all of these again.
fn precheck(len: u64, header: &[u8]) -> Result<(), LoadError> {
    use crate::LoadErrorKind::{Corrupt, NotATable};
    if header.len() < FIXED_HEADER_LEN {
        return Err(LoadError::format(
            NotATable,
            1,
            format!("{len} bytes is shorter than the {FIXED_HEADER_LEN}-byte header"),
        ));
    }
    if !header.starts_with(&crate::format::MAGIC) {
        return Err(LoadError::format(
            NotATable,
            2,
            "the file does not start with the c2trie magic bytes".to_owned(),
        ));
    }
    let stated = header
        .get(24..32)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_le_bytes);
    if len > MAX_FILE_LEN || stated != len {
        return Err(LoadError::format(
            Corrupt,
            5,
            format!(
                "header says {stated} bytes, the input has {len}; a table has at most \
                 {MAX_FILE_LEN}"
            ),
        ));
    }
    Ok(())
}

/// The size from which [`Table::read_file`] reads a table into memory that it asks the
/// kernel to back with transparent huge pages (Linux).
#[cfg(all(feature = "mmap", target_os = "linux"))]
const HUGE_PAGES_FROM: u64 = 4 << 20;

/// [`Table::read_file`]'s read of a large table (`len` bytes, `header` already read from
/// `file`), on Linux: into an anonymous mapping advised for transparent huge pages, so that
/// where the kernel grants them (most of a 16 MB table; the mapping's unaligned ends take
/// ordinary pages) loading takes far fewer page faults, and lookups, which land at random
/// across the table, miss the TLB less. The mapping is private to the table, so nothing
/// else can change its bytes. Where the kernel refuses the advice the pages are ordinary
/// ones; under the kernel's default `defrag` setting a fault there may wait for memory to
/// be compacted. A file that no longer has `len` bytes (shortened or grown since its
/// length was read) is read as the `Vec` path reads it, to its end or one byte past `len`,
/// and those bytes are validated, so it is refused as that path refuses it.
#[cfg(all(feature = "mmap", target_os = "linux"))]
fn read_huge(mut file: std::fs::File, len: u64, header: &[u8]) -> Result<Table, LoadError> {
    use std::io::Read;
    let out_of_memory = || {
        LoadError::io(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes for the table"),
        ))
    };
    let size = usize::try_from(len).map_err(|_| out_of_memory())?;
    let mut map = memmap2::MmapMut::map_anon(size).map_err(|_| out_of_memory())?;
    // Only a hint: without it (no transparent huge pages, or disabled) the read is the same.
    let _ = map.advise(memmap2::Advice::HugePage);
    let mut filled = header.len().min(size);
    if let (Some(to), Some(from)) = (map.get_mut(..filled), header.get(..filled)) {
        to.copy_from_slice(from);
    }
    let mut at_end = false;
    while let Some(rest) = map.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => {
                at_end = true;
                break;
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LoadError::io(e)),
        }
    }
    // Full: one byte more says whether the file grew (the `Vec` path reads `len + 1`).
    let mut more = [0u8; 1];
    let grew = !at_end
        && loop {
            match file.read(&mut more) {
                Ok(n) => break n != 0,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LoadError::io(e)),
            }
        };
    if filled < size || grew {
        // The rare case: the validator says what is wrong with the bytes as they are.
        let mut bytes = alloc(
            filled
                .checked_add(usize::from(grew))
                .ok_or_else(out_of_memory)?,
        )?;
        bytes.extend_from_slice(map.get(..filled).unwrap_or_default());
        if grew {
            bytes.push(more[0]);
        }
        return Table::from_bytes(bytes);
    }
    Table::from_mapped(map.make_read_only().map_err(LoadError::io)?)
}

/// An empty buffer for `len` bytes, or an error if the memory is not there.
fn alloc(len: usize) -> Result<Vec<u8>, LoadError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        LoadError::io(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes for the table"),
        ))
    })?;
    Ok(v)
}

/// A list's match, packed in a `u32`: [`NO_HIT`], an entry index (below 2^31: entries are
/// at least 12 bytes and a table is below 4 GiB), or [`HOST_HIT`] plus an attribute index
/// (below 2^30).
type Hit = u32;

/// No entry of the list covers the address.
const NO_HIT: Hit = NONE;

/// Marks a host match; the low 30 bits are its attribute index.
const HOST_HIT: Hit = HOST_FLAG;

/// The answer "no list covers the address": `NO_HIT` in every list.
static NO_TUPLE: RawTuple = RawTuple([U32::new(NO_HIT); 3]);

/// The tuple of `key`: for each list, the longest entry covering it. The lookup ends
/// where the tuple is found; its three words are read when `Hits` is asked.
///
/// Most addresses are on no list, so a lookup first reads the summary's two bits for the
/// address's block (invariant 20): both clear, no prefix meets the block and no host lies in
/// it, and that is the answer. With the host bit set and `filter` (see [`filter_pays`]) it
/// reads the host filter word (a bit of the address's mask clear: no host has this address,
/// invariant 19). Only when the prefix bit or the host test (the filter, or without
/// `filter` the host bit alone) says "maybe" does it walk the trie or probe the host
/// buckets.
#[inline(always)]
fn find<'a, F: Family>(fam: &Fam<'a, F>, filter: bool, key: F::Int) -> &'a RawTuple {
    let bits = summary_bits(fam, key);
    if bits == 0 {
        // No prefix meets the block and no host lies in it.
        return &NO_TUPLE;
    }
    let covered = bits & 1 != 0;
    let mut h = 0;
    let mut maybe_host = false;
    if bits & 2 != 0 {
        h = F::hash(key, fam.seed);
        maybe_host = !filter || in_filter(fam, h);
    }
    if !covered && !maybe_host {
        return &NO_TUPLE;
    }
    find_slow(fam, key, h, covered, maybe_host)
}

/// Whether a family's single lookups read the host filter before the host buckets: where
/// more than an eighth of the summary's blocks hold a host (more than 2^17 host blocks in
/// a summary of 2^20, 2^18 in one of 2^21; the count of blocks decides, not the list's
/// size). There many addresses on no list pass the summary's host bit, and the filter word
/// (8 bits a host) turns most of them away before the buckets, eight times larger, are
/// read. Elsewhere the addresses that pass the host bit are mostly hosts, for which the
/// filter is one more cache line to wait for: host hits on the harness's 100k and real IPv4
/// lists ran 87 → 103–105 and 97 → 114–115 Mlps without it, mixed traffic 78–81 → 83–84
/// and 89 → 97–100, uniform traffic 1–14 % slower. Either way the answer is the same: the
/// filter only saves bucket reads (invariant 19).
fn filter_pays<F: Family>(fam: &Fam<'_, F>) -> bool {
    // Bit `2i + 1` of the summary: a host lies in block `i`.
    const HOST_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    let host_blocks: u64 = fam
        .summary
        .iter()
        .map(|w| u64::from((w.get() & HOST_BITS).count_ones()))
        .sum();
    let blocks = 1u64.checked_shl(fam.summary_bits).unwrap_or(u64::MAX);
    host_blocks > blocks / 8
}

/// [`find`] for IPv6, through the expansion, the prefix groups or the per-length tables
/// where the table has them: through the expansion, every address (the trie answers what
/// it leaves); otherwise a host is answered by its host tuple as in `find`, any other
/// address by its block's group, or, where the summary says a prefix meets its block, by
/// the tables.
#[inline(always)]
fn find_v6<'a>(
    fam: &Fam<'a, V6>,
    groups: Option<&Groups>,
    lengths: Option<&Lengths>,
    flat: Option<&Flat6>,
    key: u128,
) -> &'a RawTuple {
    if let Some(flat) = flat {
        return flat.find(fam, key);
    }
    if let Some(groups) = groups {
        if fam.host_count != 0
            && summary_bits(fam, key) & 2 != 0
            && let Some(t) = host(fam, key)
        {
            return t;
        }
        return groups.find(fam.tuples, key);
    }
    let Some(lengths) = lengths else {
        return find(fam, true, key);
    };
    let bits = summary_bits(fam, key);
    if bits == 0 {
        return &NO_TUPLE;
    }
    if bits & 2 != 0
        && let Some(t) = host(fam, key)
    {
        return t;
    }
    if bits & 1 == 0 {
        return &NO_TUPLE;
    }
    lengths.find(fam.tuples, key)
}

/// The host tuple of `key` if it is a host: its filter word, then its buckets.
#[inline(always)]
fn host<'a, F: Family>(fam: &Fam<'a, F>, key: F::Int) -> Option<&'a RawTuple> {
    let h = F::hash(key, fam.seed);
    if !in_filter(fam, h) {
        return None;
    }
    host_tuple(fam, key, h)
}

/// Whether the host filter may hold the key of host hash `h` (invariant 19: a host's mask
/// is set in its word).
#[inline(always)]
fn in_filter<F: Family>(fam: &Fam<'_, F>, h: u64) -> bool {
    let (word, mask) = filter_probe(h, fam.filter.len());
    fam.filter.get(word).is_some_and(|w| w.get() & mask == mask)
}

/// The host tuple `key` (host hash `h`) names in its two buckets, if it is a host.
#[inline(always)]
fn host_tuple<'a, F: Family>(fam: &Fam<'a, F>, key: F::Int, h: u64) -> Option<&'a RawTuple> {
    let (b1, b2) = buckets_of(h, fam.hosts.len());
    probe::<F>(key, fam.hosts.get(b1), fam.hosts.get(b2))
        .and_then(|i| fam.host_tuples.get(i as usize))
}

/// Starts loading the filter words of the keys of `host_blocks`.
#[inline(always)]
fn prefetch_filter<F: Family>(fam: &Fam<'_, F>, keys: &[F::Int], host_blocks: Mask) {
    for i in bits(host_blocks) {
        if let Some(key) = keys.get(i) {
            let (word, _) = filter_probe(F::hash(*key, fam.seed), fam.filter.len());
            if let Some(w) = fam.filter.get(word) {
                prefetch(w);
            }
        }
    }
}

/// [`find_batch`] for IPv6: with prefix groups or the expansion, each key alone (a lookup
/// reads a few lines, most of them cached, with no walk to interleave); otherwise the
/// summary pass, then [`past_summary_v6`].
#[inline(always)]
fn find_batch_v6<'a>(
    wide: Option<crate::lanes::Avx512>,
    fam: &Fam<'a, V6>,
    groups: Option<&Groups>,
    lengths: Option<&Lengths>,
    flat: Option<&Flat6>,
    keys: &[u128],
    out: &mut [&'a RawTuple; BATCH],
) {
    if groups.is_some() || flat.is_some() {
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            *o = find_v6(fam, groups, None, flat, *k);
        }
        return;
    }
    let (covered, host_blocks) = summary_pass_v6(wide, fam, keys.iter().copied(), out);
    if covered | host_blocks != 0 {
        past_summary_v6(fam, lengths, keys, (covered, host_blocks), out);
    }
}

/// The IPv6 batches' passes after the summary's, for the keys whose summary bits are
/// `covered` and `host_blocks` (the other keys' answers, none, already set): the host
/// passes, then the per-length tables; without them, [`past_summary`].
#[inline(always)]
fn past_summary_v6<'a>(
    fam: &Fam<'a, V6>,
    lengths: Option<&Lengths>,
    keys: &[u128],
    (covered, host_blocks): (Mask, Mask),
    out: &mut [&'a RawTuple; BATCH],
) {
    match lengths {
        Some(lengths) => {
            let (hashes, maybe_hosts) = hosts_filter(fam, keys, host_blocks);
            let hosts = hosts_probe(fam, keys, &hashes, maybe_hosts, out);
            lengths_pass(fam, lengths, keys, covered & !hosts, out);
        }
        None => past_summary(fam, keys, (covered, host_blocks), out),
    }
}

/// The last passes of the IPv6 batches over per-length tables ([`Table::lookup_v6_each`],
/// [`find_batch_v6`]): the `covered` keys (no host) looked up in the tables, the first line
/// of each key's every length prefetched before the first is probed.
#[inline(always)]
fn lengths_pass<'a>(
    fam: &Fam<'a, V6>,
    lengths: &Lengths,
    keys: &[u128],
    covered: Mask,
    out: &mut [&'a RawTuple],
) {
    for i in bits(covered) {
        if let Some(key) = keys.get(i) {
            lengths.prefetch(*key);
        }
    }
    for i in bits(covered) {
        if let (Some(key), Some(hits)) = (keys.get(i), out.get_mut(i)) {
            let t = lengths.find(fam.tuples, *key);
            // For a caller that reads it soon, as after a walk.
            prefetch(t);
            *hits = t;
        }
    }
}

/// The summary's two bits for `key`'s block: bit 0 set when a prefix meets the block
/// (invariant 20), bit 1 when a host lies in it.
#[inline(always)]
fn summary_bits<F: Family>(fam: &Fam<'_, F>, key: F::Int) -> u64 {
    block_bits::<F>(fam.summary, fam.summary_bits, key)
}

/// [`summary_bits`] from the summary's words and width, which a caller can hold in
/// registers across a loop.
#[inline(always)]
fn block_bits<F: Family>(summary: &[U64], width: u32, key: F::Int) -> u64 {
    let block = F::head(key, width);
    summary
        .get(block >> 5)
        .map_or(0, |w| (w.get() >> ((block & 31) << 1)) & 3)
}

/// [`find`] past the summary and the filter.
#[inline(always)]
fn find_slow<'a, F: Family>(
    fam: &Fam<'a, F>,
    key: F::Int,
    h: u64,
    covered: bool,
    maybe_host: bool,
) -> &'a RawTuple {
    // A host's tuple holds every list's answer for its address: no walk needed.
    if maybe_host && let Some(t) = host_tuple(fam, key, h) {
        return t;
    }
    if !covered {
        return &NO_TUPLE;
    }
    let (slot, off) = start(fam, key);
    let tuple = walk(fam, key, slot, off);
    fam.tuples.get(tuple as usize).unwrap_or(&NO_TUPLE)
}

/// The host tuple index `key` holds in its two buckets, if it is there: the value of the
/// last slot holding it, in `b1` then `b2` ([`Family::probe_pair`]: every slot compared,
/// no branch per slot). A key in several slots (the compiler never writes one) yields the
/// value of the last of them, the second bucket's after the first's. A missing bucket (a
/// table with no buckets) holds nothing.
#[inline(always)]
fn probe<F: Family>(
    key: F::Int,
    b1: Option<&F::RawBucket>,
    b2: Option<&F::RawBucket>,
) -> Option<u32> {
    let found = F::probe_pair(key, b1, b2);
    (found != HOST_EMPTY).then_some(found)
}

/// Starts loading the addresses of the batch after batch `n` of `addrs`, so that its key
/// copy finds them cached. Without it, a profile of IPv6 batches over a million addresses
/// put about a seventh of their time on reading the keys, though the read is sequential:
/// the hardware's own prefetch did not keep ahead beside the batch's many prefetches of
/// table lines. The same held for IPv4 batches, which read the next batch's addresses
/// to prefetch their summary words instead: the summary of a large list fits in the
/// second-level cache, so those 64 prefetches bought little and stalled on the addresses
/// (a seventh of the time again). Prefetching the addresses instead made IPv4 batches of a
/// million uniform addresses about 15 % faster (with the summary prefetch gone already).
#[inline(always)]
fn prefetch_next<A>(addrs: &[A], n: usize) {
    let next = addrs
        .get(n.saturating_add(1).saturating_mul(BATCH)..)
        .unwrap_or(&[]);
    // An address a cache line at the least, and the last one: the lines the next batch
    // spans, but for the tail of its last address where that crosses into one more.
    let step = (64 / size_of::<A>().max(1)).max(1);
    for a in next.iter().take(BATCH).step_by(step) {
        prefetch(a);
    }
    if let Some(last) = next.get(..BATCH).unwrap_or(next).last() {
        prefetch(last);
    }
}

/// The direct-table slot of `key`.
#[inline(always)]
fn direct_slot<F: Family>(fam: &Fam<'_, F>, key: F::Int) -> u32 {
    // The validated direct table is 2^d long, so `get` always succeeds.
    fam.direct
        .get(F::head(key, fam.direct_bits))
        .map_or(LEAF_FLAG, |s| s.get())
}

/// Where a walk for `key` starts: its jump entry (a node at depth `J`, or the whole answer
/// for every address under its path) when the key's path is in the jump table, else its
/// direct-table slot (at offset `d`). Both are read, independently, and the choice is a
/// conditional move.
#[inline(always)]
fn start<F: Family>(fam: &Fam<'_, F>, key: F::Int) -> (u32, u32) {
    let direct = direct_slot(fam, key);
    if fam.jump_bits == 0 {
        return (direct, fam.direct_bits);
    }
    let path = F::top(key, fam.jump_bits);
    let (b1, b2) = buckets_of(F::hash(path, fam.seed), fam.jumps.len());
    // A node index (below 2^31: nodes are 24 bytes in a table below 4 GiB), or
    // `LEAF_FLAG | tuple`, read by `walk` as a direct slot is.
    let node = probe::<F>(path, fam.jumps.get(b1), fam.jumps.get(b2));
    let jumped = node.is_some();
    (
        select_unpredictable(jumped, node.unwrap_or(0), direct),
        select_unpredictable(jumped, fam.jump_bits, fam.direct_bits),
    )
}

/// Walks from `slot` (a direct-table slot's value, or a node index) at bit offset `off`
/// down to the tuple id covering `key`.
#[inline(always)]
fn walk<F: Family>(fam: &Fam<'_, F>, key: F::Int, slot: u32, off: u32) -> u32 {
    if slot & LEAF_FLAG != 0 {
        return slot & !LEAF_FLAG;
    }
    let mut node = slot as usize;
    let mut off = off;
    // Child indices strictly increase (invariant 15), so a validated trie ends within the
    // family's depth. The bound holds even if the bytes change after validation (a mapped
    // file rewritten in place, against the contract): a wrong answer, never a hang.
    for _ in 0..=F::BITS / STRIDE {
        let Some(n) = fam.nodes.get(node) else { break };
        let bit = 1u64 << F::slot(key, off, STRIDE);
        let children = n.children.get();
        if children & bit != 0 {
            let rank = (children & bit.wrapping_sub(1)).count_ones() as usize;
            node = (n.base_child.get() as usize).wrapping_add(rank);
            off = off.wrapping_add(STRIDE);
        } else {
            let rank = (n.leaf_runs.get() & (bit | bit.wrapping_sub(1))).count_ones() as usize;
            let leaf = (n.base_leaf.get() as usize)
                .wrapping_add(rank)
                .wrapping_sub(1);
            return fam.leaves.get(leaf).map_or(0, |l| l.get());
        }
    }
    // Only a table changed after validation gets here.
    0
}

/// How many lookups a batch interleaves: enough independent memory accesses in flight to
/// hide cache misses, few enough that a batch's arrays (about 3 KiB of stack in a release
/// build) stay in L1. One bit per key in a [`Mask`].
const BATCH: usize = 64;

/// A bit set of a batch's keys.
type Mask = u64;

/// The positions of the set bits of `m`, lowest first.
#[inline(always)]
fn bits(mut m: Mask) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let i = m.trailing_zeros();
        m &= m.wrapping_sub(1);
        (i < Mask::BITS).then_some(i as usize)
    })
}

/// [`find`] for up to [`BATCH`] keys at once, in passes over bit sets of the keys, so a
/// stream mixing hits and misses does not mispredict once per address as single lookups
/// do. The first reads every key's summary bits (independent loads; for most addresses the
/// whole answer, and for most batches of real traffic the end); then [`past_summary`].
#[inline(always)]
fn find_batch<'a, F: Family>(fam: &Fam<'a, F>, keys: &[F::Int], out: &mut [&'a RawTuple; BATCH]) {
    let (covered, host_blocks) = summary_pass(fam, keys.iter().copied(), out);
    if covered | host_blocks != 0 {
        past_summary(fam, keys, (covered, host_blocks), out);
    }
}

/// The trie batches' passes after the summary's, for the keys whose summary bits are
/// `covered` and `host_blocks` (the other keys' answers, none, already set): the filter
/// words of the keys whose block holds a host, and the buckets of those the filter passes
/// start loading; the covered keys the filter does not pass (most of them in blocks that
/// hold no host, which never reach it) are walked one trie level at a time for all of
/// them while the buckets arrive; then the buckets are probed (a host's tuple is its whole
/// answer), and the covered keys that passed the filter but were no host (a few a batch,
/// or none) are walked last.
#[inline(always)]
fn past_summary<'a, F: Family>(
    fam: &Fam<'a, F>,
    keys: &[F::Int],
    (covered, host_blocks): (Mask, Mask),
    out: &mut [&'a RawTuple; BATCH],
) {
    let (hashes, maybe_hosts) = hosts_filter(fam, keys, host_blocks);
    let no_host = covered & !maybe_hosts;
    if no_host != 0 {
        walk_batch(fam, keys, no_host, out);
    }
    let hosts = hosts_probe(fam, keys, &hashes, maybe_hosts, out);
    let rest = covered & maybe_hosts & !hosts;
    if rest != 0 {
        walk_batch(fam, keys, rest, out);
    }
}

/// The batches' first pass: the summary bits of every key (up to [`BATCH`]), as two bit
/// sets (a prefix meets the key's block; a host lies in it), each key's answer set to
/// none. Each key's two bits go to a byte of their own, gathered into the bit sets eight
/// keys at a time.
#[inline(always)]
fn summary_pass<'a, F: Family>(
    fam: &Fam<'a, F>,
    keys: impl Iterator<Item = F::Int>,
    out: &mut [&'a RawTuple; BATCH],
) -> (Mask, Mask) {
    *out = [&NO_TUPLE; BATCH];
    let (summary, width) = (fam.summary, fam.summary_bits);
    let mut two = [0u8; BATCH];
    for (key, t) in keys.zip(two.iter_mut()) {
        *t = block_bits::<F>(summary, width, key) as u8;
    }
    let (mut covered, mut host_blocks): (Mask, Mask) = (0, 0);
    for (j, eight) in two.chunks_exact(8).enumerate() {
        let x = eight.try_into().map_or(0, u64::from_le_bytes);
        covered |= gather8(x) << (8 * j);
        host_blocks |= gather8(x >> 1) << (8 * j);
    }
    (covered, host_blocks)
}

/// [`summary_pass`] for IPv6 keys: where the CPU has AVX-512F (`wide`), the keys' top
/// halves are copied out and their summary bits read eight at a time.
#[inline(always)]
fn summary_pass_v6<'a>(
    wide: Option<crate::lanes::Avx512>,
    fam: &Fam<'a, V6>,
    keys: impl Iterator<Item = u128>,
    out: &mut [&'a RawTuple; BATCH],
) -> (Mask, Mask) {
    let Some(wide) = wide else {
        return summary_pass(fam, keys, out);
    };
    *out = [&NO_TUPLE; BATCH];
    let mut heads = [0u64; BATCH];
    let mut n = 0;
    for (h, key) in heads.iter_mut().zip(keys) {
        *h = (key >> 64) as u64;
        n += 1;
    }
    wide.summary_bits(&heads, n, fam.summary, fam.summary_bits)
}

/// Bit 0 of each byte of `x`, byte `i`'s as bit `i`. The multiplier has bit `56 - 7k` set
/// for `k` in 0..8, so byte `i`'s bit times term `k` lands at bit `56 + i - 7(i + k - 7)`:
/// at `56 + i` for `k = 7 - i`, below bit 56 for smaller `k`, and at bit 64 or above (out
/// of the wrapping product) for larger. Every product lands on a bit of its own, so
/// nothing carries into the top byte (`gather8_takes_bit_0_of_each_byte` tries all 256
/// patterns).
#[inline(always)]
fn gather8(x: u64) -> Mask {
    ((x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as Mask
}

/// The batches' first host pass, for the keys whose block holds a host (`host_blocks`):
/// their filter words read, and the buckets of those the filter passes started loading.
/// Returns each key's host hash (for [`hosts_probe`]) and the keys the filter passes.
#[inline(always)]
fn hosts_filter<F: Family>(
    fam: &Fam<'_, F>,
    keys: &[F::Int],
    host_blocks: Mask,
) -> ([u64; BATCH], Mask) {
    let mut hashes = [0u64; BATCH];
    let mut maybe_hosts: Mask = 0;
    for i in bits(host_blocks) {
        if let (Some(key), Some(hash)) = (keys.get(i), hashes.get_mut(i)) {
            let h = F::hash(*key, fam.seed);
            *hash = h;
            maybe_hosts |= Mask::from(in_filter(fam, h)) << i;
        }
    }
    // Every possible host's buckets start loading before the first is compared. (The
    // buckets are worked out again in `hosts_probe`, not kept: two multiplications a
    // possible host cost less than clearing an array for them in every batch.)
    for i in bits(maybe_hosts) {
        if let Some(h) = hashes.get(i) {
            let (b1, b2) = buckets_of(*h, fam.hosts.len());
            for b in [fam.hosts.get(b1), fam.hosts.get(b2)].into_iter().flatten() {
                prefetch(b);
            }
        }
    }
    (hashes, maybe_hosts)
}

/// The batches' second host pass: the buckets of the keys [`hosts_filter`] passed
/// (`maybe_hosts`, with their `hashes`) compared with the keys. Sets the answer of every
/// host found (its tuple is its whole answer) and returns those keys.
#[inline(always)]
fn hosts_probe<'a, F: Family>(
    fam: &Fam<'a, F>,
    keys: &[F::Int],
    hashes: &[u64; BATCH],
    maybe_hosts: Mask,
    out: &mut [&'a RawTuple],
) -> Mask {
    let mut hosts: Mask = 0;
    for i in bits(maybe_hosts) {
        if let (Some(key), Some(h)) = (keys.get(i), hashes.get(i)) {
            let (b1, b2) = buckets_of(*h, fam.hosts.len());
            let found = probe::<F>(*key, fam.hosts.get(b1), fam.hosts.get(b2))
                .and_then(|t| fam.host_tuples.get(t as usize));
            if let (Some(t), Some(hits)) = (found, out.get_mut(i)) {
                *hits = t;
                hosts |= 1 << i;
            }
        }
    }
    hosts
}

/// A pass of the batches over the trie ([`past_summary`], from [`find_batch`],
/// [`Table::lookup_v4_each`] and the IPv6 batches without per-length tables): the walks
/// of the `covered` keys, whose answers are set.
#[inline(always)]
fn walk_batch<'a, F: Family>(
    fam: &Fam<'a, F>,
    keys: &[F::Int],
    covered: Mask,
    out: &mut [&'a RawTuple],
) {
    // Where the walks start (direct slots, jump buckets): independent loads.
    // `at[i]` holds key `i`'s node (or, with `LEAF_FLAG`, its tuple) and bit offset.
    let mut at = [(LEAF_FLAG, 0u32); BATCH];
    for i in bits(covered) {
        if let (Some(key), Some(a)) = (keys.get(i), at.get_mut(i)) {
            *a = start(fam, *key);
        }
    }
    // The walks, one trie level at a time for all of them: each level's node loads are
    // independent of each other, so their cache misses overlap, where walking one key to
    // the end before the next would wait for each miss in turn. `leaf[i]` is the leaf
    // index once key `i`'s walk reaches one.
    let mut leaf = [usize::MAX; BATCH];
    let mut active: Mask = 0;
    for i in bits(covered) {
        if let Some(a) = at.get(i) {
            active |= Mask::from(a.0 & LEAF_FLAG == 0) << i;
        }
    }
    // Child indices strictly increase (invariant 15): a validated trie ends within the
    // family's depth; the bound keeps a table changed after validation from looping.
    for _ in 0..=F::BITS / STRIDE {
        if active == 0 {
            break;
        }
        for i in bits(active) {
            let (Some(key), Some(a), Some(l)) = (keys.get(i), at.get_mut(i), leaf.get_mut(i))
            else {
                break;
            };
            let (node, off) = *a;
            let Some(n) = fam.nodes.get(node as usize) else {
                // Only a table changed after validation gets here: tuple 0.
                *a = (LEAF_FLAG, off);
                active &= !(1 << i);
                continue;
            };
            let bit = 1u64 << F::slot(*key, off, STRIDE);
            let children = n.children.get();
            if children & bit != 0 {
                let rank = (children & bit.wrapping_sub(1)).count_ones();
                let child = n.base_child.get().wrapping_add(rank);
                if let Some(c) = fam.nodes.get(child as usize) {
                    prefetch(c);
                }
                *a = (child, off.wrapping_add(STRIDE));
            } else {
                let rank = (n.leaf_runs.get() & (bit | bit.wrapping_sub(1))).count_ones() as usize;
                *l = (n.base_leaf.get() as usize)
                    .wrapping_add(rank)
                    .wrapping_sub(1);
                if let Some(x) = fam.leaves.get(*l) {
                    prefetch(x);
                }
                active &= !(1 << i);
            }
        }
    }
    // The leaves, independent loads again, and each key's tuple, prefetched for a caller
    // that reads it soon (a callback does, at once).
    for i in bits(covered) {
        if let (Some(a), Some(l), Some(hits)) = (at.get(i), leaf.get(i), out.get_mut(i)) {
            let t = if a.0 & LEAF_FLAG != 0 {
                a.0 & !LEAF_FLAG
            } else {
                fam.leaves.get(*l).map_or(0, |x| x.get())
            };
            if let Some(x) = fam.tuples.get(t as usize) {
                prefetch(x);
                *hits = x;
            }
        }
    }
}

/// What a lookup found: per list, the longest covering entry.
#[derive(Clone, Copy)]
pub struct Hits<'t> {
    layout: &'t Layout<'t>,
    addr: Address,
    /// Each list's answer (a `Hit`), read when asked for: a lookup's last step finds the
    /// tuple, and the caller reads the lists it needs.
    hits: &'t RawTuple,
}

/// The address a lookup was given, as the lookup's key: its family and its bits as a
/// number (an IPv4 address in `lo`), not as the address's bytes in network order. The
/// single lookups and the IPv4 batch have the key at hand, so recording it takes no byte
/// swap (the IPv6 and mixed batches convert each address again, as `IpAddr` to key);
/// [`Hits::addr`] turns it back into an [`IpAddr`] when asked. A caller that keeps or
/// black-boxes each answer (a batch into a `Vec`, a benchmark) stores the two halves as
/// they are.
#[derive(Clone, Copy)]
struct Address {
    hi: u64,
    lo: u64,
    v6: bool,
}

impl Address {
    #[inline(always)]
    fn v4(key: u32) -> Address {
        Address {
            hi: 0,
            lo: u64::from(key),
            v6: false,
        }
    }

    #[inline(always)]
    fn v6(key: u128) -> Address {
        Address {
            hi: (key >> 64) as u64,
            lo: key as u64,
            v6: true,
        }
    }

    #[inline(always)]
    fn of(addr: IpAddr) -> Address {
        match addr {
            IpAddr::V4(a) => Address::v4(a.into()),
            IpAddr::V6(a) => Address::v6(a.into()),
        }
    }

    #[inline(always)]
    fn ip(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(
                (u128::from(self.hi) << 64) | u128::from(self.lo),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.lo as u32))
        }
    }
}

impl fmt::Debug for Hits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hits")
            .field("addr", &self.addr())
            .field("approved", &self.get(List::Approved))
            .field("blocked", &self.get(List::Blocked))
            .field("global", &self.get(List::Global))
            .finish()
    }
}

impl<'t> Hits<'t> {
    /// The address that was looked up.
    #[inline]
    pub fn addr(&self) -> IpAddr {
        self.addr.ip()
    }

    /// `list`'s answer.
    #[inline(always)]
    fn hit(&self, list: List) -> Hit {
        self.hits.0.get(list.index()).map_or(NO_HIT, |h| h.get())
    }

    /// The longest entry of `list` covering the address, if any.
    pub fn get(&self, list: List) -> Option<EntryRef<'t>> {
        let hit = self.hit(list);
        let l = self.layout;
        if hit == NO_HIT {
            return None;
        }
        if hit & HOST_HIT != 0 {
            let attr = hit & ATTR_MASK;
            let Address { hi, lo, v6 } = self.addr;
            let prefix = if v6 {
                IpNet::V6(v6_net((u128::from(hi) << 64) | u128::from(lo), 128))
            } else {
                IpNet::V4(v4_net(lo as u32, 32))
            };
            return Some(EntryRef {
                layout: l,
                prefix,
                attr,
            });
        }
        if self.addr.v6 {
            l.v6.entries.get(hit as usize).map(|e| EntryRef {
                layout: l,
                prefix: IpNet::V6(v6_net(V6::entry_addr(e), V6::entry_len(e))),
                attr: V6::entry_attr(e),
            })
        } else {
            l.v4.entries.get(hit as usize).map(|e| EntryRef {
                layout: l,
                prefix: IpNet::V4(v4_net(V4::entry_addr(e), V4::entry_len(e))),
                attr: V4::entry_attr(e),
            })
        }
    }

    /// Whether `list` has an entry covering the address.
    #[inline]
    pub fn contains(&self, list: List) -> bool {
        self.hit(list) != NO_HIT
    }

    /// Whether no list covers the address.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.hits.0.iter().all(|h| h.get() == NO_HIT)
    }
}

/// One entry of a table: its prefix, list, source and metadata. Borrowed from the table.
#[derive(Clone, Copy)]
pub struct EntryRef<'t> {
    layout: &'t Layout<'t>,
    prefix: IpNet,
    attr: u32,
}

impl fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryRef")
            .field("list", &self.list())
            .field("prefix", &self.prefix)
            .field("source", &self.source())
            .field("tag", &self.tag())
            .field("risk", &self.risk())
            .field("expires", &self.expires())
            .finish()
    }
}

impl PartialEq for EntryRef<'_> {
    fn eq(&self, other: &EntryRef<'_>) -> bool {
        self.prefix == other.prefix && self.list() == other.list() && self.meta() == other.meta()
    }
}

impl<'t> EntryRef<'t> {
    fn raw(&self) -> Option<&'t RawAttr> {
        self.layout.attrs.get(self.attr as usize)
    }

    fn string(&self, id: u32) -> Option<&'t str> {
        let offs = self.layout.string_offsets;
        let lo = offs.get(id as usize)?.get() as usize;
        let hi = offs.get((id as usize).checked_add(1)?)?.get() as usize;
        // Valid UTF-8 at load; checked again because a mapped file can change since.
        std::str::from_utf8(self.layout.strings.get(lo..hi)?).ok()
    }

    /// The matched prefix, canonical (a host is `/32` or `/128`).
    pub fn prefix(&self) -> IpNet {
        self.prefix
    }

    /// The list the entry belongs to.
    pub fn list(&self) -> List {
        self.raw()
            .and_then(|a| List::from_index(usize::from(a.list)))
            .unwrap_or(List::Global)
    }

    /// The entry's source: the name of the feed it came from.
    pub fn source(&self) -> &'t str {
        self.raw()
            .and_then(|a| self.string(a.source.get()))
            .unwrap_or("")
    }

    /// The entry's tag, if any.
    pub fn tag(&self) -> Option<&'t str> {
        let tag = self.raw()?.tag.get();
        if tag == NONE { None } else { self.string(tag) }
    }

    /// The entry's risk score (0–100), if any.
    pub fn risk(&self) -> Option<u8> {
        self.raw().map(|a| a.risk).filter(|r| *r != NO_RISK)
    }

    /// When the entry expires, in seconds since the Unix epoch, if it does.
    pub fn expires(&self) -> Option<u64> {
        self.raw().map(|a| a.expires.get()).filter(|e| *e != 0)
    }

    /// The metadata as an owned [`Meta`] (allocates for the tag).
    pub fn meta(&self) -> Meta {
        Meta {
            tag: self.tag().map(str::to_owned),
            risk: self.risk(),
            expires: self.expires(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern of eight bits, each spread over a byte's bit 0 with the byte's other
    /// bits set or clear, comes back whole.
    #[test]
    fn gather8_takes_bit_0_of_each_byte() {
        for pattern in 0u64..256 {
            let spread = (0..8).fold(0u64, |x, i| x | ((pattern >> i) & 1) << (8 * i));
            for noise in [0, 0xfefe_fefe_fefe_fefe, 0x0202_0202_0202_0202] {
                assert_eq!(gather8(spread | noise), pattern, "{pattern:08b} {noise:x}");
            }
        }
    }

    /// `lookup_v4_each` answers every address of a slice of any length once, in order, as
    /// the single lookup does (each list's entry compared): slices ending inside, at and
    /// past each of the first batches, so that every stage of the batch pipeline starts
    /// and drains with and without a neighbour, over hosts (host passes), prefixes (walks)
    /// and neither; in a small table, and in one of 600 prefixes whose single lookups go
    /// through the IPv4 expansion while its batches walk the trie.
    #[test]
    fn v4_batches_of_every_length_answer_in_order() {
        let mut small = hosts_300();
        small.push((List::Blocked, "198.51.100.0/24".into()));
        small.push((List::Approved, "203.0.113.128/25".into()));
        let mut wide = small.clone();
        // 600 /20s in 16.0.0.0/8 and beyond, every third also blocked as a /22 inside.
        for i in 0..600u32 {
            let net = Ipv4Addr::from(0x1000_0000 + (i << 12));
            wide.push((List::Global, format!("{net}/20")));
            if i % 3 == 0 {
                wide.push((List::Blocked, format!("{net}/22")));
            }
        }
        let expanded = table(&wide);
        assert!(expanded.v4_flat.is_some());
        for t in [table(&small), expanded] {
            let mut rng = 0x9e37_79b9_u32;
            let addrs: Vec<Ipv4Addr> = (0..3 * BATCH as u32 + 7)
                .map(|i| {
                    rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    Ipv4Addr::from(match i % 5 {
                        0 => host_300(rng % 300),
                        1 => 0xc633_6400 | (rng & 0xff),
                        2 => 0xcb00_7100 | (rng & 0xff),
                        3 => 0x1000_0000 + (rng % (700 << 12)),
                        _ => rng,
                    })
                })
                .collect();
            for len in 0..=addrs.len() {
                let slice = addrs.get(..len).unwrap();
                let mut got = Vec::new();
                t.lookup_v4_each(slice, |h| got.push(h));
                as_single_v4(&t, slice, &got);
            }
        }
    }

    /// Host `i` of [`hosts_300`]: every seventh address from 192.0.2.0.
    fn host_300(i: u32) -> u32 {
        0xc000_0200 + 7 * i
    }

    /// 300 IPv4 hosts on the global list, close enough to share summary blocks.
    fn hosts_300() -> Vec<(List, String)> {
        (0..300u32)
            .map(|i| (List::Global, format!("{}/32", Ipv4Addr::from(host_300(i)))))
            .collect()
    }

    /// `got` holds one answer per address of `addrs`, in order, each the single lookup's
    /// (the address, and each list's entry).
    fn as_single_v4(t: &Table, addrs: &[Ipv4Addr], got: &[Hits<'_>]) {
        assert_eq!(got.len(), addrs.len());
        for (a, h) in addrs.iter().zip(got) {
            assert_eq!(h.addr(), IpAddr::V4(*a));
            let single = t.lookup_v4(*a);
            for list in List::ALL {
                let prefix = |h: &Hits<'_>| h.get(list).map(|e| e.prefix());
                assert_eq!(
                    prefix(h),
                    prefix(&single),
                    "{a} {list:?} of {}",
                    addrs.len()
                );
            }
        }
    }

    /// Inside an IPv4 batch, the covered keys the host filter passes that are no host
    /// (its false positives) are walked, and a host found in its buckets keeps its host
    /// answer (no walk overwrites it). A /14 covers 300 hosts, and every address of the
    /// run the hosts span is looked up: each answer is the single lookup's, and some of the
    /// non-hosts in blocks that hold a host are false positives of the filter, so that
    /// walk is taken.
    #[test]
    fn v4_batches_walk_the_filter_false_positives() {
        let mut entries = hosts_300();
        entries.push((List::Blocked, "192.0.0.0/14".into()));
        entries.push((List::Approved, "192.0.4.0/24".into()));
        let t = table(&entries);
        let fam = &t.layout().v4;
        let run = host_300(0)..=host_300(299);
        let false_positives = run
            .clone()
            .filter(|a| {
                !(a - host_300(0)).is_multiple_of(7)
                    && summary_bits(fam, *a) & 2 != 0
                    && in_filter(fam, V4::hash(*a, fam.seed))
            })
            .count();
        assert!(
            false_positives > 0,
            "no false positive to walk after the probe"
        );
        let addrs: Vec<Ipv4Addr> = run.map(Ipv4Addr::from).collect();
        let mut got = Vec::new();
        t.lookup_v4_each(&addrs, |h| got.push(h));
        as_single_v4(&t, &addrs, &got);
        let blocked = got.iter().filter(|h| h.contains(List::Blocked)).count();
        let hosts = got.iter().filter(|h| h.contains(List::Global)).count();
        assert_eq!((blocked, hosts), (addrs.len(), 300));
    }

    /// A table of `entries`, the poisoned-feed guards lifted.
    pub(crate) fn table<S: AsRef<str>>(entries: &[(List, S)]) -> Table {
        let mut c = crate::Compiler::new();
        c.limits(crate::compile::Limits::none());
        for (list, net) in entries {
            c.add(
                *list,
                net.as_ref().parse().unwrap(),
                "test",
                Meta::default(),
            )
            .unwrap();
        }
        c.build().unwrap()
    }

    /// A large table's read into huge pages gives the bytes `read_file` gives smaller
    /// tables, and a file shortened or grown after its length was read is refused as the
    /// validator refuses those bytes.
    #[test]
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    #[cfg_attr(miri, ignore = "an anonymous mapping: a system call")]
    fn huge_page_read_is_the_plain_read() {
        use std::io::{Read, Seek, Write};
        let t = table(&[
            (List::Global, "198.51.100.0/24"),
            (List::Global, "2001:db8::/32"),
            (List::Blocked, "203.0.113.9/32"),
        ]);
        let bytes = t.as_bytes().to_vec();
        let read = |body: &[u8], len: u64| {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(body).unwrap();
            f.rewind().unwrap();
            let mut header = vec![0u8; FIXED_HEADER_LEN];
            f.read_exact(&mut header).unwrap();
            super::read_huge(f, len, &header)
        };
        let len = bytes.len() as u64;
        let same = read(&bytes, len).unwrap();
        assert_eq!(same.as_bytes(), &bytes[..]);
        assert_eq!(
            same.lookup("198.51.100.7".parse().unwrap())
                .get(List::Global)
                .unwrap()
                .prefix(),
            "198.51.100.0/24".parse::<IpNet>().unwrap()
        );
        // Shortened by a byte, and grown by one, after the length was taken.
        let short = &bytes[..bytes.len() - 1];
        let mut long = bytes.clone();
        long.push(0);
        for body in [short, &long[..]] {
            let got = read(body, len).unwrap_err();
            let want = Table::from_bytes(body.to_vec()).unwrap_err();
            assert_eq!(got.to_string(), want.to_string());
        }
    }

    /// `read_file` of a table of 4 MiB or more: the file's bytes, in the anonymous mapping.
    #[test]
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    #[cfg_attr(miri, ignore = "a 5 MB table and a system call")]
    fn large_tables_are_read_into_a_mapping() {
        let mut c = crate::Compiler::new();
        for i in 0..100_000u128 {
            let a = std::net::Ipv6Addr::from(0x2001_0db8u128 << 96 | i.wrapping_mul(0x9e37_79b9));
            c.add(
                List::Global,
                IpNet::from(IpAddr::V6(a)),
                "t",
                Meta::default(),
            )
            .unwrap();
        }
        let bytes = c.to_vec().unwrap();
        assert!(
            bytes.len() as u64 >= super::HUGE_PAGES_FROM,
            "{}",
            bytes.len()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        std::fs::write(&path, &bytes).unwrap();
        let t = Table::read_file(&path).unwrap();
        assert!(matches!(t.cell.borrow_owner(), Storage::Mapped(_)));
        assert_eq!(t.as_bytes(), &std::fs::read(&path).unwrap()[..]);
        let host =
            std::net::Ipv6Addr::from(0x2001_0db8u128 << 96 | 7u128.wrapping_mul(0x9e37_79b9));
        assert!(t.lookup(IpAddr::V6(host)).contains(List::Global));
        // A table below the threshold is read into a `Vec`.
        let small = table(&[(List::Global, "198.51.100.0/24")]);
        std::fs::write(&path, small.as_bytes()).unwrap();
        let t = Table::read_file(&path).unwrap();
        assert!(matches!(t.cell.borrow_owner(), Storage::Owned(_)));
    }

    /// Single IPv4 lookups read the host filter only on a table where more than an eighth
    /// of the summary's blocks hold a host, and answer as batches do either way: hosts,
    /// addresses beside them in their blocks (most turned away by the filter), prefixes.
    #[test]
    #[cfg_attr(miri, ignore = "140,000 hosts: too slow interpreted")]
    fn v4_filter_only_where_hosts_crowd_the_summary() {
        for (hosts, filter) in [(140_000u32, true), (100_000, false)] {
            // One host in each of the first `hosts` 2^12-address blocks (2^20 blocks).
            let host = |i: u32| Ipv4Addr::from((i << 12) | (i.wrapping_mul(2_654_435_761) & 0xfff));
            let mut entries: Vec<_> = (0..hosts)
                .map(|i| (List::Global, format!("{}/32", host(i))))
                .collect();
            entries.push((List::Blocked, "8.0.0.0/12".into()));
            let t = table(&entries);
            assert_eq!(t.v4_filter, filter, "{hosts} hosts");
            let mut addrs = Vec::new();
            for i in (0..hosts).step_by(7) {
                let a = u32::from(host(i));
                addrs.extend([a, a ^ 1, a ^ 0x800, a.wrapping_add(4096)].map(Ipv4Addr::from));
            }
            let mut batch = Vec::new();
            t.lookup_v4_each(&addrs, |h| batch.push(h));
            let mut found = 0;
            for (a, b) in addrs.iter().zip(&batch) {
                let single = t.lookup_v4(*a);
                assert_eq!(single.hits.0, b.hits.0, "{a}");
                let listed = u32::from(*a) >> 12 < hosts && host(u32::from(*a) >> 12) == *a;
                assert_eq!(single.contains(List::Global), listed, "{a}");
                assert_eq!(
                    single.contains(List::Blocked),
                    u32::from(*a) >> 20 == 0x080,
                    "{a}"
                );
                found += usize::from(listed);
            }
            assert_eq!(found, hosts.div_ceil(7) as usize);
        }
    }

    /// Every IPv6 address's answer through `groups`, `lengths` or `flat` equals the
    /// trie's, on addresses inside, at the edges of and around every entry, and random ones
    /// in the entry's top `block` bits.
    pub(crate) fn agrees_with_trie(
        t: &Table,
        groups: Option<&Groups>,
        lengths: Option<&Lengths>,
        flat: Option<&Flat6>,
        block: u32,
    ) {
        let l = t.layout();
        let mut queries = Vec::new();
        for (i, e) in t.entries().enumerate() {
            let IpNet::V6(n) = e.prefix() else {
                continue;
            };
            let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
            let r = u128::from(crate::format::mix64(i as u64)) << 64
                | u128::from(crate::format::mix64(!(i as u64)));
            queries.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]);
            queries.push(lo | (r & !u128::from(n.netmask())));
            queries.push((lo & (u128::MAX << (128 - block))) | (r >> block));
        }
        for q in queries {
            let want = find(&l.v6, true, q);
            let got = find_v6(&l.v6, groups, lengths, flat, q);
            assert_eq!(got.0, want.0, "{}", Ipv6Addr::from(q));
        }
    }

    /// `probe` finds a key in any slot of either bucket, a host at address 0 among empty
    /// slots (whose keys are 0 too), and nothing in empty or foreign slots; with a key
    /// in both buckets (which the compiler never writes) the second bucket's value wins.
    #[test]
    fn probe_finds_each_slot_and_never_an_empty_one() {
        fn check<F: Family>(key: F::Int, other: F::Int) {
            let empty = F::make_bucket(&[]);
            let full = F::make_bucket(&[(other, 1), (other, 2)]);
            let alone = F::make_bucket(&[(key, 9)]);
            for slot in 0..2 {
                let mut slots = vec![(other, 5)];
                slots.insert(slot, (key, 9));
                let mine = F::make_bucket(&slots);
                for (b1, b2) in [
                    (&mine, &full),
                    (&full, &mine),
                    (&mine, &empty),
                    (&empty, &mine),
                ] {
                    assert_eq!(probe::<F>(key, Some(b1), Some(b2)), Some(9));
                }
                assert_eq!(probe::<F>(key, Some(&alone), Some(&empty)), Some(9));
                assert_eq!(probe::<F>(key, Some(&empty), Some(&alone)), Some(9));
                assert_eq!(probe::<F>(key, Some(&alone), None), Some(9));
                assert_eq!(probe::<F>(key, None, Some(&alone)), Some(9));
            }
            // The second bucket's value, though the first's is larger.
            let twice = (F::make_bucket(&[(key, 4)]), F::make_bucket(&[(key, 3)]));
            assert_eq!(probe::<F>(key, Some(&twice.0), Some(&twice.1)), Some(3));
            assert_eq!(probe::<F>(key, Some(&full), Some(&empty)), None);
            assert_eq!(probe::<F>(key, Some(&empty), Some(&empty)), None);
            assert_eq!(probe::<F>(key, None, None), None);
        }
        check::<V4>(0, 7);
        check::<V4>(0xc000_0201, 0);
        check::<V6>(0, 7);
        check::<V6>(0x2001_0db8 << 96, 0);
    }

    /// The IPv4 probe (four slots compared at once) answers as the plain scan does, on
    /// random buckets whose keys are often the probed one and whose values often empty,
    /// with either bucket missing or both.
    #[test]
    fn ipv4_probe_agrees_with_the_plain_scan() {
        use crate::format::{HOST_EMPTY, scan_buckets};
        let mut r = 11u64;
        let mut next = || {
            r = crate::format::mix64(r);
            r as u32
        };
        let rounds = if cfg!(miri) { 200 } else { 20_000u32 };
        for round in 0..rounds {
            let key = next();
            let pick = |n: u32| match n % 3 {
                0 => key,
                1 => HOST_EMPTY,
                _ => n,
            };
            let mut bucket = || {
                let (k1, k2, v1, v2) = (next(), next(), next(), next());
                V4::make_bucket(&[(pick(k1), pick(v1)), (pick(k2), pick(v2))])
            };
            let (b1, b2) = (bucket(), bucket());
            for (x, y) in [
                (Some(&b1), Some(&b2)),
                (Some(&b1), None),
                (None, Some(&b2)),
                (None, None),
            ] {
                assert_eq!(
                    V4::probe_pair(key, x, y),
                    scan_buckets::<V4>(key, x, y),
                    "round {round}"
                );
            }
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn table_is_send_and_sync() {
        assert_send_sync::<Table>();
        assert_send_sync::<Hits<'static>>();
    }
}
