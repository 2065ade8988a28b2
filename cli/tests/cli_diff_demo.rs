//! The `c2trie` commands an operator uses around compiling: `diff` on real feed versions,
//! `demo`, `verify --json`, JSON errors, exit codes, help text and progress output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_c2trie"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: not JSON:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn feodo(stamp: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/abusech-feodo-csv")
        .join(format!("ipblocklist.csv.{stamp}"));
    assert!(
        p.exists(),
        "{} is missing: the tests need ../shared/data",
        p.display()
    );
    p
}

const SNAPSHOTS: [&str; 3] = ["20240403T1854", "20240404T0848", "20240404T1905"];

/// The `dst_ip` column of a Feodo CSV, read independently of the library's parser.
fn feodo_ips(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('"') && !l.contains("dst_ip"))
        .map(|l| l.split(',').nth(1).unwrap().trim_matches('"').to_owned())
        .collect()
}

/// Compiles each snapshot as `ipblocklist.csv` (the name an operator's download keeps), so
/// the entries' source is the same in every version.
fn compile_snapshots(dir: &Path) -> Vec<PathBuf> {
    SNAPSHOTS
        .iter()
        .enumerate()
        .map(|(i, stamp)| {
            let work = dir.join(stamp);
            std::fs::create_dir_all(&work).unwrap();
            std::fs::copy(feodo(stamp), work.join("ipblocklist.csv")).unwrap();
            let out = dir.join(format!("v{}.c2t", i + 1));
            let o = run(bin()
                .current_dir(&work)
                .args(["compile", "--global", "ipblocklist.csv", "--list-version"])
                .arg((i + 1).to_string())
                .arg("-o")
                .arg(&out));
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            out
        })
        .collect()
}

