//! `c2trie bench`: runs on a user's table and reports single and batch figures per family
//! and query set, with hit counts that show the lookups really ran.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_reports_every_family_set_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.c2t");
    let global = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/global.txt");
    let bin = env!("CARGO_BIN_EXE_c2trie");
    let out = Command::new(bin)
        .args(["compile", "--global"])
        .arg(&global)
        .arg("-o")
        .arg(&table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin)
        .arg("bench")
        .arg(&table)
        .args(["--queries", "2000", "--rounds", "1", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 12, "2 families x 3 query sets x 2 modes");
    for r in results {
        assert!(r["mlps"].as_f64().unwrap() > 0.0);
        // Every entry is global, so every hit-heavy query matches the global list, and
        // about half the mixed ones (the other half are mostly misses).
        if r["queries"] == "hit-heavy" {
            assert_eq!(r["global_hits"], 2000, "{r}");
        }
        if r["queries"] == "mixed" {
            let hits = r["global_hits"].as_u64().unwrap();
            assert!((800..=1400).contains(&hits), "{r}");
        }
    }
    // Single and batch agree on what they found.
    for pair in results.chunks(2) {
        assert_eq!(pair[0]["global_hits"], pair[1]["global_hits"]);
    }
    // The readable form names the columns.
    let out = Command::new(bin)
        .arg("bench")
        .arg(&table)
        .args(["--queries", "100", "--rounds", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mlps"));
    // Misses first: the mixed queries reordered, so the same number of them match.
    let out = Command::new(bin)
        .arg("bench")
        .arg(&table)
        .args([
            "--queries",
            "2000",
            "--rounds",
            "1",
            "--misses-first",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    for family in ["ipv4", "ipv6"] {
        let hits = |set: &str| {
            let found: Vec<_> = results
                .iter()
                .filter(|r| r["family"] == family && r["queries"] == set)
                .map(|r| r["global_hits"].as_u64().unwrap())
                .collect();
            assert!(!found.is_empty(), "{family} {set}");
            found[0]
        };
        assert_eq!(hits("mixed, misses first"), hits("mixed"), "{family}");
    }
    // Per prefix length: one set per length the table holds, every query a global hit.
    let out = Command::new(bin)
        .arg("bench")
        .arg(&table)
        .args(["--queries", "500", "--rounds", "1", "--by-length", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_len: Vec<&serde_json::Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["queries"].as_str().unwrap().starts_with("hits /"))
        .collect();
    let mut lens: Vec<String> = by_len
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["family"].as_str().unwrap(),
                r["queries"].as_str().unwrap()
            )
        })
        .collect();
    lens.sort();
    let mut want: Vec<String> = c2trie::Table::read_file(&table)
        .unwrap()
        .entries()
        .map(|e| {
            let family = if e.prefix().addr().is_ipv6() {
                "ipv6"
            } else {
                "ipv4"
            };
            format!("{family} hits /{}", e.prefix().prefix_len())
        })
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(lens, want);
    for r in by_len {
        assert_eq!(r["global_hits"], 500, "{r}");
    }
}
