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

/// Devices and FIFOs are refused before they are opened: `/dev/zero` would be read
/// forever, a FIFO without a writer would block the open.
#[test]
fn read_file_refuses_what_is_not_a_regular_file() {
    for p in ["/dev/zero", "/dev/null"] {
        if std::path::Path::new(p).exists() {
            let err = Table::read_file(p).unwrap_err();
            assert_eq!(err.kind(), LoadErrorKind::Io, "{p}: {err}");
            assert!(err.to_string().contains("not a regular file"), "{p}: {err}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let err = Table::read_file(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let err = Table::read_file(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
