//! Match events for the logs, and a rate limiter that keeps them from flooding.
//!
//! A [`MatchEvent`] records one decision about one connection. With feature `serde` it
//! serializes to a flat JSON object with [ECS](https://www.elastic.co/guide/en/ecs/current/)
//! field names written as dotted keys (`"destination.ip"`, not nested objects); ECS and its
//! ingest pipelines accept both, and flat keys keep one event on one grep-able line. Fields
//! that are unknown are left out, never written as `null`.
//!
//! | key | value |
//! |---|---|
//! | `@timestamp` | RFC 3339, UTC, milliseconds: `2024-05-01T12:00:00.123Z` |
//! | `event.kind` | `alert` for `block`/`log`, `event` otherwise |
//! | `event.category` | `["network"]` |
//! | `event.type` | `["connection", "denied"]` for `block`, `["connection", "allowed"]` otherwise |
//! | `event.action` | the verdict: `block`, `log`, `allow`, `pass` |
//! | `destination.ip`, `destination.port` | the remote address for outbound (or unknown direction) connections, the local one for inbound |
//! | `source.ip`, `source.port` | the other side |
//! | `network.direction` | `inbound`, `outbound`, `internal`, `external`, `unknown` |
//! | `network.transport` | e.g. `tcp`, `udp` |
//! | `process.pid`, `process.executable` | the local process |
//! | `c2trie.list` | the deciding list: `approved`, `blocked`, `global` |
//! | `c2trie.prefix` | the deciding entry's prefix |
//! | `c2trie.source`, `c2trie.tag`, `c2trie.risk` | the entry's feed name and metadata |
//! | `c2trie.list_version` | the table's `list_version` |
//! | `c2trie.reason` | `listed`, `unlisted` or `no_table` |
//! | `c2trie.embedded`, `c2trie.matched_ip` | the IPv4-in-IPv6 encoding and the embedded address, when that decided |
//! | `c2trie.suppressed` | events the [`RateLimiter`] suppressed for this key since the previous one emitted (left out when 0) |

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use crate::entry::List;
use crate::policy::{Decision, Encoding, Reason, Verdict};

/// The direction of a connection, as ECS `network.direction` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Initiated from outside toward this host.
    Inbound,
    /// Initiated by this host.
    Outbound,
    /// Both ends inside the network.
    Internal,
    /// Both ends outside the network.
    External,
    /// Not known.
    Unknown,
}

impl Direction {
    /// The ECS spelling.
    ///
    /// ```
    /// assert_eq!(c2trie::event::Direction::Outbound.as_str(), "outbound");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
            Direction::External => "external",
            Direction::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known about the connection a decision was made for, besides the decided
/// (remote) address. Everything is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connection {
    /// The remote port.
    pub remote_port: Option<u16>,
    /// The local address.
    pub local_ip: Option<IpAddr>,
    /// The local port.
    pub local_port: Option<u16>,
    /// The direction.
    pub direction: Option<Direction>,
    /// The transport protocol, e.g. `tcp`.
    pub transport: Option<String>,
    /// The local process id.
    pub pid: Option<u32>,
    /// The local process's executable path.
    pub executable: Option<String>,
}

impl Connection {
    /// Nothing known yet; add what is with the `with_` methods.
    ///
    /// ```
    /// use c2trie::event::{Connection, Direction};
    /// let c = Connection::new()
    ///     .with_remote_port(443)
    ///     .with_direction(Direction::Outbound)
    ///     .with_transport("tcp")
    ///     .with_pid(4242);
    /// assert_eq!((c.remote_port, c.pid), (Some(443), Some(4242)));
    /// ```
    pub fn new() -> Connection {
        Connection::default()
    }

    /// With the remote port.
    #[must_use]
    pub fn with_remote_port(mut self, port: u16) -> Connection {
        self.remote_port = Some(port);
        self
    }

    /// With the local address.
    #[must_use]
    pub fn with_local_ip(mut self, ip: IpAddr) -> Connection {
        self.local_ip = Some(ip);
        self
    }

