//! Table handles: open, free, inspect, look up, decide.

use std::ffi::{c_char, c_int, c_void};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use c2trie::swap::Snapshot;
use c2trie::{List, Table};

use crate::boundary::{
    Error, arg, batch_in, batch_sized, guard, guard_void, path_arg, put, put_sized, str_arg,
};
use crate::policy::{c2trie_policy, policy_arg};
use crate::types::*;

/// An open table. Opaque to C; immutable, so any number of threads may use one at once.
#[derive(Debug)]
pub struct c2trie_table {
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// Opened from a file or bytes.
    Own(Table),
    /// Shared with a live handle ([`crate::c2trie_live_snapshot`]); the snapshot always
    /// holds a table (checked when it was taken).
    Live(Arc<Snapshot>),
}

impl c2trie_table {
    pub(crate) fn own(table: Table) -> c2trie_table {
        c2trie_table {
            held: Held::Own(table),
        }
    }

    pub(crate) fn shared(snapshot: Arc<Snapshot>) -> Option<c2trie_table> {
        snapshot.table()?;
        Some(c2trie_table {
            held: Held::Live(snapshot),
        })
    }

    fn table(&self) -> Result<&Table, Error> {
        match &self.held {
            Held::Own(t) => Ok(t),
            Held::Live(s) => s
                .table()
                .ok_or_else(|| Error::new(C2TRIE_ERR_NO_TABLE, "snapshot holds no table")),
        }
    }
}

/// The table behind a handle pointer.
///
/// # Safety
///
/// `p` is NULL or a pointer returned by this library and not yet freed.
unsafe fn table_arg<'a>(p: *const c2trie_table) -> Result<&'a Table, Error> {
    // SAFETY: the caller's guarantee: NULL or a live handle from this library.
    unsafe { arg(p, "table") }?.table()
}

/// Hands a new table to C.
///
/// # Safety
///
/// `out` is NULL or valid for writing one pointer.
unsafe fn give(out: *mut *mut c2trie_table, table: c2trie_table) -> Result<(), Error> {
    let p = Box::into_raw(Box::new(table));
    // SAFETY: the caller's guarantee on `out`.
    let r = unsafe { put(out, "out", p) };
    if r.is_err() {
        // SAFETY: `p` came from `Box::into_raw` just above and was not handed out.
        drop(unsafe { Box::from_raw(p) });
    }
    r
}

/// Reads the table file at `path` into memory and validates it.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_open(
    path: *const c_char,
    out: *mut *mut c2trie_table,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: the caller's guarantee on `path`.
        let path = unsafe { path_arg(path, "path") }?;
        let t =
            Table::read_file(&path).map_err(|e| Error::load(&e).with_context(path.display()))?;
        // SAFETY: the caller's guarantee on `out`.
        unsafe { give(out, c2trie_table::own(t)) }
    })
}

/// Memory-maps the table file at `path` and validates it.
///
/// # Safety
///
/// As [`c2trie_table_open`], and the file must not be modified or truncated, by this
/// process or any other, until the handle (and every snapshot sharing it) is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_map(
    path: *const c_char,
    out: *mut *mut c2trie_table,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: the caller's guarantee on `path`.
        let path = unsafe { path_arg(path, "path") }?;
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::new(C2TRIE_ERR_IO, e).with_context(path.display()))?;
        // SAFETY: the caller of this function takes on `Table::map_file`'s contract (the
        // file stays unmodified while mapped); the header documents it for C.
        let t = unsafe { Table::map_file(&file) }
            .map_err(|e| Error::load(&e).with_context(path.display()))?;
        // SAFETY: the caller's guarantee on `out`.
        unsafe { give(out, c2trie_table::own(t)) }
    })
}

/// Copies `len` bytes and validates them as a table.
///
/// # Safety
///
/// `bytes` is NULL or valid for reading `len` bytes; `out` is NULL or valid for writing a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut c2trie_table,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: the caller's guarantee on `bytes` (a batch of `len` one-byte items).
        let b = unsafe { batch_in(bytes, len, 1, "bytes") }?;
        let t = Table::from_slice(b).map_err(|e| Error::load(&e))?;
        // SAFETY: the caller's guarantee on `out`.
        unsafe { give(out, c2trie_table::own(t)) }
    })
}

