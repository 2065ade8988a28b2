//! `c2trie::update` against real HTTP(S) servers on 127.0.0.1: conditional requests, every
//! refusal (tampered, rolled back, expired, invalid, truncated, stalled, too large, a
//! downgrading redirect), HTTPS with a private root, gzip, a live table, the runner.
#![cfg(feature = "update")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_server;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use c2trie::sign::{SecretKey, TrustedKeys};
use c2trie::swap::{FailMode, LiveTable};
use c2trie::update::{Event, Outcome, RefusalKind, Schedule, Updater};
use c2trie::{Compiler, List, Meta, Policy, Verdict};
use http_server::{Reply, Server, Site, snapshot};

/// A table of `version` blocking `blocked`.
/// A table of one blocked entry. The creation time is fixed, so that a version compiled
/// twice has the same checksum, as one table fetched twice does.
fn table(version: u64, blocked: &str) -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(version)
        .created_unix(1_700_000_000)
        .add(
            List::Blocked,
            blocked.parse().unwrap(),
            "feed.txt",
            Meta::default(),
        )
        .unwrap();
    c.to_vec().unwrap()
}

struct Vendor {
    key: SecretKey,
}

impl Vendor {
    fn new() -> Vendor {
        Vendor {
            key: SecretKey::generate().unwrap(),
        }
    }

    fn keys(&self) -> TrustedKeys {
        let mut k = TrustedKeys::new();
        k.add(self.key.public_key());
        k
    }

    fn sig(&self, bytes: &[u8]) -> Vec<u8> {
        format!("{}\n", self.key.sign_table(bytes)).into_bytes()
    }

    /// Puts `bytes` and its signature on `site` as `c2.c2t`.
    fn publish(&self, site: &Site, bytes: &[u8], etag: &str) {
        site.put("c2.c2t.sig", self.sig(bytes), &format!("{etag}-sig"));
        site.put("c2.c2t", bytes.to_vec(), etag);
    }
}

fn site_server(site: &Arc<Site>) -> Server {
    let s = Arc::clone(site);
    Server::start(move |r| s.reply(r))
}

fn updater(server: &Server, vendor: &Vendor, dir: &Path) -> Updater {
    let mut u = Updater::new(&server.url("http", "c2.c2t"), vendor.keys(), dir).unwrap();
    u.connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20));
    u
}

fn refusal(o: Outcome) -> c2trie::update::Refusal {
    match o {
        Outcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn updated(o: Outcome) -> c2trie::update::Updated {
    match o {
        Outcome::Updated(u) => u,
        other => panic!("expected an update, got {other:?}"),
    }
}

/// Accepts v1, then gets a 304 for it (changing nothing), then accepts v2; the live table
/// serves each as soon as the check returns.
#[test]
fn fetches_then_not_modified_then_updates() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v1 = table(1, "192.0.2.1/32");
    vendor.publish(&site, &v1, "v1");

    let live = Arc::new(LiveTable::empty(FailMode::Open));
    let mut u = updater(&server, &vendor, dir.path());
    u.serve(Arc::clone(&live)).unwrap();
    let policy = Policy::default();
    let addr = "192.0.2.1".parse().unwrap();
    assert_eq!(live.verdict(&policy, addr), Verdict::Pass);

    let up = updated(u.check_once());
    assert_eq!((up.from, up.to), (None, 1));
    assert!(up.path.ends_with("lists.1.c2t"));
    assert_eq!(std::fs::read(&up.path).unwrap(), v1);
    assert_eq!(up.generation, Some(1));
    assert_eq!(live.verdict(&policy, addr), Verdict::Block);
    let names: Vec<String> = snapshot(dir.path()).into_keys().collect();
    for want in [
        "lists.1.c2t",
        "lists.1.c2t.sig",
        "lists.current",
        "state",
        "http-meta",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert_eq!(u.accepted().unwrap().unwrap().list_version, 1);

    let before = snapshot(dir.path());
    let requests = server.exchanges().len();
    assert!(matches!(u.check_once(), Outcome::NotModified));
    let ex = server.exchanges();
    assert_eq!(
        ex.len(),
        requests + 1,
        "a 304 costs one request, no signature fetch"
    );
    let last = ex.last().unwrap();
    assert_eq!(last.request.header("if-none-match"), Some("\"v1\""));
    assert!(last.request.header("if-modified-since").is_some());
    assert_eq!(snapshot(dir.path()), before, "a 304 changes nothing");
    eprintln!(
        "304 cost: request head {} bytes, response head {} bytes (total {})",
        last.request.head_bytes,
        last.response_bytes,
        last.request.head_bytes + last.response_bytes
    );

    let v2 = table(2, "192.0.2.2/32");
    vendor.publish(&site, &v2, "v2");
    let up = updated(u.check_once());
    assert_eq!((up.from, up.to), (Some(1), 2));
    assert_eq!(up.generation, Some(2));
    assert_eq!(live.verdict(&policy, addr), Verdict::Pass);
    assert_eq!(
        live.verdict(&policy, "192.0.2.2".parse().unwrap()),
        Verdict::Block
    );
    assert_eq!(
        c2trie::publish::resolve_pointer(u.pointer()).unwrap(),
        dir.path().join("lists.2.c2t")
    );

    // A restarted process serves the published table before its first check.
    let restarted = Arc::new(LiveTable::empty(FailMode::Closed));
    let mut u2 = updater(&server, &vendor, dir.path());
    u2.serve(Arc::clone(&restarted)).unwrap();
    assert_eq!(restarted.list_version(), Some(2));
    assert!(matches!(u2.check_once(), Outcome::NotModified));
}

/// One changed byte after signing: refused, nothing written.
#[test]
fn tampered_table_is_refused() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());
    let before = snapshot(dir.path());

    let v2 = table(2, "192.0.2.2/32");
    let mut tampered = v2.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    site.put("c2.c2t.sig", vendor.sig(&v2), "v2-sig");
    site.put("c2.c2t", tampered, "v2");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Signature, "{r}");
    assert_eq!(snapshot(dir.path()), before);

    // Signed by a key nobody trusts.
    let other = Vendor::new();
    other.publish(&site, &v2, "v2b");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Signature, "{r}");
    // No signature at all.
    site.remove("c2.c2t.sig");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Signature, "{r}");
    assert!(r.message().contains("unsigned"), "{r}");
    assert_eq!(snapshot(dir.path()), before);
}

