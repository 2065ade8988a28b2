//! Inputs too large for any table are refused with an error code, up front: no copy, no
//! allocation that could abort the host process.

#![cfg(unix)] // The sparse file and its mapping are set up with Unix calls.
#![allow(unsafe_code)] // Calls the C ABI and maps a file, as a C caller would.

use c2trie_capi::*;

/// Oversized input is refused with an error code before any copy, not by an aborted
/// allocation: a sparse 5 GiB mapping (never touched past its header) and a 1 KiB input
/// whose header claims 3 GiB.
#[test]
fn oversized_input_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.set_len(5 << 30).unwrap();
    // SAFETY: the file is private to this test and never changed while mapped.
    let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    let mut out: *mut c2trie_table = std::ptr::null_mut();
    // SAFETY: the mapping is valid for its length; `out` is a valid out-pointer.
    let rc = unsafe { c2trie_table_from_bytes(map.as_ptr(), map.len(), &mut out) };
    assert_eq!(rc, C2TRIE_ERR_INVALID_TABLE);
    assert!(out.is_null());
    // The same file through the path API: refused before it is read.
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path and a valid out-pointer.
    let rc = unsafe { c2trie_table_open(c.as_ptr(), &mut out) };
    assert_eq!(rc, C2TRIE_ERR_INVALID_TABLE);
    // A header that claims 3 GiB on a 1 KiB input.
    let mut small = c2trie::Compiler::new().to_vec().unwrap();
    small[24..32].copy_from_slice(&(3u64 << 30).to_le_bytes());
    // SAFETY: `small` is valid for its length; `out` is a valid out-pointer.
    let rc = unsafe { c2trie_table_from_bytes(small.as_ptr(), small.len(), &mut out) };
    assert_eq!(rc, C2TRIE_ERR_INVALID_TABLE);
    // SAFETY: never NULL, valid until the next failing call on this thread.
    let msg = unsafe { std::ffi::CStr::from_ptr(c2trie_last_error()) };
    assert!(msg.to_string_lossy().contains("3221225472"), "{msg:?}");
}