    /// With the local port.
    #[must_use]
    pub fn with_local_port(mut self, port: u16) -> Connection {
        self.local_port = Some(port);
        self
    }

    /// With the direction.
    #[must_use]
    pub fn with_direction(mut self, direction: Direction) -> Connection {
        self.direction = Some(direction);
        self
    }

    /// With the transport protocol, e.g. `tcp`.
    #[must_use]
    pub fn with_transport(mut self, transport: impl Into<String>) -> Connection {
        self.transport = Some(transport.into());
        self
    }

    /// With the local process id.
    #[must_use]
    pub fn with_pid(mut self, pid: u32) -> Connection {
        self.pid = Some(pid);
        self
    }

    /// With the local process's executable path.
    #[must_use]
    pub fn with_executable(mut self, path: impl Into<String>) -> Connection {
        self.executable = Some(path.into());
        self
    }
}

/// One decision about one connection, owned, ready to be logged. See the
/// [module docs](self) for the serialized form.
///
/// # Example
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use c2trie::{Compiler, List, Meta, Policy, Table, Verdict};
/// use c2trie::event::{Connection, Direction, MatchEvent};
///
/// let mut c = Compiler::new();
/// c.list_version(9).add(List::Blocked, "192.0.2.0/24".parse()?, "ops", Meta::tagged("c2"))?;
/// let table = Table::from_bytes(c.to_vec()?)?;
/// let d = Policy::default().decide(&table, "192.0.2.8".parse()?);
///
/// let conn = Connection::new()
///     .with_remote_port(443)
///     .with_direction(Direction::Outbound)
///     .with_pid(4242);
/// let at = UNIX_EPOCH + Duration::from_millis(1_714_564_800_123);
/// let ev = MatchEvent::new(&d, &conn, at);
/// assert_eq!(ev.verdict, Verdict::Block);
/// assert_eq!(ev.tag.as_deref(), Some("c2"));
/// # #[cfg(feature = "serde")]
/// assert_eq!(
///     ev.to_json(),
///     r#"{"@timestamp":"2024-05-01T12:00:00.123Z","event.kind":"alert","event.category":["network"],"event.type":["connection","denied"],"event.action":"block","destination.ip":"192.0.2.8","destination.port":443,"network.direction":"outbound","process.pid":4242,"c2trie.list":"blocked","c2trie.prefix":"192.0.2.0/24","c2trie.source":"ops","c2trie.tag":"c2","c2trie.list_version":9,"c2trie.reason":"listed"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MatchEvent {
    /// When the decision was made.
    pub timestamp: SystemTime,
    /// The verdict.
    pub verdict: Verdict,
    /// The decided (remote) address, as the connection used it.
    pub remote_ip: IpAddr,
    /// The connection details.
    pub connection: Connection,
    /// The deciding entry's list.
    pub list: Option<List>,
    /// The deciding entry's prefix.
    pub prefix: Option<IpNet>,
    /// The deciding entry's source (feed name).
    pub source: Option<String>,
    /// The deciding entry's tag.
    pub tag: Option<String>,
    /// The deciding entry's risk score.
    pub risk: Option<u8>,
    /// The table's `list_version`; `None` when no table was in service.
    pub list_version: Option<u64>,
    /// Why the verdict came out as it did.
    pub reason: Reason,
    /// The encoding, when an IPv4 address embedded in `remote_ip` decided.
    pub embedded: Option<Encoding>,
    /// The embedded IPv4 address that decided, when one did.
    pub matched_ip: Option<IpAddr>,
    /// How many events for the same key the rate limiter suppressed before this one.
    pub suppressed: u64,
}

impl MatchEvent {
    /// An event for `decision` on `connection`, at time `at`. Copies the entry's strings.
    pub fn new(decision: &Decision<'_>, connection: &Connection, at: SystemTime) -> MatchEvent {
        MatchEvent {
            timestamp: at,
            verdict: decision.verdict(),
            remote_ip: decision.addr(),
            connection: connection.clone(),
            list: decision.list(),
            prefix: decision.prefix(),
            source: decision.source().map(str::to_owned),
            tag: decision.tag().map(str::to_owned),
            risk: decision.risk(),
            list_version: decision.list_version(),
            reason: decision.reason(),
            embedded: decision.via(),
            matched_ip: decision.via().map(|_| decision.matched_addr()),
            suppressed: 0,
        }
    }

