//! The C test program (`tests/c/test_c2trie.c`), compiled with the system C compiler
//! against `include/c2trie.h` and the static library, under AddressSanitizer when it works
//! here, and run on tables and expectations computed by the Rust library.
//!
//! The expectations file has one line per address:
//!
//! ```text
//! ADDR V_DEFAULT V_BLOCK V_OFF LIST VIA DECIDED APPROVED BLOCKED GLOBAL TAG
//! ```
//!
//! verdicts (`C2TRIE_VERDICT_*`) under the default policy, with both lists blocking, and
//! with both off; the deciding list and encoding bit (or -1) under the default policy; the
//! deciding prefix and each list's longest match as `HEX/LEN` (or `-`); the deciding
//! entry's tag (or `-`).

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use c2trie::feed::{self, FeedOptions};
use c2trie::policy::Encoding;
use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
use ipnet::IpNet;

use common::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn compiler(version: u64) -> Compiler {
    let mut c = Compiler::new();
    c.list_version(version).created_unix(1_767_225_600);
    for (list, file) in [
        (List::Approved, "approved.txt"),
        (List::Blocked, "blocked.txt"),
        (List::Global, "global.txt"),
    ] {
        let bytes = std::fs::read(repo("examples/data").join(file)).unwrap();
        let f = feed::parse_bytes(file, &bytes, &FeedOptions::new()).unwrap();
        c.add_feed(list, &f).unwrap();
    }
    let feodo = repo("../shared/data/abusech-feodo-csv/ipblocklist.csv.20240404T1905");
    let bytes = std::fs::read(&feodo)
        .unwrap_or_else(|e| panic!("{}: {e} (the tests need ../shared/data)", feodo.display()));
    let f = feed::parse_bytes("feodo.csv", &bytes, &FeedOptions::new()).unwrap();
    assert!(f.entries.len() > 20, "the Feodo snapshot has entries");
    c.add_feed(List::Global, &f).unwrap();
    c
}

fn verdict_code(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => 0,
        Verdict::Allow => 1,
        Verdict::Log => 2,
        Verdict::Block => 3,
    }
}

/// The C bit index of an encoding, spelled out independently of the library's order.
fn via_code(e: Option<Encoding>) -> i32 {
    match e {
        None => -1,
        Some(Encoding::Mapped) => 0,
        Some(Encoding::Compatible) => 1,
        Some(Encoding::Translated) => 2,
        Some(Encoding::Nat64WellKnown) => 3,
        Some(Encoding::Nat64LocalUse) => 4,
        Some(Encoding::Nat64Operator) => 5,
        Some(Encoding::SixToFour) => 6,
        Some(Encoding::TeredoServer) => 7,
        Some(Encoding::TeredoClient) => 8,
        Some(Encoding::Isatap) => 9,
        Some(other) => panic!("encoding {other} has no C bit"),
    }
}

fn hex_prefix(p: Option<IpNet>) -> String {
    let Some(p) = p else { return "-".into() };
    let bytes: Vec<u8> = match p.network() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write!(s, "/{}", p.prefix_len()).unwrap();
    s
}

