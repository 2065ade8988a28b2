//! Inputs no table can be are refused before they are read or copied: a sparse file of
//! 4 GiB − 1 bytes whose header states a small table, and one past the format's limit.

#![cfg(unix)]

use c2trie::{Compiler, LoadErrorKind, Table};

#[test]
fn read_file_refuses_by_the_header_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let small = Compiler::new().to_vec().unwrap();
    for (name, len) in [("legal", u64::from(u32::MAX)), ("too-long", 5u64 << 30)] {
        let path = dir.path().join(name);
        std::fs::write(&path, &small[..80]).unwrap();
        // Sparse: the rest reads as zeros and takes no disk or memory unless read.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
        let err = Table::read_file(&path).unwrap_err();
        assert_eq!(err.kind(), LoadErrorKind::Corrupt, "{name}: {err}");
        assert_eq!(err.invariant(), Some(5), "{name}: {err}");
        // The pre-check's words, not the validator's: refused from the header alone,
        // before 4 GiB were reserved and read.
        assert!(
            err.to_string().contains("a table has at most"),
            "{name}: {err}"
        );
        let err = Table::from_slice(&small[..80]).unwrap_err();
        assert_eq!(err.invariant(), Some(5));
    }
    let err = Table::from_slice(b"not a table at all, not even 80 bytes").unwrap_err();
    assert_eq!(err.kind(), LoadErrorKind::NotATable);
}
