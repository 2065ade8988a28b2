//! `c2trie demo`: the whole product in one run, on sample lists built into the binary (so
//! it works from any directory): parse and compile the lists, publish the table, put it in
//! service in a live handle, decide a mix of addresses under a log-only and a blocking
//! policy, print match events through the rate limiter, hot-swap to an updated list with a
//! higher list version, and show that a stale list is refused.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use c2trie::event::{Connection, Direction, MatchEvent, RateLimiter};
use c2trie::feed::{self, FeedOptions};
use c2trie::swap::{FailMode, LiveTable, ReloadMode};
use c2trie::{Compiler, Decision, List, Mode, Policy};
use clap::Args;
use serde_json::{Value, json};

use crate::Result;

pub(crate) const HELP: &str = concat!(
    "Examples:
  c2trie demo
  c2trie demo --json | jq '.events'
  c2trie demo --dir /tmp/c2trie-demo    # keep the published tables

The sample lists are the ones in the source tree's examples/data/ (documentation address
ranges only), built into the binary.

",
    crate::exit_codes!()
);

const APPROVED: &str = include_str!("../data/approved.txt");
const BLOCKED: &str = include_str!("../data/blocked.txt");
const GLOBAL: &str = include_str!("../data/global.txt");
const GLOBAL_UPDATE: &str = include_str!("../data/global-update.txt");