/// Addresses at and around every entry's edges, the IPv6 spellings of IPv4 entries, and
/// pseudo-random addresses.
fn addresses(table: &Table) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    for e in table.entries() {
        match e.prefix() {
            IpNet::V4(n) => {
                let lo = u32::from(n.network());
                let hi = u32::from(n.broadcast());
                for a in [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)] {
                    let v4 = Ipv4Addr::from(a);
                    out.insert(IpAddr::V4(v4));
                    let w = u128::from(a);
                    out.insert(IpAddr::V6(v4.to_ipv6_mapped()));
                    out.insert(IpAddr::V6(Ipv6Addr::from(0x0064_ff9b_u128 << 96 | w)));
                    out.insert(IpAddr::V6(Ipv6Addr::from(0x2002_u128 << 112 | w << 80 | 1)));
                    out.insert(IpAddr::V6(Ipv6Addr::from(
                        0x2001_0000_u128 << 96 | (w << 64) | 7,
                    )));
                }
            }
            IpNet::V6(n) => {
                let lo = u128::from(n.network());
                let hi = u128::from(n.broadcast());
                for a in [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)] {
                    out.insert(IpAddr::V6(Ipv6Addr::from(a)));
                }
            }
        }
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..600 {
        out.insert(IpAddr::V4(Ipv4Addr::from(next() as u32)));
        let hi = 0x2001_0db8_u128 << 96;
        out.insert(IpAddr::V6(Ipv6Addr::from(hi | u128::from(next()) << 32)));
    }
    for s in ["0.0.0.0", "255.255.255.255", "::", "::1"] {
        out.insert(s.parse().unwrap());
    }
    out
}

fn expectations(table: &Table) -> String {
    let policies = [
        Policy::default(),
        Policy::new(Mode::Block, Mode::Block),
        Policy::new(Mode::Off, Mode::Off),
    ];
    let mut s = String::new();
    for addr in addresses(table) {
        let ds: Vec<_> = policies.iter().map(|p| p.decide(table, addr)).collect();
        let d = &ds[0];
        let hits = table.lookup(addr);
        let tag = d.tag().unwrap_or("-");
        assert!(
            !tag.is_empty() && !tag.contains(char::is_whitespace),
            "tag {tag:?} cannot be written as one field"
        );
        writeln!(
            s,
            "{addr} {} {} {} {} {} {} {} {} {} {tag}",
            verdict_code(ds[0].verdict()),
            verdict_code(ds[1].verdict()),
            verdict_code(ds[2].verdict()),
            d.list().map_or(-1, |l| l.index() as i32),
            via_code(d.via()),
            hex_prefix(d.prefix()),
            hex_prefix(hits.get(List::Approved).map(|e| e.prefix())),
            hex_prefix(hits.get(List::Blocked).map(|e| e.prefix())),
            hex_prefix(hits.get(List::Global).map(|e| e.prefix())),
        )
        .unwrap();
    }
    s
}

#[test]
fn c_program_agrees_with_the_library() {
    let lib = lib_dir().join(static_lib_name());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let v1 = compiler(1).to_vec().unwrap();
    let mut c2 = compiler(2);
    c2.add(
        List::Global,
        "203.0.113.99/32".parse().unwrap(),
        "update.txt",
        Meta::default(),
    )
    .unwrap();
    let v2 = c2.to_vec().unwrap();
    let mut corrupt = v1.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x40;
    let table = Table::from_bytes(v1.clone()).unwrap();
    let expected = expectations(&table);
    for (name, bytes) in [
        ("v1.c2t", &v1[..]),
        ("v2.c2t", &v2[..]),
        ("corrupt.c2t", &corrupt[..]),
        ("expected.txt", expected.as_bytes()),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    let asan = asan_works(dir);
    let exe = dir.join("test_c2trie");
    let mut cc = Command::new(cc());
    cc.args(["-std=gnu11", "-g", "-O1", "-Wall", "-Wextra", "-Werror"]);
    if asan {
        cc.args(["-fsanitize=address", "-fno-omit-frame-pointer"]);
    }
    cc.arg("-I")
        .arg(include_dir())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/test_c2trie.c"))
        .arg(&lib)
        .args(native_libs())
        .arg("-o")
        .arg(&exe);
    run_ok(&mut cc);

    let mut run = Command::new(&exe);
    run.args(["v1.c2t", "v2.c2t", "corrupt.c2t", "expected.txt"])
        .current_dir(dir);
    if asan {
        // Leak checking stays on: every handle the program opens it frees.
        run.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
    }
    let out = run_ok(&mut run);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "{stdout}(AddressSanitizer: {})",
        if asan { "on" } else { "not available" }
    );
    assert!(stdout.contains(", 0 failed"), "{stdout}");
}