    /// The rate-limiting key: (deciding entry, process, remote address).
    pub fn key(&self) -> EventKey {
        EventKey {
            entry: self.list.zip(self.prefix),
            pid: self.connection.pid,
            remote: self.remote_ip,
        }
    }

    /// `@timestamp`: RFC 3339, UTC, millisecond precision.
    pub fn timestamp_rfc3339(&self) -> String {
        rfc3339(self.timestamp)
    }

    /// The event as one line of JSON (see the [module docs](self)).
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> String {
        // Serializing this type cannot fail: every key is a string and every value is a
        // plain string, number or string array.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats `t` as RFC 3339 in UTC with milliseconds (`YYYY-MM-DDTHH:MM:SS.mmmZ`). Times
/// before 1970 are written as the epoch.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(feature = "serde")]
impl serde::Serialize for MatchEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        let c = &self.connection;
        let inbound = c.direction == Some(Direction::Inbound);
        let (dst_ip, dst_port, src_ip, src_port) = if inbound {
            (
                c.local_ip,
                c.local_port,
                Some(self.remote_ip),
                c.remote_port,
            )
        } else {
            (
                Some(self.remote_ip),
                c.remote_port,
                c.local_ip,
                c.local_port,
            )
        };
        let alert = matches!(self.verdict, Verdict::Block | Verdict::Log);
        let outcome = if self.verdict.is_block() {
            "denied"
        } else {
            "allowed"
        };
        let reason = match self.reason {
            Reason::Listed => "listed",
            Reason::Unlisted => "unlisted",
            Reason::NoTable => "no_table",
        };

        let mut m = s.serialize_map(None)?;
        m.serialize_entry("@timestamp", &rfc3339(self.timestamp))?;
        m.serialize_entry("event.kind", if alert { "alert" } else { "event" })?;
        m.serialize_entry("event.category", &["network"])?;
        m.serialize_entry("event.type", &["connection", outcome])?;
        m.serialize_entry("event.action", self.verdict.as_str())?;
        if let Some(ip) = dst_ip {
            m.serialize_entry("destination.ip", &ip)?;
        }
        if let Some(p) = dst_port {
            m.serialize_entry("destination.port", &p)?;
        }
        if let Some(ip) = src_ip {
            m.serialize_entry("source.ip", &ip)?;
        }
        if let Some(p) = src_port {
            m.serialize_entry("source.port", &p)?;
        }
        if let Some(d) = c.direction {
            m.serialize_entry("network.direction", d.as_str())?;
        }
        if let Some(t) = &c.transport {
            m.serialize_entry("network.transport", t)?;
        }
        if let Some(pid) = c.pid {
            m.serialize_entry("process.pid", &pid)?;
        }
        if let Some(exe) = &c.executable {
            m.serialize_entry("process.executable", exe)?;
        }
        if let Some(l) = self.list {
            m.serialize_entry("c2trie.list", l.as_str())?;
        }
        if let Some(p) = &self.prefix {
            m.serialize_entry("c2trie.prefix", &p.to_string())?;
        }
        if let Some(v) = &self.source {
            m.serialize_entry("c2trie.source", v)?;
        }
        if let Some(v) = &self.tag {
            m.serialize_entry("c2trie.tag", v)?;
        }
        if let Some(v) = self.risk {
            m.serialize_entry("c2trie.risk", &v)?;
        }
        if let Some(v) = self.list_version {
            m.serialize_entry("c2trie.list_version", &v)?;
        }
        m.serialize_entry("c2trie.reason", reason)?;
        if let Some(e) = self.embedded {
            m.serialize_entry("c2trie.embedded", e.as_str())?;
        }
        if let Some(ip) = self.matched_ip {
            m.serialize_entry("c2trie.matched_ip", &ip)?;
        }
        if self.suppressed > 0 {
            m.serialize_entry("c2trie.suppressed", &self.suppressed)?;
        }
        m.end()
    }
}

