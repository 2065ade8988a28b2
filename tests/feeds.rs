//! Every real feed under `../shared/data`, parsed with format detection, checked against the
//! counts its `SOURCE.md` states. A missing data folder is a failure, not a skip: these are
//! the tests that show the parsers handle the formats as they really are.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use c2trie::feed::{Feed, FeedOptions, Format, read_file};
use ipnet::IpNet;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

fn data(rel: &str) -> PathBuf {
    let root = Path::new(DATA);
    assert!(
        root.is_dir(),
        "the real feed data is missing: expected the shared data folder at {DATA} \
         (`../shared/data` beside the repository)"
    );
    let path = root.join(rel);
    assert!(
        path.is_file(),
        "feed file missing from the shared data: {}",
        path.display()
    );
    path
}

/// Parses with detection and checks what must hold for every real feed.
fn parse(rel: &str, want: Format) -> Feed {
    parse_as(rel, Format::Auto, want)
}

fn parse_as(rel: &str, format: Format, want: Format) -> Feed {
    let opts = FeedOptions::default().with_format(format);
    let feed = read_file(data(rel), &opts).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let shown: Vec<String> = feed.errors.iter().take(5).map(|e| e.to_string()).collect();
    assert_eq!(
        feed.stats.rejected, 0,
        "{rel}: rejected lines, first: {shown:#?}"
    );
    assert_eq!(feed.format, want, "{rel}: detected format");
    let producing: HashSet<u64> = feed.entries.iter().map(|e| e.line).collect();
    let s = feed.stats;
    // Every line is rejected, skipped, or produced entries: new ones (kept, with their
    // line) or repeats (counted as duplicates, at most one line each).
    let counted = s.rejected + s.skipped + producing.len() as u64;
    assert!(
        counted <= s.lines && s.lines <= counted + s.duplicates,
        "{rel}: {s:?}"
    );
    assert_eq!(s.accepted, feed.entries.len() as u64, "{rel}");
    let distinct: HashSet<_> = feed.entries.iter().map(|e| e.net).collect();
    assert_eq!(
        distinct.len(),
        feed.entries.len(),
        "{rel}: each prefix once"
    );
    feed
}

fn families(feed: &Feed) -> (usize, usize) {
    let v4 = feed
        .entries
        .iter()
        .filter(|e| matches!(e.net, IpNet::V4(_)))
        .count();
    (v4, feed.entries.len() - v4)
}

fn unique(feed: &Feed) -> usize {
    feed.entries
        .iter()
        .map(|e| e.net)
        .collect::<HashSet<_>>()
        .len()
}

fn net_set(feed: &Feed) -> HashSet<IpNet> {
    feed.entries.iter().map(|e| e.net).collect()
}

#[test]
fn abusech_feodo_csv() {
    let mut sets = Vec::new();
    for (file, n) in [
        ("ipblocklist.csv.20240403T1854", 27),
        ("ipblocklist.csv.20240404T0848", 27),
        ("ipblocklist.csv.20240404T1905", 28),
    ] {
        let rel = format!("abusech-feodo-csv/{file}");
        let f = parse(&rel, Format::FeodoCsv);
        assert_eq!(f.entries.len(), n, "{rel}");
        assert_eq!(families(&f), (n, 0), "{rel}");
        assert_eq!(unique(&f), n, "{rel}: no duplicate ips");
        assert!(
            f.entries
                .iter()
                .all(|e| e.meta.tag.as_deref() == Some("Pikabot")),
            "{rel}"
        );
        // A 7-line banner, one `#`, the header row, the rows and the `# END` trailer.
        assert_eq!(
            (f.stats.lines, f.stats.skipped),
            (n as u64 + 10, 10),
            "{rel}"
        );
        assert_eq!(
            f.entries[0].line, 10,
            "{rel}: first row follows the header row"
        );
        sets.push(net_set(&f));
    }
    assert_eq!(sets[0], sets[1]);
    assert_eq!(
        sets[2].difference(&sets[1]).count(),
        1,
        "one row added in the last update"
    );
    assert!(sets[1].is_subset(&sets[2]));
}

#[test]
fn abusech_sslbl() {
    let f = parse("abusech-sslbl/sslipblacklist.csv", Format::Csv);
    assert_eq!(f.entries.len(), 83);
    assert_eq!(families(&f), (83, 0));
    assert_eq!(unique(&f), 83);
    // The third column, which the comment header does not name, is the tag.
    let first = &f.entries[0];
    assert_eq!(first.net.to_string(), "104.130.17.100/32");
    assert_eq!(first.meta.tag.as_deref(), Some("URLzone C&C"));
    assert!(
        f.entries
            .iter()
            .all(|e| e.meta.tag.as_deref().is_some_and(|t| t.ends_with(" C&C")))
    );
    assert!(
        f.entries
            .iter()
            .any(|e| e.meta.tag.as_deref() == Some("Dridex C&C"))
    );
}

