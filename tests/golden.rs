//! Golden tables: compiled files committed under `tests/data/v2/` must keep loading and
//! answering the same way, and today's compiler must still produce them byte for byte while
//! the format version is 2. To regenerate after an intended change to the compiler's
//! output (never to version-2 layout), run with `C2TRIE_BLESS=1`. The version-1 table under
//! `tests/data/v1/` must be refused with a clear format-version error.

use std::path::{Path, PathBuf};

use c2trie::feed::{self, FeedOptions};
use c2trie::{Compiler, List, Table};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v2")
}

#[test]
fn version_1_tables_are_refused_with_a_version_error() {
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1/sample.c2t");
    let err = Table::read_file(&v1).expect_err("version 1 is no longer read");
    assert_eq!(
        err.kind(),
        c2trie::LoadErrorKind::UnsupportedVersion { found: 1 }
    );
    assert_eq!(err.invariant(), Some(3));
    let msg = err.to_string();
    assert!(msg.contains("version 1"), "{msg}");
}

/// The sample lists shipped in `examples/data/`, compiled with fixed version and time.
fn compile_sample() -> Vec<u8> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let mut c = Compiler::new();
    c.list_version(1).created_unix(1_767_225_600); // 2026-01-01T00:00:00Z
    for (list, file) in [
        (List::Approved, "approved.txt"),
        (List::Blocked, "blocked.txt"),
        (List::Global, "global.txt"),
    ] {
        let bytes = std::fs::read(data.join(file)).unwrap();
        let f = feed::parse_bytes(file, &bytes, &FeedOptions::new()).unwrap();
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        c.add_feed(list, &f).unwrap();
    }
    c.to_vec().unwrap()
}

#[test]
fn sample_table_is_reproduced_byte_for_byte() {
    let path = dir().join("sample.c2t");
    let fresh = compile_sample();
    if std::env::var_os("C2TRIE_BLESS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
    }
    let golden = std::fs::read(&path).expect("tests/data/v2/sample.c2t (C2TRIE_BLESS=1 writes it)");
    assert!(
        golden == fresh,
        "the compiler's output changed; version-2 readers must still read it"
    );
}

#[test]
fn sample_table_answers_as_specified() {
    let table = Table::read_file(dir().join("sample.c2t")).unwrap();
    assert_eq!(table.format_version(), 2);
    assert_eq!(table.list_version(), 1);
    assert_eq!(table.created_unix(), 1_767_225_600);
    // (addr, approved, blocked, global)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: &[Case] = &[
        // addr, approved, blocked, global
        ("192.0.2.1", None, None, Some("192.0.2.1/32")),
        ("192.0.2.70", None, None, Some("192.0.2.64/26")),
        (
            "192.0.2.65",
            Some("192.0.2.65/32"),
            None,
            Some("192.0.2.64/26"),
        ),
        (
            "198.51.100.77",
            Some("198.51.100.77/32"),
            None,
            Some("198.51.100.0/24"),
        ),
        ("203.0.113.10", None, None, Some("203.0.113.10/31")),
        ("203.0.113.20", None, None, Some("203.0.113.20/32")),
        ("203.0.113.21", None, None, None),
        ("203.0.113.200", None, Some("203.0.113.200/32"), None),
        ("2001:db8:bad::1", None, None, Some("2001:db8:bad::/48")),
        (
            "2001:db8::dead:beef",
            None,
            None,
            Some("2001:db8::dead:beef/128"),
        ),
        ("2001:db8:ffff::9", None, Some("2001:db8:ffff::/64"), None),
        ("192.0.2.200", None, None, None),
    ];
    for (addr, approved, blocked, global) in cases {
        let hits = table.lookup(addr.parse().unwrap());
        let got = |l| hits.get(l).map(|e| e.prefix().to_string());
        assert_eq!(got(List::Approved).as_deref(), *approved, "approved {addr}");
        assert_eq!(got(List::Blocked).as_deref(), *blocked, "blocked {addr}");
        assert_eq!(got(List::Global).as_deref(), *global, "global {addr}");
    }
    let global = table.lookup("198.51.100.1".parse().unwrap());
    assert_eq!(global.get(List::Global).unwrap().source(), "global.txt");
}