/// What the [`RateLimiter`] counts events by: the deciding entry (list and prefix), the
/// local process, and the remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct EventKey {
    /// The deciding entry; `None` for events no entry decided.
    pub entry: Option<(List, IpNet)>,
    /// The local process id, if known.
    pub pid: Option<u32>,
    /// The remote address.
    pub remote: IpAddr,
}

impl EventKey {
    /// The key of an event decided by `entry` (`None`: no entry decided it), for process
    /// `pid`, to `remote`.
    pub fn new(entry: Option<(List, IpNet)>, pid: Option<u32>, remote: IpAddr) -> EventKey {
        EventKey { entry, pid, remote }
    }
}

/// The [`RateLimiter`]'s answer for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Emit the event; `suppressed` events for the same key were dropped since the last one
    /// emitted.
    Emit {
        /// How many were suppressed in the window that just ended.
        suppressed: u64,
    },
    /// Drop the event (it is counted).
    Suppress,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    window_start: Instant,
    suppressed: u64,
}

/// Emits at most one event per [`EventKey`] per interval, counting the rest, in bounded
/// memory.
///
/// The first event for a key is emitted and opens a window of `interval`; later events for
/// that key inside the window are suppressed and counted; the first event after the window
/// is emitted with the count ([`Admission::Emit`]) and opens a new window. Windows that end
/// with suppressed events but no later event are returned by
/// [`RateLimiter::drain_expired`], so a periodic task can log a summary.
///
/// **At capacity**, a new key evicts the key whose window opened longest ago. Its pending
/// suppressed count moves to [`RateLimiter::take_evicted_suppressed`] (so no count is
/// lost), and the next event for the evicted key is emitted as if it were new. Under a flood
/// of distinct keys the limiter therefore emits more, never less: it can fail to
/// rate-limit, but not hide a match. Memory is at most `capacity` slots, allocated as keys
/// arrive: about 240–320 bytes per key tracked (measured on x86-64: the key's slot and its
/// place in the eviction order), so the default-sized 65,536 keys take up to about 20 MiB.
/// A capacity above [`RateLimiter::MAX_CAPACITY`] is lowered to it.
///
/// The limiter needs `&mut self`; share it behind a `Mutex` (or keep one per worker
/// thread). Time is passed in, so it is deterministic to test.
///
/// # Example
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::{Duration, Instant};
/// use c2trie::event::{Admission, EventKey, RateLimiter};
///
/// let mut rl = RateLimiter::new(Duration::from_secs(60), NonZeroUsize::new(1024).unwrap());
/// let key = EventKey::new(None, Some(1), "192.0.2.1".parse()?);
/// let t0 = Instant::now();
/// assert_eq!(rl.check(key, t0), Admission::Emit { suppressed: 0 });
/// assert_eq!(rl.check(key, t0 + Duration::from_secs(1)), Admission::Suppress);
/// assert_eq!(rl.check(key, t0 + Duration::from_secs(2)), Admission::Suppress);
/// assert_eq!(rl.check(key, t0 + Duration::from_secs(61)), Admission::Emit { suppressed: 2 });
/// assert_eq!(rl.suppressed_total(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    capacity: usize,
    slots: HashMap<EventKey, Slot>,
    /// Keys by window start order (`seq` increases with every window opened).
    order: BTreeMap<u64, EventKey>,
    next_seq: u64,
    suppressed_total: u64,
    evicted_suppressed: u64,
    evictions: u64,
}

impl RateLimiter {
    /// The most keys a limiter tracks (2^24, a few GiB at most): a larger capacity is
    /// lowered to it rather than trusted to fit in memory.
    pub const MAX_CAPACITY: usize = 1 << 24;

