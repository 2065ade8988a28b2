//! The whole update loop with a live table serving decisions throughout.
//!
//! A vendor signs two successive tables; a small static HTTP server on 127.0.0.1 serves the
//! first, then the second (with an `ETag`, answering `304` to a matching `If-None-Match`,
//! as any static server or CDN does). An agent runs the updater on its own thread, with a
//! live table that a traffic thread queries all along; the decisions change the moment the
//! second table is accepted.
//!
//! ```sh
//! cargo run --example update_loop --features update
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use c2trie::sign::{SecretKey, TrustedKeys};
use c2trie::swap::{FailMode, LiveTable};
use c2trie::update::{Event, Outcome, Schedule, Updater};
use c2trie::{Compiler, List, Meta, Mode, Policy, Verdict};

type Files = Arc<Mutex<HashMap<String, (Vec<u8>, String)>>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The vendor: a key pair and two successive lists.
    let key = SecretKey::generate()?;
    let build = |version: u64, c2: &[&str]| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut c = Compiler::new();
        c.list_version(version);
        for p in c2 {
            c.add(List::Global, p.parse()?, "vendor-feed", Meta::tagged("C2"))?;
        }
        Ok(c.to_vec()?)
    };
    let v1 = build(1, &["192.0.2.0/24"])?;
    let v2 = build(2, &["192.0.2.0/24", "198.51.100.7/32"])?;

    // The distribution point: any static HTTP server.
    let files: Files = Arc::default();
    let put = |bytes: &[u8], etag: &str| {
        let mut f = files.lock().unwrap_or_else(|e| e.into_inner());
        f.insert("/c2.c2t".into(), (bytes.to_vec(), format!("\"{etag}\"")));
        let sig = format!("{}\n", key.sign_table(bytes)).into_bytes();
        f.insert("/c2.c2t.sig".into(), (sig, format!("\"{etag}-sig\"")));
    };
    put(&v1, "v1");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/c2.c2t", listener.local_addr()?);
    let served = Arc::clone(&files);
    std::thread::spawn(move || serve(&listener, &served));
    println!("serving {url} (list version 1)");

    // The agent: a live table, the updater on its own thread, traffic all along.
    let mut trusted = TrustedKeys::new();
    trusted.add(key.public_key());
    let dir = tempfile::tempdir()?;
    let live = Arc::new(LiveTable::empty(FailMode::Open));
    let mut updater = Updater::new(&url, trusted, dir.path())?;
    updater.serve(Arc::clone(&live))?;
    let policy = Policy::new(Mode::Block, Mode::Block);
    let addrs: Vec<IpAddr> = ["192.0.2.10", "198.51.100.7", "203.0.113.5"]
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;

    let stop_traffic = Arc::new(AtomicBool::new(false));
    let decisions = Arc::new(AtomicU64::new(0));
    let traffic = {
        let (live, stop, n, addrs, policy) = (
            Arc::clone(&live),
            Arc::clone(&stop_traffic),
            Arc::clone(&decisions),
            addrs.clone(),
            policy.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for a in &addrs {
                    std::hint::black_box(live.verdict(&policy, *a));
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let runner = updater.spawn(
        Schedule::every(Duration::from_millis(300)),
        |event| match event {
            Event::Checked { outcome, next, .. } => {
                let what = match outcome {
                    Outcome::Updated(u) => match u.from {
                        Some(from) => format!("updated list version {from} -> {}", u.to),
                        None => format!("first list: version {}", u.to),
                    },
                    Outcome::NotModified => "not modified (304)".into(),
                    Outcome::Current { list_version } => format!("current ({list_version})"),
                    Outcome::Refused(r) => format!("refused: {r}"),
                    _ => "other".into(),
                };
                println!("  check: {what}; next in {} ms", next.as_millis());
            }
            Event::Stale { since_success } => println!("  stale for {since_success:?}"),
            _ => {}
        },
    )?;

    let show = |label: &str| {
        let version = live.list_version().unwrap_or(0);
        println!("{label} (list version {version}):");
        for a in &addrs {
            let verdict = live.verdict(&policy, *a);
            let mark = if verdict == Verdict::Block {
                "block"
            } else {
                "pass"
            };
            println!("  {a:<15} {mark}");
        }
    };
    wait_for(&live, 1)?;
    show("before");
    std::thread::sleep(Duration::from_millis(700)); // a few 304s

    put(&v2, "v2");
    println!("serving list version 2");
    wait_for(&live, 2)?;
    show("after");

    runner.stop();
    stop_traffic.store(true, Ordering::Relaxed);
    traffic.join().map_err(|_| "the traffic thread panicked")?;
    println!(
        "{} decisions made while the lists were updated underneath",
        decisions.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Waits until `live` serves `version`.
fn wait_for(live: &LiveTable, version: u64) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    while live.list_version() != Some(version) {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err(format!("list version {version} never arrived").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A minimal static file server: GET only, `ETag` and `304`, one request per connection.
fn serve(listener: &TcpListener, files: &Files) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut reader = BufReader::new(&conn);
        let mut path = String::new();
        let mut if_none_match = None;
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            if let Some(rest) = line.strip_prefix("GET ") {
                path = rest.split(' ').next().unwrap_or("").to_owned();
            } else if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("if-none-match")
            {
                if_none_match = Some(value.trim().to_owned());
            }
            line.clear();
        }
        let file = files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&path)
            .cloned();
        let response = match file {
            Some((_, etag)) if if_none_match.as_deref() == Some(etag.as_str()) => {
                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                    .into_bytes()
            }
            Some((body, etag)) => {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            }
            None => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = conn.write_all(&response);
    }
}
