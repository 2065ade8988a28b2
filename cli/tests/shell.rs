//! The binary as a shell sees it: feeds on standard input (`-`), completion scripts, man
//! pages, and the sample lists built into `demo`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn c2trie(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_c2trie"))
        .current_dir(dir)
        .args(args)
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
        std::thread::spawn(move || {
            // The binary may exit before reading everything (a usage error).
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn sources(table: &Path) -> Vec<(String, String, String)> {
    let t = c2trie::Table::read_file(table).unwrap();
    let mut v: Vec<_> = t
        .entries()
        .map(|e| {
            (
                e.list().as_str().to_owned(),
                e.prefix().to_string(),
                e.source().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_feed_from_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("b.txt"), "203.0.113.0/24\n").unwrap();
    let feed = b"192.0.2.1\n010.0.0.1\n198.51.100.0/24\n";
    for (flag, list) in [
        ("--global", "global"),
        ("--blocked", "blocked"),
        ("--approved", "approved"),
    ] {
        let mut args = vec!["compile", flag, "-", "--list-version", "1", "-o", "t.c2t"];
        if flag != "--blocked" {
            args.extend(["--blocked", "b.txt"]);
        }
        let o = c2trie(d, &args, Some(feed));
        assert!(o.status.success(), "{}", stderr(&o));
        // The feed's name is "stdin", in its messages and as its entries' source.
        assert!(
            stderr(&o).contains("stdin:2: bad address"),
            "{}",
            stderr(&o)
        );
        let got = sources(&d.join("t.c2t"));
        assert!(
            got.contains(&(list.into(), "192.0.2.1/32".into(), "stdin".into())),
            "{got:?}"
        );
        assert!(got.contains(&(list.into(), "198.51.100.0/24".into(), "stdin".into())));
    }

    // Gzip is recognized on standard input as in a file.
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "-",
            "--json",
            "--list-version",
            "2",
            "-o",
            "z.c2t",
        ],
        Some(&gzip(b"192.0.2.9\n2001:db8::/32\n")),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["feeds"][0]["file"], "stdin", "{v}");
    assert_eq!(v["feeds"][0]["accepted"], 2, "{v}");

    // JSON on standard input, with its metadata.
    let o = c2trie(
        d,
        &[
            "compile",
            "--global",
            "-",
            "--list-version",
            "3",
            "-o",
            "j.c2t",
        ],
        Some(br#"[{"ip": "192.0.2.7", "tag": "x", "risk": 50}]"#),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = c2trie::Table::read_file(d.join("j.c2t")).unwrap();
    let e = t.entries().next().unwrap();
    assert_eq!(
        (e.tag(), e.risk(), e.source()),
        (Some("x"), Some(50), "stdin")
    );

    // Standard input can be read once: two `-` are a usage error, whatever the lists.
    for args in [
        &["compile", "--global", "-", "--global", "-", "-o", "u.c2t"][..],
        &["compile", "--global", "-", "--blocked", "-", "-o", "u.c2t"],
        &[
            "compile",
            "--approved",
            "-",
            "--global",
            "b.txt",
            "--blocked",
            "-",
            "-o",
            "u.c2t",
        ],
    ] {
        let o = c2trie(d, args, Some(b"192.0.2.1\n"));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
        assert!(!d.join("u.c2t").exists());
    }
}

#[test]
fn completion_scripts_for_every_shell() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = c2trie(tmp.path(), &["completions", shell], None);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains("c2trie"), "{shell}");
        for sub in ["compile", "export", "completions", "man"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    let bash = c2trie(tmp.path(), &["completions", "bash"], None);
    let bash = String::from_utf8(bash.stdout).unwrap();
    assert!(bash.contains("complete -F _c2trie"), "{bash}");
    assert!(bash.contains("--list-version"));
    let o = c2trie(tmp.path(), &["completions", "tcsh"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let o = c2trie(tmp.path(), &["man"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH c2trie"),
        "{page}"
    );
    assert!(page.contains(".TH c2trie 1"), "{page}");
    assert!(page.contains("export"), "{page}");

    let o = c2trie(tmp.path(), &["man", "--out", "man1"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tmp.path().join("man1");
    for name in [
        "c2trie.1",
        "c2trie-compile.1",
        "c2trie-export.1",
        "c2trie-lookup.1",
        "c2trie-completions.1",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.contains(".TH"), "{name}");
    }
    let compile = std::fs::read_to_string(dir.join("c2trie-compile.1")).unwrap();
    assert!(compile.contains("list\\-version"), "{compile}");
}

/// `demo` builds in copies of the sample lists (so that the package stands alone); they
/// must stay the same as the ones in the source tree's `examples/data/`.
#[test]
fn demo_samples_match_the_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in [
        "approved.txt",
        "blocked.txt",
        "global.txt",
        "global-update.txt",
    ] {
        let ours = std::fs::read(root.join("data").join(f)).unwrap();
        let theirs = root.join("../examples/data").join(f);
        if theirs.exists() {
            assert_eq!(ours, std::fs::read(&theirs).unwrap(), "data/{f}");
        }
    }
}