/// Frees a table handle. NULL is ignored.
///
/// # Safety
///
/// `table` is NULL or a handle from this library, not yet freed and not in use by any other
/// thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_free(table: *mut c2trie_table) {
    guard_void(|| {
        if !table.is_null() {
            // SAFETY: a handle from `Box::into_raw` in `give`, freed once (the caller's
            // guarantee).
            drop(unsafe { Box::from_raw(table) });
        }
    });
}

/// Header fields and counts.
///
/// # Safety
///
/// `table` is NULL or a live handle; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_get_info(
    table: *const c2trie_table,
    out: *mut c2trie_table_info,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `table`.
        let t = unsafe { table_arg(table) }?;
        let mut counts = [[0u64; 2]; C2TRIE_LISTS];
        for list in List::ALL {
            if let Some(c) = counts.get_mut(list.index()) {
                *c = [t.count(list, false) as u64, t.count(list, true) as u64];
            }
        }
        let info = c2trie_table_info {
            format_version: t.format_version(),
            list_version: t.list_version(),
            created_unix: t.created_unix(),
            checksum: t.checksum(),
            bytes: t.as_bytes().len() as u64,
            entries: t.len() as u64,
            counts,
        };
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_struct(out, "out", info) }
    })
}

/// Parses an address (strictly: no zone ids, no shortened or zero-padded IPv4 octets).
///
/// # Safety
///
/// `text` is NULL or NUL-terminated; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_parse_addr(text: *const c_char, out: *mut c2trie_addr) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `text`.
        let s = unsafe { str_arg(text, "text") }?;
        let a = c2trie::feed::parse_addr(s.trim())
            .map_err(|e| Error::argument(format_args!("{s:?}: {e}")))?;
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put(out, "out", addr_to_c(a)) }
    })
}

/// Initializes a decision for a call to write: sets its `size` fields (what
/// `C2TRIE_DECISION_INIT` does), for arrays and for callers without the macro.
///
/// # Safety
///
/// `out` is NULL or valid for writing one `c2trie_decision`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_decision_init(out: *mut c2trie_decision) -> c_int {
    // SAFETY: the caller's guarantee on `out`.
    guard(|| unsafe { put_struct(out, "out", c2trie_decision::default()) })
}

/// Initializes every list's match for a call to write (what `C2TRIE_MATCHES_INIT` does).
///
/// # Safety
///
/// `out` is NULL or valid for writing one `c2trie_matches`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_matches_init(out: *mut c2trie_matches) -> c_int {
    // SAFETY: the caller's guarantee on `out`.
    guard(|| unsafe { put_struct(out, "out", c2trie_matches::default()) })
}

/// The callback of [`c2trie_table_for_each_entry`]: 0 to go on, anything else to stop.
pub type c2trie_entry_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, entry: *const c2trie_match) -> c_int>;

/// Calls `f(user, entry)` for every entry of the table: IPv4 prefixes, IPv4 hosts, IPv6
/// prefixes, IPv6 hosts. The entry's strings are borrowed from the table handle and stay
/// valid until it is freed; the `c2trie_match` itself only during the call. Stops early
/// when `f` returns non-zero, and then returns that value; otherwise `C2TRIE_OK`.
///
/// # Safety
///
/// `table` is NULL or a live handle, not freed before this returns; `f` is NULL or a
/// function that may be called with `user` and does not unwind (no C++ exception, no
/// `longjmp`) out of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_table_for_each_entry(
    table: *const c2trie_table,
    f: c2trie_entry_fn,
    user: *mut c_void,
) -> c_int {
    let mut stopped = 0;
    let rc = guard(|| {
        // SAFETY: the caller's guarantee on `table`.
        let t = unsafe { table_arg(table) }?;
        let f = f.ok_or_else(|| Error::null("f"))?;
        for e in t.entries() {
            let mut m = match_to_c(Some(e), Strings::Borrow);
            // SAFETY: `m` is a `c2trie_match`, which holds its gaps; they are zeroed in place
            // and `m` is not moved before C reads it.
            unsafe { zero_gaps(std::ptr::from_mut(&mut m).cast(), c2trie_match::GAPS) };
            // SAFETY: `f` is a C function the caller vouches for; `m` lives across the call
            // and its strings as long as the table.
            let r = unsafe { f(user, &m) };
            if r != 0 {
                stopped = r;
                break;
            }
        }
        Ok(())
    });
    if rc == C2TRIE_OK { stopped } else { rc }
}

