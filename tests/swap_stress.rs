//! Readers keep answering while tables are swapped continuously: every answer comes from
//! exactly one table generation, and old tables (and their mappings) go away when the last
//! reader lets go.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;

use c2trie::swap::{FailMode, LiveTable, Snapshot};
use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};

const PROBE: &str = "10.0.0.1";
const READERS: usize = 4;
const GENERATIONS: u64 = 300;

/// Table of version `v`: the probe is on the global list with tag `gen-v`, and a second
/// address, whose list depends on the parity of `v`, checks that verdicts flip with it.
fn table_bytes(v: u64) -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(v).created_unix(0);
    c.add(
        List::Global,
        "10.0.0.0/24".parse().unwrap(),
        "feed",
        Meta::tagged(format!("gen-{v}")),
    )
    .unwrap();
    let list = if v.is_multiple_of(2) {
        List::Blocked
    } else {
        List::Approved
    };
    c.add(
        list,
        "10.9.9.9/32".parse().unwrap(),
        "user",
        Meta::tagged(format!("gen-{v}")),
    )
    .unwrap();
    c.to_vec().unwrap()
}

fn table(v: u64) -> Table {
    Table::from_bytes(table_bytes(v)).unwrap()
}

/// Runs readers against `live` while `swap(v)` is called for each generation 2..=n; returns
/// the weak references to every snapshot that was ever in service.
fn run(live: Arc<LiveTable>, n: u64, swap: impl Fn(&LiveTable, u64)) -> Vec<Weak<Snapshot>> {
    let probe: IpAddr = PROBE.parse().unwrap();
    let flip: IpAddr = "10.9.9.9".parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let live = Arc::clone(&live);
            let stop = Arc::clone(&stop);
            let reads = Arc::clone(&reads);
            thread::spawn(move || {
                let policy = Policy::new(Mode::Block, Mode::Block);
                let mut last_gen = 0;
                // Run until stopped, and until this reader has seen the final generation.
                while !(stop.load(Ordering::Relaxed) && last_gen == n) {
                    let g = live.load();
                    let generation = g.generation();
                    assert!(generation >= last_gen, "generation went back");
                    last_gen = generation;
                    let t = g.table().expect("a table is always in service");
                    let v = t.list_version();
                    let d = g.decide(&policy, probe);
                    assert_eq!(d.list_version(), Some(v));
                    assert_eq!(d.tag().map(str::to_owned), Some(format!("gen-{v}")));
                    let want = if v.is_multiple_of(2) {
                        Verdict::Block
                    } else {
                        Verdict::Allow
                    };
                    let f = g.decide(&policy, flip);
                    assert_eq!(f.verdict(), want, "generation {generation}");
                    assert_eq!(f.tag().map(str::to_owned), Some(format!("gen-{v}")));
                    // Generation and version move in lockstep in this test.
                    assert_eq!(generation, v);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                last_gen
            })
        })
        .collect();
    let mut weaks = vec![Arc::downgrade(&live.load_full())];
    for v in 2..=n {
        swap(&live, v);
        weaks.push(Arc::downgrade(&live.load_full()));
        // A rollback attempt in between never disturbs readers.
        if v.is_multiple_of(17) {
            assert!(live.replace(table(v - 1)).is_err());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let last = r.join().expect("reader panicked");
        assert_eq!(
            last, n,
            "a reader stopped before seeing the final generation"
        );
    }
    assert!(reads.load(Ordering::Relaxed) >= READERS as u64);
    weaks
}

#[test]
fn readers_see_exactly_one_generation_and_old_tables_are_dropped() {
    let live = Arc::new(LiveTable::new(table(1), FailMode::Closed));
    let weaks = run(Arc::clone(&live), GENERATIONS, |live, v| {
        let s = live.replace(table(v)).unwrap();
        assert_eq!((s.generation, s.list_version), (v, v));
    });
    assert_eq!(live.generation(), GENERATIONS);
    let (current, old) = weaks.split_last().unwrap();
    assert!(current.upgrade().is_some());
    let alive = old.iter().filter(|w| w.upgrade().is_some()).count();
    assert_eq!(
        alive, 0,
        "old snapshots still alive after every reader left"
    );
}

#[test]
fn a_held_guard_keeps_its_table_until_dropped() {
    let live = LiveTable::new(table(1), FailMode::Closed);
    let weak = Arc::downgrade(&live.load_full());
    let guard = live.load();
    live.replace(table(2)).unwrap();
    live.replace(table(3)).unwrap();
    assert!(
        weak.upgrade().is_some(),
        "guard should keep generation 1 alive"
    );
    assert_eq!(guard.table().unwrap().list_version(), 1);
    drop(guard);
    assert!(
        weak.upgrade().is_none(),
        "generation 1 outlived its last reader"
    );
}

/// The same under mapped reloads of versioned files: after the last reader leaves, only the
/// current file is still mapped.
#[cfg(all(feature = "mmap", target_os = "linux"))]
#[test]
#[cfg_attr(miri, ignore = "Miri cannot map files")]
#[allow(unsafe_code)]
fn mapped_reloads_release_old_mappings() {
    use c2trie::publish;

    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    publish::publish_versioned(dir.path(), "s", &table_bytes(1)).unwrap();
    // SAFETY: every file in `dir` is written once through `publish` and never modified.
    let mode = unsafe { c2trie::swap::ReloadMode::map() };
    let live = Arc::new(LiveTable::empty(FailMode::Closed));
    live.reload_pointer(publish::pointer_path(dir.path(), "s"), mode)
        .unwrap();
    let dir_path = dir.path().to_path_buf();
    run(Arc::clone(&live), n, move |live, v| {
        publish::publish_versioned(&dir_path, "s", &table_bytes(v)).unwrap();
        live.reload_pointer(publish::pointer_path(&dir_path, "s"), mode)
            .unwrap();
    });
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let mapped: Vec<&str> = maps.lines().filter(|l| l.contains(&root)).collect();
    assert_eq!(mapped.len(), 1, "{mapped:#?}");
    assert!(mapped[0].ends_with(&format!("s.{n}.c2t")), "{mapped:#?}");
    drop(live);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(!maps.contains(&root));
}