#[test]
fn diff_of_the_feodo_snapshots_shows_the_added_row() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = compile_snapshots(tmp.path());
    let ips: Vec<_> = SNAPSHOTS.iter().map(|s| feodo_ips(&feodo(s))).collect();

    for pair in [(0, 1), (1, 2), (0, 2)] {
        let (a, b) = pair;
        let out = run(bin()
            .arg("diff")
            .arg("--json")
            .arg(&tables[a])
            .arg(&tables[b]));
        let v = stdout_json(&out);
        let added: BTreeSet<String> = ips[b]
            .difference(&ips[a])
            .map(|i| format!("{i}/32"))
            .collect();
        let removed: BTreeSet<String> = ips[a]
            .difference(&ips[b])
            .map(|i| format!("{i}/32"))
            .collect();
        let got = |kind: &str| -> BTreeSet<String> {
            v["lists"]["global"][kind]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["prefix"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(got("added"), added, "{pair:?}");
        assert_eq!(got("removed"), removed, "{pair:?}");
        // The versions differ only in columns the table does not keep (last_online).
        assert_eq!(v["counts"]["changed"], 0, "{pair:?}");
        let identical = added.is_empty() && removed.is_empty();
        assert_eq!(v["identical"], identical);
        assert_eq!(
            out.status.code(),
            Some(if identical { 0 } else { 3 }),
            "{pair:?}"
        );
        assert_eq!(v["old"]["list_version"], a as u64 + 1);
        assert_eq!(v["new"]["list_version"], b as u64 + 1);
        for list in ["approved", "blocked"] {
            for kind in ["added", "removed", "changed"] {
                assert_eq!(v["lists"][list][kind].as_array().unwrap().len(), 0);
            }
        }
    }
    // What the snapshots' SOURCE.md says: the newest adds exactly one row.
    assert_eq!(ips[2].difference(&ips[1]).count(), 1);

    // Text output: one `+` line for the new row, and a summary.
    let out = run(bin().arg("diff").arg(&tables[1]).arg(&tables[2]));
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    let new_ip = ips[2].difference(&ips[1]).next().unwrap();
    let plus: Vec<_> = text.lines().filter(|l| l.starts_with("+ ")).collect();
    assert_eq!(plus.len(), 1, "{text}");
    assert!(plus[0].contains(&format!("{new_ip}/32")) && plus[0].contains("tag=Pikabot"));
    assert!(
        text.contains("total    1 added, 0 removed, 0 changed"),
        "{text}"
    );

    let out = run(bin().arg("diff").arg(&tables[0]).arg(&tables[1]));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no differences"));
}

#[test]
fn diff_reports_changed_metadata_and_can_ignore_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let compile = |name: &str, version: &str| {
        let out = tmp.path().join(format!("{name}.c2t"));
        std::fs::copy(feodo(SNAPSHOTS[2]), tmp.path().join(name)).unwrap();
        let o = run(bin()
            .current_dir(tmp.path())
            .args(["compile", "--list-version", version, "--global", name, "-o"])
            .arg(&out));
        assert!(o.status.success());
        out
    };
    let a = compile("monday.csv", "1");
    let b = compile("tuesday.csv", "2");
    let out = run(bin().args(["diff", "--json"]).arg(&a).arg(&b));
    assert_eq!(out.status.code(), Some(3));
    let v = stdout_json(&out);
    let n = feodo_ips(&feodo(SNAPSHOTS[2])).len();
    assert_eq!(v["counts"]["changed"], n as u64);
    assert_eq!(
        v["lists"]["global"]["changed"][0]["fields"][0],
        "source: monday.csv -> tuesday.csv"
    );
    let out = run(bin().args(["diff", "--ignore-source"]).arg(&a).arg(&b));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn diff_of_the_sample_update() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data");
    let compile = |file: &str, version: &str| {
        let out = tmp.path().join(format!("{file}.c2t"));
        std::fs::copy(data.join(file), tmp.path().join("global.txt")).unwrap();
        let o = run(bin()
            .current_dir(tmp.path())
            .args([
                "compile",
                "--global",
                "global.txt",
                "--list-version",
                version,
                "-o",
            ])
            .arg(&out));
        assert!(o.status.success());
        out
    };
    let a = compile("global.txt", "1");
    let b = compile("global-update.txt", "2");
    let v = stdout_json(&run(bin().args(["diff", "--json"]).arg(&a).arg(&b)));
    assert_eq!(v["lists"]["global"]["removed"][0]["prefix"], "192.0.2.1/32");
    assert_eq!(
        v["lists"]["global"]["added"][0]["prefix"],
        "203.0.113.99/32"
    );
    assert_eq!(v["counts"]["added"], 1);
    assert_eq!(v["counts"]["removed"], 1);
}

fn find<'a>(rows: &'a Value, addr: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["addr"] == addr)
        .unwrap_or_else(|| panic!("{addr} not in {rows}"))
}

#[test]
fn demo_runs_the_whole_product_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(bin()
        .args(["demo", "--json", "--dir"])
        .arg(tmp.path())
        .current_dir(tmp.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let before = &v["decisions"];
    let after = &v["decisions_after_swap"];
    // Log-only logs and block blocks a listed host; approval wins under both.
    assert_eq!(find(before, "192.0.2.1")["log_only"], "log");
    assert_eq!(find(before, "192.0.2.1")["block"], "block");
    assert_eq!(find(before, "198.51.100.77")["block"], "allow");
    assert_eq!(find(before, "::ffff:203.0.113.200")["via"], "mapped");
    assert_eq!(find(before, "203.0.113.99")["block"], "pass");
    // The update removed 192.0.2.1 and added 203.0.113.99.
    assert_eq!(find(after, "192.0.2.1")["block"], "pass");
    assert_eq!(find(after, "203.0.113.99")["block"], "block");
    assert_eq!(v["swap"]["generation"], 2);
    assert_eq!(v["swap"]["previous_version"], 1);
    assert!(
        v["rollback_refused"]
            .as_str()
            .unwrap()
            .contains("not newer")
    );
    // Events: only log/block decisions, one per (entry, process, address); repeats counted.
    let events = v["events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        assert!(
            matches!(e["event.action"].as_str(), Some("log" | "block")),
            "{e}"
        );
        assert_eq!(e["c2trie.list_version"], 1);
    }
    let keys: BTreeSet<_> = events
        .iter()
        .map(|e| e["destination.ip"].to_string())
        .collect();
    assert_eq!(keys.len(), events.len(), "one event per key");
    assert_eq!(v["suppressed"], 2);
    // --dir keeps the published table.
    assert!(tmp.path().join("lists.c2t").exists());

    // The text form says the same in words.
    let out = run(bin().arg("demo"));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("generation 2 now serves list version 2 (was 1)"),
        "{text}"
    );
}

