//! The WFP plan against the policy it enforces: for every address checked, a filter on a
//! layer covers it if and only if `Policy::decide` blocks it (the documented gaps aside, each
//! checked to be one); the prefix cover is minimal; diffs turn one plan into the other.
//! Random tables with random modes and encodings, then the real feeds in `../shared/data`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use c2trie::feed::{self, Feed, FeedOptions};
use c2trie::policy::{EmbeddedV4, Encoding};
use c2trie::wfp::{Exemption, Filter, Layer, Plan, Remote, Shape};
use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
use ipnet::{IpNet, Ipv6Net};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Checks

fn int(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn addr(v6: bool, a: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::from(a as u32))
    }
}

fn bounds(f: &Filter) -> (u128, u128) {
    let (a, b) = f.remote.bounds();
    (int(a), int(b))
}

/// The u octet (bits 64–71) of an IPv6 address.
fn u_octet(a: Ipv6Addr) -> u8 {
    (u128::from(a) >> 56) as u8
}

/// Why a blocked address may be left uncovered: only through an encoding the plan cannot
/// express for it. Returns a description, or `None` when nothing excuses it.
fn excuse(table: &Table, policy: &Policy, plan: &Plan, a: IpAddr) -> Option<String> {
    let IpAddr::V6(v6) = a else { return None };
    let mut literal = policy.clone();
    literal.embedded = EmbeddedV4::none();
    if literal.decide(table, a).verdict() == Verdict::Block {
        return None;
    }
    let gap_for = |e: Encoding| plan.gaps().iter().any(|g| g.encoding == e);
    let mut why = Vec::new();
    for enc in Encoding::ALL {
        if !policy.embedded.is_enabled(enc) {
            continue;
        }
        let mut one = policy.clone();
        one.embedded = EmbeddedV4::none().with(enc, true);
        for p in policy.embedded.nat64_prefixes() {
            one.embedded.add_nat64_prefix(*p).unwrap();
        }
        if one.decide(table, a).verdict() != Verdict::Block {
            continue;
        }
        let excused = match enc {
            Encoding::TeredoClient | Encoding::Isatap | Encoding::Mapped => gap_for(enc),
            Encoding::Nat64LocalUse => gap_for(enc) && u_octet(v6) != 0,
            Encoding::Nat64Operator => {
                // Excused only through a prefix shorter than /96 holding the address.
                gap_for(enc)
                    && u_octet(v6) != 0
                    && policy
                        .embedded
                        .nat64_prefixes()
                        .iter()
                        .any(|p| p.prefix_len() < 96 && p.contains(&v6))
            }
            _ => false,
        };
        if !excused {
            return None;
        }
        why.push(enc.as_str());
    }
    (!why.is_empty()).then(|| why.join(","))
}

/// For each address and each layer of its family: covered ⇔ Block (gaps excused). Returns
/// (addresses checked, blocked ones excused).
fn check_equivalence(
    table: &Table,
    policy: &Policy,
    plan: &Plan,
    addrs: &[IpAddr],
) -> Result<(usize, usize), String> {
    let mut excused = 0;
    let exempt = Exemption::defaults();
    for &a in addrs {
        if exempt.iter().any(|e| e.net.contains(&a)) {
            // Never blocked by default, whatever the policy says.
            for layer in Layer::ALL {
                if plan.covers(layer, a) {
                    return Err(format!("{a} is exempt but covered on {layer}"));
                }
            }
            continue;
        }
        if let IpAddr::V6(v6) = a
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            // A dual-stack socket's IPv4 traffic: WFP classifies it at the IPv4 layers.
            let block = policy.decide(table, IpAddr::V4(v4)).verdict() == Verdict::Block
                && !exempt.iter().any(|e| e.net.contains(&IpAddr::V4(v4)));
            if plan.blocks(a) != block {
                return Err(format!(
                    "{a}: blocks {} but IPv4 {v4} blocked {block}",
                    plan.blocks(a)
                ));
            }
            continue;
        }
        let d = policy.decide(table, a);
        let block = d.verdict() == Verdict::Block;
        for layer in Layer::ALL.into_iter().filter(|l| l.is_v6() == a.is_ipv6()) {
            let covered = plan.covers(layer, a);
            if covered && !block {
                return Err(format!(
                    "{a} covered on {layer} by {:?} but decided {} ({:?})",
                    plan.filter_for(layer, a),
                    d.verdict(),
                    d.prefix()
                ));
            }
            if block && !covered {
                match excuse(table, policy, plan, a) {
                    Some(_) => excused += 1,
                    None => {
                        return Err(format!(
                            "{a} decided block ({:?} via {:?}) but not covered on {layer}",
                            d.prefix(),
                            d.via()
                        ));
                    }
                }
            }
        }
    }
    Ok((addrs.len(), excused))
}