/// A validly signed older table (a replay) and a different table claiming the accepted
/// version are refused; the very same table under a new ETag is current.
#[test]
fn rollback_is_refused_and_the_directory_unchanged() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v1 = table(1, "192.0.2.1/32");
    let v2 = table(2, "192.0.2.2/32");
    vendor.publish(&site, &v2, "v2");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());
    let before = snapshot(dir.path());

    vendor.publish(&site, &v1, "v1");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Rollback, "{r}");
    assert_eq!(r.versions(), Some((2, 1)));
    assert_eq!(snapshot(dir.path()), before);

    // A fresh updater on the same directory (a restart) refuses it too.
    let mut restarted = updater(&server, &vendor, dir.path());
    assert_eq!(
        refusal(restarted.check_once()).kind(),
        RefusalKind::Rollback
    );

    let other_v2 = table(2, "192.0.2.99/32");
    vendor.publish(&site, &other_v2, "v2-other");
    let r = refusal(u.check_once());
    assert_eq!(
        (r.kind(), r.versions()),
        (RefusalKind::Rollback, Some((2, 2)))
    );
    assert_eq!(snapshot(dir.path()), before);

    vendor.publish(&site, &v2, "v2-again");
    assert!(matches!(
        u.check_once(),
        Outcome::Current { list_version: 2 }
    ));
    assert!(matches!(u.check_once(), Outcome::NotModified));

    // A jump limit.
    u.max_jump(Some(10));
    vendor.publish(&site, &table(100, "192.0.2.3/32"), "v100");
    let r = refusal(u.check_once());
    assert_eq!(
        (r.kind(), r.versions()),
        (RefusalKind::VersionJump, Some((2, 100)))
    );
}

/// An expired signature and signed bytes that are not a table.
#[test]
fn expired_and_invalid_are_refused() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v1 = table(1, "192.0.2.1/32");
    site.put("c2.c2t", v1.clone(), "v1");
    site.put(
        "c2.c2t.sig",
        format!("{}\n", vendor.key.sign_table_until(&v1, 1_000_000)).into_bytes(),
        "s",
    );
    let mut u = updater(&server, &vendor, dir.path());
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Expired, "{r}");

    let junk = b"not a table at all".to_vec();
    vendor.publish(&site, &junk, "junk");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::InvalidTable, "{r}");

    site.remove("c2.c2t");
    let r = refusal(u.check_once());
    assert_eq!((r.kind(), r.status()), (RefusalKind::HttpStatus, Some(404)));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// `Content-Length` larger than the body, then the connection closes.