/// Looks up an address given as [`c2trie_addr`].
///
/// # Safety
///
/// `table` is NULL or a live handle; `addr` is NULL or valid for reading; `out` is NULL or
/// valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_lookup(
    table: *const c2trie_table,
    addr: *const c2trie_addr,
    out: *mut c2trie_matches,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `table`.
        let t = unsafe { table_arg(table) }?;
        // SAFETY: the caller's guarantee on `addr`.
        let a = addr_from_c(unsafe { arg(addr, "addr") }?)?;
        with_matches(&t.lookup(a), |m| {
            // SAFETY: the caller's guarantee on `out`.
            unsafe { put_sized::<MatchesLayout>(out, "out", m) }
        })
    })
}

/// Decides an address given as [`c2trie_addr`] under `policy` (NULL: the default).
///
/// # Safety
///
/// As [`c2trie_lookup`]; `policy` is NULL or valid for reading.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_decide(
    table: *const c2trie_table,
    policy: *const c2trie_policy,
    addr: *const c2trie_addr,
    out: *mut c2trie_decision,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `table`.
        let t = unsafe { table_arg(table) }?;
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_arg(policy) };
        // SAFETY: the caller's guarantee on `addr`.
        let a = addr_from_c(unsafe { arg(addr, "addr") }?)?;
        let d = decision_to_c(&p.decide(t, a), 0, Strings::Borrow);
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_sized::<DecisionLayout>(out, "out", &d) }
    })
}

/// Addresses a batch lookup copies out of the caller's bytes and hands to the library's
/// batch at a time.
pub(crate) const BATCH_BLOCK: usize = 256;

/// Runs `$body` with each block of up to [`BATCH_BLOCK`] addresses of `$input` (addresses
/// of `$width` bytes, network order) as a `&[$ip]` on the stack: 1 KiB for IPv4, 4 KiB for
/// IPv6.
macro_rules! for_blocks {
    ($input:expr, $width:literal, $ip:ident, |$addrs:ident| $body:block) => {
        for block in $input.chunks($width * BATCH_BLOCK) {
            let mut all = [$ip::from([0u8; $width]); BATCH_BLOCK];
            let mut k = 0usize;
            for (a, chunk) in all.iter_mut().zip(block.chunks_exact($width)) {
                let mut b = [0u8; $width];
                b.copy_from_slice(chunk);
                *a = $ip::from(b);
                k += 1;
            }
            let $addrs: &[$ip] = all.get(..k).unwrap_or(&[]);
            $body
        }
    };
}
pub(crate) use for_blocks;