    /// A limiter of one event per key per `interval`, tracking at most `capacity` keys
    /// (at most [`RateLimiter::MAX_CAPACITY`]). Allocates nothing until keys arrive.
    pub fn new(interval: Duration, capacity: NonZeroUsize) -> RateLimiter {
        let capacity = capacity.get().min(Self::MAX_CAPACITY);
        RateLimiter {
            interval,
            capacity,
            slots: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            suppressed_total: 0,
            evicted_suppressed: 0,
            evictions: 0,
        }
    }

    /// Whether to emit an event for `key` at time `now` (see the type docs).
    pub fn check(&mut self, key: EventKey, now: Instant) -> Admission {
        let seq = self.next_seq;
        if let Some(slot) = self.slots.get_mut(&key) {
            if now.saturating_duration_since(slot.window_start) < self.interval {
                slot.suppressed = slot.suppressed.saturating_add(1);
                self.suppressed_total = self.suppressed_total.saturating_add(1);
                return Admission::Suppress;
            }
            let suppressed = std::mem::take(&mut slot.suppressed);
            self.order.remove(&slot.seq);
            slot.seq = seq;
            slot.window_start = now;
            self.order.insert(seq, key);
            self.next_seq = seq.wrapping_add(1);
            return Admission::Emit { suppressed };
        }
        if self.slots.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            if let Some(s) = self.slots.remove(&oldest) {
                self.evicted_suppressed = self.evicted_suppressed.saturating_add(s.suppressed);
            }
            self.evictions = self.evictions.saturating_add(1);
        }
        self.slots.insert(
            key,
            Slot {
                seq,
                window_start: now,
                suppressed: 0,
            },
        );
        self.order.insert(seq, key);
        self.next_seq = seq.wrapping_add(1);
        Admission::Emit { suppressed: 0 }
    }

    /// [`RateLimiter::check`] for `event`'s key; when it is to be emitted, sets
    /// `event.suppressed` and returns `true`.
    pub fn admit(&mut self, event: &mut MatchEvent, now: Instant) -> bool {
        match self.check(event.key(), now) {
            Admission::Emit { suppressed } => {
                event.suppressed = suppressed;
                true
            }
            Admission::Suppress => false,
        }
    }

    /// Forgets every key whose window has ended by `now`, returning those that had
    /// suppressed events, with their counts.
    pub fn drain_expired(&mut self, now: Instant) -> Vec<(EventKey, u64)> {
        let mut out = Vec::new();
        while let Some((&seq, &key)) = self.order.first_key_value() {
            let Some(slot) = self.slots.get(&key).copied() else {
                debug_assert!(false, "order and slots agree");
                self.order.remove(&seq);
                continue;
            };
            if now.saturating_duration_since(slot.window_start) < self.interval {
                break;
            }
            self.order.remove(&seq);
            self.slots.remove(&key);
            if slot.suppressed > 0 {
                out.push((key, slot.suppressed));
            }
        }
        out
    }

    /// Events suppressed since the limiter was made.
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed_total
    }

    /// Suppressed events whose keys were evicted at capacity before they could be reported,
    /// since the last call; resets the count.
    pub fn take_evicted_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.evicted_suppressed)
    }

    /// Keys evicted at capacity since the limiter was made.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The number of keys tracked (at most the capacity).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> EventKey {
        EventKey {
            entry: Some((List::Global, "192.0.2.0/24".parse().unwrap())),
            pid: Some(i),
            remote: "192.0.2.1".parse().unwrap(),
        }
    }

    /// A huge capacity neither aborts nor panics: it is lowered, and nothing is allocated
    /// up front.
    #[test]
    fn huge_capacities_are_lowered_not_allocated() {
        for cap in [1usize << 40, usize::MAX] {
            let mut l = rl(cap);
            assert_eq!(l.capacity(), RateLimiter::MAX_CAPACITY);
            assert_eq!(
                l.check(key(1), Instant::now()),
                Admission::Emit { suppressed: 0 }
            );
            assert_eq!(l.len(), 1);
        }
    }

    fn rl(cap: usize) -> RateLimiter {
        RateLimiter::new(Duration::from_secs(10), NonZeroUsize::new(cap).unwrap())
    }

    #[test]
    fn one_event_per_key_per_interval() {
        let mut r = rl(8);
        let t = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(r.check(key(1), t), Admission::Emit { suppressed: 0 });
        assert_eq!(r.check(key(2), t), Admission::Emit { suppressed: 0 });
        for i in 1..=5 {
            assert_eq!(r.check(key(1), t + s(i)), Admission::Suppress);
        }
        assert_eq!(
            r.check(key(1), t + s(10)),
            Admission::Emit { suppressed: 5 }
        );
        assert_eq!(r.check(key(1), t + s(11)), Admission::Suppress);
        assert_eq!(
            r.check(key(2), t + s(12)),
            Admission::Emit { suppressed: 0 }
        );
        assert_eq!(r.suppressed_total(), 6);
    }

    #[test]
    fn memory_is_bounded_and_eviction_loses_no_count() {
        let mut r = rl(4);
        let t = Instant::now();
        for i in 0..4 {
            r.check(key(i), t);
            r.check(key(i), t);
        }
        assert_eq!(r.len(), 4);
        for i in 4..100 {
            assert_eq!(r.check(key(i), t), Admission::Emit { suppressed: 0 });
            assert!(r.len() <= 4);
        }
        assert_eq!(r.evictions(), 96);
        assert_eq!(r.take_evicted_suppressed(), 4);
        assert_eq!(r.take_evicted_suppressed(), 0);
        // An evicted key is emitted again, not hidden.
        assert_eq!(r.check(key(0), t), Admission::Emit { suppressed: 0 });
    }

    #[test]
    fn drain_reports_windows_that_ended_with_suppressed_events() {
        let mut r = rl(8);
        let t = Instant::now();
        r.check(key(1), t);
        r.check(key(1), t);
        r.check(key(2), t);
        r.check(key(3), t + Duration::from_secs(5));
        let drained = r.drain_expired(t + Duration::from_secs(10));
        assert_eq!(drained, [(key(1), 1)]);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_868_799)), "2000-02-29T23:59:59.000Z");
        assert_eq!(rfc3339(at(1_709_251_199)), "2024-02-29T23:59:59.000Z");
        assert_eq!(rfc3339(at(4_102_444_800)), "2100-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(253_402_300_799)), "9999-12-31T23:59:59.000Z");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn inbound_event_puts_the_remote_address_in_source() {
        use crate::{Compiler, Meta, Policy, Table};
        let mut c = Compiler::new();
        c.add(
            List::Global,
            "192.0.2.0/24".parse().unwrap(),
            "feed",
            Meta {
                tag: Some("x".into()),
                risk: Some(80),
                expires: None,
            },
        )
        .unwrap();
        let t = Table::from_bytes(c.to_vec().unwrap()).unwrap();
        let d = Policy::default().decide(&t, "64:ff9b::192.0.2.5".parse().unwrap());
        let conn = Connection {
            remote_port: Some(5555),
            local_ip: Some("198.51.100.1".parse().unwrap()),
            local_port: Some(22),
            direction: Some(Direction::Inbound),
            executable: Some("/usr/sbin/sshd".into()),
            ..Connection::default()
        };
        let mut ev = MatchEvent::new(&d, &conn, UNIX_EPOCH);
        ev.suppressed = 3;
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["source.ip"], "64:ff9b::c000:205");
        assert_eq!(v["source.port"], 5555);
        assert_eq!(v["destination.ip"], "198.51.100.1");
        assert_eq!(v["destination.port"], 22);
        assert_eq!(v["event.action"], "log");
        assert_eq!(v["event.kind"], "alert");
        assert_eq!(v["c2trie.embedded"], "nat64");
        assert_eq!(v["c2trie.matched_ip"], "192.0.2.5");
        assert_eq!(v["c2trie.risk"], 80);
        assert_eq!(v["c2trie.suppressed"], 3);
        assert_eq!(v["process.executable"], "/usr/sbin/sshd");
        assert!(v.get("process.pid").is_none());
    }
}