#[test]
fn truncated_download_is_refused() {
    let vendor = Vendor::new();
    let v1 = table(1, "192.0.2.1/32");
    let sig = vendor.sig(&v1);
    let body = v1.clone();
    let server = Server::start(move |r| {
        if r.path.ends_with(".sig") {
            return Reply::ok(sig.clone());
        }
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(&body[..body.len() / 2]);
        Reply::Raw(raw)
    });
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&server, &vendor, dir.path());
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Network, "{r}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// A server that accepts and says nothing, and one that stops midway through the body.
#[test]
fn a_silent_server_times_out() {
    let vendor = Vendor::new();
    let v1 = table(1, "192.0.2.1/32");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", v1.len());
    let mut partial = head.into_bytes();
    partial.extend_from_slice(&v1[..100]);
    let silent = Server::start(|_| Reply::Stall(Vec::new(), Duration::from_secs(4)));
    let midway = Server::start(move |_| Reply::Stall(partial.clone(), Duration::from_secs(4)));
    for server in [&silent, &midway] {
        let dir = tempfile::tempdir().unwrap();
        let mut u = updater(server, &vendor, dir.path());
        u.read_timeout(Duration::from_millis(300));
        let t0 = Instant::now();
        let r = refusal(u.check_once());
        assert_eq!(r.kind(), RefusalKind::Timeout, "{r}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
    // The overall limit, with a generous read timeout.
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&silent, &vendor, dir.path());
    u.timeout(Duration::from_millis(400));
    let t0 = Instant::now();
    assert_eq!(refusal(u.check_once()).kind(), RefusalKind::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(3));
}

/// A declared length over the cap is refused before the body; a chunked body (no length)
/// and a length that lies low are cut off at the cap.
#[test]
fn bodies_over_the_cap_are_refused() {
    let vendor = Vendor::new();
    let big = vec![0u8; 200_000];
    let cap = 50_000;
    let served = Arc::new(AtomicUsize::new(0));
    let (b1, b2) = (big.clone(), big.clone());
    let declared = Server::start(move |_| Reply::ok(b1.clone()));
    let chunked = Server::start(move |_| Reply::Chunked {
        status: 200,
        headers: Vec::new(),
        chunks: b2.chunks(10_000).map(<[u8]>::to_vec).collect(),
    });
    let s2 = Arc::clone(&served);
    let unbounded = Server::start(move |_| {
        s2.fetch_add(1, Ordering::Relaxed);
        // No length, no chunking: the body ends when the connection closes.
        let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        raw.extend_from_slice(&big);
        Reply::Raw(raw)
    });
    for (name, server) in [
        ("declared", &declared),
        ("chunked", &chunked),
        ("unbounded", &unbounded),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut u = updater(server, &vendor, dir.path());
        u.max_bytes(cap);
        let seen = Arc::new(Mutex::new(0u64));
        let s = Arc::clone(&seen);
        u.on_progress(move |n, _| *s.lock().unwrap() = n);
        let r = refusal(u.check_once());
        assert_eq!(r.kind(), RefusalKind::TooLarge, "{name}: {r}");
        let read = *seen.lock().unwrap();
        assert!(read <= cap, "{name}: {read} bytes read");
        if name == "declared" {
            assert_eq!(read, 0, "refused before the body");
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
    assert_eq!(served.load(Ordering::Relaxed), 1);
}

/// A gzip-compressed transfer is decoded and verified as usual, and costs fewer bytes.
#[test]
fn gzip_transfer() {
    let vendor = Vendor::new();
    let site = Site::new();
    site.gzip.store(true, Ordering::Relaxed);
    let server = site_server(&site);
    let mut c = Compiler::new();
    c.list_version(1);
    for i in 0..2000u32 {
        let a = std::net::Ipv4Addr::from(0xC000_0000 | (i << 8));
        c.add(
            List::Global,
            format!("{a}/24").parse().unwrap(),
            "feed.txt",
            Meta::default(),
        )
        .unwrap();
    }
    let v1 = c.to_vec().unwrap();
    vendor.publish(&site, &v1, "v1");
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&server, &vendor, dir.path());
    let up = updated(u.check_once());
    assert_eq!(std::fs::read(&up.path).unwrap(), v1);
    let ex = server.exchanges();
    let table_ex = ex.iter().find(|e| e.request.path == "/c2.c2t").unwrap();
    assert!(
        table_ex
            .request
            .header("accept-encoding")
            .unwrap()
            .contains("gzip")
    );
    assert!(
        table_ex.response_bytes < v1.len() / 2,
        "{} bytes on the wire for a {}-byte table",
        table_ex.response_bytes,
        v1.len()
    );
}

/// TLS with a certificate made for the test and trusted as a private root.
fn tls_server(site: &Arc<Site>) -> (Server, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap(),
    );
    let s = Arc::clone(site);
    let server = Server::start_with(
        move |tcp| {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).ok()?;
            Some(Box::new(rustls::StreamOwned::new(conn, tcp)) as Box<dyn http_server::Stream>)
        },
        move |r| s.reply(r),
    );
    (server, pem)
}

