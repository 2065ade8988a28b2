//! A mapped table rewritten in place after validation (what `cp` over a mapped file does,
//! against `Table::map_file`'s contract): every lookup still returns. The trie's nodes are
//! patched into a cycle; a walk is bounded by the family's depth, so the worst case is a
//! wrong answer, never a hang.

#![cfg(all(unix, feature = "mmap"))]
#![allow(unsafe_code)] // It maps a file and breaks the mapping's contract, on purpose.

use std::io::{Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use c2trie::{Compiler, List, Meta, Policy, Table};

/// Section `i`'s (offset, length) from the section table at byte 80.
fn section(bytes: &[u8], i: usize) -> (usize, usize) {
    let at = 80 + 16 * i;
    let word = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    (word(at), word(at + 8))
}

#[test]
fn a_trie_patched_into_a_cycle_after_validation_never_hangs() {
    let mut c = Compiler::new();
    c.list_version(1).created_unix(0);
    // Nested prefixes at the all-zero address: a walk for it reads chunk 0 at every
    // depth, whatever the offset.
    for net in [
        "0.0.0.0/24",
        "0.0.0.0/26",
        "0.0.0.0/28",
        "0.0.0.0/30",
        "0.0.0.0/31",
        "::/32",
        "::/48",
        "::/64",
        "::/96",
        "::/120",
    ] {
        c.add(List::Blocked, net.parse().unwrap(), "t", Meta::default())
            .unwrap();
    }
    let bytes = c.to_vec().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.c2t");
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: this test breaks the contract on purpose, rewriting the file in place below;
    // it never truncates it, so no access faults.
    let table = unsafe { Table::map_file(&file) }.unwrap();
    let probes: Vec<IpAddr> = ["0.0.0.0", "0.0.0.1", "0.0.0.200", "::", "::1"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    for a in &probes {
        assert!(!table.lookup(*a).is_empty(), "{a} before the rewrite");
    }

    // Every node of both families: all children present, child block at node 0. A walk
    // reading chunk 0 goes to node 0, then node 0 again, forever.
    let mut out = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let mut patched = 0;
    for nodes in [16, 21] {
        let (off, len) = section(&bytes, nodes);
        assert!(len >= 24 && len % 24 == 0, "section {nodes}: {len}");
        for n in 0..len / 24 {
            let mut node = [0u8; 24];
            node[..8].copy_from_slice(&u64::MAX.to_le_bytes()); // children
            // leaf_runs 0, base_leaf 0, base_child 0.
            out.seek(SeekFrom::Start((off + 24 * n) as u64)).unwrap();
            out.write_all(&node).unwrap();
            patched += 1;
        }
    }
    out.sync_all().unwrap();
    assert!(patched >= 2);

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let policy = Policy::default();
        for a in &probes {
            let _ = table.lookup(*a);
            let _ = policy.decide(&table, *a);
            let mut out = Vec::new();
            if let IpAddr::V4(v4) = a {
                table.lookup_v4_batch(&[*v4; 40], &mut out);
            }
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a lookup on the rewritten table did not return");
}

/// The string section rewritten with bytes that are not UTF-8: sources and tags read as
/// empty or absent, never as a `&str` over invalid bytes (which `Debug` would read past).
#[test]
fn strings_rewritten_after_validation_are_never_handed_out_invalid() {
    let mut c = Compiler::new();
    c.list_version(1).created_unix(0);
    c.add(
        List::Global,
        "192.0.2.0/24".parse().unwrap(),
        "feed-é",
        Meta::tagged("é"),
    )
    .unwrap();
    let bytes = c.to_vec().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.c2t");
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: as above: rewritten in place on purpose, never truncated.
    let table = unsafe { Table::map_file(&file) }.unwrap();
    let (off, len) = section(&bytes, 11);
    assert!(len >= 2);
    let mut out = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    out.seek(SeekFrom::Start(off as u64)).unwrap();
    out.write_all(&vec![0xff; len]).unwrap();
    out.sync_all().unwrap();
    let hits = table.lookup("192.0.2.1".parse().unwrap());
    let e = hits.get(List::Global).unwrap();
    assert_eq!(e.source(), "");
    assert_eq!(e.tag(), None);
    let shown = format!("{e:?} {:?}", table.entries().collect::<Vec<_>>());
    assert!(!shown.contains('\u{fffd}'), "{shown}");
    let d = Policy::default().decide(&table, "192.0.2.1".parse().unwrap());
    let _ = format!("{d:?}");
}