/// The addresses decided, with what they are.
const QUERIES: [(&str, &str); 10] = [
    ("192.0.2.1", "global C&C host (gone in update)"),
    ("192.0.2.70", "inside a global /26"),
    ("198.51.100.77", "approved, inside a global /24"),
    ("203.0.113.15", "inside a global range"),
    ("203.0.113.200", "on the user blocked list"),
    ("::ffff:203.0.113.200", "203.0.113.200, IPv4-mapped"),
    ("64:ff9b::192.0.2.1", "192.0.2.1 through NAT64"),
    ("2001:db8:bad::1", "inside a global IPv6 /48"),
    ("203.0.113.99", "new in the update"),
    ("192.0.2.200", "on no list"),
];

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Publish the tables in DIR and keep them (default: a temporary directory, removed
    /// afterwards).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Machine-readable output: one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Prints a line unless JSON output was asked for.
struct Out {
    json: bool,
}

impl Out {
    fn line(&self, s: impl AsRef<str>) {
        if !self.json {
            println!("{}", s.as_ref());
        }
    }
}

fn compile(version: u64, global: (&str, &str)) -> Result<(Vec<u8>, Value)> {
    let mut c = Compiler::new();
    c.list_version(version);
    let mut feeds = Vec::new();
    for (list, name, text) in [
        (List::Approved, "approved.txt", APPROVED),
        (List::Blocked, "blocked.txt", BLOCKED),
        (List::Global, global.0, global.1),
    ] {
        let f = feed::parse_bytes(name, text.as_bytes(), &FeedOptions::new())?;
        let added = c.add_feed(list, &f)?;
        feeds.push(json!({ "list": list.as_str(), "file": name, "entries": added }));
    }
    Ok((
        c.to_vec()?,
        json!({ "list_version": version, "feeds": feeds }),
    ))
}

fn describe(d: &Decision<'_>) -> String {
    match d.entry() {
        None => "no list".into(),
        Some(e) => {
            let mut s = format!("{} {} ({})", e.list(), e.prefix(), e.source());
            if let Some(via) = d.via() {
                s.push_str(&format!(" via {via} {}", d.matched_addr()));
            }
            s
        }
    }
}

fn decision_json(addr: &str, what: &str, log: &Decision<'_>, block: &Decision<'_>) -> Value {
    json!({
        "addr": addr,
        "what": what,
        "log_only": log.verdict().as_str(),
        "block": block.verdict().as_str(),
        "list": block.list().map(List::as_str),
        "prefix": block.prefix().map(|p| p.to_string()),
        "via": block.via().map(|v| v.as_str()),
    })
}

/// Decides every query under both policies; returns the decisions as JSON, and prints them.
fn decide_all(
    live: &LiveTable,
    log_only: &Policy,
    block: &Policy,
    out: &Out,
) -> Result<Vec<Value>> {
    let guard = live.load();
    out.line(format!(
        "  {:<22} {:<34} {:<9} {:<6} decided by (under block)",
        "address", "", "log-only", "block"
    ));
    let mut rows = Vec::new();
    for (text, what) in QUERIES {
        let addr: IpAddr = text.parse()?;
        let l = guard.decide(log_only, addr);
        let b = guard.decide(block, addr);
        out.line(format!(
            "  {text:<22} {what:<34} {:<9} {:<6} {}",
            l.verdict().as_str(),
            b.verdict().as_str(),
            describe(&b)
        ));
        rows.push(decision_json(text, what, &l, &b));
    }
    Ok(rows)
}

/// Traffic to a few listed hosts, decided under `policy`, turned into match events; the
/// repeated connections to one host are rate-limited to one event.
fn events(live: &LiveTable, policy: &Policy, out: &Out) -> Result<(Vec<Value>, u64)> {
    let mut limiter = RateLimiter::new(
        Duration::from_secs(60),
        NonZeroUsize::new(1024).ok_or("capacity")?,
    );
    let conn = Connection::new()
        .with_remote_port(443)
        .with_local_ip(IpAddr::from([192, 0, 2, 10]))
        .with_local_port(50_000)
        .with_direction(Direction::Outbound)
        .with_transport("tcp")
        .with_pid(4242)
        .with_executable("/usr/bin/agent");
    let traffic = [
        "192.0.2.1",
        "192.0.2.1",
        "192.0.2.1",
        "203.0.113.200",
        "::ffff:203.0.113.200",
        "198.51.100.77",
        "192.0.2.200",
    ];
    let guard = live.load();
    let start = Instant::now();
    let mut emitted = Vec::new();
    for (i, text) in traffic.iter().enumerate() {
        let d = guard.decide(policy, text.parse()?);
        // Only decisions worth reporting become events: block and log.
        if !matches!(d.verdict(), c2trie::Verdict::Block | c2trie::Verdict::Log) {
            continue;
        }
        let mut ev = MatchEvent::new(&d, &conn, SystemTime::now());
        let now = start + Duration::from_millis(i as u64 * 10);
        if limiter.admit(&mut ev, now) {
            out.line(format!("  {}", ev.to_json()));
            emitted.push(serde_json::to_value(&ev)?);
        }
    }
    Ok((emitted, limiter.suppressed_total()))
}

pub(crate) fn run(args: DemoArgs) -> Result<bool> {
    let out = Out { json: args.json };
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("c2trie-demo-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = demo(&dir, &out);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if args.json {
        println!("{report}");
    }
    Ok(true)
}

fn demo(dir: &Path, out: &Out) -> Result<Value> {
    let path = dir.join("lists.c2t");
    let log_only = Policy::new(Mode::LogOnly, Mode::LogOnly);
    let block = Policy::new(Mode::Block, Mode::Block);

    out.line("1. Compile the sample lists (approved, blocked, global) as list version 1");
    let (v1, compiled) = compile(1, ("global.txt", GLOBAL))?;
    c2trie::publish(&path, &v1)?;
    let live = LiveTable::empty(FailMode::Open);
    let first = live.reload(&path, ReloadMode::READ)?;
    out.line(format!(
        "   published {} ({} bytes), in service as generation {}",
        path.display(),
        v1.len(),
        first.generation
    ));

    out.line("\n2. Decide under log-only (both lists log) and block (both lists block)");
    let before = decide_all(&live, &log_only, &block, out)?;

    out.line("\n3. Match events (ECS JSON) for outbound traffic under log-only, rate-limited");
    let (events, suppressed) = events(&live, &log_only, out)?;
    out.line(format!(
        "   {} events emitted, {suppressed} repeats suppressed",
        events.len()
    ));

    out.line("\n4. Hot-swap to the updated global list (list version 2) while serving");
    let (v2, compiled2) = compile(2, ("global-update.txt", GLOBAL_UPDATE))?;
    c2trie::publish(&path, &v2)?;
    let swapped = live.reload(&path, ReloadMode::READ)?;
    out.line(format!(
        "   generation {} now serves list version {} (was {})",
        swapped.generation,
        swapped.list_version,
        swapped
            .previous_version
            .map_or_else(|| "none".into(), |v| v.to_string())
    ));
    let after = decide_all(&live, &log_only, &block, out)?;

    out.line("\n5. A stale list is refused; the table in service stays");
    let stale = dir.join("stale.c2t");
    c2trie::publish(&stale, &v1)?;
    let refused = match live.reload(&stale, ReloadMode::READ) {
        Ok(s) => return Err(format!("a stale list was accepted: {s:?}").into()),
        Err(e) => e.to_string(),
    };
    out.line(format!("   {refused}"));
    out.line(format!(
        "   still serving list version {}",
        live.list_version().unwrap_or(0)
    ));

    Ok(json!({
        "compiled": [compiled, compiled2],
        "decisions": before,
        "events": events,
        "suppressed": suppressed,
        "swap": {
            "generation": swapped.generation,
            "list_version": swapped.list_version,
            "previous_version": swapped.previous_version,
        },
        "decisions_after_swap": after,
        "rollback_refused": refused,
    }))
}