#[test]
fn https_with_a_private_root() {
    let vendor = Vendor::new();
    let site = Site::new();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let (server, pem) = tls_server(&site);
    let url = server.url("https", "c2.c2t");

    // Not trusted by default: the certificate is not from a public authority.
    let dir = tempfile::tempdir().unwrap();
    let mut u = Updater::new(&url, vendor.keys(), dir.path()).unwrap();
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Network, "{r}");

    u.add_root_certificate(pem.as_bytes()).unwrap();
    let up = updated(u.check_once());
    assert_eq!(up.to, 1);
    assert!(matches!(u.check_once(), Outcome::NotModified));
    assert!(
        Updater::new(&url, vendor.keys(), dir.path())
            .unwrap()
            .add_root_certificate(b"no certificate here")
            .is_err()
    );
}

/// https -> http is refused without a request to the http server; http -> https is
/// followed.
#[test]
fn redirects_never_downgrade() {
    let vendor = Vendor::new();
    let site = Site::new();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let plain = site_server(&site);
    let plain_url = plain.url("http", "c2.c2t");
    let (secure, pem) = tls_server(&site);
    let secure_url = secure.url("https", "c2.c2t");

    let to_plain = plain_url.clone();
    let (downgrading, pem2) = {
        // An https server whose every answer is a redirect to the plain server.
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let pem = ck.cert.pem();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()),
        );
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap(),
        );
        let server = Server::start_with(
            move |tcp| {
                let conn = rustls::ServerConnection::new(Arc::clone(&config)).ok()?;
                Some(Box::new(rustls::StreamOwned::new(conn, tcp)) as Box<dyn http_server::Stream>)
            },
            move |_| Reply::redirect(302, &to_plain),
        );
        (server, pem)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut u = Updater::new(
        &downgrading.url("https", "c2.c2t"),
        vendor.keys(),
        dir.path(),
    )
    .unwrap();
    u.add_root_certificate(pem2.as_bytes()).unwrap();
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Redirect, "{r}");
    assert!(r.message().contains("https to http"), "{r}");
    assert!(
        plain.exchanges().is_empty(),
        "the http server was never asked"
    );
    assert_eq!(downgrading.exchanges().len(), 1);

    // http -> https: followed, for the table and for its signature.
    let to_secure = secure_url.clone();
    let upgrading = Server::start(move |r| {
        let path = if r.path.ends_with(".sig") {
            format!("{to_secure}.sig")
        } else {
            to_secure.clone()
        };
        Reply::redirect(301, &path)
    });
    let dir = tempfile::tempdir().unwrap();
    let mut u = Updater::new(&upgrading.url("http", "c2.c2t"), vendor.keys(), dir.path()).unwrap();
    u.add_root_certificate(pem.as_bytes()).unwrap();
    assert_eq!(updated(u.check_once()).to, 1);

    // A redirect loop ends at the limit.
    let looping = Server::start(|r| Reply::redirect(307, &r.path.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&looping, &vendor, dir.path());
    u.max_redirects(3);
    assert_eq!(refusal(u.check_once()).kind(), RefusalKind::Redirect);
    assert_eq!(looping.exchanges().len(), 4);
}

