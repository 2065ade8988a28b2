//! Live handles: a table in service that reloads while other threads decide.

use std::ffi::{c_char, c_int};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use c2trie::Table;
use c2trie::swap::{FailMode, LiveTable, ReloadMode};

use crate::boundary::{
    Error, arg, batch_in, batch_sized, guard, guard_void, path_arg, put, put_sized,
};
use crate::policy::{c2trie_policy, policy_arg};
use crate::table::{BATCH_BLOCK, c2trie_table, for_blocks};
use crate::types::*;

/// A live handle. Opaque to C; every function but `c2trie_live_free` may be called on one
/// handle from any number of threads at once.
#[derive(Debug)]
pub struct c2trie_live {
    live: LiveTable,
}

/// The live handle behind a pointer.
///
/// # Safety
///
/// `p` is NULL or a pointer returned by [`c2trie_live_new`] and not yet freed.
unsafe fn live_arg<'a>(p: *const c2trie_live) -> Result<&'a LiveTable, Error> {
    // SAFETY: the caller's guarantee: NULL or a live handle from this library.
    Ok(&unsafe { arg(p, "live") }?.live)
}

/// A new live handle with no table in service; readers get `fail_mode`'s verdict
/// (`C2TRIE_FAIL_OPEN`: pass, `C2TRIE_FAIL_CLOSED`: block) until the first reload.
///
/// # Safety
///
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_new(fail_mode: c_int, out: *mut *mut c2trie_live) -> c_int {
    guard(|| {
        let fail = match fail_mode {
            C2TRIE_FAIL_OPEN => FailMode::Open,
            C2TRIE_FAIL_CLOSED => FailMode::Closed,
            m => {
                return Err(Error::argument(format!(
                    "fail mode {m} (expected C2TRIE_FAIL_OPEN or C2TRIE_FAIL_CLOSED)"
                )));
            }
        };
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let p = Box::into_raw(Box::new(c2trie_live {
            live: LiveTable::empty(fail),
        }));
        // SAFETY: the caller's guarantee on `out` (checked not NULL above, so this cannot
        // fail and leak `p`).
        unsafe { put(out, "out", p) }
    })
}

/// Frees a live handle. NULL is ignored. Snapshots taken from it stay valid until freed.
///
/// # Safety
///
/// `live` is NULL or a handle from [`c2trie_live_new`], not yet freed and not in use by any
/// other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_free(live: *mut c2trie_live) {
    guard_void(|| {
        if !live.is_null() {
            // SAFETY: a handle from `Box::into_raw` in `c2trie_live_new`, freed once (the
            // caller's guarantee).
            drop(unsafe { Box::from_raw(live) });
        }
    });
}

fn load(path: &Path, map: bool) -> Result<Table, Error> {
    let table = if map {
        let file = std::fs::File::open(path).map_err(|e| Error::new(C2TRIE_ERR_IO, e))?;
        // SAFETY: `C2TRIE_RELOAD_MAP` carries `Table::map_file`'s contract to the C caller
        // (see `c2trie_live_reload`'s safety section and the header).
        unsafe { Table::map_file(&file) }
    } else {
        Table::read_file(path)
    };
    table.map_err(|e| Error::load(&e))
}

fn reload(live: &LiveTable, path: &Path, flags: u32) -> Result<c2trie_swap, Error> {
    if flags & !(C2TRIE_RELOAD_MAP | C2TRIE_RELOAD_FORCE) != 0 {
        return Err(Error::argument(format!("unknown reload flags {flags:#x}")));
    }
    let map = flags & C2TRIE_RELOAD_MAP != 0;
    let swapped = if flags & C2TRIE_RELOAD_FORCE != 0 {
        live.force_replace(load(path, map)?)
            .map_err(|e| Error::swap(&e))?
    } else if map {
        // SAFETY: as in `load`: the C caller asked for a mapping and took on its contract.
        let mode = unsafe { ReloadMode::map() };
        live.reload(path, mode).map_err(|e| Error::swap(&e))?
    } else {
        live.reload(path, ReloadMode::READ)
            .map_err(|e| Error::swap(&e))?
    };
    Ok(c2trie_swap {
        generation: swapped.generation,
        list_version: swapped.list_version,
        previous_version: swapped.previous_version.unwrap_or(0),
        had_previous: u8::from(swapped.previous_version.is_some()),
    })
}

/// Loads and validates the table at `path` and puts it in service if its `list_version` is
/// newer than the one in service (any version when none is), or whatever its version with
/// `C2TRIE_RELOAD_FORCE`. On failure the table in service stays.
///
/// # Safety
///
/// `live` is NULL or a live handle; `path` is NULL or NUL-terminated; `out` is NULL (no
/// report wanted) or valid for writing. With `C2TRIE_RELOAD_MAP`, the file must not be
/// modified or truncated while the table is in service or held by a snapshot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_reload(
    live: *const c2trie_live,
    path: *const c_char,
    flags: u32,
    out: *mut c2trie_swap,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `live`.
        let l = unsafe { live_arg(live) }?;
        // SAFETY: the caller's guarantee on `path`.
        let path = unsafe { path_arg(path, "path") }?;
        let s = reload(l, &path, flags).map_err(|e| e.with_context(path.display()))?;
        if out.is_null() {
            return Ok(());
        }
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_struct(out, "out", s) }
    })
}

