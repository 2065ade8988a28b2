//! The poisoned-feed guards: defaults, each limit, error messages naming `file:line`, the
//! overrides, and the real feeds (C&C feeds pass the defaults; FireHOL's bogons do not).

use std::path::{Path, PathBuf};

use c2trie::compile::{LimitKind, Limits, ListLimits};
use c2trie::error::CompileErrorKind;
use c2trie::feed::{self, Feed, FeedOptions};
use c2trie::{CompileError, Compiler, List, Meta, Table};

fn feed(name: &str, text: &str) -> Feed {
    feed::parse_bytes(name, text.as_bytes(), &FeedOptions::new()).unwrap()
}

fn compile(feeds: &[(List, &Feed)], limits: Limits) -> Result<Vec<u8>, CompileError> {
    let mut c = Compiler::new();
    c.created_unix(0).limits(limits);
    for (list, f) in feeds {
        c.add_feed(*list, f)?;
    }
    c.to_vec()
}

#[test]
fn global_default_refuses_slash_zero_with_file_and_line() {
    let f = feed(
        "global.txt",
        "# c2\n192.0.2.1\n0.0.0.0/0\n::/0\n2001:db8::/32\n",
    );
    let err = compile(&[(List::Global, &f)], Limits::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Limit);
    let b = err.breaches();
    assert_eq!(b.len(), 2, "{err}");
    assert_eq!((b[0].source.as_str(), b[0].line), ("global.txt", 3));
    assert_eq!(b[0].net.to_string(), "0.0.0.0/0");
    assert_eq!(b[0].kind, LimitKind::MinPrefixV4(8));
    assert_eq!((b[1].line, b[1].kind), (4, LimitKind::MinPrefixV6(16)));
    let msg = err.to_string();
    assert!(msg.contains("global.txt:3: 0.0.0.0/0"), "{msg}");
    assert!(msg.contains("global.txt:4: ::/0"), "{msg}");
    // The message says how to override, per list.
    assert!(msg.contains("--min-prefix-v4 global=0"), "{msg}");
    assert!(msg.contains("--allow-broad global"), "{msg}");
}

#[test]
fn global_default_boundaries() {
    for (text, ok) in [
        ("11.0.0.0/8\n", true),
        ("10.0.0.0/7\n", false),
        ("2a00::/16\n", true),
        ("2000::/15\n", false),
        ("2000::/3\n", false),
    ] {
        let f = feed("g.txt", text);
        let r = compile(&[(List::Global, &f)], Limits::default());
        assert_eq!(r.is_ok(), ok, "{text}");
    }
}

#[test]
fn user_lists_are_unlimited_by_default() {
    let f = feed("mine.txt", "0.0.0.0/0\n::/0\n");
    let bytes = compile(
        &[(List::Approved, &f), (List::Blocked, &f)],
        Limits::default(),
    )
    .unwrap();
    let t = Table::from_bytes(bytes).unwrap();
    assert!(t.lookup("8.8.8.8".parse().unwrap()).contains(List::Blocked));
}

#[test]
fn overriding_one_list_leaves_the_others() {
    let f = feed("g.txt", "0.0.0.0/0\n");
    let mut limits = Limits::default();
    limits.get_mut(List::Global).min_prefix_v4 = 0;
    limits.get_mut(List::Global).refuse_special = false;
    assert!(compile(&[(List::Global, &f)], limits).is_ok());
    let strict_blocked = limits.with(List::Blocked, ListLimits::GLOBAL_DEFAULT);
    let err = compile(&[(List::Blocked, &f)], strict_blocked).unwrap_err();
    assert_eq!(err.breaches()[0].list, List::Blocked);
    assert!(
        err.to_string().contains("--min-prefix-v4 blocked=0"),
        "{err}"
    );
}

#[test]
fn max_entries_names_the_first_entry_over() {
    let f = feed(
        "g.txt",
        "192.0.2.1\n192.0.2.2\n192.0.2.2\n192.0.2.3\n192.0.2.4\n",
    );
    let mut limits = Limits::default();
    limits.get_mut(List::Global).max_entries = Some(2);
    let err = compile(&[(List::Global, &f)], limits).unwrap_err();
    let b = err.breaches();
    // The duplicate on line 3 is not counted: line 4 is the third distinct entry.
    assert_eq!(b.len(), 1, "{err}");
    assert_eq!((b[0].line, b[0].kind), (4, LimitKind::MaxEntries(2)));
    assert!(err.to_string().contains("--max-entries global=N"), "{err}");
    limits.get_mut(List::Global).max_entries = Some(4);
    assert!(compile(&[(List::Global, &f)], limits).is_ok());
}

