//! A publishing process killed at any point leaves the previous table intact, loadable and
//! in service.
//!
//! The test binary re-executes itself as the publisher: `publish_child` does nothing unless
//! `C2TRIE_PUBLISH_CHILD` is set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use c2trie::publish::{self, publish, publish_with};
use c2trie::swap::{FailMode, LiveTable, ReloadMode};
use c2trie::{Compiler, List, Meta, Policy, SwapErrorKind, Table, Verdict};

const ENV_MODE: &str = "C2TRIE_PUBLISH_CHILD";
const ENV_PATH: &str = "C2TRIE_PUBLISH_PATH";

/// A table large enough that writing it takes more than an instant.
fn table_bytes(version: u64, entries: u32) -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(version).created_unix(0);
    c.add(
        List::Blocked,
        "192.0.2.0/24".parse().unwrap(),
        "ops",
        Meta::tagged(format!("v{version}")),
    )
    .unwrap();
    for i in 0..entries {
        let a = std::net::Ipv4Addr::from(0x0a00_0000 + i * 4);
        c.add(
            List::Global,
            ipnet::IpNet::V4(ipnet::Ipv4Net::new(a, 30).unwrap()),
            "feed",
            Meta::default(),
        )
        .unwrap();
    }
    c.to_vec().unwrap()
}

fn marker(path: &Path) -> PathBuf {
    path.with_extension("ready")
}

/// The publisher. Mode `midway`: write half the new table, signal, and hang until killed.
/// Mode `loop`: publish newer and newer tables until killed, signalling after the first.
#[test]
fn publish_child() {
    let Ok(mode) = std::env::var(ENV_MODE) else {
        return;
    };
    let path = PathBuf::from(std::env::var(ENV_PATH).unwrap());
    match mode.as_str() {
        "midway" => {
            let bytes = table_bytes(2, 1000);
            let _ = publish_with(&path, |f| {
                f.write_all(&bytes[..bytes.len() / 2])?;
                f.sync_all()?;
                std::fs::write(marker(&path), b"")?;
                std::thread::sleep(Duration::from_secs(600));
                f.write_all(&bytes[bytes.len() / 2..])
            });
            unreachable!("the parent kills this process");
        }
        "loop" => {
            for v in 2.. {
                publish(&path, &table_bytes(v, 20_000)).unwrap();
                if v == 2 {
                    std::fs::write(marker(&path), b"").unwrap();
                }
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn_child(mode: &str, path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "publish_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_MODE, mode)
        .env(ENV_PATH, path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("publisher exited early: {status}");
        }
        assert!(Instant::now() < deadline, "publisher never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn killed_midway_leaves_the_previous_table_intact_and_in_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.c2t");
    let v1 = table_bytes(1, 1000);
    publish(&path, &v1).unwrap();
    let live = LiveTable::empty(FailMode::Closed);
    live.reload(&path, ReloadMode::READ).unwrap();

    let mut child = spawn_child("midway", &path);
    wait_for(&marker(&path), &mut child);
    child.kill().unwrap();
    child.wait().unwrap();

    // The target is byte for byte the previous table, and still loads.
    assert_eq!(std::fs::read(&path).unwrap(), v1);
    assert_eq!(Table::read_file(&path).unwrap().list_version(), 1);
    // The handle still serves it; reloading finds nothing newer.
    let policy = Policy::default();
    assert_eq!(
        live.verdict(&policy, "192.0.2.1".parse().unwrap()),
        Verdict::Block
    );
    let err = live.reload(&path, ReloadMode::READ).unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::Rollback);
    assert_eq!(live.list_version(), Some(1));
    // The half-written temporary file is the only debris, and cleanup removes it.
    let removed = publish::remove_stale_temps(dir.path(), Duration::ZERO).unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(std::fs::metadata(&removed[0]).is_err());
}

#[test]
fn killed_while_publishing_in_a_loop_leaves_a_whole_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.c2t");
    publish(&path, &table_bytes(1, 10)).unwrap();
    let mut child = spawn_child("loop", &path);
    wait_for(&marker(&path), &mut child);
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let t = Table::read_file(&path).expect("published file is always a whole table");
    assert!(t.list_version() >= 2);
    let live = LiveTable::empty(FailMode::Closed);
    live.reload(&path, ReloadMode::READ).unwrap();
    assert_eq!(live.list_version(), Some(t.list_version()));
}
