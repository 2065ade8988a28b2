//! The adapter example's dry run on real feeds, checked address by address: its own code
//! (argument parsing, table loading, JSON output) is compiled into this test, the printed
//! lines are parsed back, and every address at every printed filter's and every entry's
//! edges, plus random ones, is blocked by a printed filter exactly when the policy the
//! example enforces decides `Block`.

#![cfg(feature = "serde")]

#[cfg_attr(windows, allow(dead_code))] // Elsewhere the example allows it itself.
#[path = "../examples/wfp_adapter/main.rs"]
mod wfp_adapter;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use c2trie::feed::{self, FeedOptions};
use c2trie::policy::Encoding;
use c2trie::wfp::{Exemption, Layer, Remote};
use c2trie::{Compiler, List, Meta, Mode, Table, Verdict};

fn compile_to(dir: &Path) -> std::path::PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut c = Compiler::new();
    // FireHOL level1 carries bogon blocks such as 224.0.0.0/3 on purpose: let them through.
    c.list_version(1)
        .created_unix(0)
        .limits(c2trie::compile::Limits::none());
    for (list, rel) in [
        (
            List::Global,
            "abusech-feodo-csv/ipblocklist.csv.20240404T1905",
        ),
        (
            List::Global,
            "spamhaus-drop/secops-mirror-2024-02-27/drop.txt",
        ),
        (
            List::Global,
            "spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt",
        ),
        (
            List::Blocked,
            "spamhaus-drop/secops-mirror-2024-02-27/edrop.txt",
        ),
        (
            List::Global,
            "firehol-netsets/2021-06-28/firehol_level1.netset",
        ),
    ] {
        let f = feed::read_file(data.join(rel), &FeedOptions::new()).unwrap();
        c.add_feed(list, &f).unwrap();
    }
    for net in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
    ] {
        c.add(List::Approved, net.parse().unwrap(), "ops", Meta::default())
            .unwrap();
    }
    let path = dir.join("lists.c2t");
    std::fs::write(&path, c.to_vec().unwrap()).unwrap();
    path
}

/// (layer, first, last) for each printed line, parsed as JSON.
fn parse(out: &[u8]) -> Vec<(Layer, IpAddr, IpAddr)> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["action"], "block", "{line}");
            assert_eq!(v.as_object().unwrap().len(), 3, "{line}");
            let layer: Layer = v["layer"].as_str().unwrap().parse().unwrap();
            let remote: Remote = v["remote"].as_str().unwrap().parse().unwrap();
            let (a, b) = remote.bounds();
            (layer, a, b)
        })
        .collect()
}

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

