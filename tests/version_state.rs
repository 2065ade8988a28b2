//! Rollback protection across restarts: the persisted version record refuses older tables,
//! other tables with the accepted version, and (opt-in) big jumps; it survives a restart,
//! records forced rollbacks, refuses to start from a damaged file, and the watcher honours
//! it.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use c2trie::swap::{FailMode, LiveTable, ReloadMode, VersionState, WatchTarget};
use c2trie::{Compiler, List, Meta, SwapErrorKind, Table};

fn table(version: u64, entry: &str) -> Table {
    let mut c = Compiler::new();
    c.list_version(version).created_unix(1);
    c.add(List::Global, entry.parse().unwrap(), "t", Meta::default())
        .unwrap();
    Table::from_bytes(c.to_vec().unwrap()).unwrap()
}

fn live_with(state: &std::path::Path) -> LiveTable {
    let live = LiveTable::empty(FailMode::Closed);
    live.attach_version_state(VersionState::open(state).unwrap())
        .unwrap();
    live
}

#[test]
fn the_record_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let first = live_with(&state);
    assert_eq!(first.accepted_version(), None);
    first.replace(table(5, "192.0.2.0/24")).unwrap();
    first.replace(table(9, "192.0.2.0/24")).unwrap();
    assert_eq!(first.accepted_version().unwrap().list_version, 9);
    drop(first);

    let again = live_with(&state);
    // Older: refused, with the table handed back.
    let err = again.replace(table(8, "192.0.2.0/24")).unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::Rollback);
    assert_eq!(err.versions(), Some((9, 8)));
    assert_eq!(err.table().map(Table::list_version), Some(8));
    assert_eq!(again.list_version(), None);
    // The same version, another table: refused.
    let err = again.replace(table(9, "198.51.100.0/24")).unwrap_err();
    assert_eq!(err.versions(), Some((9, 9)));
    // The same table (a restart reloading what it served): accepted.
    again.replace(table(9, "192.0.2.0/24")).unwrap();
    // Newer: accepted and recorded.
    again.replace(table(10, "192.0.2.0/24")).unwrap();
    assert_eq!(
        VersionState::open(&state)
            .unwrap()
            .accepted()
            .unwrap()
            .list_version,
        10
    );
}

#[test]
fn a_forced_rollback_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let live = live_with(&state);
    live.replace(table(7, "192.0.2.0/24")).unwrap();
    live.force_replace(table(3, "192.0.2.0/24")).unwrap();
    drop(live);
    let again = live_with(&state);
    again.replace(table(3, "192.0.2.0/24")).unwrap();
    assert_eq!(again.list_version(), Some(3));
}

#[test]
fn the_jump_limit_is_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let live = LiveTable::empty(FailMode::Closed);
    live.attach_version_state(
        VersionState::open(&state)
            .unwrap()
            .with_max_jump(Some(1000)),
    )
    .unwrap();
    // The first table is not limited.
    live.replace(table(100, "192.0.2.0/24")).unwrap();
    live.replace(table(1100, "192.0.2.0/24")).unwrap();
    let err = live.replace(table(u64::MAX, "192.0.2.0/24")).unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::VersionJump);
    assert_eq!(err.versions(), Some((1100, u64::MAX)));
    assert!(err.to_string().contains("more than 1000 above"), "{err}");
    assert_eq!(live.list_version(), Some(1100));
    // Without the limit, the same table goes in.
    let plain = live_with(&dir.path().join("other.state"));
    plain.replace(table(u64::MAX, "192.0.2.0/24")).unwrap();
}

#[test]
fn attaching_checks_the_table_in_service() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    live_with(&state)
        .replace(table(20, "192.0.2.0/24"))
        .unwrap();
    let old = LiveTable::new(table(19, "192.0.2.0/24"), FailMode::Closed);
    let err = old
        .attach_version_state(VersionState::open(&state).unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::Rollback);
    assert_eq!(old.accepted_version(), None);
    let newer = LiveTable::new(table(21, "192.0.2.0/24"), FailMode::Closed);
    newer
        .attach_version_state(VersionState::open(&state).unwrap())
        .unwrap();
    assert_eq!(newer.accepted_version().unwrap().list_version, 21);
}