/// The runner: updates, backs off while the server fails, signals staleness, recovers,
/// stops on request.
#[test]
fn runner_backs_off_and_signals_staleness() {
    let vendor = Vendor::new();
    let site = Site::new();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s, f) = (Arc::clone(&site), Arc::clone(&failing));
    let server = Server::start(move |r| {
        if f.load(Ordering::Relaxed) {
            Reply::status(503)
        } else {
            s.reply(r)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let live = Arc::new(LiveTable::empty(FailMode::Open));
    let mut u = updater(&server, &vendor, dir.path());
    u.serve(Arc::clone(&live)).unwrap();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let e2 = Arc::clone(&events);
    // The shortest schedule there is: one-second steps.
    let schedule = Schedule::every(Duration::from_secs(1))
        .jitter(0.1)
        .backoff(Duration::from_secs(1), Duration::from_secs(2))
        .stale_after(2);
    let runner = u
        .spawn(schedule, move |e| {
            let line = match e {
                Event::Checked {
                    outcome,
                    failures,
                    next,
                } => {
                    format!(
                        "checked {} failures={failures} next={}",
                        match outcome {
                            Outcome::Updated(_) => "updated",
                            Outcome::NotModified => "not-modified",
                            Outcome::Refused(_) => "refused",
                            _ => "other",
                        },
                        next.as_millis()
                    )
                }
                Event::Stale { .. } => "stale".to_owned(),
                _ => "other".to_owned(),
            };
            e2.lock().unwrap().push(line);
        })
        .unwrap();
    let wait_for = |what: &str| {
        let t0 = Instant::now();
        while !events.lock().unwrap().iter().any(|l| l.starts_with(what)) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "no {what}: {:?}",
                events.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for("checked updated");
    assert_eq!(live.list_version(), Some(1));
    wait_for("checked not-modified");
    assert!(!runner.is_stale());
    failing.store(true, Ordering::Relaxed);
    wait_for("stale");
    assert!(runner.is_stale());
    {
        let ev = events.lock().unwrap();
        let nexts: Vec<u128> = ev
            .iter()
            .filter(|l| l.contains("refused"))
            .map(|l| l.rsplit('=').next().unwrap().parse().unwrap())
            .collect();
        // 1 s, 2 s, 2 s, ... each ±10 %: growing, then capped.
        assert!(nexts.len() >= 2, "{ev:?}");
        assert!(
            nexts[0] <= 1100 && nexts[1] >= 1800 && nexts[1] <= 2200,
            "{nexts:?}"
        );
        assert!(nexts.iter().all(|n| *n <= 2200), "{nexts:?}");
    }
    failing.store(false, Ordering::Relaxed);
    vendor.publish(&site, &table(2, "192.0.2.2/32"), "v2");
    let t0 = Instant::now();
    while live.list_version() != Some(2) {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!runner.is_stale());
    let t0 = Instant::now();
    let back = runner.stop().expect("the updater comes back");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(back.accepted().unwrap().unwrap().list_version, 2);
}

#[test]
fn setup_errors() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "ftp://x/t.c2t",
        "not a url",
        "http:///t.c2t",
        "http://127.0.0.1:1/t.c2t?v=2",
        "http://127.0.0.1:1/t.c2t#latest",
        "http://127.0.0.1:1",
        "http://127.0.0.1:1/lists/",
        "http://user:secret@127.0.0.1:1/t.c2t",
    ] {
        let e = Updater::new(bad, vendor.keys(), dir.path()).expect_err(bad);
        assert!(e.is_invalid_input(), "{bad}: {e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
    assert!(Updater::new("http://127.0.0.1:1/t.c2t", TrustedKeys::new(), dir.path()).is_err());
    std::fs::write(dir.path().join("state"), "damaged").unwrap();
    assert!(Updater::new("http://127.0.0.1:1/t.c2t", vendor.keys(), dir.path()).is_err());
}

/// A check that published a table and stopped before recording it (a crash): the next
/// check finds the table published, records it, and reports the update; nothing is
/// published twice.
#[test]
fn a_publish_without_its_record_is_completed() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());

    let v2 = table(2, "192.0.2.2/32");
    let (path, _) = c2trie::publish_versioned(dir.path(), "lists", &v2).unwrap();
    std::fs::write(c2trie::sign::signature_path(&path), vendor.sig(&v2)).unwrap();
    assert_eq!(u.accepted().unwrap().unwrap().list_version, 1);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();

    vendor.publish(&site, &v2, "v2");
    let up = updated(u.check_once());
    assert_eq!(
        (up.from, up.to, up.path.as_path()),
        (Some(1), 2, path.as_path())
    );
    assert_eq!(u.accepted().unwrap().unwrap().list_version, 2);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    assert!(matches!(u.check_once(), Outcome::NotModified));
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sleeps until a signature valid until `not_after` has expired.
fn sleep_past(not_after: u64) {
    while unix_now() <= not_after {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `304` is a success only while the published table's signature holds: once it has
/// expired the check is refused as expired (and the runner signals a stale list); a table
/// signed anew, same bytes, is current again, and its new signature is stored, whether it
/// comes with a `304` or a `200` for the table.
#[test]
fn an_expired_signature_is_not_current() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v1 = table(1, "192.0.2.1/32");
    let sig_until = |t: u64| format!("{}\n", vendor.key.sign_table_until(&v1, t)).into_bytes();
    let not_after = unix_now() + 2;
    site.put("c2.c2t", v1.clone(), "v1");
    site.put("c2.c2t.sig", sig_until(not_after), "s1");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());
    assert!(matches!(u.check_once(), Outcome::NotModified));

    sleep_past(not_after);
    let before = snapshot(dir.path());
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Expired, "{r}");
    assert_eq!(snapshot(dir.path()), before, "a refusal changes nothing");

    // The runner counts it as a failure and signals a stale list.
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let e2 = Arc::clone(&events);
    let runner = u
        .spawn(
            Schedule::every(Duration::from_secs(1))
                .jitter(0.0)
                .stale_after(1),
            move |e| {
                let line = match e {
                    Event::Checked {
                        outcome, failures, ..
                    } => format!(
                        "checked success={} failures={failures}",
                        outcome.is_success()
                    ),
                    Event::Stale { .. } => "stale".to_owned(),
                    _ => "other".to_owned(),
                };
                e2.lock().unwrap().push(line);
            },
        )
        .unwrap();
    let t0 = Instant::now();
    while !runner.is_stale() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{:?}",
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut u = runner.stop().unwrap();
    {
        let ev = events.lock().unwrap();
        assert!(
            ev.iter()
                .all(|l| l.starts_with("checked success=false") || l == "stale"),
            "{ev:?}"
        );
    }

    // Signed anew: the table's 304 stands, the fresh signature is fetched and stored.
    let fresh = sig_until(unix_now() + 3600);
    site.put("c2.c2t.sig", fresh.clone(), "s2");
    assert!(matches!(u.check_once(), Outcome::NotModified));
    let stored = dir.path().join("lists.1.c2t.sig");
    assert_eq!(std::fs::read(&stored).unwrap(), fresh);
    assert!(matches!(u.check_once(), Outcome::NotModified));

    // Signed anew again, and the table's validators changed: current, signature stored.
    let fresher = sig_until(unix_now() + 7200);
    site.put("c2.c2t.sig", fresher.clone(), "s3");
    site.put("c2.c2t", v1.clone(), "v1-again");
    assert!(matches!(
        u.check_once(),
        Outcome::Current { list_version: 1 }
    ));
    assert_eq!(std::fs::read(&stored).unwrap(), fresher);
}

/// A `304` while the pointer or the signature beside the published table is missing:
/// both are restored.
#[test]
fn a_304_restores_a_missing_pointer_and_signature() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v1 = table(1, "192.0.2.1/32");
    vendor.publish(&site, &v1, "v1");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());

    std::fs::remove_file(u.pointer()).unwrap();
    assert!(u.check_once().is_success());
    assert_eq!(
        c2trie::publish::resolve_pointer(u.pointer()).unwrap(),
        dir.path().join("lists.1.c2t")
    );

    let sig = dir.path().join("lists.1.c2t.sig");
    std::fs::remove_file(&sig).unwrap();
    assert!(matches!(u.check_once(), Outcome::NotModified));
    assert_eq!(std::fs::read(&sig).unwrap(), vendor.sig(&v1));
    assert!(u.published_table().unwrap().is_some());

    // A damaged signature is repaired the same way.
    std::fs::write(&sig, "damaged\n").unwrap();
    assert!(matches!(u.check_once(), Outcome::NotModified));
    assert_eq!(std::fs::read(&sig).unwrap(), vendor.sig(&v1));
}