#[test]
fn coverage_counts_overlaps_once_and_names_the_broadest_entry() {
    // 10/8 is 1/256 of IPv4 (0.39 %); the nested /16 adds nothing.
    let nested = feed("g.txt", "11.1.0.0/16\n11.0.0.0/8\n192.0.2.0/24\n");
    let mut limits = Limits::default();
    limits.get_mut(List::Global).max_coverage_v4 = Some(0.005);
    assert!(compile(&[(List::Global, &nested)], limits).is_ok());
    let two = feed("g.txt", "12.0.0.0/8\n11.0.0.0/9\n11.0.0.0/8\n");
    let err = compile(&[(List::Global, &two)], limits).unwrap_err();
    let b = err.breaches();
    assert_eq!(b.len(), 1, "{err}");
    assert_eq!(b[0].line, 1, "{err}");
    match b[0].kind {
        LimitKind::MaxCoverageV4 { max, covered } => {
            assert_eq!(max, 0.005);
            assert!((covered - 2.0 / 256.0).abs() < 1e-12, "{covered}");
        }
        k => panic!("{k:?}"),
    }
    assert!(err.to_string().contains("0.78%"), "{err}");
    // IPv4 coverage says nothing about IPv6.
    let v6 = feed("g6.txt", "2a00::/16\n");
    assert!(compile(&[(List::Global, &v6)], limits).is_ok());
    limits.get_mut(List::Global).max_coverage_v6 = Some(1e-6);
    let err = compile(&[(List::Global, &v6)], limits).unwrap_err();
    assert!(matches!(
        err.breaches()[0].kind,
        LimitKind::MaxCoverageV6 { .. }
    ));
}

#[test]
fn whole_space_coverage_does_not_overflow() {
    let mut c = Compiler::new();
    let mut limits = Limits::none();
    limits.get_mut(List::Blocked).max_coverage_v6 = Some(0.999);
    limits.get_mut(List::Blocked).max_coverage_v4 = Some(1.0);
    c.created_unix(0).limits(limits);
    c.add(List::Blocked, "::/0".parse().unwrap(), "x", Meta::default())
        .unwrap();
    c.add(
        List::Blocked,
        "0.0.0.0/0".parse().unwrap(),
        "x",
        Meta::default(),
    )
    .unwrap();
    let err = c.to_vec().unwrap_err();
    assert_eq!(err.breaches().len(), 1, "{err}");
    // An entry added with `add` has no line; the message does not invent one.
    assert!(err.to_string().contains("x: ::/0: "), "{err}");
}

fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")).join(rel)
}

fn read(rel: &str) -> Feed {
    feed::read_file(data(rel), &FeedOptions::new()).unwrap()
}

