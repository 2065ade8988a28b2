//! The binary's hardening paths: poisoned and ambiguous feed lines named by `file:line`,
//! the limit overrides, corrupted tables refused without a panic, and signing.

use std::path::Path;
use std::process::{Command, Output};

fn c2trie(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c2trie"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn compile_refuses_a_poisoned_global_list_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "# c2\n192.0.2.1\n0.0.0.0/0\n").unwrap();
    let o = c2trie(d, &["compile", "--global", "g.txt", "-o", "t.c2t"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("g.txt:3: 0.0.0.0/0"), "{err}");
    assert!(err.contains("--min-prefix-v4 global=0"), "{err}");
    assert!(!d.join("t.c2t").exists(), "no table is written");
    assert!(!err.contains("panicked"), "{err}");

    // As a blocked list it is the user's decision.
    let o = c2trie(d, &["compile", "--blocked", "g.txt", "-o", "t.c2t"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The overrides the message offers, per list and per run.
    for flags in [
        &["--min-prefix-v4", "global=0"][..],
        &["--allow-broad", "global"][..],
    ] {
        let mut args = vec!["compile", "--global", "g.txt", "-o", "t.c2t"];
        args.extend_from_slice(flags);
        let o = c2trie(d, &args);
        assert!(o.status.success(), "{flags:?}: {}", stderr(&o));
    }
    // The other limits, from the command line.
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "g.txt",
            "-o",
            "t.c2t",
            "--allow-broad",
            "global",
            "--max-entries",
            "global=1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("g.txt:3: more than 1 distinct entries (the global list's"),
        "{}",
        stderr(&o)
    );
    let o = c2trie(
        d,
        &[
            "compile",
            "--blocked",
            "g.txt",
            "-o",
            "t.c2t",
            "--max-coverage-v4",
            "blocked=50%",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("covers 100.00% of the IPv4"),
        "{}",
        stderr(&o)
    );
    // A malformed override is a usage error, not a silent default.
    for bad in [
        &["--min-prefix-v4", "global"][..],
        &["--max-coverage-v4", "nolist=1%"][..],
        &["--min-prefix-v4", "global=33"][..],
        &["--min-prefix-v6", "global=129"][..],
    ] {
        let mut args = vec!["compile", "--global", "g.txt", "-o", "t.c2t"];
        args.extend_from_slice(bad);
        let o = c2trie(d, &args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn compile_names_an_ambiguous_address_and_strict_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.1\n010.1.1.1\n").unwrap();
    let o = c2trie(d, &["compile", "--global", "g.txt", "-o", "t.c2t"]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("g.txt:2: bad address \"010.1.1.1\""),
        "{}",
        stderr(&o)
    );
    let o = c2trie(d, &["lookup", "t.c2t", "10.1.1.1", "8.1.1.1"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().all(|l| l.contains("\"global\":null")), "{out}");
    let o = c2trie(
        d,
        &["compile", "--strict", "--global", "g.txt", "-o", "t2.c2t"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("t2.c2t").exists());
}

#[test]
fn keygen_sign_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.1\n2001:db8::/32\n").unwrap();
    assert!(
        c2trie(d, &["compile", "--global", "g.txt", "-o", "t.c2t"])
            .status
            .success()
    );
    assert!(c2trie(d, &["keygen", "-o", "vendor.key"]).status.success());
    assert!(c2trie(d, &["keygen", "-o", "other.key"]).status.success());
    // keygen never overwrites a key.
    assert_eq!(
        c2trie(d, &["keygen", "-o", "vendor.key"]).status.code(),
        Some(1)
    );

    let verify = |key: &str| c2trie(d, &["verify", "--pubkey", key, "t.c2t"]);
    let o = verify("vendor.key.pub");
    assert_eq!(o.status.code(), Some(1), "unsigned");
    assert!(stderr(&o).contains("not signed"), "{}", stderr(&o));

    let o = c2trie(d, &["sign", "--key", "vendor.key", "t.c2t"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("t.c2t.sig").exists());
    assert!(verify("vendor.key.pub").status.success());
    assert_eq!(verify("other.key.pub").status.code(), Some(1));
    // Verification without --pubkey is the plain validity check.
    assert!(c2trie(d, &["verify", "t.c2t"]).status.success());

    // One flipped byte: refused, with a message, no panic.
    let mut bytes = std::fs::read(d.join("t.c2t")).unwrap();
    bytes[200] ^= 0x10;
    std::fs::write(d.join("t.c2t"), &bytes).unwrap();
    let o = verify("vendor.key.pub");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
    let o = c2trie(d, &["verify", "t.c2t"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));

    // A broken table is never signed.
    let o = c2trie(d, &["sign", "--key", "vendor.key", "t.c2t"]);
    assert_eq!(o.status.code(), Some(1));
}

/// A compile without `--list-version` gets version 0, which any agent serving a table
/// refuses: it says so. A repeated line costs memory for one entry and is counted.
#[test]
fn compile_warns_without_a_list_version_and_counts_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.1\n".repeat(1000)).unwrap();
    let o = c2trie(
        d,
        &["compile", "--global", "g.txt", "-o", "t.c2t", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("no --list-version"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["feeds"][0]["duplicates"], 999);
    assert_eq!(v["lists"]["global"]["duplicates"], 999);
    assert_eq!(v["lists"]["global"]["entries"], 1);
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "g.txt",
            "-o",
            "t.c2t",
            "--list-version",
            "7",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no --list-version"), "{}", stderr(&o));
}

/// Expiry is enforced at compile time: an entry that expired before the table's creation
/// time is dropped and counted; one that expires later is kept.
#[test]
fn expired_entries_are_dropped_at_compile_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("g.json"),
        r#"[{"ip": "192.0.2.1", "expires": "2020-01-01T00:00:00Z"},
            {"ip": "192.0.2.2", "expires": "2099-01-01T00:00:00Z"},
            {"ip": "192.0.2.3"}]"#,
    )
    .unwrap();
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "g.json",
            "-o",
            "t.c2t",
            "--json",
            "--list-version",
            "1",
            "--created",
            "1800000000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lists"]["global"]["expired"], 1, "{v}");
    assert_eq!(v["lists"]["global"]["entries"], 2, "{v}");
    assert_eq!(v["feeds"][0]["expired"], 1, "{v}");
    assert_eq!(v["feeds"][0]["duplicates"], 0, "{v}");
    let t = c2trie::Table::read_file(d.join("t.c2t")).unwrap();
    assert!(t.lookup("192.0.2.1".parse().unwrap()).is_empty());
    assert!(!t.lookup("192.0.2.2".parse().unwrap()).is_empty());
}

/// `lookup` on standard input: a line that is not UTF-8, or is too long, costs that line
/// (an error object), not the rest of the run.
#[test]
fn lookup_survives_bad_lines_on_standard_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.0/24\n").unwrap();
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "g.txt",
            "-o",
            "t.c2t",
            "--list-version",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_c2trie"))
        .current_dir(d)
        .args(["lookup", "t.c2t"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = b"192.0.2.1\n\xff\xfe\n".to_vec();
    input.extend(std::iter::repeat_n(b'9', 100_000));
    input.extend_from_slice(b"\n198.51.100.1\n");
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["addr"], "192.0.2.1");
    assert!(lines[1]["error"].as_str().unwrap().contains("utf-8"));
    assert!(lines[2]["error"].as_str().unwrap().contains("longer than"));
    assert_eq!(lines[3]["addr"], "198.51.100.1");
    assert_eq!(out.status.code(), Some(1), "a bad line makes the run fail");
}

/// Bad option values are usage errors (exit 2); `--strict` refuses host bits.
#[test]
fn bad_option_values_exit_2_and_strict_refuses_host_bits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.77/24\n").unwrap();
    for bad in [
        &["--format", "xml"][..],
        &["--min-prefix-v4", "global=abc"][..],
        &["--max-entries", "nolist=5"][..],
    ] {
        let mut args = vec!["compile", "--global", "g.txt", "-o", "t.c2t"];
        args.extend_from_slice(bad);
        let o = c2trie(d, &args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
    let strict = ["compile", "--global", "g.txt", "-o", "t.c2t", "--strict"];
    let o = c2trie(d, &strict);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("host bits"), "{}", stderr(&o));
    assert!(!d.join("t.c2t").exists());
    let o = c2trie(d, &strict[..5]);
    assert!(
        o.status.success(),
        "without --strict the entry is kept, truncated"
    );
}

/// Keys and signatures are never written through a symbolic link at the output path (it
/// could send a secret key or a signature anywhere the link points); the secret key is
/// readable by its owner only.
#[test]
#[cfg(unix)]
fn keygen_and_sign_never_write_through_a_symlink() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("g.txt"), "192.0.2.1\n").unwrap();
    assert!(
        c2trie(d, &["compile", "--global", "g.txt", "-o", "t.c2t"])
            .status
            .success()
    );
    std::fs::write(d.join("precious"), "keep").unwrap();
    let refused = |args: &[&str]| {
        let o = c2trie(d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(d.join("precious")).unwrap(), "keep");
    };

    // The secret key's path is a link, to a file or to nowhere.
    symlink(d.join("precious"), d.join("a.key")).unwrap();
    refused(&["keygen", "-o", "a.key"]);
    symlink(d.join("nowhere"), d.join("b.key")).unwrap();
    refused(&["keygen", "-o", "b.key"]);
    assert!(!d.join("nowhere").exists());
    // The public key's path is a link: refused before the secret key is written.
    symlink(d.join("precious"), d.join("c.key.pub")).unwrap();
    refused(&["keygen", "-o", "c.key"]);
    assert!(!d.join("c.key").exists());

    let o = c2trie(d, &["keygen", "-o", "vendor.key"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(d.join("vendor.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // The signature's path is a link.
    symlink(d.join("precious"), d.join("t.c2t.sig")).unwrap();
    refused(&["sign", "--key", "vendor.key", "t.c2t"]);
    std::fs::remove_file(d.join("t.c2t.sig")).unwrap();
    let o = c2trie(d, &["sign", "--key", "vendor.key", "t.c2t"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        c2trie(d, &["verify", "--pubkey", "vendor.key.pub", "t.c2t"])
            .status
            .success()
    );
    // Signing again replaces the signature file; no temporary file is left behind.
    assert!(
        c2trie(d, &["sign", "--key", "vendor.key", "t.c2t"])
            .status
            .success()
    );
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

/// A feed over the list's `--max-entries` is refused naming that limit, not the parser's.
#[test]
fn max_entries_names_the_lists_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feed: String = (0..1500)
        .map(|i| format!("10.0.{}.{}\n", i / 256, i % 256))
        .collect();
    std::fs::write(d.join("g.txt"), feed).unwrap();
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "g.txt",
            "--max-entries",
            "global=1000",
            "-o",
            "t.c2t",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    // The 1,001st distinct entry is on line 1,001.
    assert!(
        err.contains("g.txt:1001: more than 1000 distinct entries"),
        "{err}"
    );
    assert!(err.contains("the global list's --max-entries"), "{err}");
}
