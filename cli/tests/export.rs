//! `c2trie export`: a table's lists come back through `c2trie compile` with the same entries
//! and metadata, from real feeds and from a feed built to carry every kind of metadata.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use c2trie::{List, Table};

fn c2trie(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c2trie"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = c2trie(dir, args);
    assert!(
        o.status.success(),
        "c2trie {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: the export tests need ../shared/data",
        p.display()
    );
    p
}

/// Every entry of a table: list, prefix, tag, risk, expiry, and the source unless left out.
type Entry = (
    List,
    ipnet::IpNet,
    Option<String>,
    Option<u8>,
    Option<u64>,
    Option<String>,
);

fn entries(path: &Path, with_source: bool) -> BTreeSet<Entry> {
    Table::read_file(path)
        .unwrap()
        .entries()
        .map(|e| {
            (
                e.list(),
                e.prefix(),
                e.tag().map(str::to_owned),
                e.risk(),
                e.expires(),
                with_source.then(|| e.source().to_owned()),
            )
        })
        .collect()
}

const CREATED: &str = "1700000000";

fn compile(dir: &Path, global: &[&str], blocked: &str, approved: &str, out: &str) {
    let mut args = vec!["compile"];
    for g in global {
        args.extend(["--global", g]);
    }
    args.extend([
        "--blocked",
        blocked,
        "--approved",
        approved,
        "--list-version",
        "9",
        "--created",
        CREATED,
        "-o",
        out,
    ]);
    ok(dir, &args);
}