/// The published file of the accepted version missing or damaged: the next check writes it
/// again (it is the recorded table), never a false rollback that lasts until a new version.
#[test]
fn a_missing_or_damaged_published_table_is_restored() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    let v2 = table(2, "192.0.2.1/32");
    vendor.publish(&site, &v2, "v2");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());
    let file = dir.path().join("lists.2.c2t");

    std::fs::remove_file(&file).unwrap();
    let o = u.check_once();
    assert!(o.is_success(), "{o:?}");
    assert_eq!(std::fs::read(&file).unwrap(), v2);

    let mut damaged = v2.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    std::fs::write(&file, &damaged).unwrap();
    let o = u.check_once();
    assert!(o.is_success(), "{o:?}");
    assert_eq!(std::fs::read(&file).unwrap(), v2);
    assert!(u.published_table().unwrap().is_some());
}

/// Two updaters of one directory at once (two `--once` runs): both succeed, and the
/// published table keeps its signature.
#[test]
fn concurrent_updaters_of_one_directory() {
    let vendor = Arc::new(Vendor::new());
    let site = Site::new();
    let server = Arc::new(site_server(&site));
    let v1 = table(1, "192.0.2.1/32");
    vendor.publish(&site, &v1, "v1");
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (vendor, server, barrier) = (
                    Arc::clone(&vendor),
                    Arc::clone(&server),
                    Arc::clone(&barrier),
                );
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut u = updater(&server, &vendor, &path);
                    barrier.wait();
                    u.check_once()
                })
            })
            .collect();
        for t in threads {
            let o = t.join().unwrap();
            assert!(
                matches!(o, Outcome::Updated(_) | Outcome::Current { .. }),
                "round {round}: {o:?}"
            );
        }
        let path = c2trie::publish::resolve_pointer(dir.path().join("lists.current")).unwrap();
        assert_eq!(
            std::fs::read(c2trie::sign::signature_path(&path)).unwrap(),
            vendor.sig(&v1),
            "round {round}"
        );
        vendor.keys().read_table(&path).unwrap();
    }
}