#[test]
fn spamhaus_drop_original() {
    let f = parse("spamhaus-drop/original-2023-02-20/drop.txt", Format::Drop);
    assert_eq!(f.entries.len(), 936);
    assert_eq!(families(&f), (936, 0));
    assert_eq!(unique(&f), 936);
    assert_eq!(f.stats.skipped, 4, "the four `;` header lines");
    assert_eq!(f.stats.truncated, 0);
    assert!(
        f.entries
            .iter()
            .all(|e| e.meta.tag.as_deref().is_some_and(|t| t.starts_with("SBL")))
    );
    assert_eq!(f.entries[0].meta.tag.as_deref(), Some("SBL256894"));
    let lens: HashSet<u8> = f.entries.iter().map(|e| e.net.prefix_len()).collect();
    assert_eq!(
        (lens.iter().min(), lens.iter().max()),
        (Some(&12), Some(&24))
    );
}

#[test]
fn spamhaus_secops_mirror() {
    // The mirror strips the SBL comments, leaving bare prefixes (with a trailing space): a
    // plain list by content. Read as DROP explicitly, the result is the same.
    for (file, v4, v6) in [
        ("drop.txt", 989, 0),
        ("edrop.txt", 322, 0),
        ("drop_ipv6.txt", 0, 51),
    ] {
        let rel = format!("spamhaus-drop/secops-mirror-2024-02-27/{file}");
        let f = parse(&rel, Format::Plain);
        assert_eq!(families(&f), (v4, v6), "{rel}");
        assert_eq!(f.stats.truncated, 0, "{rel}");
        let as_drop = parse_as(&rel, Format::Drop, Format::Drop);
        assert_eq!(net_set(&as_drop), net_set(&f), "{rel}");
        assert!(
            as_drop.entries.iter().all(|e| e.meta.tag.is_none()),
            "{rel}"
        );
    }
}

#[cfg(feature = "serde")]
#[test]
fn spamhaus_asn_drop_json() {
    // ASN records carry no prefixes: each is an error saying so (a feed read as an IP list
    // must not turn silently into an empty one); the metadata trailer is skipped.
    let f = read_file(
        data("spamhaus-drop/secops-mirror-2024-02-27/asn_drop.json"),
        &FeedOptions::default(),
    )
    .unwrap();
    assert_eq!(f.format, Format::Json);
    assert_eq!(f.entries.len(), 0);
    assert_eq!(
        f.stats.lines, 202,
        "201 ASN records and the metadata trailer"
    );
    assert_eq!((f.stats.rejected, f.stats.skipped), (201, 1));
    assert!(f.errors[0].reason.contains("ASN record"), "{}", f.errors[0]);
}

#[test]
fn stamparm_ipsum() {
    let f = parse("stamparm-ipsum/ipsum.txt", Format::Ipsum);
    assert_eq!(f.entries.len(), 120_430);
    assert_eq!(families(&f), (120_430, 0));
    assert_eq!(unique(&f), 120_430);
    assert_eq!(f.stats.skipped, 7, "the `#` header");
    assert!(
        f.entries
            .iter()
            .all(|e| e.meta.risk.is_some_and(|r| (10..=100).contains(&r)))
    );
    assert_eq!(f.entries[0].meta.risk, Some(100));

    let levels: [(u32, usize); 8] = [
        (1, 120_430),
        (2, 30_773),
        (3, 14_217),
        (4, 5_354),
        (5, 1_413),
        (6, 318),
        (7, 70),
        (8, 23),
    ];
    let mut previous: Option<HashSet<IpNet>> = None;
    for (n, count) in levels {
        let rel = format!("stamparm-ipsum/levels/{n}.txt");
        let level = parse(&rel, Format::Plain);
        assert_eq!(level.entries.len(), count, "{rel}");
        let set = net_set(&level);
        // Level N is the addresses that N or more lists name: risk >= 10 * N in ipsum.txt.
        let min_risk = u8::try_from(n * 10).unwrap();
        let from_ipsum: HashSet<IpNet> = f
            .entries
            .iter()
            .filter(|e| e.meta.risk.is_some_and(|r| r >= min_risk))
            .map(|e| e.net)
            .collect();
        assert_eq!(set, from_ipsum, "{rel}");
        if let Some(prev) = &previous {
            assert!(set.is_subset(prev), "{rel} is inside the level before it");
        }
        previous = Some(set);
    }
}