fn check(mode: &str, ranges: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = compile_to(dir.path());
    let mut argv = vec![
        "--table",
        path.to_str().unwrap(),
        "--mode",
        mode,
        "--dry-run",
    ];
    if ranges {
        argv.push("--ranges");
    }
    let args = wfp_adapter::parse_args(argv.into_iter().map(String::from)).unwrap();
    let mut out = Vec::new();
    wfp_adapter::dry_run_once(&args, &mut out).unwrap();
    let lines = parse(&out);
    assert!(lines.len() > 1000, "{}", lines.len());

    // Independently of the library's plan: sort the printed intervals per layer.
    let mut per: [Vec<(u128, u128)>; 4] = Default::default();
    for (layer, a, b) in &lines {
        assert_eq!(a.is_ipv6(), layer.is_v6());
        let i = Layer::ALL.iter().position(|l| l == layer).unwrap();
        per[i].push((int(*a), int(*b)));
    }
    for p in &mut per {
        p.sort_unstable();
        assert!(p.windows(2).all(|w| w[0].1 < w[1].0), "overlapping filters");
    }
    let covered = |i: usize, a: IpAddr| {
        let p = &per[i];
        let x = int(a);
        let k = p.partition_point(|iv| iv.0 <= x);
        k > 0 && p[k - 1].1 >= x
    };

    let table = Table::read_file(&path).unwrap();
    // The policy the example enforces.
    let policy = wfp_adapter::policy(&args);
    assert_eq!(policy.blocked, Mode::Block);
    assert_eq!(policy.global == Mode::Block, mode == "block");
    // Where the plan documents that it cannot follow the policy (Teredo clients, and RFC
    // 6052 local-use NAT64 with a non-zero u octet): blocked by the policy, not covered.
    let mut exact = policy.clone();
    exact
        .embedded
        .set(Encoding::TeredoClient, false)
        .set(Encoding::Isatap, false);
    exact.embedded.set(Encoding::Nat64LocalUse, false);
    let gap = |a: IpAddr| {
        let x = int(a);
        let teredo = x >> 96 == 0x2001_0000;
        let local_u = x >> 80 == 0x64_ff9b_0001 && (x >> 56) & 0xff != 0;
        a.is_ipv6() && (teredo || local_u) && exact.decide(&table, a).verdict() != Verdict::Block
    };

    let mut probes: Vec<IpAddr> = Vec::new();
    let mut edge = |v6: bool, lo: u128, hi: u128| {
        let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        probes.extend([addr(v6, lo), addr(v6, hi)]);
        if lo > 0 {
            probes.push(addr(v6, lo - 1));
        }
        if hi < max {
            probes.push(addr(v6, hi + 1));
        }
    };
    for (_, a, b) in &lines {
        edge(a.is_ipv6(), int(*a), int(*b));
    }
    for e in table.entries() {
        let n = e.prefix();
        edge(n.addr().is_ipv6(), int(n.network()), int(n.broadcast()));
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        probes.push(addr(false, u128::from(x as u32)));
        // Spellings the V6 layers see: mapped and NAT64 of a random IPv4 address.
        let v4 = u128::from((x >> 32) as u32);
        probes.push(addr(true, (0xffff << 32) | v4));
        probes.push(addr(true, (0x0064_ff9b << 96) | v4));
        probes.push(addr(
            true,
            (0x2002 << 112) | (v4 << 80) | u128::from(x & 0xffff),
        ));
        // Teredo, with the address as server, and as (bit-inverted) client.
        let free = u128::from(x & 0xffff);
        probes.push(addr(true, (0x2001_0000 << 96) | (v4 << 64) | free));
        probes.push(addr(
            true,
            (0x2001_0000 << 96) | (free << 48) | (!v4 & 0xffff_ffff),
        ));
    }
    let exempt = Exemption::defaults();
    let mut blocked = 0;
    for a in &probes {
        // The address the layer sees: a dual-stack socket's IPv4 traffic is classified at
        // the IPv4 layers, with the IPv4 address.
        let seen = match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*a, IpAddr::V4),
            _ => *a,
        };
        if let IpAddr::V6(v6) = a {
            for (i, layer) in Layer::ALL.iter().enumerate() {
                if layer.is_v6() && v6.to_ipv4_mapped().is_some() {
                    assert!(!covered(i, *a), "a ::ffff: filter covers {a}");
                }
            }
        }
        let a = &seen;
        let is_exempt = exempt.iter().any(|e| e.net.contains(a));
        let block = policy.decide(&table, *a).verdict() == Verdict::Block && !is_exempt;
        blocked += usize::from(block);
        for (i, layer) in Layer::ALL.iter().enumerate() {
            if layer.is_v6() == a.is_ipv6() {
                let c = covered(i, *a);
                assert!(
                    c == block || (block && gap(*a)),
                    "{mode} {layer} {a}: {c} {block}"
                );
            }
        }
    }
    assert!(
        blocked > 1000 && blocked < probes.len(),
        "{blocked} of {}",
        probes.len()
    );
    eprintln!(
        "--mode {mode}{}: {} lines, {} addresses checked, {blocked} blocked",
        if ranges { " --ranges" } else { "" },
        lines.len(),
        probes.len()
    );
}

#[test]
fn dry_run_block_mode_on_real_feeds() {
    check("block", false);
}

#[test]
fn dry_run_log_mode_ranges_on_real_feeds() {
    check("log", true);
}