/// Sorted, disjoint per layer, same filters on both layers of a family; for a prefix plan,
/// minimal: no filter's parent block is wholly covered (so no two could be merged and no
/// fewer prefixes could cover the same set).
fn check_structure(plan: &Plan, shape: Shape) -> Result<(), String> {
    let fs = plan.filters();
    if !fs.windows(2).all(|w| w[0] < w[1]) {
        return Err("filters not sorted or repeated".into());
    }
    for layer in Layer::ALL {
        let l = plan.layer(layer);
        if l.iter()
            .any(|f| f.layer != layer || f.remote.is_v6() != layer.is_v6())
        {
            return Err(format!("wrong layer or family on {layer}"));
        }
        for w in l.windows(2) {
            if bounds(&w[0]).1 >= bounds(&w[1]).0 {
                return Err(format!("overlap on {layer}: {} {}", w[0], w[1]));
            }
            if shape == Shape::Ranges && bounds(&w[0]).1 + 1 == bounds(&w[1]).0 {
                return Err(format!("adjacent ranges on {layer}: {} {}", w[0], w[1]));
            }
        }
        // Merge the layer's intervals to test parent coverage.
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for f in l {
            let (lo, hi) = bounds(f);
            match merged.last_mut() {
                Some(m) if m.1.checked_add(1) == Some(lo) => m.1 = hi,
                _ => merged.push((lo, hi)),
            }
        }
        let covered = |lo: u128, hi: u128| {
            let i = merged.partition_point(|m| m.0 <= lo);
            i > 0 && merged[i - 1].1 >= hi
        };
        for f in l {
            match (shape, f.remote) {
                (Shape::Prefixes, Remote::Range(..)) => return Err(format!("range {f}")),
                (_, Remote::Prefix(n)) if n.prefix_len() > 0 => {
                    let parent = n.supernet().expect("len > 0");
                    let (lo, hi) = (int(parent.network()), int(parent.broadcast()));
                    if covered(lo, hi) {
                        return Err(format!("{f} is half of a covered {parent}"));
                    }
                }
                (Shape::Ranges, Remote::Range(a, b)) => {
                    // A range is used only where one prefix would not do.
                    let len = (int(b) - int(a)).wrapping_add(1);
                    if len.is_power_of_two() && int(a).is_multiple_of(len) {
                        return Err(format!("range {f} is a prefix"));
                    }
                }
                _ => {}
            }
        }
    }
    for (a, b) in [
        (Layer::AleAuthConnectV4, Layer::AleAuthRecvAcceptV4),
        (Layer::AleAuthConnectV6, Layer::AleAuthRecvAcceptV6),
    ] {
        let ra: Vec<_> = plan.layer(a).iter().map(|f| f.remote).collect();
        let rb: Vec<_> = plan.layer(b).iter().map(|f| f.remote).collect();
        if ra != rb {
            return Err(format!("{a} and {b} differ"));
        }
    }
    Ok(())
}