#[test]
fn real_cc_feeds_compile_as_global_under_the_defaults() {
    let mut feeds = vec![
        "abusech-feodo-csv/ipblocklist.csv.20240404T1905".to_owned(),
        "abusech-sslbl/sslipblacklist.csv".to_owned(),
        "spamhaus-drop/original-2023-02-20/drop.txt".to_owned(),
        "spamhaus-drop/secops-mirror-2024-02-27/drop.txt".to_owned(),
        "spamhaus-drop/secops-mirror-2024-02-27/edrop.txt".to_owned(),
        "spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt".to_owned(),
        "stamparm-ipsum/ipsum.txt".to_owned(),
        "firehol-netsets/2017-11-04/firehol_level2.netset".to_owned(),
    ];
    for n in [
        "alienvault.txt",
        "avanzato_c2.txt",
        "binarydefense.txt",
        "cobaltstrike_ips.txt",
        "compromised-ips.txt",
        "sans.txt",
        "threatfox.txt",
        "tor-exit.txt",
    ] {
        feeds.push(format!("criticalpath-public-intel-feeds/{n}"));
    }
    let parsed: Vec<Feed> = feeds.iter().map(|f| read(f)).collect();
    let lists: Vec<(List, &Feed)> = parsed.iter().map(|f| (List::Global, f)).collect();
    // Some real C&C feeds carry junk no C&C list should: loopback and private addresses
    // (cobaltstrike_ips.txt lists 127.0.0.1, 192.168.5.145 and 10.170.0.16). Refusing
    // special-purpose space (opt-in) names exactly those, each by file and line.
    let mut strict = Limits::default();
    strict.get_mut(List::Global).refuse_special = true;
    let err = compile(&lists, strict).unwrap_err();
    for b in err.breaches() {
        assert!(matches!(b.kind, LimitKind::SpecialPurpose { .. }), "{b}");
        assert!(b.line > 0 && b.source.contains("criticalpath"), "{b}");
    }
    assert!(
        err.to_string()
            .contains("cobaltstrike_ips.txt:152: 127.0.0.1/32"),
        "{err}"
    );
    let bytes = compile(&lists, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(Table::from_bytes(bytes).unwrap().count(List::Global, false) > 10_000);
}

#[test]
fn firehol_level1_bogons_are_named_and_the_override_lets_them_through() {
    for (rel, line) in [
        ("firehol-netsets/2017-11-04/firehol_level1.netset", 6664),
        ("firehol-netsets/2021-06-28/firehol_level1.netset", 2925),
    ] {
        let f = read(rel);
        let err = compile(&[(List::Global, &f)], Limits::default()).unwrap_err();
        let b = err.breaches();
        assert_eq!(b.len(), 1, "{err}");
        assert_eq!(b[0].net.to_string(), "224.0.0.0/3");
        assert_eq!(b[0].line, line);
        let msg = err.to_string();
        let want = format!("{}:{line}: 224.0.0.0/3", data(rel).display());
        assert!(msg.contains(&want), "{msg}");
        assert!(msg.contains("--min-prefix-v4 global=3"), "{msg}");

        // The override the message suggests: the global list's IPv4 minimum down to /3.
        let mut limits = Limits::default();
        limits.get_mut(List::Global).min_prefix_v4 = 3;
        let t = Table::from_bytes(compile(&[(List::Global, &f)], limits).unwrap()).unwrap();
        let hit = t.lookup("239.1.2.3".parse().unwrap());
        assert_eq!(
            hit.get(List::Global).unwrap().prefix().to_string(),
            "224.0.0.0/3"
        );
        // Lifting every limit on the list works too.
        let open = Limits::default().with(List::Global, ListLimits::NONE);
        assert!(compile(&[(List::Global, &f)], open).is_ok());
    }
}

#[test]
fn an_ipv4_mapped_spelling_of_a_broad_prefix_is_caught_as_ipv4() {
    // `::ffff:0.0.0.0/96` is stored as `0.0.0.0/0`: the IPv6 minimum (/16) would let it
    // through, the IPv4 one must not.
    let f = feed(
        "global.txt",
        "::ffff:0.0.0.0/96\n::ffff:10.0.0.0/100\n::ffff:192.0.2.0/120\n",
    );
    let err = compile(&[(List::Global, &f)], Limits::default()).unwrap_err();
    let b = err.breaches();
    assert_eq!(b.len(), 2, "{err}");
    assert_eq!((b[0].line, b[0].net.to_string().as_str()), (1, "0.0.0.0/0"));
    assert_eq!((b[1].line, b[1].net.to_string().as_str()), (2, "0.0.0.0/4"));
    assert_eq!(b[0].kind, LimitKind::MinPrefixV4(8));
}

/// The IPv4 limits hold for the IPv4 space an IPv6 prefix embeds: with IPv4-in-IPv6
/// decoding on, `::/16` or `2002::/16` in the global list would match every IPv4 address
/// spoken through that form.
#[test]
fn ipv6_prefixes_embedding_ipv4_space_are_held_to_the_ipv4_minimum() {
    for (net, encoding, len) in [
        ("::/16", "mapped", 0),
        ("::ffff:0:0/95", "mapped", 0),
        ("64:ff9b::/96", "nat64", 0),
        ("64:ff9b::/100", "nat64", 4),
        ("2002::/16", "6to4", 0),
        ("2002::/20", "6to4", 4),
        ("2001::/32", "teredo-server", 0),
        ("2001::/16", "teredo-server", 0),
        ("64:ff9b:1::/52", "nat64-local", 4),
    ] {
        let f = feed("g.txt", &format!("{net}\n"));
        let err = compile(&[(List::Global, &f)], Limits::default()).unwrap_err();
        let b = err.breaches();
        assert_eq!(b.len(), 1, "{net}: {err}");
        match b[0].kind {
            LimitKind::EmbeddedV4 {
                min,
                encoding: e,
                len: l,
            } => {
                assert_eq!((min, e, l), (8, encoding, len), "{net}");
            }
            k => panic!("{net}: {k:?}"),
        }
        assert!(err.to_string().contains("g.txt:1:"), "{err}");
    }
    // Narrow enough: a /24's worth of IPv4 in each form, and IPv6 space that embeds none.
    for net in [
        "64:ff9b::c000:200/120",
        "2002:c000:200::/40",
        "2001:0:c000:200::/56",
        "2a00::/16",
        "2001:db8::/32",
    ] {
        let f = feed("g.txt", &format!("{net}\n"));
        assert!(
            compile(&[(List::Global, &f)], Limits::default()).is_ok(),
            "{net}"
        );
    }
    // The user's lists stay unlimited.
    let f = feed("mine.txt", "::/16\n2002::/16\n");
    assert!(compile(&[(List::Blocked, &f)], Limits::default()).is_ok());
}

/// Special-purpose space is refused where asked (`refuse_special`, `--refuse-special`),
/// named; accepted by default; documentation ranges are not special.
#[test]
fn special_purpose_space_is_refused_when_asked() {
    let mut strict = Limits::default();
    strict.get_mut(List::Global).refuse_special = true;
    for net in [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.0/24",
        "169.254.1.1",
        "100.64.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "0.0.0.0/8",
        "::1",
        "fe80::1",
        "fc00::/16",
        "fd12::1",
        "ff02::1",
    ] {
        let f = feed("g.txt", &format!("{net}\n"));
        let err = compile(&[(List::Global, &f)], strict).unwrap_err();
        assert!(
            matches!(err.breaches()[0].kind, LimitKind::SpecialPurpose { .. }),
            "{net}: {err}"
        );
        assert!(err.to_string().contains("g.txt:1:"), "{err}");
        assert!(
            compile(&[(List::Global, &f)], Limits::default()).is_ok(),
            "{net}"
        );
        assert!(
            compile(&[(List::Blocked, &f)], Limits::default()).is_ok(),
            "{net}"
        );
    }
    for net in [
        "192.0.2.1",
        "198.51.100.0/24",
        "203.0.113.9",
        "2001:db8::1",
        "8.8.8.8",
    ] {
        let f = feed("g.txt", &format!("{net}\n"));
        assert!(compile(&[(List::Global, &f)], strict).is_ok(), "{net}");
    }
}

/// An IPv6 entry that spells IPv4 hosts (compatible, translated, NAT64, 6to4) also matches
/// the IPv4 hosts it names; broad or non-host spellings add nothing; the IPv6 entry stays.
#[test]
fn ipv6_spellings_of_ipv4_hosts_also_match_the_ipv4_hosts() {
    let f = feed(
        "mine.txt",
        "::192.0.2.1\n\
         ::ffff:0:192.0.2.9\n\
         64:ff9b::198.51.100.0/120\n\
         2002:cb00:7100::/40\n\
         2002:cb00:7180:1::/64\n\
         2002::/16\n\
         ::1\n\
         2002:0:100::/48\n\
         64:ff9b::/100\n\
         2001:0:c000:201::/64\n",
    );
    for list in [List::Blocked, List::Global] {
        let mut c = Compiler::new();
        c.created_unix(0);
        c.limits(Limits::none()).add_feed(list, &f).unwrap();
        let r = *c.report().list(list);
        // 6to4's 203.0.113.128/32 lies in 203.0.113.0/24: both are added.
        assert_eq!((r.entries, r.ipv4, r.derived_v4), (15, 5, 5), "{r:?}");
        let t = Table::from_bytes(c.to_vec().unwrap()).unwrap();
        for (addr, want) in [
            ("192.0.2.1", Some("192.0.2.1/32")),
            ("192.0.2.9", Some("192.0.2.9/32")),
            ("198.51.100.77", Some("198.51.100.0/24")),
            ("203.0.113.5", Some("203.0.113.0/24")),
            ("203.0.113.128", Some("203.0.113.128/32")),
            ("::192.0.2.1", Some("::c000:201/128")),
            ("64:ff9b::198.51.100.77", Some("64:ff9b::c633:6400/120")),
            ("192.0.2.2", None),
            ("0.0.1.0", None),
            ("192.0.2.33", None),
        ] {
            let got = t.lookup(addr.parse().unwrap());
            let got = got.get(list).map(|e| e.prefix().to_string());
            assert_eq!(got.as_deref(), want, "{list:?} {addr}");
        }
    }
}

/// A derived IPv4 prefix is counted once: an expired IPv6 spelling is one expiry (and
/// derives nothing), and a derived prefix the list already has is no duplicate line.
#[test]
fn derived_prefixes_are_not_counted_twice() {
    let mut c = Compiler::new();
    c.created_unix(1_000).limits(Limits::none());
    let net = |s: &str| s.parse().unwrap();
    c.add(
        List::Global,
        net("::192.0.2.1/128"),
        "f",
        Meta::default().with_expires(5),
    )
    .unwrap();
    let r = *c.report().list(List::Global);
    assert_eq!((r.entries, r.expired, r.derived_v4), (0, 1, 0), "{r:?}");
    c.add(List::Global, net("192.0.2.7/32"), "f", Meta::default())
        .unwrap();
    assert!(
        c.add(List::Global, net("::192.0.2.7/128"), "f", Meta::default())
            .unwrap()
    );
    let r = *c.report().list(List::Global);
    assert_eq!((r.entries, r.duplicates, r.derived_v4), (2, 0, 0), "{r:?}");
}