/// The version record cannot be written: the pointer stays on the previous table and no
/// new file is left behind.
#[cfg(unix)]
#[test]
fn a_failed_record_leaves_the_directory_unchanged() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let mut u = updater(&server, &vendor, dir.path());
    updated(u.check_once());
    // The record's lock file leads nowhere: recording fails (also for root).
    let lock = dir.path().join("state.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing/state.lock"), &lock).unwrap();
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = names(dir.path());
    let pointer = std::fs::read(u.pointer()).unwrap();

    vendor.publish(&site, &table(2, "192.0.2.2/32"), "v2");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Io, "{r}");
    assert_eq!(std::fs::read(u.pointer()).unwrap(), pointer);
    assert_eq!(names(dir.path()), before);
    assert_eq!(u.accepted().unwrap().unwrap().list_version, 1);

    std::fs::remove_file(&lock).unwrap();
    assert_eq!(updated(u.check_once()).to, 2);
}

/// The record was raised, then publishing failed: the record is ahead of the pointer,
/// and the next check completes the publish.
#[test]
fn a_record_ahead_of_the_pointer_is_completed() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    let dir = tempfile::tempdir().unwrap();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let live = Arc::new(LiveTable::empty(FailMode::Open));
    let mut u = updater(&server, &vendor, dir.path());
    u.serve(Arc::clone(&live)).unwrap();
    updated(u.check_once());

    // Version 2's file cannot be written: a directory is in its place.
    let blocker = dir.path().join("lists.2.c2t");
    std::fs::create_dir(&blocker).unwrap();
    // One compile of version 2, offered twice: the record accepts the same version again
    // only with the same checksum.
    let v2 = table(2, "192.0.2.2/32");
    vendor.publish(&site, &v2, "v2");
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Io, "{r}");
    assert_eq!(u.accepted().unwrap().unwrap().list_version, 2);
    assert_eq!(
        c2trie::publish::resolve_pointer(u.pointer()).unwrap(),
        dir.path().join("lists.1.c2t")
    );
    assert!(!dir.path().join("lists.2.c2t.sig").exists());
    assert_eq!(live.list_version(), Some(1));
    // Older tables stay refused.
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1-again");
    assert_eq!(refusal(u.check_once()).kind(), RefusalKind::Rollback);

    std::fs::remove_dir(&blocker).unwrap();
    vendor.publish(&site, &v2, "v2-again");
    let up = updated(u.check_once());
    assert_eq!((up.from, up.to), (Some(1), 2));
    assert_eq!(live.list_version(), Some(2));
    assert!(matches!(u.check_once(), Outcome::NotModified));
}

/// A FIFO or a link to a device or another file planted in the state directory neither
/// blocks nor exhausts a check, and is not quoted in messages.
#[cfg(unix)]
#[test]
fn a_tampered_state_directory_does_not_hang_the_check() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let mkfifo = |p: &Path| {
        assert!(
            std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap()
                .success()
        );
    };
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    let secret = format!("root:x:0:0:{}:/root:/bin/sh\n", "TOPSECRET".repeat(20));
    std::fs::write(secret_file.path(), &secret).unwrap();
    type Plant = Box<dyn Fn(&Path)>;
    let secret_path = secret_file.path().to_path_buf();
    let cases: Vec<(&str, Plant)> = vec![
        ("http-meta", Box::new(move |p: &Path| mkfifo(p))),
        ("lists.current", Box::new(move |p: &Path| mkfifo(p))),
        (
            "lists.current",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ),
        (
            "lists.current",
            Box::new(move |p: &Path| std::os::unix::fs::symlink(&secret_path, p).unwrap()),
        ),
    ];
    for (name, plant) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut u = updater(&server, &vendor, dir.path());
        updated(u.check_once());
        let target = dir.path().join(name);
        std::fs::remove_file(&target).unwrap();
        plant(&target);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let o = u.check_once();
            let _ = tx.send(format!("{o:?}"));
        });
        let outcome = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name}: the check hangs"));
        // At most a short excerpt of what the file holds.
        assert!(
            !outcome.contains(&"TOPSECRET".repeat(4)) && !outcome.contains("/bin/sh"),
            "{name}: {outcome}"
        );
        // Whatever the outcome, the FIFO is never opened for reading: a writer would block.
        if std::fs::symlink_metadata(&target)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()))
        {
            assert!(outcome.contains("Refused"), "{name}: {outcome}");
        }
    }
}