/// Real feeds, several to a list, with tags (Feodo) and risk scores (ipsum): the export,
/// compiled back, has the same entries in the same lists with the same metadata. Only the
/// sources differ (they name the export files), which `diff --ignore-source` leaves out.
#[test]
fn real_feeds_round_trip_with_their_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let drop = data("spamhaus-drop/secops-mirror-2024-02-27/drop.txt");
    let feodo = data("abusech-feodo-csv/ipblocklist.csv.20240404T1905");
    let ipsum = data("stamparm-ipsum/ipsum.txt");
    let drop6 = data("spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt");
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    compile(d, &[&s(&drop), &s(&feodo)], &s(&ipsum), &s(&drop6), "a.c2t");
    let o = ok(d, &["export", "a.c2t", "--dir", "exp", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lossy"], 0, "{v}");
    assert_eq!(v["files"].as_array().unwrap().len(), 3, "{v}");
    compile(
        d,
        &["exp/global.json"],
        "exp/blocked.json",
        "exp/approved.json",
        "b.c2t",
    );

    let (a, b) = (d.join("a.c2t"), d.join("b.c2t"));
    let before = entries(&a, false);
    assert!(before.len() > 120_000, "{}", before.len());
    assert!(before.iter().any(|e| e.2.as_deref() == Some("Pikabot")));
    assert!(
        before.iter().any(|e| e.3.is_some()),
        "ipsum gives risk scores"
    );
    assert_eq!(before, entries(&b, false));
    let o = c2trie(
        d,
        &["diff", "--ignore-source", "--summary", "a.c2t", "b.c2t"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("no differences"));
    // The sources are the export files' names, so a diff that counts them differs.
    assert_eq!(
        c2trie(d, &["diff", "--summary", "a.c2t", "b.c2t"])
            .status
            .code(),
        Some(3)
    );
    let (ta, tb) = (Table::read_file(&a).unwrap(), Table::read_file(&b).unwrap());
    assert_eq!(
        (ta.list_version(), ta.created_unix()),
        (tb.list_version(), tb.created_unix())
    );

    // CSV brings back prefixes and tags (ipsum's risk scores are reported as not carried).
    let o = ok(d, &["export", "a.c2t", "--dir", "csv", "--format", "csv"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("use --format json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    compile(
        d,
        &["csv/global.csv"],
        "csv/blocked.csv",
        "csv/approved.csv",
        "c.c2t",
    );
    let strip =
        |s: BTreeSet<Entry>| -> BTreeSet<_> { s.into_iter().map(|e| (e.0, e.1, e.2)).collect() };
    assert_eq!(
        strip(before.clone()),
        strip(entries(&d.join("c.c2t"), false))
    );

    // Text brings back the prefixes.
    ok(d, &["export", "a.c2t", "--dir", "txt", "--format", "text"]);
    compile(
        d,
        &["txt/global.txt"],
        "txt/blocked.txt",
        "txt/approved.txt",
        "t.c2t",
    );
    let prefixes =
        |s: BTreeSet<Entry>| -> BTreeSet<_> { s.into_iter().map(|e| (e.0, e.1)).collect() };
    assert_eq!(prefixes(before), prefixes(entries(&d.join("t.c2t"), false)));
}

/// One feed per list, compiled under the names the export files then take: the sources
/// match too, and the tables are the same byte for byte, checksum included.
#[test]
fn same_names_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let dir = "spamhaus-drop/secops-mirror-2024-02-27";
    for (name, feed) in [
        ("g", "drop.txt"),
        ("b", "edrop.txt"),
        ("a", "drop_ipv6.txt"),
    ] {
        std::fs::copy(data(&format!("{dir}/{feed}")), d.join(name)).unwrap();
    }
    compile(d, &["g"], "b", "a", "one.c2t");
    for (list, name) in [("global", "g"), ("blocked", "b"), ("approved", "a")] {
        ok(d, &["export", "one.c2t", "--list", list, "-o", name]);
    }
    compile(d, &["g"], "b", "a", "two.c2t");
    let (one, two) = (d.join("one.c2t"), d.join("two.c2t"));
    assert_eq!(entries(&one, true), entries(&two, true));
    assert_eq!(
        Table::read_file(&one).unwrap().checksum(),
        Table::read_file(&two).unwrap().checksum()
    );
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    let o = c2trie(d, &["diff", "one.c2t", "two.c2t"]);
    assert_eq!(o.status.code(), Some(0));
}

/// Tags with quotes, commas, non-ASCII text and control characters, risk 0, an empty tag
/// and expiry times: JSON carries them all; CSV refuses a line break in a tag.
#[test]
fn every_kind_of_metadata_round_trips_through_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("g.json"),
        r#"[
{"prefix": "192.0.2.0/24", "tag": "say \"hi\", then ; | go", "risk": 0},
{"prefix": "192.0.2.128/25", "tag": "", "expires": 1900000000},
{"prefix": "198.51.100.7/32", "tag": "Ünïcode \u001b[2J", "risk": 100, "expires": 1800000000},
{"prefix": "2001:db8::/48", "tag": " padded "},
{"prefix": "2001:db8:1::1/128"}
]"#,
    )
    .unwrap();
    std::fs::write(d.join("b.txt"), "203.0.113.0/24\n").unwrap();
    std::fs::write(d.join("a.txt"), "").unwrap();
    compile(d, &["g.json"], "b.txt", "a.txt", "a.c2t");
    ok(d, &["export", "a.c2t", "--dir", "exp"]);
    compile(
        d,
        &["exp/global.json"],
        "exp/blocked.json",
        "exp/approved.json",
        "b.c2t",
    );
    let before = entries(&d.join("a.c2t"), false);
    assert_eq!(before.len(), 6);
    assert_eq!(before, entries(&d.join("b.c2t"), false));
    let approved = std::fs::read_to_string(d.join("exp/approved.json")).unwrap();
    assert_eq!(approved, "[\n]\n", "an empty list is an empty array");

    // On standard output by default; the entries are sorted, IPv4 first.
    let o = ok(d, &["export", "a.c2t", "--list", "global"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &v[0];
    assert_eq!(first["prefix"], "192.0.2.0/24");
    assert_eq!(first["risk"], 0);
    assert_eq!(first["list"], "global");
    assert_eq!(first["source"], "g.json");
    assert_eq!(v[4]["prefix"], "2001:db8:1::1/128");
    assert!(v[4].get("tag").is_none(), "no null keys: {}", v[4]);

    // CSV: quoting keeps the first tag whole; the padded and empty tags are reported.
    let o = ok(
        d,
        &["export", "a.c2t", "--list", "global", "--format", "csv"],
    );
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(
        csv.starts_with("prefix,tag,risk,expires,list,source\n192.0.2.0/24,\"say \"\"hi\"\", then ; | go\",0,,global,g.json\n"),
        "{csv}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: 4 global entries"));

    std::fs::write(
        d.join("nl.json"),
        r#"[{"prefix": "192.0.2.0/24", "tag": "two\nlines"}]"#,
    )
    .unwrap();
    compile(d, &["nl.json"], "b.txt", "a.txt", "nl.c2t");
    let o = c2trie(
        d,
        &["export", "nl.c2t", "--list", "global", "--format", "csv"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line break"));
}

#[test]
fn usage_errors_and_safe_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("g.txt"), "192.0.2.1\n").unwrap();
    ok(
        d,
        &[
            "compile",
            "--global",
            "g.txt",
            "--list-version",
            "1",
            "-o",
            "t.c2t",
        ],
    );
    // Neither --list nor --dir, both, --dir with -o, --json onto standard output, a bad list.
    for args in [
        &["export", "t.c2t"][..],
        &["export", "t.c2t", "--list", "global", "--dir", "x"],
        &["export", "t.c2t", "--dir", "x", "-o", "y"],
        &["export", "t.c2t", "--list", "global", "--json"],
        &["export", "t.c2t", "--list", "global", "--json", "-o", "-"],
        &["export", "t.c2t", "--list", "nope"],
        &["export", "t.c2t", "--list", "global", "--format", "xml"],
    ] {
        assert_eq!(c2trie(d, args).status.code(), Some(2), "{args:?}");
    }
    let o = ok(
        d,
        &[
            "export", "t.c2t", "--list", "global", "--format", "text", "-o", "-",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("\n192.0.2.1/32\n"));
    assert!(!d.join("-").exists());
    assert_eq!(
        c2trie(d, &["export", "missing.c2t", "--list", "global"])
            .status
            .code(),
        Some(1)
    );
    #[cfg(unix)]
    {
        std::fs::write(d.join("precious"), "keep").unwrap();
        std::os::unix::fs::symlink(d.join("precious"), d.join("out.json")).unwrap();
        let o = c2trie(
            d,
            &["export", "t.c2t", "--list", "global", "-o", "out.json"],
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("symbolic link"));
        assert_eq!(std::fs::read_to_string(d.join("precious")).unwrap(), "keep");
    }
}