#[test]
fn verify_json_and_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t.c2t");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/global.txt");
    assert!(
        run(bin()
            .args(["compile", "--global"])
            .arg(&sample)
            .arg("-o")
            .arg(&table))
        .status
        .success()
    );
    let out = run(bin().args(["verify", "--json"]).arg(&table));
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["format_version"], 2);

    let mut bytes = std::fs::read(&table).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let bad = tmp.path().join("bad.c2t");
    std::fs::write(&bad, bytes).unwrap();
    let out = run(bin().args(["verify", "--json"]).arg(&bad));
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["kind"], "checksum_mismatch");

    // A command that cannot start reports the error as JSON on standard output too.
    for cmd in [
        &["inspect", "--json"][..],
        &["diff", "--json", "missing.c2t"][..],
        &["compile", "--json", "-o", "x.c2t", "--global"][..],
    ] {
        let out = run(bin()
            .args(cmd)
            .arg(tmp.path().join("missing.c2t"))
            .current_dir(tmp.path()));
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let v = stdout_json(&out);
        assert!(v["error"].as_str().unwrap().contains("missing.c2t"), "{v}");
    }
}

#[test]
fn exit_codes_and_help() {
    let out = run(bin().arg("diff"));
    assert_eq!(out.status.code(), Some(2), "usage error");
    let out = run(bin().args(["lookup", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
    let help = String::from_utf8(run(bin().arg("--help")).stdout).unwrap();
    assert!(
        help.contains("Examples:") && help.contains("Exit codes:"),
        "{help}"
    );
    for sub in [
        "compile", "lookup", "inspect", "verify", "diff", "demo", "export",
    ] {
        let out = run(bin().args([sub, "--help"]));
        assert!(out.status.success());
        let h = String::from_utf8(out.stdout).unwrap();
        assert!(h.contains("Example"), "{sub} --help has examples:\n{h}");
        assert!(h.contains("--json"), "{sub} takes --json:\n{h}");
        assert!(
            h.contains("Exit"),
            "{sub} --help documents exit codes:\n{h}"
        );
    }
}

fn large_feed() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/criticalpath-public-intel-feeds/sans.txt");
    assert!(
        std::fs::metadata(&p).unwrap().len() > 1 << 20,
        "needs a feed over 1 MiB"
    );
    p
}

#[test]
fn no_progress_output_when_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(bin()
        .args(["compile", "--global"])
        .arg(large_feed())
        .arg("-o")
        .arg(tmp.path().join("t.c2t")));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains('\r') && !err.contains("\x1b[") && !err.contains("reading "),
        "{err}"
    );
}

/// Under a pseudo-terminal (`script` from util-linux), a large feed gets a progress bar,
/// and `--json` still suppresses it.
#[test]
#[cfg(target_os = "linux")]
fn progress_bar_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let go = |json: bool| {
        let cmd = format!(
            "{} compile {} --global {} -o {}",
            env!("CARGO_BIN_EXE_c2trie"),
            if json { "--json" } else { "" },
            large_feed().display(),
            tmp.path().join("t.c2t").display()
        );
        let out = run(Command::new("script").args(["-qec", &cmd, "/dev/null"]));
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = go(false);
    assert!(
        shown.contains("reading ") && shown.contains("sans.txt"),
        "{shown}"
    );
    let json = go(true);
    assert!(!json.contains("reading "), "{json}");
}
