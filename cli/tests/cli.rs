//! The `c2trie` binary end to end: compile real feeds it was not written for, look up
//! hundreds of thousands of addresses through standard input, and compare every answer with
//! an independent oracle; refuse every corrupted table with an error, never a panic.

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_c2trie"))
}

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: the CLI tests need ../shared/data",
        p.display()
    );
    p
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input).unwrap());
    }
    child.wait_with_output().unwrap()
}

/// Parses a plain list the simple way: one address or CIDR a line, `#` comments.
fn plain(path: &Path) -> Vec<IpNet> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<IpNet>()
                .or_else(|_| l.parse::<IpAddr>().map(IpNet::from))
                .unwrap()
        })
        .collect()
}

fn longest(set: &HashSet<IpNet>, addr: IpAddr) -> Option<IpNet> {
    match addr {
        IpAddr::V4(a) => (0..=32)
            .rev()
            .map(|l| IpNet::V4(Ipv4Net::new(a, l).unwrap().trunc()))
            .find(|n| set.contains(n)),
        IpAddr::V6(a) => (0..=128)
            .rev()
            .map(|l| IpNet::V6(Ipv6Net::new(a, l).unwrap().trunc()))
            .find(|n| set.contains(n)),
    }
}

#[test]
fn compile_and_lookup_agree_with_oracle_on_unseen_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.c2t");
    let global = [
        data("criticalpath-public-intel-feeds/tor-exit.txt"),
        data("criticalpath-public-intel-feeds/avanzato_c2.txt"),
        data("ipverse-country-ip-blocks/country/nl/ipv4-aggregated.txt"),
        data("ipverse-country-ip-blocks/country/nl/ipv6-aggregated.txt"),
    ];
    let blocked = [data("criticalpath-public-intel-feeds/binarydefense.txt")];
    let approved = [data(
        "ipverse-country-ip-blocks/country/lu/ipv4-aggregated.txt",
    )];
    let mut cmd = bin();
    cmd.arg("compile")
        .arg("--json")
        .arg("--list-version")
        .arg("9")
        .arg("-o")
        .arg(&table);
    for g in &global {
        cmd.arg("--global").arg(g);
    }
    cmd.arg("--blocked")
        .arg(&blocked[0])
        .arg("--approved")
        .arg(&approved[0]);
    let out = run(&mut cmd, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["list_version"], 9);

    let sets: Vec<HashSet<IpNet>> = [&approved[..], &blocked[..], &global[..]]
        .iter()
        .map(|files| {
            files
                .iter()
                .flat_map(|f| plain(f))
                .map(|n| n.trunc())
                .collect()
        })
        .collect();

    // Queries: every entry's first and last address and their neighbours, plus a sweep.
    let mut queries: Vec<IpAddr> = Vec::new();
    for set in &sets {
        for net in set {
            let (lo, hi) = (net.network(), net.broadcast());
            queries.push(lo);
            queries.push(hi);
            match (lo, hi) {
                (IpAddr::V4(l), IpAddr::V4(h)) => {
                    queries.push(IpAddr::V4((u32::from(l).wrapping_sub(1)).into()));
                    queries.push(IpAddr::V4((u32::from(h).wrapping_add(1)).into()));
                }
                (IpAddr::V6(l), IpAddr::V6(h)) => {
                    queries.push(IpAddr::V6((u128::from(l).wrapping_sub(1)).into()));
                    queries.push(IpAddr::V6((u128::from(h).wrapping_add(1)).into()));
                }
                _ => unreachable!(),
            }
        }
    }
    let mut x = 0x9e37_79b9u32;
    while queries.len() < 250_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        queries.push(IpAddr::V4(x.into()));
    }
    let input: String = queries.iter().map(|q| format!("{q}\n")).collect();
    let out = run(bin().arg("lookup").arg(&table), Some(input.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    for (line, q) in stdout.lines().zip(&queries) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["addr"].as_str().unwrap().parse::<IpAddr>().unwrap(), *q);
        for (i, key) in ["approved", "blocked", "global"].iter().enumerate() {
            let want = longest(&sets[i], *q).map(|n| n.to_string());
            assert_eq!(v[key].as_str().map(str::to_owned), want, "{key} {q}");
        }
        n += 1;
    }
    assert_eq!(n, queries.len());
    assert!(n >= 250_000);
}

#[test]
fn every_corrupted_table_is_refused_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.c2t");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/global.txt");
    let out = run(
        bin()
            .arg("compile")
            .arg("--global")
            .arg(&sample)
            .arg("-o")
            .arg(&good),
        None,
    );
    assert!(out.status.success());
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("bad.c2t");
    // Every header byte, then a stride through the body; plus truncations.
    let positions: Vec<usize> = (0..400).chain((400..bytes.len()).step_by(5)).collect();
    for i in positions {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        std::fs::write(&bad, &b).unwrap();
        for sub in ["verify", "inspect"] {
            let out = run(bin().arg(sub).arg(&bad), None);
            assert_eq!(out.status.code(), Some(1), "{sub} byte {i}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("bad.c2t: "), "{sub} byte {i}: {err}");
            assert!(!err.contains("panicked"), "{sub} byte {i}: {err}");
        }
    }
    for len in [0, 10, 63, 64, 335, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..len]).unwrap();
        let out = run(bin().arg("lookup").arg(&bad).arg("192.0.2.1"), None);
        assert_eq!(out.status.code(), Some(1), "truncated to {len}");
        assert!(out.stdout.is_empty());
    }
    let out = run(bin().arg("verify").arg(&good), None);
    assert!(out.status.success());
}

#[test]
fn strict_mode_refuses_a_feed_with_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.txt");
    std::fs::write(
        &feed,
        "192.0.2.1\n010.1.1.1\n198.51.100.0/33\n203.0.113.9\n",
    )
    .unwrap();
    let out_path = dir.path().join("t.c2t");
    // Lenient: bad lines reported with file:line, the good ones kept.
    let out = run(
        bin()
            .arg("compile")
            .arg("--global")
            .arg(&feed)
            .arg("-o")
            .arg(&out_path),
        None,
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("feed.txt:2: "), "{err}");
    assert!(err.contains("feed.txt:3: "), "{err}");
    let out = run(bin().arg("lookup").arg(&out_path).arg("203.0.113.9"), None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"global\":\"203.0.113.9/32\""));
    // Strict: the compile fails and writes nothing.
    std::fs::remove_file(&out_path).unwrap();
    let out = run(
        bin()
            .arg("compile")
            .arg("--strict")
            .arg("--global")
            .arg(&feed)
            .arg("-o")
            .arg(&out_path),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!out_path.exists());
}