/// FireHOL level1 (127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3, ...) as the user's blocked
/// list: the dry run blocks none of the addresses a machine needs for itself and its link.
#[test]
fn firehol_level1_as_blocked_list_leaves_local_traffic_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let f = feed::read_file(
        data.join("firehol-netsets/2021-06-28/firehol_level1.netset"),
        &FeedOptions::new(),
    )
    .unwrap();
    let mut c = Compiler::new();
    c.list_version(1).created_unix(0);
    c.add_feed(List::Blocked, &f).unwrap();
    // IPv6 entries of the same kinds, so both families' exemptions are exercised.
    for net in ["::1/128", "fe80::/10", "ff00::/8", "2001:db8::/32"] {
        c.add(List::Blocked, net.parse().unwrap(), "ops", Meta::default())
            .unwrap();
    }
    let path = dir.path().join("level1.c2t");
    std::fs::write(&path, c.to_vec().unwrap()).unwrap();
    let argv = [
        "--table",
        path.to_str().unwrap(),
        "--mode",
        "block",
        "--dry-run",
    ];
    let args = wfp_adapter::parse_args(argv.into_iter().map(String::from)).unwrap();
    let mut out = Vec::new();
    let (_, plan) = wfp_adapter::dry_run_once(&args, &mut out).unwrap();
    let lines = parse(&out);
    assert!(lines.len() > 1000);
    let covers = |a: IpAddr| {
        lines.iter().any(|(_, lo, hi)| {
            lo.is_ipv6() == a.is_ipv6() && int(*lo) <= int(a) && int(a) <= int(*hi)
        })
    };
    for a in [
        "127.0.0.1",
        "169.254.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "ff02::1",
    ] {
        assert!(!covers(a.parse().unwrap()), "{a} is blocked");
    }
    // The rest of the list is still blocked, right up to the exempt ranges' edges.
    for a in [
        "10.0.0.1",
        "0.0.0.1",
        "192.168.1.1",
        "2001:db8::1",
        "240.0.0.1",
        "255.255.255.254",
    ] {
        assert!(covers(a.parse().unwrap()), "{a} is not blocked");
    }
    let names: Vec<&str> = plan.exempted().iter().map(|e| e.exemption.name).collect();
    assert!(
        names.contains(&"loopback") && names.contains(&"multicast"),
        "{names:?}"
    );
    // Without exemptions, loopback is blocked as the list says.
    let argv = [
        "--table",
        path.to_str().unwrap(),
        "--dry-run",
        "--no-exemptions",
    ];
    let args = wfp_adapter::parse_args(argv.into_iter().map(String::from)).unwrap();
    let mut out = Vec::new();
    wfp_adapter::dry_run_once(&args, &mut out).unwrap();
    assert!(parse(&out).iter().any(|(_, lo, hi)| {
        let a = int("127.0.0.1".parse().unwrap());
        !lo.is_ipv6() && int(*lo) <= a && a <= int(*hi)
    }));
}

#[test]
fn arguments() {
    let p = |v: &[&str]| wfp_adapter::parse_args(v.iter().map(|s| s.to_string()));
    assert!(p(&[]).is_err());
    assert!(p(&["--table", "x", "--mode", "deny"]).is_err());
    assert!(p(&["--table"]).is_err());
    let a = p(&["--table", "x", "--mode", "log", "--watch"]).unwrap();
    assert_eq!(a.mode, Mode::LogOnly);
    assert!(a.watch && !a.dry_run);
    let a = p(&["--table", "x", "--embedded", "mapped,6to4"]).unwrap();
    let e = wfp_adapter::policy(&a).embedded;
    assert!(e.is_enabled(Encoding::Mapped) && e.is_enabled(Encoding::SixToFour));
    assert!(!e.is_enabled(Encoding::Nat64WellKnown));
    let a = p(&["--table", "x"]).unwrap();
    let e = wfp_adapter::policy(&a).embedded;
    assert!(
        e.is_enabled(Encoding::Nat64WellKnown),
        "NAT64 is the default"
    );
    assert!(!e.is_enabled(Encoding::Mapped) && !e.is_enabled(Encoding::SixToFour));
    assert!(
        p(&["--table", "x", "--then", "y"]).is_err(),
        "--then needs --simulate"
    );
    assert!(p(&["--table", "x", "--simulate", "--dry-run"]).is_err());
    let a = p(&["--table", "x", "--embedded", "none"]).unwrap();
    assert!(
        !wfp_adapter::policy(&a)
            .embedded
            .is_enabled(Encoding::Mapped)
    );
    assert!(p(&["--table", "x", "--embedded", "sixtofour"]).is_err());
    let a = p(&["--set-engine-options", "1,0x10"]).unwrap();
    assert_eq!(a.set_options, Some((1, 16)));
}
