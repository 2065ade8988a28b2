//! `c2trie update --once` against a local HTTP server: a first run publishes, a second gets
//! a 304 and changes nothing, a rolled-back or tampered table leaves the directory as it was
//! and exits 1 with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/http_server/mod.rs"]
mod http_server;

use std::path::Path;
use std::process::{Command, Output};

use http_server::{Server, Site, snapshot};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_c2trie"))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles a one-entry table of `version` with the CLI and signs it with `key`; returns
/// the table's and the signature's bytes.
fn signed(work: &Path, key: &Path, version: u64, entry: &str) -> (Vec<u8>, Vec<u8>) {
    let feed = work.join(format!("feed{version}.txt"));
    std::fs::write(&feed, format!("{entry}\n")).unwrap();
    let table = work.join(format!("t{version}-{}.c2t", entry.replace(['/', '.'], "_")));
    ok(&bin()
        .args(["compile", "--global"])
        .arg(&feed)
        .args(["--list-version", &version.to_string(), "-o"])
        .arg(&table)
        .output()
        .unwrap());
    ok(&bin()
        .arg("sign")
        .arg("--key")
        .arg(key)
        .arg(&table)
        .output()
        .unwrap());
    let mut sig = table.as_os_str().to_owned();
    sig.push(".sig");
    (std::fs::read(&table).unwrap(), std::fs::read(sig).unwrap())
}

#[test]
fn update_once_publishes_then_not_modified_then_refuses() {
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("vendor.key");
    ok(&bin().arg("keygen").arg("-o").arg(&key).output().unwrap());
    let pubkey = work.path().join("vendor.key.pub");
    let state = work.path().join("state-dir");

    let site = Site::new();
    let s = std::sync::Arc::clone(&site);
    let server = Server::start(move |r| s.reply(r));
    let url = server.url("http", "lists/c2.c2t");
    let run = |json: bool| {
        let mut c = bin();
        c.args(["update", "--url", &url, "--pubkey"])
            .arg(&pubkey)
            .arg("--dir")
            .arg(&state)
            .arg("--once");
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };

    let (v2, v2sig) = signed(work.path(), &key, 2, "198.51.100.0/24");
    site.put("lists/c2.c2t", v2.clone(), "v2");
    site.put("lists/c2.c2t.sig", v2sig, "v2s");
    let out = ok(&run(false));
    assert!(out.contains("updated list version none -> 2"), "{out}");
    assert_eq!(std::fs::read(state.join("lists.2.c2t")).unwrap(), v2);
    assert!(state.join("lists.2.c2t.sig").exists());
    assert_eq!(
        std::fs::read_to_string(state.join("lists.current"))
            .unwrap()
            .trim(),
        "lists.2.c2t"
    );
    // What was published verifies with the CLI's own verify.
    ok(&bin()
        .arg("verify")
        .arg("--pubkey")
        .arg(&pubkey)
        .arg(state.join("lists.2.c2t"))
        .output()
        .unwrap());

    let before = snapshot(&state);
    let out = ok(&run(true));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["outcome"], "not_modified", "{out}");
    assert_eq!(v["list_version"], 2);
    assert_eq!(snapshot(&state), before, "a 304 changes nothing");

    // Rolled back: a validly signed version 1.
    let (v1, v1sig) = signed(work.path(), &key, 1, "198.51.100.0/24");
    site.put("lists/c2.c2t", v1, "v1");
    site.put("lists/c2.c2t.sig", v1sig, "v1s");
    let out = run(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("update refused (rollback)"), "{err}");
    assert_eq!(snapshot(&state), before);
    let out = run(true);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["kind"].as_str(),
            v["accepted"].as_u64(),
            v["offered"].as_u64()
        ),
        (Some("rollback"), Some(2), Some(1))
    );
    assert_eq!(snapshot(&state), before);

    // Tampered: version 3's signature over other bytes.
    let (mut v3, v3sig) = signed(work.path(), &key, 3, "203.0.113.0/24");
    let last = v3.len() - 1;
    v3[last] ^= 0x40;
    site.put("lists/c2.c2t", v3, "v3");
    site.put("lists/c2.c2t.sig", v3sig, "v3s");
    let out = run(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("update refused (signature)"), "{err}");
    assert_eq!(snapshot(&state), before);

    // Usage errors exit 2.
    let out = bin()
        .args(["update", "--url", &url, "--pubkey"])
        .arg(&pubkey)
        .arg("--dir")
        .arg(&state)
        .args(["--interval", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Bad URLs and out-of-range durations are usage errors (exit 2) that never print a
/// password; `--max-jump` and `--require-not-after` reach the library's checks.
#[test]
fn update_usage_errors_and_options() {
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("vendor.key");
    ok(&bin().arg("keygen").arg("-o").arg(&key).output().unwrap());
    let pubkey = work.path().join("vendor.key.pub");
    let state = work.path().join("state-dir");
    let site = Site::new();
    let s = std::sync::Arc::clone(&site);
    let server = Server::start(move |r| s.reply(r));
    let url = server.url("http", "c2.c2t");
    let run = |url: &str, extra: &[&str]| {
        bin()
            .args(["update", "--url", url, "--pubkey"])
            .arg(&pubkey)
            .arg("--dir")
            .arg(&state)
            .arg("--once")
            .args(extra)
            .output()
            .unwrap()
    };
    let port = server.port();
    for bad in [
        "ftp://127.0.0.1/c2.c2t".to_owned(),
        format!("{url}?v=2"),
        format!("{url}#latest"),
        format!("http://user:secret@127.0.0.1:{port}/c2.c2t"),
        format!("http://127.0.0.1:{port}/"),
    ] {
        let out = run(&bad, &["--json"]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{bad}: {all}");
        assert!(!all.contains("secret"), "{all}");
    }
    for (flag, value) in [
        ("--interval", "99999999999d"),
        ("--interval", "366d"),
        ("--interval", "500ms"),
        ("--timeout", "18446744073709551615"),
        ("--timeout", "400d"),
    ] {
        let out = run(&url, &[flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
    }
    assert!(
        server.exchanges().is_empty(),
        "no request for a usage error"
    );

    // --max-jump: version 2 accepted, then version 100 refused as a jump.
    let (v2, v2sig) = signed(work.path(), &key, 2, "198.51.100.0/24");
    site.put("c2.c2t", v2, "v2");
    site.put("c2.c2t.sig", v2sig, "v2s");
    ok(&run(&url, &[]));
    let (v100, v100sig) = signed(work.path(), &key, 100, "198.51.100.0/24");
    site.put("c2.c2t", v100, "v100");
    site.put("c2.c2t.sig", v100sig, "v100s");
    let out = run(&url, &["--max-jump", "10", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "version_jump", "{v}");

    // --require-not-after: `c2trie sign` writes signatures without one.
    let out = run(&url, &["--require-not-after", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "signature", "{v}");
    ok(&run(&url, &[]));

    let help = ok(&bin().args(["update", "--help"]).output().unwrap());
    assert!(
        help.contains("--max-jump") && help.contains("--require-not-after"),
        "{help}"
    );
}