#[test]
fn a_damaged_record_is_an_error_not_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    live_with(&state)
        .replace(table(20, "192.0.2.0/24"))
        .unwrap();
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        text.starts_with("c2trie-version-state v1\nlist_version 20\n"),
        "{text}"
    );
    for bad in [
        text.replace("list_version 20", "list_version 2"),
        text[..text.len() / 2].to_owned(),
        String::new(),
        "garbage".repeat(1000),
    ] {
        std::fs::write(&state, &bad).unwrap();
        let err = VersionState::open(&state).unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Io, "{bad:?}");
        assert!(err.to_string().contains("is damaged"), "{err}");
    }
    // A directory where the file should be: an error too.
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    assert!(VersionState::open(&state).is_err());
}

#[test]
fn an_unwritable_record_keeps_the_table_out_of_service() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("gone");
    std::fs::create_dir(&sub).unwrap();
    let live = live_with(&sub.join("v.state"));
    std::fs::remove_dir(&sub).unwrap();
    let err = live.replace(table(1, "192.0.2.0/24")).unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::Io);
    assert_eq!(live.list_version(), None);
}

#[test]
fn the_watcher_honours_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let path = dir.path().join("t.c2t");
    live_with(&state)
        .replace(table(30, "192.0.2.0/24"))
        .unwrap();
    std::fs::write(&path, table(29, "192.0.2.0/24").as_bytes()).unwrap();
    let live = Arc::new(live_with(&state));
    let (tx, rx) = mpsc::channel();
    let w = live
        .watch(
            WatchTarget::File(path.clone()),
            ReloadMode::READ,
            Duration::from_millis(10),
            move |r| {
                let _ = tx.send(r.map(|s| s.list_version).map_err(|e| e.kind()));
            },
        )
        .unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(next(), Err(SwapErrorKind::Rollback));
    assert_eq!(live.list_version(), None);
    // Rewritten with a newer table: taken.
    std::thread::sleep(Duration::from_millis(20));
    let t = table(31, "192.0.2.0/24");
    std::fs::write(dir.path().join("new"), t.as_bytes()).unwrap();
    std::fs::rename(dir.path().join("new"), &path).unwrap();
    assert_eq!(next(), Ok(31));
    w.stop();
    assert_eq!(
        VersionState::open(&state)
            .unwrap()
            .accepted()
            .unwrap()
            .list_version,
        31
    );
}

/// Two handles on one record: the one that knows only an older version cannot overwrite a
/// newer one the other recorded (it is refused), so a restart never accepts a replay below
/// the highest version accepted.
#[test]
fn two_handles_on_one_record_never_lower_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let a = live_with(&state);
    let b = live_with(&state);
    a.replace(table(10, "192.0.2.0/24")).unwrap();
    b.replace(table(12, "192.0.2.0/24")).unwrap();
    let err = a.replace(table(11, "192.0.2.0/24")).unwrap_err();
    assert_eq!(err.kind(), SwapErrorKind::Rollback);
    assert_eq!(err.versions(), Some((12, 11)));
    assert_eq!(a.list_version(), Some(10));
    assert_eq!(
        VersionState::open(&state)
            .unwrap()
            .accepted()
            .unwrap()
            .list_version,
        12
    );
    let fresh = live_with(&state);
    assert!(fresh.replace(table(11, "192.0.2.0/24")).is_err());
    // A forced rollback still goes through, and is what the record says.
    a.force_replace(table(9, "192.0.2.0/24")).unwrap();
    assert_eq!(
        VersionState::open(&state)
            .unwrap()
            .accepted()
            .unwrap()
            .list_version,
        9
    );
}

/// A FIFO (or any non-regular file) where the record should be is an error at once, not a
/// read that blocks forever.
#[cfg(unix)]
#[test]
fn a_fifo_record_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let made = std::process::Command::new("mkfifo").arg(&state).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this system
    }
    let (tx, rx) = mpsc::channel();
    let path = state.clone();
    std::thread::spawn(move || {
        let _ = tx.send(VersionState::open(&path).map(|_| ()).map_err(|e| e.kind()));
    });
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("open blocked");
    assert_eq!(got, Err(SwapErrorKind::Io));
}

/// A FIFO planted where the record's lock file goes is an error at once, not a writer
/// blocked forever holding the handle's writer lock.
#[cfg(unix)]
#[test]
fn a_fifo_lock_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("v.state");
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("v.state.lock"))
        .status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this system
    }
    let live = live_with(&state);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(
            live.replace(table(1, "192.0.2.0/24"))
                .map(|_| ())
                .map_err(|e| e.kind()),
        );
    });
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("replace blocked");
    assert_eq!(got, Err(SwapErrorKind::Io));
}