/// A huge timeout is clamped, not a panic.
#[test]
fn huge_timeouts_do_not_panic() {
    let vendor = Vendor::new();
    let site = Site::new();
    let server = site_server(&site);
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&server, &vendor, dir.path());
    u.timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .read_timeout(Duration::MAX);
    assert_eq!(updated(u.check_once()).to, 1);
}

/// Relative redirects with dot segments are resolved as RFC 3986 says.
#[test]
fn relative_redirects_are_resolved() {
    let vendor = Vendor::new();
    let site = Site::new();
    let v1 = table(1, "192.0.2.1/32");
    site.put("files/c2.c2t", v1.clone(), "v1");
    site.put("files/c2.c2t.sig", vendor.sig(&v1), "v1s");
    let s = Arc::clone(&site);
    let server = Server::start(move |r| match r.path.as_str() {
        "/a/b/c2.c2t" => Reply::redirect(302, "../../files/./c2.c2t#frag"),
        "/a/b/c2.c2t.sig" => Reply::redirect(302, "./x/../../../files/c2.c2t.sig"),
        _ => s.reply(r),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut u = Updater::new(&server.url("http", "a/b/c2.c2t"), vendor.keys(), dir.path()).unwrap();
    assert_eq!(updated(u.check_once()).to, 1);
    let paths: Vec<String> = server
        .exchanges()
        .into_iter()
        .map(|e| e.request.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/a/b/c2.c2t",
            "/files/c2.c2t",
            "/a/b/c2.c2t.sig",
            "/files/c2.c2t.sig"
        ]
    );
}

/// A redirect to a URL with credentials is refused: the client never sends an
/// `Authorization` header the server chose, and never prints the password.
#[test]
fn redirects_with_credentials_are_refused() {
    let vendor = Vendor::new();
    let site = Site::new();
    vendor.publish(&site, &table(1, "192.0.2.1/32"), "v1");
    let port = Arc::new(std::sync::atomic::AtomicU16::new(0));
    let (s, p) = (Arc::clone(&site), Arc::clone(&port));
    let server = Server::start(move |r| {
        if r.path.starts_with("/auth/") {
            return s.reply(&http_server::Request {
                path: r.path["/auth".len()..].to_owned(),
                ..r.clone()
            });
        }
        let port = p.load(Ordering::Relaxed);
        Reply::redirect(
            302,
            &format!("http://user:hunter2@127.0.0.1:{port}/auth{}", r.path),
        )
    });
    port.store(server.port(), Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let mut u = updater(&server, &vendor, dir.path());
    let r = refusal(u.check_once());
    assert_eq!(r.kind(), RefusalKind::Redirect, "{r}");
    assert!(!r.message().contains("hunter2"), "{r}");
    let ex = server.exchanges();
    assert_eq!(ex.len(), 1);
    assert!(
        ex.iter()
            .all(|e| e.request.header("authorization").is_none())
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| {
        std::fs::read(e.unwrap().path())
            .is_ok_and(|b| !String::from_utf8_lossy(&b).contains("hunter2"))
    }));
}

/// The setup error follows the crate's error convention: a kind, the cause in `Display`,
/// no `source()` to print it twice.
#[test]
fn setup_errors_follow_the_error_convention() {
    use c2trie::update::{UpdateErrorKind, Updater};
    use std::error::Error as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut keys = c2trie::sign::TrustedKeys::new();
    keys.add(c2trie::sign::SecretKey::generate().unwrap().public_key());
    let err =
        Updater::new("https://example.com/c2.c2t", keys.clone(), file.join("sub")).unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::Io);
    assert!(err.source().is_none());
    assert!(err.io_error().is_some());
    let msg = err.to_string();
    assert!(msg.contains(&*err.io_error().unwrap().to_string()), "{msg}");
    let err = Updater::new("ftp://example.com/c2.c2t", keys, dir.path().join("d")).unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::InvalidInput);
}
