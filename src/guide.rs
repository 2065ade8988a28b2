//! A guide to c2trie, from a downloaded feed to a logged verdict. This module holds only
//! documentation; every example runs as a test.
//!
//! ```text
//!  feed files ──feed::parse_*──▶ Feed ──Compiler──▶ bytes ──publish──▶ table.c2t
//!                                                                         │
//!      MatchEvent ◀──MatchEvent::new── Decision ◀──Policy::decide── Table / LiveTable
//!          │
//!     RateLimiter ──▶ your log
//! ```
//!
//! 1. [Parsing feeds](#1-parsing-feeds)
//! 2. [Compiling a table](#2-compiling-a-table)
//! 3. [Loading and looking up](#3-loading-and-looking-up)
//! 4. [Deciding under a policy](#4-deciding-under-a-policy)
//! 5. [Serving: publish and hot swap](#5-serving-publish-and-hot-swap)
//! 6. [Match events](#6-match-events)
//! 7. [Outside Rust](#7-outside-rust)
//!
//! # 1. Parsing feeds
//!
//! [`feed::parse_bytes`](crate::feed::parse_bytes), [`parse_reader`](crate::feed::parse_reader)
//! and [`read_file`](crate::feed::read_file) turn a feed into a [`Feed`](crate::feed::Feed):
//! its entries, one [`LineError`](crate::feed::LineError) per line that could not be used,
//! and counts. The format is detected from the content unless
//! [`FeedOptions::with_format`](crate::feed::FeedOptions::with_format) names one. A bad line
//! never costs the good ones.
//!
//! ```
//! use c2trie::feed::{self, FeedOptions, Format};
//!
//! let csv = "\
//!     ## abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n\
//!     \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
//!     \"2024-04-02 19:12:01\",\"162.243.103.246\",\"8080\",\"online\",\"2024-04-04\",\"Pikabot\"\n\
//!     \"2024-04-02 19:12:01\",\"300.1.2.3\",\"443\",\"online\",\"2024-04-04\",\"Pikabot\"\n\
//!     ## END 2 entries";
//! let f = feed::parse_bytes("ipblocklist.csv", csv.as_bytes(), &FeedOptions::new())?;
//! assert_eq!(f.format, Format::FeodoCsv);
//! assert_eq!(f.entries.len(), 1);
//! assert_eq!(f.entries[0].meta.tag.as_deref(), Some("Pikabot")); // the malware family
//! assert_eq!(f.errors.len(), 1);
//! assert!(f.errors[0].to_string().starts_with("ipblocklist.csv:4: "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 2. Compiling a table
//!
//! A [`Compiler`](crate::Compiler) collects entries of the three [`List`](crate::List)s, each
//! with its source (the feed's name) and [`Meta`](crate::Meta) (tag, risk, expiry), and
//! writes the table: deterministic bytes (but for a list crafted against the host hash; see
//! [`Compiler`](crate::Compiler)), stamped with a `list_version` that live handles use to
//! refuse rollbacks.
//!
//! ```
//! use c2trie::{Compiler, List, Meta};
//! use c2trie::feed::{self, FeedOptions};
//!
//! let vendor = feed::parse_bytes("vendor.txt", b"192.0.2.0/24\n2001:db8:bad::/48\n",
//!                                &FeedOptions::new())?;
//! let mut c = Compiler::new();
//! c.list_version(7);
//! c.add_feed(List::Global, &vendor)?;
//! c.add(List::Blocked, "203.0.113.9/32".parse()?, "ops", Meta::tagged("incident-42"))?;
//! c.add(List::Approved, "192.0.2.53/32".parse()?, "ops", Meta::default())?;
//! assert_eq!(c.report().list(List::Global).entries, 2);
//! let bytes: Vec<u8> = c.to_vec()?;
//! # assert!(!bytes.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 3. Loading and looking up
//!
//! A [`Table`](crate::Table) is made only through full validation (checksum and every format
//! invariant), so lookups afterwards never fail, never allocate and never panic.
//! [`Table::lookup`](crate::Table::lookup) returns each list's longest match.
//!
//! ```
//! use c2trie::{Compiler, List, Meta, Table};
//!
//! let mut c = Compiler::new();
//! c.add(List::Global, "198.51.100.0/24".parse()?, "vendor", Meta::tagged("botnet"))?;
//! c.add(List::Global, "198.51.100.128/25".parse()?, "vendor", Meta::default())?;
//! c.add(List::Approved, "198.51.100.7/32".parse()?, "user", Meta::default())?;
//! let table = Table::from_bytes(c.to_vec()?)?;
//!
//! let hits = table.lookup("198.51.100.200".parse()?);
//! assert_eq!(hits.get(List::Global).map(|e| e.prefix().to_string()).as_deref(),
//!            Some("198.51.100.128/25")); // the longest match
//! assert!(!hits.contains(List::Approved));
//! assert!(table.lookup("198.51.100.7".parse()?).contains(List::Approved));
//!
//! // Damaged bytes are refused, never half-loaded.
//! let mut bad = table.as_bytes().to_vec();
//! bad[100] ^= 1;
//! assert!(Table::from_bytes(bad).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From a file, [`Table::read_file`](crate::Table::read_file) copies it into memory;
//! `Table::map_file` (feature `mmap`) maps it instead and is `unsafe`: the file must not
//! change while mapped.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let table = c2trie::Table::read_file("/var/lib/c2trie/table.c2t")?;
//! # #[cfg(feature = "mmap")] {
//! let file = std::fs::File::open("/var/lib/c2trie/table.c2t")?;
//! // SAFETY: tables are published by rename (c2trie::publish), never rewritten in place.
//! let mapped = unsafe { c2trie::Table::map_file(&file)? };
//! assert_eq!(mapped.checksum(), table.checksum());
//! # }
//! # Ok(()) }
//! ```
//!
//! # 4. Deciding under a policy
//!
//! The table says where a prefix came from; the [`Policy`](crate::Policy) says what that
//! means, at run time: a [`Mode`](crate::Mode) per list (the approved list always allows),
//! and which IPv4-in-IPv6 encodings to decode so that no IPv6 spelling of a listed IPv4
//! address slips through. The result is a [`Decision`](crate::Decision): a
//! [`Verdict`](crate::Verdict) and what decided it.
//!
//! ```
//! use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
//!
//! let mut c = Compiler::new();
//! c.add(List::Global, "192.0.2.0/24".parse()?, "vendor", Meta::tagged("c2"))?;
//! c.add(List::Approved, "192.0.2.53/32".parse()?, "user", Meta::default())?;
//! let table = Table::from_bytes(c.to_vec()?)?;
//!
//! let log_only = Policy::default(); // global: log-only, blocked: block
//! let block = Policy::new(Mode::Block, Mode::Block);
//! assert_eq!(log_only.decide(&table, "192.0.2.1".parse()?).verdict(), Verdict::Log);
//! assert_eq!(block.decide(&table, "192.0.2.1".parse()?).verdict(), Verdict::Block);
//! assert_eq!(block.decide(&table, "192.0.2.53".parse()?).verdict(), Verdict::Allow);
//!
//! // The NAT64 spelling of a listed address is decided as that address.
//! let d = block.decide(&table, "64:ff9b::192.0.2.1".parse()?);
//! assert_eq!((d.verdict(), d.list(), d.tag()), (Verdict::Block, Some(List::Global), Some("c2")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 5. Serving: publish and hot swap
//!
//! [`publish`](crate::publish()) writes a table crash-safely (temporary file, fsync, rename),
//! so a reader sees the old file or the new one. A [`LiveTable`](crate::LiveTable) serves
//! the table in service to any number of threads without locks, and swaps in a new one
//! only after validating it and only if its `list_version` is newer.
//!
//! ```
//! use c2trie::{Compiler, FailMode, LiveTable, List, Meta, Policy, ReloadMode, Verdict};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("table.c2t");
//! let build = |version: u64, net: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
//!     let mut c = Compiler::new();
//!     c.list_version(version).add(List::Blocked, net.parse()?, "ops", Meta::default())?;
//!     Ok(c.to_vec()?)
//! };
//!
//! let live = LiveTable::empty(FailMode::Open); // pass everything until the first table
//! c2trie::publish(&path, &build(1, "192.0.2.1/32")?)?;
//! live.reload(&path, ReloadMode::READ)?;
//! let policy = Policy::default();
//! assert_eq!(live.verdict(&policy, "192.0.2.1".parse()?), Verdict::Block);
//!
//! c2trie::publish(&path, &build(2, "192.0.2.2/32")?)?;
//! let swapped = live.reload(&path, ReloadMode::READ)?;
//! assert_eq!((swapped.generation, swapped.list_version), (2, 2));
//! assert_eq!(live.verdict(&policy, "192.0.2.1".parse()?), Verdict::Pass);
//!
//! // A stale list is refused and the table in service stays.
//! c2trie::publish(&path, &build(1, "192.0.2.1/32")?)?;
//! assert!(live.reload(&path, ReloadMode::READ).is_err());
//! assert_eq!(live.list_version(), Some(2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`LiveTable::watch`](crate::LiveTable::watch) polls a path and reloads on change.
//!
//! # 6. Match events
//!
//! A [`MatchEvent`](crate::MatchEvent) is an owned record of one decision about one
//! connection, serialized (feature `serde`) as one line of ECS-named JSON. A
//! [`RateLimiter`](crate::RateLimiter) keeps a noisy host from flooding the log: one event
//! per (entry, process, remote address) per interval, with the count of those suppressed.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::{Duration, Instant, SystemTime};
//! use c2trie::{Compiler, List, MatchEvent, Meta, Policy, RateLimiter, Table};
//! use c2trie::event::{Connection, Direction};
//!
//! let mut c = Compiler::new();
//! c.add(List::Blocked, "203.0.113.0/24".parse()?, "ops", Meta::tagged("c2"))?;
//! let table = Table::from_bytes(c.to_vec()?)?;
//! let conn = Connection::new()
//!     .with_remote_port(443)
//!     .with_direction(Direction::Outbound)
//!     .with_pid(4242);
//! let mut limiter = RateLimiter::new(Duration::from_secs(60), NonZeroUsize::new(4096).unwrap());
//! let t0 = Instant::now();
//! let mut logged = Vec::new();
//! for i in 0..3 {
//!     let d = Policy::default().decide(&table, "203.0.113.9".parse()?);
//!     let mut ev = MatchEvent::new(&d, &conn, SystemTime::now());
//!     if limiter.admit(&mut ev, t0 + Duration::from_secs(i)) {
//!         logged.push(ev);
//!     }
//! }
//! assert_eq!(logged.len(), 1);
//! assert_eq!(limiter.suppressed_total(), 2);
//! # #[cfg(feature = "serde")]
//! assert!(logged[0].to_json().contains(r#""event.action":"block""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 7. Outside Rust
//!
//! - The `c2trie` command-line tool (the workspace package `c2trie-cli` in `cli/`;
//!   `cargo install --path cli`) compiles, looks up, inspects, verifies, compares and
//!   exports tables; `c2trie demo` runs everything above in one go on built-in sample
//!   lists. Every command but `completions` and `man` takes `--json`; `c2trie --help`
//!   lists the exit codes.
//! - The `c2trie-capi` crate in the repository's `capi/` directory is the C ABI: a static
//!   and a shared library and the header `c2trie.h`, for C and C++ products. See
//!   `capi/README.md`.
