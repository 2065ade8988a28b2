//! The C ABI from Rust, as a C caller would use it: struct sizes from older and newer
//! callers, operator NAT64 prefixes on a policy, and iterating a table's entries.

use std::ffi::{CStr, c_int, c_void};
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use c2trie::policy::{EmbeddedV4, Encoding};
use c2trie::{Compiler, List, Meta, Policy, Table};
use c2trie_capi::*;

/// A small table: two global entries (one IPv6, one tagged) and a blocked one.
fn table_bytes() -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(7);
    c.add(
        List::Global,
        "192.0.2.1/32".parse().unwrap(),
        "g.txt",
        Meta::default(),
    )
    .unwrap();
    c.add(
        List::Global,
        "2001:db8:bad::/48".parse().unwrap(),
        "g6.txt",
        Meta::tagged("fam"),
    )
    .unwrap();
    c.add(
        List::Blocked,
        "203.0.113.0/24".parse().unwrap(),
        "b.txt",
        Meta::default(),
    )
    .unwrap();
    c.to_vec().unwrap()
}

/// The table through the C ABI; freed on drop.
struct CTable(*mut c2trie_table);

impl CTable {
    fn new(bytes: &[u8]) -> CTable {
        let mut t = std::ptr::null_mut();
        // SAFETY: `bytes` is valid for its length; `t` is a valid out-pointer.
        let rc = unsafe { c2trie_table_from_bytes(bytes.as_ptr(), bytes.len(), &mut t) };
        assert_eq!(rc, C2TRIE_OK);
        CTable(t)
    }
}

impl Drop for CTable {
    fn drop(&mut self) {
        // SAFETY: a handle from `c2trie_table_from_bytes`, freed once.
        unsafe { c2trie_table_free(self.0) };
    }
}