fn check_diff(old: &Plan, new: &Plan) -> Result<(), String> {
    let d = Plan::diff(old, new);
    let mut set: BTreeSet<Filter> = old.filters().iter().copied().collect();
    for f in &d.delete {
        if !set.remove(f) {
            return Err(format!("delete of absent {f}"));
        }
    }
    for f in &d.add {
        if !set.insert(*f) {
            return Err(format!("add of present {f}"));
        }
    }
    let want: BTreeSet<Filter> = new.filters().iter().copied().collect();
    if set != want {
        return Err("old - delete + add != new".into());
    }
    if !Plan::diff(new, new).is_empty() || Plan::diff(new, old).add != d.delete {
        return Err("diff not symmetric".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Addresses to check

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn wide(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

/// The IPv6 spellings of `v4` under every encoding, with `noise` in the free bits (and in
/// the u octet where `u` is set).
fn spellings(v4: u32, noise: u128, u: bool, nat64: &[Ipv6Net]) -> Vec<Ipv6Addr> {
    let v = u128::from(v4);
    let mut out = vec![
        (0xffff << 32) | v,
        v,
        (0xffff_0000 << 32) | v,
        (0x0064_ff9b << 96) | v,
        (0x2002 << 112) | (v << 80) | (noise & ((1 << 80) - 1)),
        (0x2001_0000 << 96) | (v << 64) | (noise & ((1 << 64) - 1)),
        // Teredo client: free server and port bits, inverted address.
        (0x2001_0000 << 96) | ((noise & ((1 << 64) - 1)) << 32) | u128::from(!v4),
    ];
    let rfc6052 = |prefix: u128, len: u32| -> u128 {
        let b = v4.to_be_bytes().map(u128::from);
        let uo = if u { (noise >> 8) & 0xff } else { 0 };
        let (mid, tail) = match len {
            32 => (
                (b[0] << 88) | (b[1] << 80) | (b[2] << 72) | (b[3] << 64),
                64,
            ),
            40 => (
                (b[0] << 80) | (b[1] << 72) | (b[2] << 64) | (b[3] << 48),
                48,
            ),
            48 => (
                (b[0] << 72) | (b[1] << 64) | (b[2] << 48) | (b[3] << 40),
                40,
            ),
            56 => (
                (b[0] << 64) | (b[1] << 48) | (b[2] << 40) | (b[3] << 32),
                32,
            ),
            64 => (
                (b[0] << 48) | (b[1] << 40) | (b[2] << 32) | (b[3] << 24),
                24,
            ),
            _ => (v, 0),
        };
        let u_bits = if len < 96 { uo << 56 } else { 0 };
        prefix | mid | u_bits | (noise & ((1u128 << tail) - 1) & !(0xff << 56))
    };
    out.push(rfc6052(0x0064_ff9b_0001 << 80, 48));
    for p in nat64 {
        out.push(rfc6052(u128::from(p.network()), u32::from(p.prefix_len())));
    }
    out.into_iter().map(Ipv6Addr::from).collect()
}

/// Every filter's and entry's first and last address and the ones just outside, the IPv6
/// spellings of the IPv4 ones, then `random` random addresses inside and around entries.
fn addresses(table: &Table, plan: &Plan, policy: &Policy, random: usize, seed: u64) -> Vec<IpAddr> {
    let mut rng = Rng(seed | 1);
    let nat64 = policy.embedded.nat64_prefixes();
    let mut edges: Vec<(bool, u128, u128)> = plan
        .filters()
        .iter()
        .filter(|f| f.layer == Layer::AleAuthConnectV4 || f.layer == Layer::AleAuthConnectV6)
        .map(|f| {
            let (lo, hi) = bounds(f);
            (f.remote.is_v6(), lo, hi)
        })
        .collect();
    let entries: Vec<IpNet> = table.entries().map(|e| e.prefix()).collect();
    for n in &entries {
        edges.push((n.addr().is_ipv6(), int(n.network()), int(n.broadcast())));
    }
    let mut out = Vec::new();
    for &(v6, lo, hi) in &edges {
        let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        for a in [lo, hi] {
            out.push(addr(v6, a));
        }
        if lo > 0 {
            out.push(addr(v6, lo - 1));
        }
        if hi < max {
            out.push(addr(v6, hi + 1));
        }
    }
    let v4s: Vec<u32> = out
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(v) => Some(u32::from(*v)),
            IpAddr::V6(_) => None,
        })
        .collect();
    for v in v4s {
        let noise = rng.wide();
        let u = rng.next().is_multiple_of(4);
        out.extend(spellings(v, noise, u, nat64).into_iter().map(IpAddr::V6));
    }
    for _ in 0..random {
        let r = rng.next();
        let a = match (entries.get((r as usize) % entries.len().max(1)), r % 5) {
            (_, 0) => IpAddr::V4(Ipv4Addr::from((r >> 32) as u32)),
            (_, 1) => IpAddr::V6(Ipv6Addr::from(rng.wide())),
            (Some(n), _) => {
                let span = int(n.broadcast()) - int(n.network());
                let off = rng.wide() % span.saturating_add(1).max(1);
                let a = addr(n.addr().is_ipv6(), int(n.network()) + off);
                if let (IpAddr::V4(v), true) = (a, r % 5 == 2) {
                    let sp = spellings(u32::from(v), rng.wide(), r.is_multiple_of(3), nat64);
                    IpAddr::V6(sp[(r as usize >> 8) % sp.len()])
                } else {
                    a
                }
            }
            (None, _) => IpAddr::V6(Ipv6Addr::from(rng.wide())),
        };
        out.push(a);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Random tables

fn build(entries: &[(List, IpNet)]) -> Table {
    let mut c = Compiler::new();
    // Random tables hold prefixes as broad as /0 in every list: no poisoned-feed guard.
    c.created_unix(0).limits(c2trie::compile::Limits::none());
    for (list, net) in entries {
        c.add(*list, *net, "t", Meta::default()).unwrap();
    }
    Table::from_bytes(c.to_vec().unwrap()).unwrap()
}

fn list() -> impl Strategy<Value = List> {
    prop_oneof![
        Just(List::Approved),
        Just(List::Blocked),
        Just(List::Global)
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Off), Just(Mode::LogOnly), Just(Mode::Block)]
}

/// IPv4 prefixes crowded into a few small regions, so that they overlap and abut.
fn v4net() -> impl Strategy<Value = IpNet> {
    (
        prop_oneof![
            Just(0u32),
            Just(0x0a00_0000),
            Just(0xc000_0200),
            Just(0xffff_ff00)
        ],
        any::<u16>(),
        prop_oneof![2 => 20u8..=32, 1 => 0u8..20],
    )
        .prop_map(|(base, low, len)| {
            let a = Ipv4Addr::from(base | u32::from(low & 0x3ff));
            IpNet::new(IpAddr::V4(a), len).unwrap().trunc()
        })
}

/// IPv6 prefixes in and around the regions that embed IPv4 addresses.
fn v6net() -> impl Strategy<Value = IpNet> {
    (
        prop_oneof![
            Just(0xffffu128 << 32),
            Just(0u128),
            Just(0x0064_ff9b << 96),
            Just(0x0064_ff9b_0001 << 80),
            Just(0x2002u128 << 112),
            Just(0x2001_0000u128 << 96),
            Just(0x2001_0db8u128 << 96),
        ],
        any::<u128>(),
        prop_oneof![1 => 0u8..=64, 3 => 64u8..=128],
    )
        .prop_map(|(base, noise, len)| {
            let region_bits = if base == 0 || base == 0xffff << 32 {
                32
            } else {
                80
            };
            let a = Ipv6Addr::from(base | (noise & ((1u128 << region_bits) - 1)));
            IpNet::new(IpAddr::V6(a), len).unwrap().trunc()
        })
}

fn entries() -> impl Strategy<Value = Vec<(List, IpNet)>> {
    prop::collection::vec((list(), prop_oneof![3 => v4net(), 2 => v6net()]), 0..40)
}

fn policy() -> impl Strategy<Value = Policy> {
    (mode(), mode(), any::<u16>(), 0usize..8).prop_map(|(g, b, enc, nat64)| {
        let mut p = Policy::new(g, b);
        let mut e = EmbeddedV4::none();
        for (i, x) in Encoding::ALL.into_iter().enumerate() {
            e.set(x, enc & (1 << i) != 0 || enc & 0x8000 != 0);
        }
        let prefixes = [
            "2001:db8::/32",
            "2001:db8:100::/40",
            "2001:db8:122::/48",
            "2001:db8:122:300::/56",
            "2001:db8:122:344::/64",
            "2001:db8:122:344::/96",
        ];
        if let Some(px) = prefixes.get(nat64) {
            e.add_nat64_prefix(px.parse().unwrap()).unwrap();
        }
        p.embedded = e;
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn covered_iff_blocked_on_random_tables(es in entries(), p in policy(), seed in any::<u64>()) {
        let table = build(&es);
        for shape in [Shape::Prefixes, Shape::Ranges] {
            let plan = Plan::new(&table, &p, shape);
            check_structure(&plan, shape).map_err(TestCaseError::fail)?;
            let addrs = addresses(&table, &plan, &p, 300, seed);
            check_equivalence(&table, &p, &plan, &addrs).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn exact_when_no_gap_encoding_is_on(es in entries(), g in mode(), b in mode(), seed in any::<u64>()) {
        let table = build(&es);
        let mut p = Policy::new(g, b);
        p.embedded
            .set(Encoding::TeredoClient, false)
            .set(Encoding::Isatap, false)
            .set(Encoding::Nat64LocalUse, false);
        let plan = Plan::new(&table, &p, Shape::Prefixes);
        // The one gap no encoding setting removes: IPv6 entries over IPv4-mapped space.
        let mapped = plan.gaps().iter().any(|g| g.encoding == Encoding::Mapped);
        prop_assert!(plan.gaps().iter().all(|g| g.encoding == Encoding::Mapped));
        let addrs = addresses(&table, &plan, &p, 300, seed);
        let (_, excused) = check_equivalence(&table, &p, &plan, &addrs).map_err(TestCaseError::fail)?;
        if !mapped {
            prop_assert_eq!(excused, 0);
        }
    }

    #[test]
    fn diff_turns_old_into_new(a in entries(), b in entries(), p in policy()) {
        let (ta, tb) = (build(&a), build(&b));
        for shape in [Shape::Prefixes, Shape::Ranges] {
            let (old, new) = (Plan::new(&ta, &p, shape), Plan::new(&tb, &p, shape));
            check_diff(&old, &new).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn ranges_and_prefixes_block_the_same_addresses(es in entries(), p in policy(), seed in any::<u64>()) {
        let table = build(&es);
        let pre = Plan::new(&table, &p, Shape::Prefixes);
        let rng = Plan::new(&table, &p, Shape::Ranges);
        prop_assert!(rng.len() <= pre.len());
        for a in addresses(&table, &pre, &p, 100, seed) {
            for l in Layer::ALL {
                prop_assert_eq!(pre.covers(l, a), rng.covers(l, a), "{} {}", l, a);
            }
        }
    }
}

/// `Plan::covers` (a binary search) agrees with a linear scan of the filters.
#[test]
fn covers_agrees_with_a_linear_scan() {
    let mut rng = Rng(7);
    let es: Vec<(List, IpNet)> = (0..200)
        .map(|i| {
            let a = Ipv4Addr::from(0x0a00_0000 | (rng.next() as u32 & 0xffff));
            let len = 20 + (rng.next() % 13) as u8;
            let l = List::ALL[i % 3];
            (l, IpNet::new(IpAddr::V4(a), len).unwrap().trunc())
        })
        .collect();
    let table = build(&es);
    let p = Policy::new(Mode::Block, Mode::LogOnly);
    let plan = Plan::new(&table, &p, Shape::Prefixes);
    assert!(plan.len() > 50, "{}", plan.len());
    for a in addresses(&table, &plan, &p, 2000, 3) {
        for l in Layer::ALL {
            let linear = plan.layer(l).iter().any(|f| f.remote.contains(a));
            assert_eq!(plan.covers(l, a), linear, "{l} {a}");
        }
    }
}

#[test]
fn nothing_blocks_when_no_list_blocks() {
    let table = build(&[
        (List::Global, "192.0.2.0/24".parse().unwrap()),
        (List::Blocked, "2001:db8::/32".parse().unwrap()),
    ]);
    for (g, b) in [(Mode::LogOnly, Mode::Off), (Mode::Off, Mode::LogOnly)] {
        assert!(Plan::new(&table, &Policy::new(g, b), Shape::Prefixes).is_empty());
    }
    let plan = Plan::new(
        &table,
        &Policy::new(Mode::Off, Mode::Block),
        Shape::Prefixes,
    );
    let want = r#"{"layer": "ALE_AUTH_CONNECT_V6", "action": "block", "remote": "2001:db8::/32"}"#;
    assert_eq!(plan.filters()[0].to_string(), want);
    assert_eq!(plan.len(), 2);
    assert!(plan.gaps().is_empty());
}

#[test]
fn teredo_client_isatap_and_u_octet_gaps_are_reported() {
    let table = build(&[(List::Blocked, "192.0.2.0/24".parse().unwrap())]);
    let plan = Plan::new(&table, &Policy::default(), Shape::Prefixes);
    let gaps: Vec<_> = plan.gaps().iter().map(|g| g.encoding).collect();
    assert_eq!(
        gaps,
        [
            Encoding::Nat64LocalUse,
            Encoding::TeredoClient,
            Encoding::Isatap
        ]
    );
    // u = 0 is covered, u != 0 is not; the policy blocks both.
    for (s, covered) in [
        ("64:ff9b:1:c000:2:500::", true),
        ("64:ff9b:1:c000:ff02:500::", false),
    ] {
        let a: IpAddr = s.parse().unwrap();
        assert_eq!(
            Policy::default().decide(&table, a).verdict(),
            Verdict::Block,
            "{s}"
        );
        assert_eq!(plan.covers(Layer::AleAuthConnectV6, a), covered, "{s}");
    }
    // A /16 fits before the u octet: exact.
    let table = build(&[(List::Blocked, "192.0.0.0/16".parse().unwrap())]);
    let mut p = Policy::default();
    p.embedded
        .set(Encoding::TeredoClient, false)
        .set(Encoding::Isatap, false);
    assert!(Plan::new(&table, &p, Shape::Prefixes).gaps().is_empty());
}

// ---------------------------------------------------------------------------------------
// Real feeds

fn read(rel: &str) -> Feed {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    let f = feed::read_file(&path, &FeedOptions::new())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        f.errors.is_empty(),
        "{rel}: {:?}",
        &f.errors[..f.errors.len().min(3)]
    );
    f
}

fn compile(feeds: &[(List, &Feed)], extra: &[(List, &str)]) -> Table {
    let mut c = Compiler::new();
    // FireHOL level1 carries bogon blocks such as 224.0.0.0/3 on purpose: let them through.
    c.created_unix(0).limits(c2trie::compile::Limits::none());
    for (list, f) in feeds {
        c.add_feed(*list, f).unwrap();
    }
    for (list, net) in extra {
        c.add(*list, net.parse().unwrap(), "ops", Meta::default())
            .unwrap();
    }
    Table::from_bytes(c.to_vec().unwrap()).unwrap()
}

/// The plan's JSON lines, parsed back, give the same filters.
fn round_trip_json(plan: &Plan) -> Vec<Filter> {
    let mut out = Vec::new();
    plan.write_json_lines(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .map(|line| {
            #[cfg(feature = "serde")]
            let (layer, action, remote) = {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_owned();
                (s("layer"), s("action"), s("remote"))
            };
            #[cfg(not(feature = "serde"))]
            let (layer, action, remote) = {
                let f: Vec<&str> = line.split('"').collect();
                (f[3].to_owned(), f[7].to_owned(), f[11].to_owned())
            };
            assert_eq!(action, "block");
            Filter::new(layer.parse().unwrap(), remote.parse().unwrap())
        })
        .collect()
}

/// Checks the real table under each policy, with both shapes; returns per-policy counts.
fn check_real(name: &str, table: &Table, policies: &[Policy], random: usize) {
    for (i, p) in policies.iter().enumerate() {
        let pre = Plan::new(table, p, Shape::Prefixes);
        let rng = Plan::new(table, p, Shape::Ranges);
        check_structure(&pre, Shape::Prefixes).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_structure(&rng, Shape::Ranges).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The dry-run output, parsed back, is the plan that is checked.
        let parsed = round_trip_json(&pre);
        assert_eq!(parsed, pre.filters(), "{name}");
        let addrs = addresses(table, &pre, p, random, i as u64 + 11);
        let (n, excused) = check_equivalence(table, p, &pre, &addrs)
            .unwrap_or_else(|e| panic!("{name} {}/{}: {e}", p.global, p.blocked));
        check_equivalence(table, p, &rng, &addrs).unwrap_or_else(|e| panic!("{name} ranges: {e}"));
        assert!(n > random, "{name}");
        eprintln!(
            "{name} global={} blocked={}: {} entries, {} prefix filters, {} range filters, \
             {n} addresses checked, {excused} gap addresses",
            p.global,
            p.blocked,
            table.len(),
            pre.len(),
            rng.len()
        );
    }
}

fn policies() -> Vec<Policy> {
    let mut exact = Policy::new(Mode::Block, Mode::LogOnly);
    exact
        .embedded
        .set(Encoding::TeredoClient, false)
        .set(Encoding::Isatap, false);
    vec![
        Policy::new(Mode::Block, Mode::Block),
        exact,
        Policy::new(Mode::LogOnly, Mode::Block),
        Policy::new(Mode::Block, Mode::Off),
    ]
}

#[test]
fn feodo_with_a_blocked_and_an_approved_entry() {
    let f = read("abusech-feodo-csv/ipblocklist.csv.20240404T1905");
    let first = f.entries[0].net;
    let approved = IpNet::new(first.addr(), first.prefix_len())
        .unwrap()
        .to_string();
    let table = compile(
        &[(List::Global, &f)],
        &[
            (List::Approved, &approved),
            (List::Blocked, "198.51.100.0/24"),
        ],
    );
    let plan = Plan::new(
        &table,
        &Policy::new(Mode::Block, Mode::Block),
        Shape::Prefixes,
    );
    assert!(!plan.covers(Layer::AleAuthConnectV4, first.addr()));
    check_real("feodo", &table, &policies(), 20_000);
}

#[test]
fn spamhaus_drop_edrop_dropv6() {
    let drop = read("spamhaus-drop/secops-mirror-2024-02-27/drop.txt");
    let edrop = read("spamhaus-drop/secops-mirror-2024-02-27/edrop.txt");
    let drop6 = read("spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt");
    let table = compile(
        &[
            (List::Global, &drop),
            (List::Global, &drop6),
            (List::Blocked, &edrop),
        ],
        &[],
    );
    check_real("drop", &table, &policies(), 20_000);
}

#[test]
fn firehol_level1_with_private_ranges_approved() {
    let l1 = read("firehol-netsets/2021-06-28/firehol_level1.netset");
    let table = compile(
        &[(List::Global, &l1)],
        &[
            (List::Approved, "10.0.0.0/8"),
            (List::Approved, "172.16.0.0/12"),
            (List::Approved, "192.168.0.0/16"),
            (List::Approved, "127.0.0.0/8"),
            (List::Approved, "224.0.0.251/32"),
        ],
    );
    let p = Policy::new(Mode::Block, Mode::Block);
    let plan = Plan::new(&table, &p, Shape::Prefixes);
    for a in [
        "10.1.2.3",
        "192.168.1.1",
        "::ffff:10.1.2.3",
        "64:ff9b::192.168.0.1",
    ] {
        let a: IpAddr = a.parse().unwrap();
        let layer = if a.is_ipv6() {
            Layer::AleAuthConnectV6
        } else {
            Layer::AleAuthConnectV4
        };
        assert!(!plan.covers(layer, a), "{a} is approved");
    }
    check_real("firehol-level1", &table, &policies()[..2], 20_000);
}

#[test]
fn ipsum_with_levels_as_blocked_and_approved() {
    let all = read("stamparm-ipsum/ipsum.txt");
    let l3 = read("stamparm-ipsum/levels/3.txt");
    let l8 = read("stamparm-ipsum/levels/8.txt");
    let table = compile(
        &[
            (List::Global, &all),
            (List::Blocked, &l3),
            (List::Approved, &l8),
        ],
        &[],
    );
    let mut p = Policy::new(Mode::Block, Mode::LogOnly);
    p.embedded = EmbeddedV4::none()
        .with(Encoding::Mapped, true)
        .with(Encoding::Nat64WellKnown, true);
    check_real("ipsum", &table, &[p], 20_000);
}

/// A feed update as the adapter sees it: the diff between two Feodo snapshots' plans is
/// small and turns one into the other.
#[test]
fn feodo_snapshots_diff() {
    let a = compile(
        &[(
            List::Global,
            &read("abusech-feodo-csv/ipblocklist.csv.20240403T1854"),
        )],
        &[],
    );
    let b = compile(
        &[(
            List::Global,
            &read("abusech-feodo-csv/ipblocklist.csv.20240404T1905"),
        )],
        &[],
    );
    let p = Policy::new(Mode::Block, Mode::Block);
    let (old, new) = (
        Plan::new(&a, &p, Shape::Prefixes),
        Plan::new(&b, &p, Shape::Prefixes),
    );
    check_diff(&old, &new).unwrap();
    let d = Plan::diff(&old, &new);
    assert!(
        d.len() < old.len() + new.len(),
        "{} {} {}",
        d.len(),
        old.len(),
        new.len()
    );
}

/// Dual-stack IPv4 traffic is classified at the IPv4 layers, so no `::ffff:` filter is ever
/// written, whatever encodings the policy decodes; the IPv4 filters block it instead.
#[test]
fn no_mapped_filters_and_mapped_addresses_blocked_at_the_v4_layers() {
    let table = build(&[
        (List::Global, "198.51.100.0/24".parse().unwrap()),
        (List::Blocked, "0.0.0.0/0".parse().unwrap()),
    ]);
    let mut p = Policy::new(Mode::Block, Mode::Block);
    p.embedded = EmbeddedV4::none();
    for e in Encoding::ALL {
        p.embedded.set(e, true);
    }
    let mapped: Ipv6Net = "::ffff:0:0/96".parse().unwrap();
    for shape in [Shape::Prefixes, Shape::Ranges] {
        let plan = Plan::new(&table, &p, shape);
        for f in plan.filters() {
            let (lo, hi) = f.remote.bounds();
            for a in [lo, hi] {
                if let IpAddr::V6(a) = a {
                    assert!(!mapped.contains(&a), "{f}");
                }
            }
        }
        assert!(plan.blocks("::ffff:198.51.100.7".parse().unwrap()));
        assert!(plan.blocks("198.51.100.7".parse().unwrap()));
        // Exempt at the IPv4 layers, so exempt through the dual-stack spelling too.
        assert!(!plan.blocks("::ffff:127.0.0.1".parse().unwrap()));
    }
}

/// The default exemptions hold against a list that covers everything, are reported, and
/// can be turned off.
#[test]
fn exemptions_are_applied_reported_and_optional() {
    let table = build(&[
        (List::Blocked, "0.0.0.0/0".parse().unwrap()),
        (List::Blocked, "::/0".parse().unwrap()),
    ]);
    let p = Policy::new(Mode::Block, Mode::Block);
    let plan = Plan::new(&table, &p, Shape::Prefixes);
    let special = [
        "127.0.0.1",
        "169.254.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "ff02::1",
    ];
    for a in special {
        let a: IpAddr = a.parse().unwrap();
        assert!(!plan.blocks(a), "{a}");
        assert_eq!(p.decide(&table, a).verdict(), Verdict::Block, "{a}");
    }
    for a in [
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "223.255.255.255",
        "::2",
        "fec0::",
    ] {
        assert!(plan.blocks(a.parse().unwrap()), "{a}");
    }
    let names: BTreeSet<&str> = plan.exempted().iter().map(|e| e.exemption.name).collect();
    assert_eq!(
        names,
        BTreeSet::from(["limited broadcast", "link-local", "loopback", "multicast"])
    );
    let lo = plan
        .exempted()
        .iter()
        .find(|e| e.exemption.net.to_string() == "127.0.0.0/8")
        .unwrap();
    assert_eq!(lo.addresses, 1 << 24);
    let strict = Plan::with_options(
        &table,
        &p,
        &c2trie::wfp::PlanOptions::default().exemptions(Vec::new()),
    );
    assert!(strict.exempted().is_empty());
    for a in special {
        assert!(strict.blocks(a.parse().unwrap()), "{a}");
    }
}

/// An IPv6 entry that covers IPv4-mapped space blocks `::ffff:a.b.c.d` under the policy,
/// which WFP sees as `a.b.c.d` at the V4 layers: the plan cannot express it without
/// blocking `a.b.c.d` itself, and says so in a gap.
#[test]
fn ipv6_entries_over_mapped_space_are_a_reported_gap() {
    for entry in ["::/64", "::ffff:0:0/95"] {
        let table = build(&[(List::Blocked, entry.parse().unwrap())]);
        let p = Policy::new(Mode::Block, Mode::Block);
        let plan = Plan::new(&table, &p, Shape::Prefixes);
        let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(
            p.decide(&table, mapped).verdict(),
            Verdict::Block,
            "{entry}"
        );
        assert_eq!(
            p.decide(&table, "1.2.3.4".parse().unwrap()).verdict(),
            Verdict::Pass
        );
        assert!(!plan.blocks(mapped), "{entry}");
        let gap: Vec<_> = plan
            .gaps()
            .iter()
            .filter(|g| g.encoding == Encoding::Mapped)
            .collect();
        assert_eq!(gap.len(), 1, "{entry}: {:?}", plan.gaps());
        assert_eq!(gap[0].v4_prefixes, 1, "{entry}");
    }
    // Entries clear of mapped space leave no such gap.
    let table = build(&[(List::Blocked, "2001:db8::/32".parse().unwrap())]);
    let plan = Plan::new(
        &table,
        &Policy::new(Mode::Block, Mode::Block),
        Shape::Prefixes,
    );
    assert!(plan.gaps().iter().all(|g| g.encoding != Encoding::Mapped));
}
