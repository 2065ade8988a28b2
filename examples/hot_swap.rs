//! The whole hot-swap loop: compile a list, publish it crash-safely, serve it from a live
//! handle while reader threads decide connections, then publish newer lists and reload
//! them (by hand and through the watcher) without the readers pausing. A stale list and a
//! corrupt file are refused along the way.
//!
//! Run with `cargo run --example hot_swap`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use c2trie::event::{Connection, Direction, MatchEvent, RateLimiter};
use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
use c2trie::{Compiler, List, Meta, Mode, Policy, Verdict, publish};

/// Compiles version `v`: the C&C server moves to a new address with every version.
fn compile(v: u64) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut c = Compiler::new();
    c.list_version(v);
    let c2 = format!("203.0.113.{v}/32");
    c.add(
        List::Global,
        c2.parse()?,
        "vendor-feed",
        Meta::tagged(format!("botnet-v{v}")),
    )?;
    c.add(
        List::Blocked,
        "198.51.100.0/24".parse()?,
        "my-blocklist",
        Meta::default(),
    )?;
    c.add(
        List::Approved,
        "198.51.100.10/32".parse()?,
        "my-allowlist",
        Meta::default(),
    )?;
    Ok(c.to_vec()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("lists.c2t");

    // 1. Compile and publish (temp file, fsync, rename, fsync the directory).
    publish::publish(&path, &compile(1)?)?;

    // 2. A live handle. Fail closed: block everything if no valid list could be loaded.
    let live = Arc::new(LiveTable::empty(FailMode::Closed));
    live.reload(&path, ReloadMode::READ)?;
    let policy = Arc::new(Policy::new(Mode::Block, Mode::Block));
    println!("serving list_version {:?}", live.list_version());

    // 3. Readers decide connections while lists change underneath them. Each logs a
    //    match event, at most one per (entry, process, remote) per second.
    let stop = Arc::new(AtomicBool::new(false));
    let decided = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|pid| {
            let (live, policy) = (Arc::clone(&live), Arc::clone(&policy));
            let (stop, decided) = (Arc::clone(&stop), Arc::clone(&decided));
            thread::spawn(move || {
                let mut limiter = RateLimiter::new(
                    Duration::from_secs(1),
                    std::num::NonZeroUsize::new(4096).expect("non-zero"),
                );
                let targets: Vec<IpAddr> = ["203.0.113.2", "::ffff:203.0.113.3", "198.51.100.10"]
                    .iter()
                    .map(|s| s.parse().expect("valid address"))
                    .collect();
                while !stop.load(Ordering::Relaxed) {
                    for &addr in &targets {
                        let guard = live.load();
                        let d = guard.decide(&policy, addr);
                        decided.fetch_add(1, Ordering::Relaxed);
                        if d.verdict() == Verdict::Pass {
                            continue;
                        }
                        let conn = Connection::new()
                            .with_remote_port(443)
                            .with_direction(Direction::Outbound)
                            .with_pid(pid);
                        let mut ev = MatchEvent::new(&d, &conn, std::time::SystemTime::now());
                        if limiter.admit(&mut ev, Instant::now()) {
                            println!(
                                "  [reader {pid}] {} {} -> {} ({:?}, list_version {:?})",
                                ev.verdict,
                                ev.remote_ip,
                                ev.prefix.map(|p| p.to_string()).unwrap_or_default(),
                                ev.tag,
                                ev.list_version
                            );
                        }
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));

    // 4. Publish version 2 and reload by hand.
    publish::publish(&path, &compile(2)?)?;
    let s = live.reload(&path, ReloadMode::READ)?;
    println!(
        "reloaded: generation {} list_version {}",
        s.generation, s.list_version
    );
    thread::sleep(Duration::from_millis(50));

    // 5. A replayed old list is refused; a corrupt file is refused; version 2 stays.
    publish::publish(dir.path().join("old.c2t"), &compile(1)?)?;
    let err = live
        .reload(dir.path().join("old.c2t"), ReloadMode::READ)
        .unwrap_err();
    println!("refused: {err}");
    std::fs::write(dir.path().join("bad.c2t"), b"C2TRIE\0\0 garbage")?;
    let err = live
        .reload(dir.path().join("bad.c2t"), ReloadMode::READ)
        .unwrap_err();
    println!("refused: {err}");

    // 6. From here on a watcher reloads whenever the file is republished.
    let watcher = live.watch(
        WatchTarget::File(path.clone()),
        ReloadMode::READ,
        Duration::from_millis(20),
        |r| match r {
            Ok(s) => println!("watcher: now serving list_version {}", s.list_version),
            Err(e) => println!("watcher: {e}"),
        },
    )?;
    publish::publish(&path, &compile(3)?)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while live.list_version() != Some(3) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(50));
    watcher.stop();

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader");
    }
    println!(
        "{} decisions, final generation {}, list_version {:?}, stale after 1h: {}",
        decided.load(Ordering::Relaxed),
        live.generation(),
        live.list_version(),
        live.is_stale(Duration::from_secs(3600))
    );
    Ok(())
}