/// Reads the pointer file written by a versioned publish (`STEM.current`) and reloads the
/// table file it names, as [`c2trie_live_reload`].
///
/// # Safety
///
/// As [`c2trie_live_reload`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_reload_pointer(
    live: *const c2trie_live,
    pointer: *const c_char,
    flags: u32,
    out: *mut c2trie_swap,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `live`.
        let l = unsafe { live_arg(live) }?;
        // SAFETY: the caller's guarantee on `pointer`.
        let pointer = unsafe { path_arg(pointer, "pointer") }?;
        let target = c2trie::publish::resolve_pointer(&pointer)
            .map_err(|e| Error::swap(&e).with_context(pointer.display()))?;
        let s = reload(l, &target, flags).map_err(|e| e.with_context(target.display()))?;
        if out.is_null() {
            return Ok(());
        }
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_struct(out, "out", s) }
    })
}

/// The generation, version and fail mode of the handle.
///
/// # Safety
///
/// `live` is NULL or a live handle; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_get_info(
    live: *const c2trie_live,
    out: *mut c2trie_live_info,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `live`.
        let l = unsafe { live_arg(live) }?;
        let snap = l.load_full();
        let info = c2trie_live_info {
            generation: snap.generation(),
            list_version: snap.list_version().unwrap_or(0),
            created_unix: snap.table().map_or(0, Table::created_unix),
            has_table: u8::from(snap.table().is_some()),
            fail_mode: match l.fail_mode() {
                FailMode::Open => C2TRIE_FAIL_OPEN,
                FailMode::Closed => C2TRIE_FAIL_CLOSED,
            },
        };
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_struct(out, "out", info) }
    })
}

/// A table handle on the table in service, kept alive (with its entry strings) until freed
/// with `c2trie_table_free`, whatever reloads happen meanwhile. Fails with
/// `C2TRIE_ERR_NO_TABLE` when no table is in service.
///
/// # Safety
///
/// `live` is NULL or a live handle; `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_snapshot(
    live: *const c2trie_live,
    out: *mut *mut c2trie_table,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `live`.
        let l = unsafe { live_arg(live) }?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let t = c2trie_table::shared(l.load_full())
            .ok_or_else(|| Error::new(C2TRIE_ERR_NO_TABLE, "no table in service"))?;
        let p = Box::into_raw(Box::new(t));
        // SAFETY: the caller's guarantee on `out` (checked not NULL above, so this cannot
        // fail and leak `p`).
        unsafe { put(out, "out", p) }
    })
}

/// Decides an address given as [`c2trie_addr`] against the table in service.
///
/// # Safety
///
/// `live` is NULL or a live handle; `policy` is NULL (default) or valid for reading; `addr`
/// is NULL or valid for reading; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_live_decide(
    live: *const c2trie_live,
    policy: *const c2trie_policy,
    addr: *const c2trie_addr,
    out: *mut c2trie_decision,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `live`.
        let l = unsafe { live_arg(live) }?;
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_arg(policy) };
        // SAFETY: the caller's guarantee on `addr`.
        let a = addr_from_c(unsafe { arg(addr, "addr") }?)?;
        let g = l.load();
        let d = decision_to_c(&g.decide(p, a), g.generation(), Strings::Withhold);
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put_sized::<DecisionLayout>(out, "out", &d) }
    })
}

macro_rules! live_family_fns {
    ($width:literal, $ip:ident, $decide_each:ident, $decide:ident, $decide_batch:ident) => {
        /// Decides one address, given as bytes in network order, against the table in
        /// service.
        ///
        /// # Safety
        ///
        /// As [`c2trie_live_decide`], with `addr` valid for reading the address bytes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $decide(
            live: *const c2trie_live,
            policy: *const c2trie_policy,
            addr: *const [u8; $width],
            out: *mut c2trie_decision,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `live`.
                let l = unsafe { live_arg(live) }?;
                // SAFETY: the caller's guarantee on `policy`.
                let p = unsafe { policy_arg(policy) };
                // SAFETY: the caller's guarantee on `addr`.
                let a = IpAddr::from($ip::from(*unsafe { arg(addr, "addr") }?));
                let g = l.load();
                let d = decision_to_c(&g.decide(p, a), g.generation(), Strings::Withhold);
                // SAFETY: the caller's guarantee on `out`.
                unsafe { put_sized::<DecisionLayout>(out, "out", &d) }
            })
        }

        /// Decides `n` addresses packed back to back, all against one generation.
        ///
        /// # Safety
        ///
        /// `live` is NULL or a live handle; `policy` is NULL or valid for reading; when
        /// `n > 0`, `addrs` is NULL or valid for reading `n` addresses and `out` is NULL or
        /// valid for writing `n` results, the two not overlapping.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $decide_batch(
            live: *const c2trie_live,
            policy: *const c2trie_policy,
            addrs: *const u8,
            n: usize,
            out: *mut c2trie_decision,
        ) -> c_int {
            guard(|| {
                // SAFETY: the caller's guarantee on `live`.
                let l = unsafe { live_arg(live) }?;
                // SAFETY: the caller's guarantee on `policy`.
                let p = unsafe { policy_arg(policy) };
                // SAFETY: the caller's guarantee on `addrs`.
                let input = unsafe { batch_in(addrs, n, $width, "addrs") }?;
                // SAFETY: the caller's guarantee on `out`.
                let mut output = unsafe { batch_sized::<DecisionLayout>(out, n, "out") }?;
                let g = l.load();
                // Through the library's batch decisions, a block at a time, as the table's
                // batch decisions.
                let mut i = 0usize;
                for_blocks!(input, $width, $ip, |addrs| {
                    g.$decide_each(p, addrs, |d| {
                        output.write(i, &decision_to_c(&d, g.generation(), Strings::Withhold));
                        i += 1;
                    });
                });
                Ok(())
            })
        }
    };
}

live_family_fns!(
    4,
    Ipv4Addr,
    decide_v4_each,
    c2trie_live_decide_v4,
    c2trie_live_decide_v4_batch
);
live_family_fns!(
    16,
    Ipv6Addr,
    decide_v6_each,
    c2trie_live_decide_v6,
    c2trie_live_decide_v6_batch
);