#[test]
fn firehol_netsets() {
    for (rel, cidr, hosts, bogons) in [
        (
            "firehol-netsets/2021-06-28/firehol_level1.netset",
            2_490,
            402,
            true,
        ),
        (
            "firehol-netsets/2017-11-04/firehol_level1.netset",
            4_727,
            1_903,
            true,
        ),
        (
            "firehol-netsets/2017-11-04/firehol_level2.netset",
            363,
            40_956,
            false,
        ),
    ] {
        let f = parse(rel, Format::Netset);
        assert_eq!(f.entries.len(), cidr + hosts, "{rel}");
        assert_eq!(families(&f), (cidr + hosts, 0), "{rel}");
        let host_count = f
            .entries
            .iter()
            .filter(|e| e.net.prefix_len() == 32)
            .count();
        assert_eq!(host_count, hosts, "{rel}");
        assert_eq!(unique(&f), cidr + hosts, "{rel}");
        assert_eq!(f.stats.truncated, 0, "{rel}");
        // Level 1 includes fullbogons; level 2 does not.
        let private = "10.0.0.0/8".parse().unwrap();
        assert_eq!(net_set(&f).contains(&private), bogons, "{rel}");
    }
}

#[cfg(feature = "gzip")]
#[test]
fn pyasn_bgp_tables() {
    let f = parse("bgp-ribs-pyasn/ipasn_20140513.dat.gz", Format::AsnTable);
    assert_eq!(families(&f), (512_621, 0));
    assert_eq!(f.stats.skipped, 5);
    assert_eq!(f.stats.truncated, 0);
    assert_eq!(unique(&f), 512_621);
    assert_eq!(f.entries[0].net.to_string(), "1.0.0.0/24");
    assert_eq!(f.entries[0].meta.tag.as_deref(), Some("AS15169"));

    let f = parse("bgp-ribs-pyasn/ipasn6_20151101.dat.gz", Format::AsnTable);
    assert_eq!(families(&f), (606_138, 27_693));
    assert_eq!(f.stats.skipped, 6);
    assert!(
        f.entries
            .iter()
            .all(|e| e.meta.tag.as_deref().is_some_and(|t| t.starts_with("AS")))
    );
    let set = net_set(&f);
    assert!(
        set.contains(&"f8f0:1100::/24".parse().unwrap()),
        "oddities outside 2000::/3 kept"
    );
    assert!(set.contains(&"fdfe:13b9:8bf4::/48".parse().unwrap()));
    let v6_host = f
        .entries
        .iter()
        .filter(|e| e.net.prefix_len() == 128)
        .count();
    assert_eq!(v6_host, 42);
}

#[test]
fn ipverse_country_blocks() {
    let root = data("ipverse-country-ip-blocks/SOURCE.md").with_file_name("country");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|d| d.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 237);
    let (mut v4, mut v6, mut files) = (0, 0, 0);
    let mut all = HashSet::new();
    for dir in &dirs {
        let cc = dir.file_name().unwrap().to_str().unwrap();
        for (file, is_v4) in [
            ("ipv4-aggregated.txt", true),
            ("ipv6-aggregated.txt", false),
        ] {
            let rel = format!("ipverse-country-ip-blocks/country/{cc}/{file}");
            if !Path::new(DATA).join(&rel).exists() {
                continue;
            }
            let f = parse(&rel, Format::Plain);
            let (a, b) = families(&f);
            assert_eq!(if is_v4 { b } else { a }, 0, "{rel}: one family a file");
            assert_eq!(f.stats.skipped, 5, "{rel}: the `#` header");
            assert_eq!(f.stats.truncated, 0, "{rel}");
            v4 += a;
            v6 += b;
            files += 1;
            all.extend(f.entries.iter().map(|e| e.net));
        }
    }
    assert_eq!(files, 468);
    assert_eq!((v4, v6), (175_195, 67_839));
    assert_eq!(
        all.len(),
        175_195 + 67_839,
        "no duplicates across countries"
    );
}

#[test]
fn criticalpath_intel_feeds() {
    for (file, lines, dups, v6) in [
        ("compromised-ips.txt", 539, 0, 0),
        ("cobaltstrike_ips.txt", 2_087, 1_283, 0),
        ("threatfox.txt", 3_483, 1_145, 0),
        ("tor-exit.txt", 3_251, 1_879, 0),
        ("binarydefense.txt", 2_662, 3, 0),
        ("alienvault.txt", 609, 0, 0),
        ("sans.txt", 106_404, 0, 0),
        ("avanzato_c2.txt", 16_087, 0, 24),
    ] {
        let rel = format!("criticalpath-public-intel-feeds/{file}");
        let f = parse(&rel, Format::Plain);
        assert_eq!(f.stats.lines, lines as u64, "{rel}");
        // Repeats are counted, not kept: memory follows distinct entries.
        assert_eq!(f.entries.len(), lines - dups, "{rel}");
        assert_eq!(f.stats.duplicates, dups as u64, "{rel}");
        assert_eq!(unique(&f), lines - dups, "{rel}");
        let v4 = families(&f).0;
        assert_eq!(families(&f), (v4, lines - dups - v4), "{rel}");
        assert!(v6 == 0 || families(&f).1 > 0, "{rel}");
        assert_eq!(f.stats.skipped, 0, "{rel}");
    }
}