fn last_error() -> String {
    // SAFETY: never NULL; valid until the next failing call on this thread.
    unsafe { CStr::from_ptr(c2trie_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn decide(t: &CTable, p: *const c2trie_policy, addr: IpAddr) -> c2trie_decision {
    let a = match addr {
        IpAddr::V4(a) => {
            let mut bytes = [0; 16];
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
    };
    let mut d = c2trie_decision::default();
    // SAFETY: live handles and valid pointers.
    let rc = unsafe { c2trie_decide(t.0, p, &a, &mut d) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    d
}

#[test]
fn nat64_prefixes_decide_as_the_library_does() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    let mut p = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { c2trie_policy_new(&mut p) }, C2TRIE_OK);
    let prefix: Ipv6Addr = "2001:db8:64::".parse().unwrap();
    // SAFETY: a live policy handle used by this thread only; 16 readable bytes.
    let rc = unsafe { c2trie_policy_add_nat64_prefix(p, &prefix.octets(), 40) };
    assert_eq!(rc, C2TRIE_OK);
    // SAFETY: as above.
    let rc = unsafe { c2trie_policy_add_nat64_prefix(p, &prefix.octets(), 97) };
    assert_eq!(rc, C2TRIE_ERR_ARGUMENT);
    assert!(last_error().contains("97"), "{}", last_error());

    let mut rust = Policy::default();
    let mut e = EmbeddedV4::all();
    e.add_nat64_prefix("2001:db8:64::/40".parse().unwrap())
        .unwrap();
    rust.embedded = e;
    let table = Table::from_bytes(bytes.clone()).unwrap();
    // Every IPv4 address of the table spelled under the /40 prefix, and some that are not.
    for v4 in ["192.0.2.1", "203.0.113.9", "198.51.100.1"] {
        let v4: Ipv4Addr = v4.parse().unwrap();
        let o = v4.octets();
        // RFC 6052, /40: bits 40-63 hold the first three octets, bits 72-79 the last.
        let mut b = prefix.octets();
        b[5..8].copy_from_slice(&o[..3]);
        b[9] = o[3];
        let addr = IpAddr::V6(Ipv6Addr::from(b));
        let want = rust.decide(&table, addr);
        let got = decide(&t, p, addr);
        assert_eq!(got.verdict, verdict_code(want.verdict()), "{addr}");
        assert_eq!(got.via, if want.via().is_some() { 5 } else { -1 }, "{addr}");
        if v4.octets()[0] != 198 {
            assert_eq!(want.via(), Some(Encoding::Nat64Operator), "{addr}");
        }
        // The default policy has no operator prefix.
        let plain = decide(&t, std::ptr::null(), addr);
        assert_eq!(plain.verdict, C2TRIE_VERDICT_PASS, "{addr}");
    }
    let mut n = 0usize;
    // SAFETY: a live handle and a valid out-pointer.
    assert_eq!(unsafe { c2trie_policy_nat64_count(p, &mut n) }, C2TRIE_OK);
    assert_eq!(n, 1);
    // SAFETY: a handle from `c2trie_policy_new`, freed once.
    unsafe { c2trie_policy_free(p) };
}

fn verdict_code(v: c2trie::Verdict) -> c_int {
    match v {
        c2trie::Verdict::Pass => C2TRIE_VERDICT_PASS,
        c2trie::Verdict::Allow => C2TRIE_VERDICT_ALLOW,
        c2trie::Verdict::Log => C2TRIE_VERDICT_LOG,
        _ => C2TRIE_VERDICT_BLOCK,
    }
}

/// What the callback saw: prefix, list, source, tag, risk, expires.
type Seen = Vec<(String, c_int, String, Option<String>, u8, u64)>;

unsafe extern "C" fn collect(user: *mut c_void, e: *const c2trie_match) -> c_int {
    // SAFETY: `user` is the `Seen` passed to the walk, used by nothing else meanwhile.
    let seen = unsafe { &mut *user.cast::<Seen>() };
    // SAFETY: `e` is valid during the call.
    let e = unsafe { &*e };
    let text = |p: *const std::ffi::c_char, len: usize| {
        // SAFETY: the library's strings: `len` bytes, valid while the table lives.
        let b = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
        String::from_utf8(b.to_vec()).unwrap()
    };
    let net = if e.family == C2TRIE_FAMILY_V4 {
        let [a, b, c, d, ..] = e.prefix;
        format!("{}/{}", Ipv4Addr::new(a, b, c, d), e.prefix_len)
    } else {
        format!("{}/{}", Ipv6Addr::from(e.prefix), e.prefix_len)
    };
    assert_eq!(e.size as usize, size_of::<c2trie_match>());
    assert_eq!(e.found, 1);
    seen.push((
        net,
        e.list,
        text(e.source, e.source_len),
        (!e.tag.is_null()).then(|| text(e.tag, e.tag_len)),
        e.risk,
        e.expires,
    ));
    c_int::from(seen.len() == 100)
}

#[test]
fn entries_are_the_tables_entries() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    let mut seen: Seen = Vec::new();
    // SAFETY: a live table, a callback that does not unwind out (a failed assert aborts
    // the test), and `seen` as its user data.
    let rc = unsafe {
        c2trie_table_for_each_entry(t.0, Some(collect), (&raw mut seen).cast::<c_void>())
    };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    let table = Table::from_bytes(bytes).unwrap();
    let want: Seen = table
        .entries()
        .map(|e| {
            (
                e.prefix().to_string(),
                e.list().index() as c_int,
                e.source().to_owned(),
                e.tag().map(str::to_owned),
                e.risk().unwrap_or(255),
                e.expires().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(seen, want);
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().any(|s| s.3.as_deref() == Some("fam")));
}

/// A newer caller whose `c2trie_match` grew by 16 bytes and whose decision grew by 8 more:
/// the library writes each part at the caller's offsets and leaves the new fields alone.
#[test]
fn a_newer_callers_larger_layout_is_written_at_its_offsets() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    const GROW: usize = 16;
    const EXTRA: usize = 8;
    let size = size_of::<c2trie_decision>() + GROW + EXTRA;
    let entry_at = offset_of!(c2trie_decision, entry);
    let mut buf = vec![0xa5a5_a5a5_a5a5_a5a5_u64; size / 8];
    let base = buf.as_mut_ptr().cast::<u8>();
    let entry_size = (size_of::<c2trie_match>() + GROW) as u32;
    // SAFETY: `buf` holds `size` bytes, aligned for u64 (so for the u32 size fields).
    unsafe {
        base.cast::<u32>().write(size as u32);
    }
    // SAFETY: as above; `entry_at` is within the buffer.
    unsafe {
        base.wrapping_add(entry_at).cast::<u32>().write(entry_size);
    }
    let a = c2trie_addr {
        family: C2TRIE_FAMILY_V4,
        bytes: [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    // SAFETY: the buffer is a decision in the caller's (newer) layout, `size` bytes.
    let rc = unsafe { c2trie_decide(t.0, std::ptr::null(), &a, base.cast()) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    // Field by field: the padding between this release's fields is not to be read.
    let byte = |at: usize| {
        let p = base.wrapping_add(at);
        // SAFETY: `at` lies within the buffer, on a field's byte or past the fields.
        unsafe { p.read() }
    };
    let u32_at = |at: usize| u32::from_ne_bytes(std::array::from_fn(|i| byte(at + i)));
    let u64_at = |at: usize| u64::from_ne_bytes(std::array::from_fn(|i| byte(at + i)));
    assert_eq!(u32_at(0) as usize, size, "size kept");
    assert_eq!(u32_at(4), C2TRIE_VERDICT_LOG as u32);
    assert_eq!(u32_at(entry_at), entry_size, "entry.size kept");
    assert_eq!(byte(entry_at + offset_of!(c2trie_match, found)), 1);
    let old_end = entry_at + size_of::<c2trie_match>();
    assert!(
        (old_end..old_end + GROW).all(|at| byte(at) == 0xa5),
        "the newer entry fields are untouched"
    );
    // list_version (7) follows the caller's larger entry.
    let tail = entry_at + entry_size as usize;
    assert_eq!(u64_at(tail), 7);
    assert_eq!(u64_at(tail + 8), 0, "generation");
    assert!(
        (size - EXTRA..size).all(|at| byte(at) == 0xa5),
        "newer decision fields untouched"
    );
}

/// Sizes smaller than this release's layouts (uninitialized structs) are refused, and the
/// struct is left as it was.
#[test]
fn small_sizes_are_refused_untouched() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    let a = c2trie_addr {
        family: C2TRIE_FAMILY_V4,
        bytes: [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    for size in [0, 4, 8, size_of::<c2trie_decision>() as u32 - 8] {
        let mut d = c2trie_decision {
            size,
            verdict: 1234,
            ..c2trie_decision::default()
        };
        // SAFETY: valid pointers; `d` is a full decision whatever its size field says.
        let rc = unsafe { c2trie_decide(t.0, std::ptr::null(), &a, &mut d) };
        assert_eq!(rc, C2TRIE_ERR_SIZE, "size {size}");
        assert_eq!((d.size, d.verdict), (size, 1234));
        assert!(
            last_error().contains("C2TRIE_DECISION_INIT"),
            "{}",
            last_error()
        );
    }
    let mut m = c2trie_matches::default();
    m.lists[0].size = 0;
    m.lists[1].found = 9;
    // SAFETY: valid pointers.
    let rc = unsafe { c2trie_lookup(t.0, &a, &mut m) };
    assert_eq!(rc, C2TRIE_ERR_SIZE);
    assert_eq!(m.lists[1].found, 9);
    // An init function makes any struct usable.
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { c2trie_matches_init(&mut m) }, C2TRIE_OK);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { c2trie_lookup(t.0, &a, &mut m) }, C2TRIE_OK);
    assert_eq!(m.lists[2].found, 1);
    assert_eq!(m.lists[2].list, C2TRIE_LIST_GLOBAL);
}

/// The small table with an IPv6 /64 and an IPv6 host: a prefix longer than /48 leaves the
/// table without prefix groups, so IPv6 batches take the library's interleaved path
/// (prefix-group tables look each address up in turn).
fn batch_table_bytes() -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(7);
    for (list, net, source) in [
        (List::Global, "192.0.2.1/32", "g.txt"),
        (List::Global, "2001:db8:bad::/48", "g6.txt"),
        (List::Blocked, "203.0.113.0/24", "b.txt"),
        (List::Approved, "2001:db8:bad:1::/64", "a6.txt"),
        (List::Blocked, "2001:db8:bae:2::7/128", "b6.txt"),
    ] {
        c.add(list, net.parse().unwrap(), source, Meta::default())
            .unwrap();
    }
    c.to_vec().unwrap()
}

/// Addresses around the batch table's entries: hits and misses in every list.
fn around_entries(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for i in 0..n {
        let b = (i % 251) as u8;
        let net = [[192, 0, 2], [203, 0, 113], [198, 51, 100]][i % 3];
        v4.extend_from_slice(&[net[0], net[1], net[2], b]);
        let (third, fourth) = (0xbad + (i % 2) as u16, (i % 3) as u16);
        let mut a = Ipv6Addr::new(0x2001, 0xdb8, third, fourth, 0, 0, 0, 0).octets();
        a[15] = b % 9;
        v6.extend_from_slice(&a);
    }
    (v4, v6)
}

/// `c2trie_lookup_v4_batch` or `c2trie_lookup_v6_batch`, by the address width.
fn lookup_batch(t: &CTable, width: usize, addrs: &[u8], out: *mut c2trie_matches) -> c_int {
    let n = addrs.len() / width;
    if width == 4 {
        // SAFETY: `addrs` holds `n` IPv4 addresses; the callers pass room for `n` results.
        unsafe { c2trie_lookup_v4_batch(t.0, addrs.as_ptr(), n, out) }
    } else {
        // SAFETY: as above, for IPv6.
        unsafe { c2trie_lookup_v6_batch(t.0, addrs.as_ptr(), n, out) }
    }
}

/// The single lookup of one address of `width` bytes.
fn lookup_one(t: &CTable, a: &[u8]) -> c2trie_matches {
    let mut one = c2trie_matches::default();
    let rc = if a.len() == 4 {
        // SAFETY: `a` holds one IPv4 address; `one` is initialized.
        unsafe { c2trie_lookup_v4(t.0, a.as_ptr().cast(), &mut one) }
    } else {
        // SAFETY: `a` holds one IPv6 address; `one` is initialized.
        unsafe { c2trie_lookup_v6(t.0, a.as_ptr().cast(), &mut one) }
    };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    one
}

/// A batch answers each address exactly as a single call does, across the blocks it hands
/// to the library's batch (256 addresses) and a last, partial one.
#[test]
fn batches_answer_as_single_calls_across_blocks() {
    let bytes = batch_table_bytes();
    let t = CTable::new(&bytes);
    // Two blocks and a partial one (one and a partial one under Miri, which is slow).
    let n = if cfg!(miri) { 256 + 37 } else { 256 * 2 + 37 };
    let (v4, v6) = around_entries(n);
    for (width, addrs) in [(4, &v4), (16, &v6)] {
        let mut batch = vec![c2trie_matches::default(); n];
        let rc = lookup_batch(&t, width, addrs, batch.as_mut_ptr());
        assert_eq!(rc, C2TRIE_OK, "{}", last_error());
        let mut found = 0;
        for (i, (a, b)) in addrs.chunks_exact(width).zip(&batch).enumerate() {
            assert_eq!(*b, lookup_one(&t, a), "address {i} of {width} bytes");
            found += b.lists.iter().filter(|m| m.found == 1).count();
        }
        // Both hits and misses were compared.
        assert!(
            found > n / 4 && found < n,
            "{found} matches in {n} addresses"
        );
    }
}

/// Where a decision is made: a table handle, or a live handle.
#[derive(Clone, Copy)]
enum Decider {
    Table(*const c2trie_table),
    Live(*const c2trie_live),
}

/// `c2trie_(live_)decide_v4_batch` or `_v6_batch`, by the address width.
fn decide_batch(
    on: Decider,
    p: *const c2trie_policy,
    width: usize,
    addrs: &[u8],
    out: &mut [c2trie_decision],
) -> c_int {
    let (n, a, o) = (addrs.len() / width, addrs.as_ptr(), out.as_mut_ptr());
    assert_eq!(n, out.len());
    match (on, width) {
        // SAFETY: a handle from this test; `addrs` holds `n` addresses of this width, `out` room for `n`.
        (Decider::Table(t), 4) => unsafe { c2trie_decide_v4_batch(t, p, a, n, o) },
        // SAFETY: a handle from this test; `addrs` holds `n` addresses of this width, `out` room for `n`.
        (Decider::Table(t), _) => unsafe { c2trie_decide_v6_batch(t, p, a, n, o) },
        // SAFETY: a handle from this test; `addrs` holds `n` addresses of this width, `out` room for `n`.
        (Decider::Live(l), 4) => unsafe { c2trie_live_decide_v4_batch(l, p, a, n, o) },
        // SAFETY: a handle from this test; `addrs` holds `n` addresses of this width, `out` room for `n`.
        (Decider::Live(l), _) => unsafe { c2trie_live_decide_v6_batch(l, p, a, n, o) },
    }
}

/// The single decision of one address of 4 or 16 bytes.
fn decide_one(on: Decider, p: *const c2trie_policy, a: &[u8]) -> c2trie_decision {
    let mut d = c2trie_decision::default();
    let (v4, v6) = (a.as_ptr().cast::<[u8; 4]>(), a.as_ptr().cast::<[u8; 16]>());
    let rc = match (on, a.len()) {
        // SAFETY: a handle from this test; `a` holds one address of this width; `d` is initialized.
        (Decider::Table(t), 4) => unsafe { c2trie_decide_v4(t, p, v4, &mut d) },
        // SAFETY: a handle from this test; `a` holds one address of this width; `d` is initialized.
        (Decider::Table(t), _) => unsafe { c2trie_decide_v6(t, p, v6, &mut d) },
        // SAFETY: a handle from this test; `a` holds one address of this width; `d` is initialized.
        (Decider::Live(l), 4) => unsafe { c2trie_live_decide_v4(l, p, v4, &mut d) },
        // SAFETY: a handle from this test; `a` holds one address of this width; `d` is initialized.
        (Decider::Live(l), _) => unsafe { c2trie_live_decide_v6(l, p, v6, &mut d) },
    };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    d
}

/// Batch decisions answer each address as single decisions do: against a table handle, and
/// against a live handle with a table in service and without one (failing open and
/// closed); under the default policy and one that blocks the global list; for batches of
/// 0, 1, 256 (one whole block the batch hands to the library) and 549 addresses (two and
/// a partial one; under Miri, which is slow, 40). A third of the IPv6 addresses are 6to4
/// spellings of blocked IPv4 ones, so that embedded addresses decide too.
#[test]
fn batch_decisions_are_single_decisions_across_blocks() {
    let bytes = batch_table_bytes();
    let t = CTable::new(&bytes);
    let sizes: &[usize] = if cfg!(miri) { &[40] } else { &[0, 1, 256, 549] };
    let n = sizes.iter().copied().max().unwrap_or(0);
    let (v4, mut v6) = around_entries(n);
    for i in (0..n.saturating_sub(1)).step_by(3) {
        // The next IPv4 address, in the blocked 203.0.113.0/24.
        let mut a = [0u8; 16];
        a[..2].copy_from_slice(&[0x20, 0x02]);
        a[2..6].copy_from_slice(&v4[i * 4 + 4..i * 4 + 8]);
        v6[i * 16..i * 16 + 16].copy_from_slice(&a);
    }
    let mut block = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { c2trie_policy_new(&mut block) }, C2TRIE_OK);
    // SAFETY: a live policy handle used by this thread only.
    let rc = unsafe { c2trie_policy_set_mode(block, C2TRIE_LIST_GLOBAL, C2TRIE_MODE_BLOCK) };
    assert_eq!(rc, C2TRIE_OK);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.c2t");
    std::fs::write(&path, &bytes).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut lives = [std::ptr::null_mut(); 3];
    for (live, fail) in
        lives
            .iter_mut()
            .zip([C2TRIE_FAIL_OPEN, C2TRIE_FAIL_OPEN, C2TRIE_FAIL_CLOSED])
    {
        // SAFETY: a valid out-pointer.
        let rc = unsafe { c2trie_live_new(fail, live) };
        assert_eq!(rc, C2TRIE_OK);
    }
    // SAFETY: a live handle and a NUL-terminated path; no report wanted.
    let rc = unsafe { c2trie_live_reload(lives[0], cpath.as_ptr(), 0, std::ptr::null_mut()) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    // Each handle with the verdicts its decisions must take: with a table, at least
    // these; without, these only (the fail mode's).
    let deciders = [
        (Decider::Table(t.0), true),
        (Decider::Live(lives[0]), true),
        (Decider::Live(lives[1]), false),
        (Decider::Live(lives[2]), false),
    ];
    for (on, with_table) in deciders {
        for p in [std::ptr::null(), block.cast_const()] {
            for (width, all) in [(4, &v4), (16, &v6)] {
                for &k in sizes {
                    let addrs = &all[..k * width];
                    let mut batch = vec![c2trie_decision::default(); k];
                    let rc = decide_batch(on, p, width, addrs, &mut batch);
                    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
                    let mut seen = std::collections::BTreeSet::new();
                    for (i, (a, b)) in addrs.chunks_exact(width).zip(&batch).enumerate() {
                        assert_eq!(
                            *b,
                            decide_one(on, p, a),
                            "address {i} of {k}, {width} bytes"
                        );
                        seen.insert((b.verdict, b.reason, b.via));
                    }
                    if k < 40 {
                        continue;
                    }
                    let reasons: Vec<c_int> = seen.iter().map(|s| s.1).collect();
                    if with_table {
                        // Listed and unlisted addresses, and for IPv6 an embedded address
                        // deciding.
                        assert!(seen.len() > 1, "{seen:?}");
                        assert!(width == 4 || seen.iter().any(|s| s.2 >= 0), "{seen:?}");
                        assert!(!reasons.contains(&C2TRIE_REASON_NO_TABLE), "{seen:?}");
                    } else {
                        assert_eq!(seen.len(), 1, "{seen:?}");
                        assert_eq!(reasons, [C2TRIE_REASON_NO_TABLE], "{seen:?}");
                    }
                }
            }
        }
    }
    for live in lives {
        // SAFETY: a handle from the calls above, freed once.
        unsafe { c2trie_live_free(live) };
    }
    // SAFETY: a handle from the calls above, freed once.
    unsafe { c2trie_policy_free(block) };
}

/// A newer caller's larger `c2trie_match` in a batch: each match is written at the
/// caller's offsets, its size kept, and the bytes past this release's fields untouched.
#[test]
fn a_batch_into_a_newer_callers_larger_matches_keeps_its_layout() {
    let bytes = batch_table_bytes();
    let t = CTable::new(&bytes);
    const GROW: usize = 16;
    let entry = size_of::<c2trie_match>() + GROW;
    let stride = C2TRIE_LISTS * entry;
    let n = if cfg!(miri) { 40 } else { 300 };
    let (v4, _) = around_entries(n);
    let mut buf = vec![0xa5a5_a5a5_a5a5_a5a5_u64; n * stride / 8];
    let base = buf.as_mut_ptr().cast::<u8>();
    for i in 0..n * C2TRIE_LISTS {
        let size = base.wrapping_add(i * entry).cast::<u32>();
        // SAFETY: match `i` starts `i * entry` bytes in, within the buffer, aligned for u64
        // (`entry` is a multiple of 8), so for its u32 size field.
        unsafe { size.write(entry as u32) };
    }
    let rc = lookup_batch(&t, 4, &v4, base.cast());
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    // Field by field: the padding between this release's fields is not to be read.
    let byte = |at: usize| {
        let p = base.wrapping_add(at);
        // SAFETY: `at` lies within the buffer, on a field's byte or past the fields.
        unsafe { p.read() }
    };
    let mut found = 0;
    for (i, a) in v4.chunks_exact(4).enumerate() {
        for (l, want) in lookup_one(&t, a).lists.iter().enumerate() {
            let field = |off: usize| byte(i * stride + l * entry + off);
            let size = u32::from_ne_bytes([field(0), field(1), field(2), field(3)]);
            assert_eq!(size as usize, entry);
            assert_eq!(
                field(offset_of!(c2trie_match, found)),
                want.found,
                "{i} list {l}"
            );
            assert_eq!(
                field(offset_of!(c2trie_match, prefix_len)),
                want.prefix_len,
                "{i} list {l}"
            );
            assert!(
                (size_of::<c2trie_match>()..entry).all(|off| field(off) == 0xa5),
                "{i} list {l}: the newer fields are untouched"
            );
            found += usize::from(want.found);
        }
    }
    assert!(found > n / 4, "{found} matches");
}

/// How much larger a newer caller's `c2trie_match` is, and how many bytes a newer
/// `c2trie_decision` adds after its fields, in the layout tests below.
const GROW: usize = 16;
const EXTRA: usize = 8;

/// `n` decisions in a newer caller's layout, each element's two sizes set and every other
/// byte `0xa5`; returns the buffer (u64s, for the size fields' alignment) and the stride.
fn newer_decisions(n: usize) -> (Vec<u64>, usize) {
    decisions_with(n, GROW, EXTRA)
}

/// `n` decisions whose `c2trie_match` is `grow` bytes larger than this release's and which
/// add `extra` bytes at the end, as [`newer_decisions`] (0 and 0: this release's layout).
fn decisions_with(n: usize, grow: usize, extra: usize) -> (Vec<u64>, usize) {
    let size = size_of::<c2trie_decision>() + grow + extra;
    let mut buf = vec![0xa5a5_a5a5_a5a5_a5a5_u64; (n * size).div_ceil(8)];
    let base = buf.as_mut_ptr().cast::<u8>();
    for i in 0..n {
        let at = base.wrapping_add(i * size);
        // SAFETY: element `i` lies within the buffer; its `size` is u32-aligned.
        unsafe { at.cast::<u32>().write(size as u32) };
        let entry = at.wrapping_add(offset_of!(c2trie_decision, entry));
        // SAFETY: as above, for `entry.size`.
        unsafe {
            entry
                .cast::<u32>()
                .write((size_of::<c2trie_match>() + grow) as u32)
        };
    }
    (buf, size)
}

/// `n` `c2trie_matches` of matches `entry` bytes long, each match's `size` set and every
/// other byte `0xa5` (u64s, for the size fields' alignment).
fn matches_with(n: usize, entry: usize) -> Vec<u64> {
    let mut buf = vec![0xa5a5_a5a5_a5a5_a5a5_u64; (n * C2TRIE_LISTS * entry).div_ceil(8)];
    for e in 0..n * C2TRIE_LISTS {
        buf[e * entry / 8] = entry as u64 | 0xa5a5_a5a5 << 32;
    }
    buf
}

/// The bytes `len` at `from` in `buf`, copied over the bytes at `to` of `into`.
fn copy_fields<T>(buf: &[u64], from: usize, into: &mut T, to: usize, len: usize) {
    assert!(from + len <= buf.len() * 8 && to + len <= size_of::<T>());
    // SAFETY: both ranges are in bounds (asserted); every field of `T` (integers and
    // pointers) is valid for any bytes, and the copy does not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            buf.as_ptr().cast::<u8>().wrapping_add(from),
            (into as *mut T).cast::<u8>().wrapping_add(to),
            len,
        );
    }
}

/// Decision `i` of a buffer from [`newer_decisions`], read back as this release's struct
/// (its fields from the caller's offsets; the sizes set to this release's).
fn read_newer_decision(buf: &[u64], i: usize, size: usize) -> c2trie_decision {
    let entry_at = offset_of!(c2trie_decision, entry);
    let tail_at = offset_of!(c2trie_decision, list_version);
    let tail = size_of::<c2trie_decision>() - tail_at;
    let mut d = c2trie_decision::default();
    let at = i * size;
    copy_fields(buf, at, &mut d, 0, entry_at);
    copy_fields(
        buf,
        at + entry_at,
        &mut d,
        entry_at,
        size_of::<c2trie_match>(),
    );
    let caller_tail = at + entry_at + size_of::<c2trie_match>() + GROW;
    copy_fields(buf, caller_tail, &mut d, tail_at, tail);
    assert_eq!(d.size as usize, size);
    assert_eq!(d.entry.size as usize, size_of::<c2trie_match>() + GROW);
    // The bytes past the fields this release knows are the caller's.
    let bytes = |from: usize, len: usize| {
        (from..from + len).all(|b| buf[b / 8].to_ne_bytes()[b % 8] == 0xa5)
    };
    assert!(bytes(at + entry_at + size_of::<c2trie_match>(), GROW));
    assert!(bytes(at + size - EXTRA, EXTRA));
    d.size = size_of::<c2trie_decision>() as u32;
    d.entry.size = size_of::<c2trie_match>() as u32;
    d
}

/// This release's layouts, which take a fast path (no size checks; one copy), are written
/// exactly as a newer caller's larger layout is through the checked, field-by-field path:
/// single and batch decisions (table handle, default and blocking policy) and single and
/// batch lookups, over hits in every list and misses, and IPv6 addresses embedding
/// listed IPv4 ones. A caller whose decision is this release's size but whose entry is
/// not is refused and left untouched.
#[test]
fn this_releases_layout_is_written_as_a_newer_callers() {
    let bytes = batch_table_bytes();
    let t = CTable::new(&bytes);
    let n = if cfg!(miri) { 24 } else { 300 };
    let (v4, mut v6) = around_entries(n);
    for i in (0..n.saturating_sub(1)).step_by(3) {
        v6[i * 16..i * 16 + 2].copy_from_slice(&[0x20, 0x02]);
        v6[i * 16 + 2..i * 16 + 6].copy_from_slice(&v4[i * 4 + 4..i * 4 + 8]);
    }
    let mut block = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { c2trie_policy_new(&mut block) }, C2TRIE_OK);
    // SAFETY: a live policy handle used by this thread only.
    let rc = unsafe { c2trie_policy_set_mode(block, C2TRIE_LIST_GLOBAL, C2TRIE_MODE_BLOCK) };
    assert_eq!(rc, C2TRIE_OK);
    let on = Decider::Table(t.0);
    let mut listed = 0;
    for p in [std::ptr::null(), block.cast_const()] {
        for (width, addrs) in [(4, &v4), (16, &v6)] {
            // Batches.
            let mut own = vec![c2trie_decision::default(); n];
            assert_eq!(decide_batch(on, p, width, addrs, &mut own), C2TRIE_OK);
            let (mut newer, size) = newer_decisions(n);
            let o = newer.as_mut_ptr().cast::<c2trie_decision>();
            let rc = match width {
                // SAFETY: `addrs` holds `n` addresses; `newer` holds `n` decisions of
                // `size` bytes, each initialized with its sizes.
                4 => unsafe { c2trie_decide_v4_batch(t.0, p, addrs.as_ptr(), n, o) },
                // SAFETY: as above.
                _ => unsafe { c2trie_decide_v6_batch(t.0, p, addrs.as_ptr(), n, o) },
            };
            assert_eq!(rc, C2TRIE_OK, "{}", last_error());
            for (i, (a, d)) in addrs.chunks_exact(width).zip(&own).enumerate() {
                assert_eq!(
                    *d,
                    read_newer_decision(&newer, i, size),
                    "batch, address {i}"
                );
                listed += usize::from(d.reason == C2TRIE_REASON_LISTED);
                // Singles.
                let (mut one, size) = newer_decisions(1);
                let o = one.as_mut_ptr().cast::<c2trie_decision>();
                let rc = match width {
                    // SAFETY: `a` holds one address; `one` one decision of `size` bytes.
                    4 => unsafe { c2trie_decide_v4(t.0, p, a.as_ptr().cast(), o) },
                    // SAFETY: as above.
                    _ => unsafe { c2trie_decide_v6(t.0, p, a.as_ptr().cast(), o) },
                };
                assert_eq!(rc, C2TRIE_OK, "{}", last_error());
                assert_eq!(decide_one(on, p, a), read_newer_decision(&one, 0, size));
            }
        }
    }
    assert!(
        listed > n / 2 && listed < 4 * n,
        "{listed} listed decisions"
    );
    // Lookups: three matches of this release's size against three larger ones.
    let entry = size_of::<c2trie_match>() + GROW;
    for (width, addrs) in [(4, &v4), (16, &v6)] {
        let mut own = vec![c2trie_matches::default(); n];
        assert_eq!(lookup_batch(&t, width, addrs, own.as_mut_ptr()), C2TRIE_OK);
        let mut newer = matches_with(n, entry);
        let rc = lookup_batch(&t, width, addrs, newer.as_mut_ptr().cast());
        assert_eq!(rc, C2TRIE_OK, "{}", last_error());
        for (i, (a, m)) in addrs.chunks_exact(width).zip(&own).enumerate() {
            assert_eq!(*m, lookup_one(&t, a), "address {i}");
            for (l, want) in m.lists.iter().enumerate() {
                let mut got = c2trie_match::default();
                let at = (i * C2TRIE_LISTS + l) * entry;
                copy_fields(&newer, at, &mut got, 0, size_of::<c2trie_match>());
                assert_eq!(got.size as usize, entry);
                got.size = want.size;
                assert_eq!(got, *want, "address {i}, list {l}");
            }
        }
    }
    // This release's total size with another entry size: refused, untouched.
    let a = &v4[..4];
    for entry in [size_of::<c2trie_match>() + 8, size_of::<c2trie_match>() - 8] {
        let mut d = c2trie_decision {
            verdict: 1234,
            ..c2trie_decision::default()
        };
        d.entry.size = entry as u32;
        // SAFETY: `a` holds one address; `d` is a full decision.
        let rc = unsafe { c2trie_decide_v4(t.0, std::ptr::null(), a.as_ptr().cast(), &mut d) };
        assert_eq!(rc, C2TRIE_ERR_SIZE, "entry size {entry}");
        assert_eq!((d.verdict, d.entry.size as usize), (1234, entry));
    }
    // SAFETY: a handle from the calls above, freed once.
    unsafe { c2trie_policy_free(block) };
}

/// The bytes of this release's structs that no field covers come back zero, whatever the
/// caller's memory held: matches (single and batch lookups), decisions (single and batch),
/// and the table's info.
#[test]
fn padding_comes_back_zero() {
    let bytes = batch_table_bytes();
    let t = CTable::new(&bytes);
    let match_gap = offset_of!(c2trie_match, prefix) + 16..offset_of!(c2trie_match, expires);
    let decision_gap = offset_of!(c2trie_decision, matched) + size_of::<c2trie_addr>()
        ..offset_of!(c2trie_decision, entry);
    let entry_gap = {
        let at = offset_of!(c2trie_decision, entry);
        at + match_gap.start..at + match_gap.end
    };
    let zero = |buf: &[u64], at: usize, gap: &std::ops::Range<usize>| {
        (at + gap.start..at + gap.end).all(|b| buf[b / 8].to_ne_bytes()[b % 8] == 0)
    };
    let n = 7;
    let (v4, _) = around_entries(n);
    // Matches: each of the three lists' sizes set, every other byte 0xa5.
    let m = size_of::<c2trie_match>();
    let mut out = matches_with(n, m);
    assert_eq!(lookup_batch(&t, 4, &v4, out.as_mut_ptr().cast()), C2TRIE_OK);
    assert!((0..n * C2TRIE_LISTS).all(|e| zero(&out, e * m, &match_gap)));
    let mut one = matches_with(1, m);
    // SAFETY: `v4` starts with one address; `one` is one initialized `c2trie_matches`.
    let rc = unsafe { c2trie_lookup_v4(t.0, v4.as_ptr().cast(), one.as_mut_ptr().cast()) };
    assert_eq!(rc, C2TRIE_OK);
    assert!((0..C2TRIE_LISTS).all(|l| zero(&one, l * m, &match_gap)));
    // Decisions: a batch and a single call, then the init function.
    let (mut out, d) = decisions_with(n, 0, 0);
    let o = out.as_mut_ptr().cast::<c2trie_decision>();
    // SAFETY: `v4` holds `n` addresses; `out` `n` initialized decisions.
    let rc = unsafe { c2trie_decide_v4_batch(t.0, std::ptr::null(), v4.as_ptr(), n, o) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    assert!((0..n).all(|i| zero(&out, i * d, &decision_gap) && zero(&out, i * d, &entry_gap)));
    let (mut out, _) = decisions_with(1, 0, 0);
    let o = out.as_mut_ptr().cast::<c2trie_decision>();
    // SAFETY: `v4` starts with one address; `o` is one initialized decision.
    let rc = unsafe { c2trie_decide_v4(t.0, std::ptr::null(), v4.as_ptr().cast(), o) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    assert!(zero(&out, 0, &decision_gap) && zero(&out, 0, &entry_gap));
    out.iter_mut().for_each(|w| *w = 0xa5a5_a5a5_a5a5_a5a5);
    // SAFETY: `o` is valid for writing one decision.
    assert_eq!(unsafe { c2trie_decision_init(o) }, C2TRIE_OK);
    assert!(zero(&out, 0, &decision_gap) && zero(&out, 0, &entry_gap));
    // The table's info: `format_version` (u32) before `list_version` (u64).
    let info_gap = offset_of!(c2trie_table_info, format_version) + 4
        ..offset_of!(c2trie_table_info, list_version);
    let mut info = vec![0xa5a5_a5a5_a5a5_a5a5_u64; size_of::<c2trie_table_info>().div_ceil(8)];
    // SAFETY: `info` holds one `c2trie_table_info`.
    let rc = unsafe { c2trie_table_get_info(t.0, info.as_mut_ptr().cast()) };
    assert_eq!(rc, C2TRIE_OK);
    assert!(zero(&info, 0, &info_gap));
}

/// `T`'s bytes.
fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: `v` is `size_of::<T>()` readable bytes; the C structs read here have their
    // gaps written (zeroed) by the library, or are the test's own 0xa5 bytes.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
}

/// A `T` whose every byte is 0xa5 (the C structs: integers and pointers, valid for any
/// bytes).
fn filled<T: Copy>() -> T {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `v` is `size_of::<T>()` writable bytes.
    unsafe {
        v.as_mut_ptr()
            .cast::<u8>()
            .write_bytes(0xa5, size_of::<T>())
    };
    // SAFETY: every byte is written, and any bytes are a valid value of these structs.
    unsafe { v.assume_init() }
}

/// The gaps `gaps` of `b` are zero.
fn gaps_zero(what: &str, b: &[u8], gaps: &[std::ops::Range<usize>]) {
    for g in gaps {
        assert!(
            b[g.clone()].iter().all(|x| *x == 0),
            "{what}: gap {g:?} holds {:02x?}",
            &b[g.clone()]
        );
    }
}

/// Leaves 0xa5 bytes on the stack below this frame, where a later call's locals land.
#[inline(never)]
fn dirty_stack() {
    let mut a = [0xa5u8; 4096];
    std::hint::black_box(&mut a);
}

/// The rest of the outputs' gaps: a reload's `c2trie_swap`, a live handle's info,
/// `c2trie_matches_init`, the match an entry callback gets, and a newer caller's larger
/// decision and matches (their grown bytes left as they were).
#[test]
fn padding_comes_back_zero_everywhere() {
    let bytes = batch_table_bytes();
    let match_gap = offset_of!(c2trie_match, prefix) + 16..offset_of!(c2trie_match, expires);
    let m = size_of::<c2trie_match>();
    // Reloads and live info.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.c2t");
    std::fs::write(&path, &bytes).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut live = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    let rc = unsafe { c2trie_live_new(C2TRIE_FAIL_OPEN, &mut live) };
    assert_eq!(rc, C2TRIE_OK);
    let swap_gap = offset_of!(c2trie_swap, had_previous) + 1..size_of::<c2trie_swap>();
    for _ in 0..2 {
        let mut s: c2trie_swap = filled();
        // SAFETY: a live handle, a NUL-terminated path and a valid out-pointer.
        let rc = unsafe { c2trie_live_reload(live, cpath.as_ptr(), C2TRIE_RELOAD_FORCE, &mut s) };
        assert_eq!(rc, C2TRIE_OK, "{}", last_error());
        gaps_zero("swap", bytes_of(&s), std::slice::from_ref(&swap_gap));
    }
    let mut info: c2trie_live_info = filled();
    // SAFETY: a live handle and a valid out-pointer.
    assert_eq!(unsafe { c2trie_live_get_info(live, &mut info) }, C2TRIE_OK);
    let info_gap =
        offset_of!(c2trie_live_info, has_table) + 1..offset_of!(c2trie_live_info, fail_mode);
    gaps_zero("live info", bytes_of(&info), &[info_gap]);
    // SAFETY: the handle from above, freed once.
    unsafe { c2trie_live_free(live) };
    // The init function.
    let mut ms: c2trie_matches = filled();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { c2trie_matches_init(&mut ms) }, C2TRIE_OK);
    let three: Vec<_> = (0..C2TRIE_LISTS)
        .map(|l| l * m + match_gap.start..l * m + match_gap.end)
        .collect();
    gaps_zero("matches_init", bytes_of(&ms), &three);
    // The entry callback.
    unsafe extern "C" fn keep(user: *mut c_void, e: *const c2trie_match) -> c_int {
        // SAFETY: `user` is the test's `Vec`, not otherwise used during the call.
        let seen = unsafe { &mut *user.cast::<Vec<Vec<u8>>>() };
        // SAFETY: `e` is one match, valid during the call.
        let e = unsafe { &*e };
        seen.push(bytes_of(e).to_vec());
        0
    }
    let t = CTable::new(&bytes);
    dirty_stack();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    // SAFETY: a table handle, a callback and its user pointer, valid during the call.
    let rc = unsafe { c2trie_table_for_each_entry(t.0, Some(keep), (&raw mut seen).cast()) };
    assert_eq!(rc, C2TRIE_OK);
    assert_eq!(seen.len(), 5);
    for e in &seen {
        gaps_zero("entry", e, std::slice::from_ref(&match_gap));
    }
    // A newer caller's decision and matches, through the field-by-field path.
    let (mut newer, size) = newer_decisions(1);
    let a = &around_entries(1).0;
    let o = newer.as_mut_ptr().cast::<c2trie_decision>();
    // SAFETY: `a` holds one address; `newer` one decision of `size` bytes, sizes set.
    let rc = unsafe { c2trie_decide_v4(t.0, std::ptr::null(), a.as_ptr().cast(), o) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    let at = offset_of!(c2trie_decision, entry);
    let decision_gap = offset_of!(c2trie_decision, matched) + size_of::<c2trie_addr>()..at;
    let out: Vec<u8> = newer.iter().flat_map(|w| w.to_ne_bytes()).collect();
    gaps_zero(
        "newer decision",
        &out[..size],
        &[decision_gap, at + match_gap.start..at + match_gap.end],
    );
    // `read_newer_decision` checks the grown bytes were left alone.
    read_newer_decision(&newer, 0, size);
    let entry = m + GROW;
    let mut mb = matches_with(1, entry);
    // SAFETY: `a` holds one address; `mb` one `c2trie_matches` of `entry`-byte matches.
    let rc = unsafe { c2trie_lookup_v4(t.0, a.as_ptr().cast(), mb.as_mut_ptr().cast()) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    let out: Vec<u8> = mb.iter().flat_map(|w| w.to_ne_bytes()).collect();
    for l in 0..C2TRIE_LISTS {
        gaps_zero(
            "newer matches",
            &out,
            std::slice::from_ref(&(l * entry + match_gap.start..l * entry + match_gap.end)),
        );
        assert!(
            out[l * entry + m..(l + 1) * entry]
                .iter()
                .all(|b| *b == 0xa5)
        );
    }
}

/// Each size error names the field at fault as C spells it (`out->entry.size`,
/// `out[2].lists[1].size`), its value, the type whose `sizeof` it should hold and the fix,
/// so that a C caller can find the struct it forgot to initialize: single and batch
/// decisions and lookups, of the table, of each family and of a live handle, with sizes
/// too small, misaligned, disagreeing between matches or between elements. A newer
/// caller's decision whose size just fits its larger entry is accepted and written.
#[test]
fn size_errors_name_the_field_and_the_fix() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    let a = c2trie_addr {
        family: C2TRIE_FAMILY_V4,
        bytes: [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    let (own, o) = (size_of::<c2trie_decision>(), size_of::<c2trie_match>());
    const D_INIT: &str = "C2TRIE_DECISION_INIT or c2trie_decision_init";
    const M_INIT: &str = "C2TRIE_MATCHES_INIT or c2trie_matches_init";
    let small = |field: &str, size: usize, ty: &str, min: usize, init: &str| {
        format!(
            "{field} is {size}; expected sizeof({ty}) (at least {min}, a multiple of 8): \
             initialize it with {init}"
        )
    };
    let decision = |field: &str, size: usize| small(field, size, "c2trie_decision", own, D_INIT);
    let entry = |field: &str, size: usize| small(field, size, "c2trie_match", o, D_INIT);
    let matches = |field: &str, size: usize| small(field, size, "c2trie_match", o, M_INIT);
    let too_small = |at: &str, size: usize, entry: usize| {
        format!(
            "{at}size {size} is too small for an entry of {entry} bytes: initialize it with \
             {D_INIT}"
        )
    };
    let differs = |at: &str, list: usize, size: usize, first: usize| {
        format!(
            "{at}lists[{list}].size {size} differs from {at}lists[0].size {first}: initialize \
             it with {M_INIT}"
        )
    };
    let refused = |rc: c_int, want: &str| {
        assert_eq!(rc, C2TRIE_ERR_SIZE, "{want}");
        assert_eq!(last_error(), want);
    };
    let set = |p: *mut u8, at: usize, size: usize| {
        // SAFETY: every caller's `at` is a size field inside its buffer, u32-aligned.
        unsafe { p.wrapping_add(at).cast::<u32>().write(size as u32) }
    };
    let entry_at = offset_of!(c2trie_decision, entry);
    // A newer caller's decision, larger than any size declared here, with these sizes.
    let decision_buf = |size: usize, entry: usize| {
        let (mut buf, _) = decisions_with(1, 64, 64);
        let p = buf.as_mut_ptr().cast::<u8>();
        set(p, 0, size);
        set(p, entry_at, entry);
        buf
    };
    let mut live = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    let rc = unsafe { c2trie_live_new(C2TRIE_FAIL_OPEN, &mut live) };
    assert_eq!(rc, C2TRIE_OK);
    let (v4, v6) = ([192u8, 0, 2, 1], [0x20u8; 16]);
    let null = std::ptr::null();
    for (size, entry_size, want) in [
        (8, o, decision("out->size", 8)),
        (own + 4, o, decision("out->size", own + 4)),
        (own, 4, entry("out->entry.size", 4)),
        (own, o + 4, entry("out->entry.size", o + 4)),
        (own, o + 8, too_small("out->", own, o + 8)),
        (own + 8, o + 64, too_small("out->", own + 8, o + 64)),
    ] {
        let mut buf = decision_buf(size, entry_size);
        let p = buf.as_mut_ptr().cast::<c2trie_decision>();
        // Valid pointers, 4 or 16 address bytes, a live handle; the
        // buffer is larger than any size declared.
        let calls: [&dyn Fn() -> c_int; 6] = [
            // SAFETY: as said above.
            &|| unsafe { c2trie_decide(t.0, null, &a, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_decide_v4(t.0, null, &v4, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_decide_v6(t.0, null, &v6, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_live_decide(live, null, &a, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_live_decide_v4(live, null, &v4, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_live_decide_v6(live, null, &v6, p) },
        ];
        for call in calls {
            refused(call(), &want);
        }
    }
    // Just large enough for its larger entry: accepted, and the fields after the entry
    // written at the caller's offsets (the table's list version is 7).
    let mut buf = decision_buf(own + 8, o + 8);
    let p = buf.as_mut_ptr().cast::<c2trie_decision>();
    // SAFETY: valid pointers.
    let rc = unsafe { c2trie_decide(t.0, null, &a, p) };
    assert_eq!(rc, C2TRIE_OK, "{}", last_error());
    let version_at = offset_of!(c2trie_decision, list_version) + 8;
    assert_eq!(buf[version_at / 8], 7);
    for (sizes, want) in [
        ([0, o, o], matches("out->lists[0].size", 0)),
        ([o + 4, o, o], matches("out->lists[0].size", o + 4)),
        ([o, 4, o], matches("out->lists[1].size", 4)),
        ([o, o, 4], matches("out->lists[2].size", 4)),
        ([o, o + 8, o], differs("out->", 1, o + 8, o)),
        ([o + 8, o + 8, o], differs("out->", 2, o, o + 8)),
    ] {
        let mut buf = matches_with(1, o + 64);
        let p = buf.as_mut_ptr().cast::<u8>();
        for (i, s) in sizes.iter().enumerate() {
            set(p, i * sizes[0].max(8), *s);
        }
        let p = p.cast::<c2trie_matches>();
        // Valid pointers, 4 or 16 address bytes; the buffer holds
        // three matches of any size declared.
        let calls: [&dyn Fn() -> c_int; 3] = [
            // SAFETY: as said above.
            &|| unsafe { c2trie_lookup(t.0, &a, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_lookup_v4(t.0, &v4, p) },
            // SAFETY: as said above.
            &|| unsafe { c2trie_lookup_v6(t.0, &v6, p) },
        ];
        for call in calls {
            refused(call(), &want);
        }
    }
    // Batches: the element at fault is named, the first as any other, and a later element
    // whose first size is not the first element's is read no further.
    let addrs = v4.repeat(4);
    let decide_batch =
        |(grow, extra): (usize, usize), edit: &dyn Fn(*mut u8, usize), want: &str| {
            let (mut buf, stride) = decisions_with(4, grow, extra);
            let p = buf.as_mut_ptr().cast::<u8>();
            edit(p, stride);
            let p = p.cast::<c2trie_decision>();
            // Valid pointers: four addresses, four decisions.
            let calls: [&dyn Fn() -> c_int; 2] = [
                // SAFETY: as said above.
                &|| unsafe { c2trie_decide_v4_batch(t.0, null, addrs.as_ptr(), 4, p) },
                // SAFETY: as said above.
                &|| unsafe { c2trie_live_decide_v4_batch(live, null, addrs.as_ptr(), 4, p) },
            ];
            for call in calls {
                refused(call(), want);
            }
        };
    let element = |i: usize, field: &str, this: usize, first: usize| {
        format!(
            "out[{i}].{field} {this} differs from out[0].{field} {first}: initialize every \
             element"
        )
    };
    decide_batch((0, 0), &|p, _| set(p, 0, 4), &decision("out[0].size", 4));
    decide_batch(
        (0, 0),
        &|p, s| set(p, 2 * s, 4),
        &element(2, "size", 4, own),
    );
    decide_batch(
        (0, 0),
        &|p, s| set(p, 3 * s, own + 8),
        &element(3, "size", own + 8, own),
    );
    decide_batch(
        (0, 0),
        &|p, s| set(p, s, 1 << 30),
        &element(1, "size", 1 << 30, own),
    );
    decide_batch(
        (0, 0),
        &|p, s| set(p, s + entry_at, o + 8),
        &too_small("out[1].", own, o + 8),
    );
    // An element whose entry alone differs, each element valid on its own.
    decide_batch(
        (0, 8),
        &|p, s| set(p, 3 * s + entry_at, o + 8),
        &element(3, "entry.size", o + 8, o),
    );
    // SAFETY: the handle from `c2trie_live_new`, freed once.
    unsafe { c2trie_live_free(live) };
    let lookup_batch = |edit: &dyn Fn(*mut u8), want: &str| {
        let mut buf = matches_with(4, o);
        let p = buf.as_mut_ptr().cast::<u8>();
        edit(p);
        // SAFETY: valid pointers: four addresses, four matches (a larger element's matches
        // end inside the last element).
        let rc = unsafe { c2trie_lookup_v4_batch(t.0, addrs.as_ptr(), 4, p.cast()) };
        refused(rc, want);
    };
    let m = C2TRIE_LISTS * o;
    let lists0 = "lists[0].size";
    lookup_batch(&|p| set(p, 0, 0), &matches("out[0].lists[0].size", 0));
    lookup_batch(
        &|p| set(p, 3 * m + o, o + 8),
        &differs("out[3].", 1, o + 8, o),
    );
    lookup_batch(
        &|p| (0..C2TRIE_LISTS).for_each(|l| set(p, 2 * m + l * (o + 8), o + 8)),
        &element(2, lists0, o + 8, o),
    );
    // An uninitialized later element claiming a huge size: refused, not read through.
    lookup_batch(&|p| set(p, m, 1 << 30), &element(1, lists0, 1 << 30, o));
}

/// A batch count whose addresses could not fit in one object is refused before `addrs` is
/// read or `out` written, with the count, the width and the parameter in the message.
#[test]
fn a_batch_count_past_any_buffer_is_refused_by_name() {
    let bytes = table_bytes();
    let t = CTable::new(&bytes);
    let addrs = [192u8, 0, 2, 1];
    let out: *mut c2trie_matches = std::ptr::null_mut();
    for (n, width) in [(usize::MAX / 4 + 1, 4), (usize::MAX / 16 + 1, 16)] {
        let rc = if width == 4 {
            // SAFETY: the count is refused before `addrs` is read or `out` written.
            unsafe { c2trie_lookup_v4_batch(t.0, addrs.as_ptr(), n, out) }
        } else {
            // SAFETY: as above.
            unsafe { c2trie_lookup_v6_batch(t.0, addrs.as_ptr(), n, out) }
        };
        assert_eq!(rc, C2TRIE_ERR_ARGUMENT);
        assert_eq!(
            last_error(),
            format!(
                "n is {n}: {n} addresses of {width} bytes each in addrs are more than \
                 PTRDIFF_MAX bytes"
            )
        );
    }
}