/// One function per (operation, family, single or batch), all the same shape.
macro_rules! family_fns {
    ($width:literal, $ip:ident, $each:ident, $decide_each:ident, $lookup:ident, $lookup_batch:ident, $decide:ident, $decide_batch:ident) => {
        /// Looks up one address, given as bytes in network order.
        ///
        /// # Safety
        ///
        /// `table` is NULL or a live handle; `addr` is NULL or valid for reading the
        /// address bytes; `out` is NULL or valid for writing.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $lookup(
            table: *const c2trie_table,
            addr: *const [u8; $width],
            out: *mut c2trie_matches,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `table`.
                let t = unsafe { table_arg(table) }?;
                // SAFETY: the caller's guarantee on `addr`.
                let a = IpAddr::from($ip::from(*unsafe { arg(addr, "addr") }?));
                with_matches(&t.lookup(a), |m| {
                    // SAFETY: the caller's guarantee on `out`.
                    unsafe { put_sized::<MatchesLayout>(out, "out", m) }
                })
            })
        }

        /// Looks up `n` addresses packed back to back; `out[i]` answers address `i`.
        ///
        /// # Safety
        ///
        /// `table` is NULL or a live handle; when `n > 0`, `addrs` is NULL or valid for
        /// reading `n` addresses and `out` is NULL or valid for writing `n` results, the two
        /// not overlapping.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $lookup_batch(
            table: *const c2trie_table,
            addrs: *const u8,
            n: usize,
            out: *mut c2trie_matches,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `table`.
                let t = unsafe { table_arg(table) }?;
                // SAFETY: the caller's guarantee on `addrs`.
                let input = unsafe { batch_in(addrs, n, $width, "addrs") }?;
                // SAFETY: the caller's guarantee on `out`.
                let mut output = unsafe { batch_sized::<MatchesLayout>(out, n, "out") }?;
                // Through the library's interleaved batch, a block of addresses at a time
                // (1 KiB of stack for IPv4, 4 KiB for IPv6).
                let mut i = 0usize;
                for_blocks!(input, $width, $ip, |addrs| {
                    t.$each(addrs, |h| {
                        with_matches(&h, |m| output.write(i, m));
                        i += 1;
                    });
                });
                Ok(())
            })
        }

        /// Decides one address, given as bytes in network order, under `policy` (NULL: the
        /// default).
        ///
        /// # Safety
        ///
        /// As the single lookup; `policy` is NULL or valid for reading.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $decide(
            table: *const c2trie_table,
            policy: *const c2trie_policy,
            addr: *const [u8; $width],
            out: *mut c2trie_decision,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `table`.
                let t = unsafe { table_arg(table) }?;
                // SAFETY: the caller's guarantee on `policy`.
                let p = unsafe { policy_arg(policy) };
                // SAFETY: the caller's guarantee on `addr`.
                let a = IpAddr::from($ip::from(*unsafe { arg(addr, "addr") }?));
                let d = decision_to_c(&p.decide(t, a), 0, Strings::Borrow);
                // SAFETY: the caller's guarantee on `out`.
                unsafe { put_sized::<DecisionLayout>(out, "out", &d) }
            })
        }

        /// Decides `n` addresses packed back to back under `policy` (NULL: the default).
        ///
        /// # Safety
        ///
        /// As the batch lookup; `policy` is NULL or valid for reading.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $decide_batch(
            table: *const c2trie_table,
            policy: *const c2trie_policy,
            addrs: *const u8,
            n: usize,
            out: *mut c2trie_decision,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `table`.
                let t = unsafe { table_arg(table) }?;
                // SAFETY: the caller's guarantee on `policy`.
                let p = unsafe { policy_arg(policy) };
                // SAFETY: the caller's guarantee on `addrs`.
                let input = unsafe { batch_in(addrs, n, $width, "addrs") }?;
                // SAFETY: the caller's guarantee on `out`.
                let mut output = unsafe { batch_sized::<DecisionLayout>(out, n, "out") }?;
                // Through the library's batch decisions, a block at a time, as the batch
                // lookup.
                let mut i = 0usize;
                for_blocks!(input, $width, $ip, |addrs| {
                    p.$decide_each(t, addrs, |d| {
                        output.write(i, &decision_to_c(&d, 0, Strings::Borrow));
                        i += 1;
                    });
                });
                Ok(())
            })
        }
    };
}

family_fns!(
    4,
    Ipv4Addr,
    lookup_v4_each,
    decide_v4_each,
    c2trie_lookup_v4,
    c2trie_lookup_v4_batch,
    c2trie_decide_v4,
    c2trie_decide_v4_batch
);
family_fns!(
    16,
    Ipv6Addr,
    lookup_v6_each,
    decide_v6_each,
    c2trie_lookup_v6,
    c2trie_lookup_v6_batch,
    c2trie_decide_v6,
    c2trie_decide_v6_batch
);
