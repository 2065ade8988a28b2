//! Hot swap: a live table that readers query lock-free while new tables are put in service.
//!
//! [`LiveTable`] holds the table in service in an [`arc_swap::ArcSwap`]. Readers
//! ([`LiveTable::load`], [`LiveTable::verdict`]) never lock and never wait for a writer; a
//! writer ([`LiveTable::replace`], [`LiveTable::reload`]) validates the new table *before*
//! taking its place, so a bad file never leaves the handle without a table, and a reader sees
//! either the old table or the new one, never a mix.
//!
//! Every table put in service gets the next **generation** number; a reader's
//! [`TableGuard`] reports the generation it answers from.
//!
//! # Rollback
//!
//! [`LiveTable::replace`] refuses a table whose `list_version` is not newer than the one in
//! service, so a stale or replayed list cannot be slipped in. [`LiveTable::force_replace`]
//! is the explicit way around it (an operator rolling back a bad list). A process that
//! restarts has nothing in service: attach a [`VersionState`] (a small state file beside the
//! table) with [`LiveTable::attach_version_state`] and the highest accepted version
//! survives the restart, with an optional limit on how far a new version may jump.
//!
//! # When is the old table released?
//!
//! When the last reader holding it lets go: the swap itself does not wait for readers, and a
//! reader keeps the table it loaded (and, for a mapped table, its mapping) alive until its
//! guard drops. Guards are meant to be short-lived (per packet or per batch): holding one
//! across a long wait keeps an old table, and its file, around.
//!
//! # No table in service
//!
//! A handle made with [`LiveTable::empty`] (for a process whose first load failed) has no
//! table; its [`FailMode`] decides what readers get meanwhile: [`FailMode::Open`] passes
//! every address, [`FailMode::Closed`] blocks every address. The [`Decision`] says so
//! ([`Reason::NoTable`](crate::policy::Reason::NoTable)).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use crate::error::SwapError;
use crate::policy::{Decision, Policy, Verdict};
use crate::table::Table;

mod state;

use state::Refusal;
pub use state::{Accepted, VersionState};

/// What readers get while no valid table is in service.
///
/// With feature `serde`, written `open` or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum FailMode {
    /// Let everything through ([`Verdict::Pass`]): availability first.
    Open,
    /// Block everything ([`Verdict::Block`]): containment first.
    Closed,
}

impl FailMode {
    /// The short name: `open` or `closed` (as serde writes it).
    pub const fn as_str(self) -> &'static str {
        match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown [`FailMode`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailModeError(String);

impl fmt::Display for ParseFailModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown fail mode {:?} (expected open or closed)",
            self.0
        )
    }
}

impl std::error::Error for ParseFailModeError {}

impl std::str::FromStr for FailMode {
    type Err = ParseFailModeError;

    /// `open` or `closed`.
    ///
    /// ```
    /// use c2trie::FailMode;
    /// assert_eq!("closed".parse::<FailMode>()?, FailMode::Closed);
    /// assert_eq!(FailMode::Open.to_string(), "open");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from_str(s: &str) -> Result<FailMode, ParseFailModeError> {
        match s {
            "open" => Ok(FailMode::Open),
            "closed" => Ok(FailMode::Closed),
            _ => Err(ParseFailModeError(s.to_owned())),
        }
    }
}

impl FailMode {
    /// The verdict readers get while no table is in service.
    ///
    /// ```
    /// use c2trie::{Verdict, swap::FailMode};
    /// assert_eq!(FailMode::Closed.verdict(), Verdict::Block);
    /// ```
    pub const fn verdict(self) -> Verdict {
        match self {
            FailMode::Open => Verdict::Pass,
            FailMode::Closed => Verdict::Block,
        }
    }
}

/// One generation of a [`LiveTable`]: the table in service (if any) and its generation
/// number. Immutable.
#[derive(Debug)]
pub struct Snapshot {
    table: Option<Table>,
    generation: u64,
}

impl Snapshot {
    /// The table; `None` when no valid table is in service.
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// The generation: 0 for an empty handle, 1 for the first table, then one more per
    /// table put in service.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The table's `list_version`, if there is a table.
    pub fn list_version(&self) -> Option<u64> {
        self.table.as_ref().map(Table::list_version)
    }

    /// Takes the table out of a snapshot that is no longer shared, e.g. a retired
    /// generation whose `Arc` was unwrapped with [`Arc::try_unwrap`] once every reader left.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use c2trie::{Compiler, Table, swap::{FailMode, LiveTable}};
    ///
    /// let table = |v| Table::from_bytes(Compiler::new().list_version(v).to_vec().unwrap());
    /// let live = LiveTable::new(table(1)?, FailMode::Open);
    /// let old = live.load_full();
    /// live.replace(table(2)?)?;
    /// let old = Arc::try_unwrap(old).expect("no reader holds generation 1");
    /// assert_eq!(old.into_table().map(|t| t.list_version()), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_table(self) -> Option<Table> {
        self.table
    }
}

/// A reader's view of a [`LiveTable`]: the snapshot in service when it was loaded. Cheap to
/// take, meant to be short-lived (see the [module docs](self)).
pub struct TableGuard {
    guard: arc_swap::Guard<Arc<Snapshot>>,
    fail: FailMode,
}

impl fmt::Debug for TableGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableGuard")
            .field("generation", &self.guard.generation)
            .field("table", &self.guard.table)
            .finish()
    }
}

impl TableGuard {
    /// The table; `None` when no valid table is in service.
    pub fn table(&self) -> Option<&Table> {
        self.guard.table()
    }

    /// The generation this guard answers from.
    pub fn generation(&self) -> u64 {
        self.guard.generation
    }

    /// Decides `addr` under `policy`; with no table in service, the handle's [`FailMode`]
    /// decides. Never panics; allocates nothing.
    pub fn decide(&self, policy: &Policy, addr: IpAddr) -> Decision<'_> {
        match self.guard.table() {
            Some(t) => policy.decide(t, addr),
            None => Decision::no_table(addr, self.fail.verdict()),
        }
    }

    /// [`TableGuard::decide`] for many IPv4 addresses, all against this guard's
    /// generation, as [`Policy::decide_v4_each`] does (with no table in service, each
    /// address gets the fail mode's decision). Never panics; allocates nothing.
    pub fn decide_v4_each<'g>(
        &'g self,
        policy: &Policy,
        addrs: &[Ipv4Addr],
        mut f: impl FnMut(Decision<'g>),
    ) {
        match self.guard.table() {
            Some(t) => policy.decide_v4_each(t, addrs, f),
            None => {
                for a in addrs {
                    f(Decision::no_table(IpAddr::V4(*a), self.fail.verdict()));
                }
            }
        }
    }

    /// [`TableGuard::decide`] for many IPv6 addresses, as
    /// [`TableGuard::decide_v4_each`] and [`Policy::decide_v6_each`].
    pub fn decide_v6_each<'g>(
        &'g self,
        policy: &Policy,
        addrs: &[Ipv6Addr],
        mut f: impl FnMut(Decision<'g>),
    ) {
        match self.guard.table() {
            Some(t) => policy.decide_v6_each(t, addrs, f),
            None => {
                for a in addrs {
                    f(Decision::no_table(IpAddr::V6(*a), self.fail.verdict()));
                }
            }
        }
    }
}

/// What a successful swap put in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Swapped {
    /// The new generation number.
    pub generation: u64,
    /// The new table's `list_version`.
    pub list_version: u64,
    /// The `list_version` of the table it replaced, if one was in service.
    pub previous_version: Option<u64>,
}

/// How [`LiveTable::reload`] brings a file into memory.
///
/// [`ReloadMode::READ`] copies the file (safe: later changes to the file cannot affect the
/// table). Mapping avoids the copy but carries [`Table::map_file`]'s contract, so its
/// constructor, `ReloadMode::map`, is `unsafe` (feature `mmap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadMode {
    pub(crate) map: bool,
}

impl ReloadMode {
    /// Read the file into memory.
    pub const READ: ReloadMode = ReloadMode { map: false };

    /// Whether this mode maps files.
    pub fn is_map(self) -> bool {
        self.map
    }
}

/// The table in service, swapped atomically while readers keep reading. See the
/// [module docs](self).
///
/// `LiveTable` is `Send + Sync`; share it with an `Arc` (or a `static`).
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List, Meta, Policy, Table, Verdict};
/// use c2trie::swap::{FailMode, LiveTable};
///
/// let build = |version, blocked: &str| -> Result<Table, Box<dyn std::error::Error>> {
///     let mut c = Compiler::new();
///     c.list_version(version).add(List::Blocked, blocked.parse()?, "ops", Meta::default())?;
///     Ok(Table::from_bytes(c.to_vec()?)?)
/// };
/// let live = LiveTable::new(build(1, "192.0.2.1/32")?, FailMode::Open);
/// let policy = Policy::default();
/// assert_eq!(live.verdict(&policy, "192.0.2.1".parse()?), Verdict::Block);
///
/// let swapped = live.replace(build(2, "192.0.2.2/32")?)?;
/// assert_eq!((swapped.generation, swapped.previous_version), (2, Some(1)));
/// assert_eq!(live.verdict(&policy, "192.0.2.1".parse()?), Verdict::Pass);
/// assert!(live.replace(build(2, "192.0.2.3/32")?).is_err()); // not newer
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LiveTable {
    current: ArcSwap<Snapshot>,
    /// Serializes writers so that "check the version, then swap" is atomic, and holds the
    /// persisted version record, if one is attached. Readers never take it.
    writer: Mutex<Option<VersionState>>,
    fail: FailMode,
}

impl fmt::Debug for LiveTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.current.load();
        f.debug_struct("LiveTable")
            .field("generation", &snap.generation)
            .field("table", &snap.table)
            .field("fail", &self.fail)
            .finish()
    }
}

/// The error for a table a [`VersionState`] refuses.
fn refused(r: Refusal, offered: u64, table: Option<Table>) -> SwapError {
    match r {
        Refusal::Rollback { accepted } => SwapError::rollback(accepted, offered, table),
        Refusal::Jump { accepted, max } => SwapError::jump(accepted, offered, max, table),
        Refusal::Io(e) => e,
    }
}

impl LiveTable {
    /// A handle serving `table` (generation 1). `fail` applies only if the handle is ever
    /// without a table, which a handle made this way never is.
    pub fn new(table: Table, fail: FailMode) -> LiveTable {
        LiveTable::with_snapshot(Some(table), 1, fail)
    }

    /// A handle with no table in service yet (generation 0): readers get `fail`'s verdict
    /// until the first successful [`replace`](LiveTable::replace) or
    /// [`reload`](LiveTable::reload), which accepts any `list_version`.
    ///
    /// ```
    /// use c2trie::{Policy, Verdict, swap::{FailMode, LiveTable}};
    /// let live = LiveTable::empty(FailMode::Closed);
    /// assert_eq!(live.verdict(&Policy::default(), "192.0.2.1".parse()?), Verdict::Block);
    /// assert!(live.is_stale(std::time::Duration::from_secs(3600)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty(fail: FailMode) -> LiveTable {
        LiveTable::with_snapshot(None, 0, fail)
    }

    fn with_snapshot(table: Option<Table>, generation: u64, fail: FailMode) -> LiveTable {
        LiveTable {
            current: ArcSwap::from_pointee(Snapshot { table, generation }),
            writer: Mutex::new(None),
            fail,
        }
    }

    /// The fail mode chosen at construction.
    pub fn fail_mode(&self) -> FailMode {
        self.fail
    }

    /// The snapshot in service, for a short-lived read. Lock-free.
    pub fn load(&self) -> TableGuard {
        TableGuard {
            guard: self.current.load(),
            fail: self.fail,
        }
    }

    /// The snapshot in service as an `Arc`, for holding longer than a guard should be held
    /// (it keeps that table, and its mapping, alive until dropped).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The generation in service.
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// The `list_version` in service; `None` when no table is.
    pub fn list_version(&self) -> Option<u64> {
        self.current.load().list_version()
    }

    /// The verdict for `addr` under `policy`, from the table in service (or the
    /// [`FailMode`]). Lock-free, allocation-free. For the whole [`Decision`] (what decided
    /// it), use [`LiveTable::load`] and [`TableGuard::decide`], which take their arguments
    /// in the same order, as [`Policy::decide`] does: the context, then the address.
    pub fn verdict(&self, policy: &Policy, addr: IpAddr) -> Verdict {
        self.load().decide(policy, addr).verdict()
    }

    fn lock_writer(&self) -> MutexGuard<'_, Option<VersionState>> {
        // A writer that panicked left the record as it was on disk or as it was before:
        // `VersionState::record` updates memory only after the file is in place.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches a persisted version record ([`VersionState`]), so that rollback protection
    /// survives a restart: from now on a table older than the record, or with the record's
    /// version and another checksum, is refused even with nothing in service, and every
    /// table put in service is recorded (crash-safely) before it serves. A table already in
    /// service is checked against the record and recorded.
    ///
    /// # Errors
    ///
    /// As [`LiveTable::replace`], for the table in service; writing the record
    /// ([`SwapErrorKind::Io`](crate::SwapErrorKind::Io)). The record is then not attached.
    pub fn attach_version_state(&self, mut state: VersionState) -> Result<(), SwapError> {
        let mut w = self.lock_writer();
        let cur = self.current.load();
        if let Some(table) = cur.table.as_ref() {
            state
                .record_checked(table, false)
                .map_err(|r| refused(r, table.list_version(), None))?;
        }
        *w = Some(state);
        Ok(())
    }

    /// The attached version record's last accepted table, if a record is attached and has
    /// one.
    pub fn accepted_version(&self) -> Option<Accepted> {
        self.lock_writer().as_ref().and_then(VersionState::accepted)
    }

    /// Puts `table` in service if its `list_version` is newer than the one in service (any
    /// version is accepted when none is in service) and the attached [`VersionState`], if
    /// any, admits it; the record is written before the table serves.
    ///
    /// # Errors
    ///
    /// [`SwapErrorKind::Rollback`](crate::SwapErrorKind::Rollback) when the version is not
    /// newer (than the one in service, or than the record, or is the record's with another
    /// checksum); [`SwapErrorKind::VersionJump`](crate::SwapErrorKind::VersionJump) beyond
    /// the record's jump limit; [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when the
    /// record cannot be written. The table in service stays, and [`SwapError::into_table`]
    /// returns a refused table.
    pub fn replace(&self, table: Table) -> Result<Swapped, SwapError> {
        let mut w = self.lock_writer();
        let cur = self.current.load();
        let offered = table.list_version();
        if let Some(current) = cur.list_version()
            && offered <= current
        {
            return Err(SwapError::rollback(current, offered, Some(table)));
        }
        if let Some(state) = w.as_mut()
            && let Err(r) = state.record_checked(&table, false)
        {
            return Err(refused(r, offered, Some(table)));
        }
        Ok(self.store(&cur, table))
    }

    /// Puts `table` in service whatever its `list_version`: the explicit override of
    /// rollback protection. An attached [`VersionState`] records it (so an operator's
    /// rollback holds across a restart).
    ///
    /// # Errors
    ///
    /// [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when the attached record cannot be
    /// written; the table in service stays.
    pub fn force_replace(&self, table: Table) -> Result<Swapped, SwapError> {
        let mut w = self.lock_writer();
        let cur = self.current.load();
        if let Some(state) = w.as_mut() {
            state
                .record_checked(&table, true)
                .map_err(|r| refused(r, table.list_version(), None))?;
        }
        Ok(self.store(&cur, table))
    }

    /// Stores the next generation. The caller holds the writer lock.
    fn store(&self, cur: &Snapshot, table: Table) -> Swapped {
        let swapped = Swapped {
            generation: cur.generation.wrapping_add(1),
            list_version: table.list_version(),
            previous_version: cur.list_version(),
        };
        self.current.store(Arc::new(Snapshot {
            table: Some(table),
            generation: swapped.generation,
        }));
        swapped
    }

    /// Loads and validates the table at `path`, then [`replace`](LiveTable::replace)s.
    ///
    /// # Errors
    ///
    /// [`SwapErrorKind::Load`](crate::SwapErrorKind::Load) when the file cannot be read or is not a valid table;
    /// [`SwapErrorKind::Rollback`](crate::SwapErrorKind::Rollback) as for `replace`. In every case the table in service
    /// stays in service.
    pub fn reload(&self, path: impl AsRef<Path>, mode: ReloadMode) -> Result<Swapped, SwapError> {
        let table = load_path(path.as_ref(), mode).map_err(SwapError::load)?;
        self.replace(table)
    }

    /// Reads the pointer file written by [`publish_versioned`](crate::publish::publish_versioned)
    /// and [`reload`](LiveTable::reload)s the file it names.
    ///
    /// # Errors
    ///
    /// As `reload`, plus [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when the pointer cannot be read or names an
    /// unexpected file.
    pub fn reload_pointer(
        &self,
        pointer: impl AsRef<Path>,
        mode: ReloadMode,
    ) -> Result<Swapped, SwapError> {
        let target = crate::publish::resolve_pointer(pointer.as_ref())?;
        self.reload(target, mode)
    }

    /// How old the table in service is (now minus its `created_unix`); `None` when no
    /// table is in service. A table stamped in the future has age zero.
    pub fn age(&self) -> Option<Duration> {
        let created = self.current.load().table.as_ref()?.created_unix();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(Duration::from_secs(now.saturating_sub(created)))
    }

    /// Whether the table in service is older than `max_age`, or no table is in service, or
    /// its creation time lies more than [`CLOCK_SKEW`] in the future (a wrong clock, on the
    /// publisher's side or ours, would otherwise keep it fresh forever): the signal that
    /// list delivery has stopped.
    pub fn is_stale(&self, max_age: Duration) -> bool {
        let Some(created) = self.current.load().table.as_ref().map(|t| t.created_unix()) else {
            return true;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        created > now.saturating_add(CLOCK_SKEW.as_secs())
            || Duration::from_secs(now.saturating_sub(created)) > max_age
    }

    /// Starts a thread that polls `target` every `interval` and reloads when it changes
    /// (length, modification time or, on Unix, inode). `on_result` gets the outcome of every
    /// reload attempt except re-reading the version already in service; a bad file leaves
    /// the table in service, as with `reload`.
    ///
    /// The first poll always loads (the table already in service, byte for byte, is not
    /// reported; an older file, or a different one with the same list version, is reported
    /// as a rollback: an update that was not put in service). A load that fails (missing,
    /// unreadable, invalid, or a pointer naming a file not there yet) is tried again,
    /// changed or not, after one interval, then two, four, ... up to 64 intervals, and at
    /// once when the file changes; every failure is reported: fixing a file's permissions
    /// changes nothing the poll could see. A refused version is not retried until the file
    /// changes. A panic in `on_result` is caught and counted ([`Watcher::callback_panics`]);
    /// the watch goes on. `interval` is at least [`MIN_INTERVAL`].
    ///
    /// The thread stops when the returned [`Watcher`] is stopped or dropped.
    ///
    /// # Errors
    ///
    /// The error from spawning the thread.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
    ///
    /// let live = Arc::new(LiveTable::empty(FailMode::Open));
    /// let watcher = live.watch(
    ///     WatchTarget::File("/var/lib/c2trie/lists.c2t".into()),
    ///     ReloadMode::READ,
    ///     Duration::from_secs(5),
    ///     |r| if let Err(e) = r { eprintln!("reload failed: {e}") },
    /// )?;
    /// // ... serve ...
    /// watcher.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch(
        self: &Arc<LiveTable>,
        target: WatchTarget,
        mode: ReloadMode,
        interval: Duration,
        mut on_result: impl FnMut(Result<Swapped, SwapError>) + Send + 'static,
    ) -> std::io::Result<Watcher> {
        // A zero interval would poll (and, failing, report) as fast as the CPU allows.
        let interval = interval.max(MIN_INTERVAL);
        let live = Arc::downgrade(self);
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let panics = Arc::new(AtomicU64::new(0));
        let panics2 = Arc::clone(&panics);
        let thread = std::thread::Builder::new()
            .name("c2trie-watch".into())
            .spawn(move || {
                let watched = target.watched().to_path_buf();
                let mut state = WatchState::new(interval);
                let (lock, cvar) = &*stop2;
                loop {
                    let Some(live) = live.upgrade() else { return };
                    let now = fingerprint(&watched);
                    if state.due(now, Instant::now()) {
                        let r = match &target {
                            WatchTarget::File(p) => live.reload(p, mode),
                            WatchTarget::Pointer(p) => live.reload_pointer(p, mode),
                        };
                        state.settle(now, &r, Instant::now());
                        // Re-reading the table in service is no news; another table with
                        // the same list version is: an update that would be lost.
                        let in_service = live.current.load().table.as_ref().map(|t| t.checksum());
                        let same = r.as_ref().err().is_some_and(|e| {
                            matches!(e.versions(), Some((a, b)) if a == b)
                                && e.table().map(Table::checksum) == in_service
                        });
                        if !same {
                            // A panicking callback must not end the watch: later publishes
                            // would never be loaded. It is counted instead.
                            let call = std::panic::AssertUnwindSafe(|| on_result(r));
                            if std::panic::catch_unwind(call).is_err() {
                                panics2.fetch_add(1, AtomicOrdering::Relaxed);
                            }
                        }
                    }
                    drop(live);
                    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let (guard, _) = cvar
                        .wait_timeout_while(guard, interval, |stopped| !*stopped)
                        .unwrap_or_else(|e| e.into_inner());
                    if *guard {
                        return;
                    }
                }
            })?;
        Ok(Watcher {
            stop,
            panics,
            thread: Some(thread),
        })
    }
}

/// When a [`Watcher`] loads: at its first poll; whenever the file looks different from
/// the last load that settled; and again after a failed load, with backoff, even if the
/// file looks the same (a permission fixed with `chmod`, or a pointer whose table appears
/// later, changes no fingerprint) but at once if it looks different from the failed try.
#[derive(Debug)]
struct WatchState {
    interval: Duration,
    /// The fingerprint of the last load that settled: succeeded, or was refused for its
    /// version (trying again cannot change that; a new file can). Outer `None`: none yet.
    settled: Option<Option<Fingerprint>>,
    /// After a failed load: the fingerprint it saw, when to try again (`None`: only once
    /// the file changes), and the wait after that.
    retry: Option<(Option<Fingerprint>, Option<Instant>, Duration)>,
}

impl WatchState {
    /// The longest wait between two tries of a failed load, in intervals.
    const MAX_BACKOFF: u32 = 64;

    fn new(interval: Duration) -> WatchState {
        WatchState {
            interval,
            settled: None,
            retry: None,
        }
    }

    /// Whether to load now, the watched file's fingerprint being `now` (`None`: missing).
    fn due(&self, now: Option<Fingerprint>, at: Instant) -> bool {
        match self.retry {
            Some((seen, _, _)) if seen != now => true,
            Some((_, when, _)) => when.is_some_and(|w| at >= w),
            None => self.settled != Some(now),
        }
    }

    fn settle(&mut self, now: Option<Fingerprint>, r: &Result<Swapped, SwapError>, at: Instant) {
        let failed = r.as_ref().is_err_and(|e| {
            !matches!(
                e.kind(),
                crate::SwapErrorKind::Rollback | crate::SwapErrorKind::VersionJump
            )
        });
        if failed {
            let wait = self.retry.map_or(self.interval, |(_, _, w)| w);
            let next = wait
                .saturating_mul(2)
                .min(self.interval.saturating_mul(Self::MAX_BACKOFF));
            // An interval too long to add to the clock: retry only on a change.
            self.retry = Some((now, at.checked_add(wait), next));
        } else {
            self.settled = Some(now);
            self.retry = None;
        }
    }
}

/// The shortest interval a [`Watcher`] polls at; a shorter one is raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How far in the future a table's creation time may lie before
/// [`LiveTable::is_stale`] calls it stale.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What a [`Watcher`] watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchTarget {
    /// A table file published with [`publish`](crate::publish::publish) (renamed into place).
    File(PathBuf),
    /// A pointer file written by [`publish_versioned`](crate::publish::publish_versioned);
    /// the table reloaded is the one it names.
    Pointer(PathBuf),
}

impl WatchTarget {
    fn watched(&self) -> &Path {
        match self {
            WatchTarget::File(p) | WatchTarget::Pointer(p) => p,
        }
    }
}

/// A running watch thread ([`LiveTable::watch`]). Stops (and joins the thread) on
/// [`Watcher::stop`] or drop.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    panics: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// How many times the callback panicked. A panic is caught (the default panic hook
    /// still prints it) and the watch goes on.
    pub fn callback_panics(&self) -> u64 {
        self.panics.load(AtomicOrdering::Relaxed)
    }

    /// Stops the thread and waits for it to finish.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            // The thread catches the callback's panics; it has nothing else to panic on.
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let md = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&md);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Fingerprint {
        len: md.len(),
        modified: md.modified().ok(),
        inode,
    })
}

fn load_path(path: &Path, mode: ReloadMode) -> Result<Table, crate::LoadError> {
    #[cfg(feature = "mmap")]
    if mode.map {
        return crate::mmap::load_promised(path);
    }
    let _ = mode;
    Table::read_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Compiler, List, Meta, SwapErrorKind};

    fn table(version: u64, created: u64) -> Table {
        let mut c = Compiler::new();
        c.list_version(version).created_unix(created);
        c.add(
            List::Global,
            "192.0.2.0/24".parse().unwrap(),
            "v",
            Meta::tagged(format!("v{version}")),
        )
        .unwrap();
        Table::from_bytes(c.to_vec().unwrap()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rollback_is_refused_and_force_works() {
        let live = LiveTable::new(table(10, 0), FailMode::Open);
        for v in [10, 9, 0] {
            let err = live.replace(table(v, 0)).unwrap_err();
            assert_eq!(err.kind(), SwapErrorKind::Rollback);
            assert_eq!(err.versions(), Some((10, v)));
            assert_eq!(live.list_version(), Some(10));
            assert_eq!(live.generation(), 1);
        }
        let s = live.replace(table(11, 0)).unwrap();
        assert_eq!(
            s,
            Swapped {
                generation: 2,
                list_version: 11,
                previous_version: Some(10)
            }
        );
        let refused = live.replace(table(3, 0)).unwrap_err().into_table().unwrap();
        let s = live.force_replace(refused).unwrap();
        assert_eq!((s.generation, s.list_version), (3, 3));
        assert_eq!(live.list_version(), Some(3));
    }

    /// A guard's batch decisions are its single ones, with a table in service and without.
    #[test]
    fn guard_batch_decisions_are_its_single_ones() {
        let p = Policy::new(crate::Mode::Block, crate::Mode::LogOnly);
        let v4: Vec<Ipv4Addr> = (0..300u32)
            .map(|i| Ipv4Addr::from(0xc000_0200 + i * 7))
            .collect();
        let v6: Vec<Ipv6Addr> = v4
            .iter()
            .map(|a| Ipv6Addr::from((0x2002u128 << 112) | (u128::from(u32::from(*a)) << 80)))
            .collect();
        // The verdicts each handle must give: with a table (192.0.2.0/24 on the global
        // list, blocking) both; without one, the fail mode's only.
        for (live, want_verdicts) in [
            (
                LiveTable::new(table(1, 0), FailMode::Open),
                &[Verdict::Pass, Verdict::Block][..],
            ),
            (LiveTable::empty(FailMode::Open), &[Verdict::Pass][..]),
            (LiveTable::empty(FailMode::Closed), &[Verdict::Block][..]),
        ] {
            let g = live.load();
            let mut got = Vec::new();
            g.decide_v4_each(&p, &v4, |d| got.push(d));
            let want: Vec<_> = v4.iter().map(|a| g.decide(&p, IpAddr::V4(*a))).collect();
            assert_eq!(got, want);
            let mut six = Vec::new();
            g.decide_v6_each(&p, &v6, |d| six.push(d));
            let want: Vec<_> = v6.iter().map(|a| g.decide(&p, IpAddr::V6(*a))).collect();
            assert_eq!(six, want);
            for d in got.iter().chain(&six) {
                assert!(want_verdicts.contains(&d.verdict()), "{d:?}");
                let no_table = d.reason() == crate::policy::Reason::NoTable;
                assert_eq!(no_table, g.table().is_none(), "{d:?}");
            }
            for v in want_verdicts {
                assert!(got.iter().any(|d| d.verdict() == *v), "IPv4: no {v:?}");
                assert!(six.iter().any(|d| d.verdict() == *v), "IPv6: no {v:?}");
            }
        }
    }

    #[test]
    fn empty_handle_fails_open_or_closed_and_accepts_any_first_version() {
        let p = Policy::new(crate::Mode::Block, crate::Mode::Block);
        for (fail, want) in [
            (FailMode::Open, Verdict::Pass),
            (FailMode::Closed, Verdict::Block),
        ] {
            let live = LiveTable::empty(fail);
            let g = live.load();
            let d = g.decide(&p, ip("203.0.113.1"));
            assert_eq!(d.verdict(), want);
            assert_eq!(d.reason(), crate::policy::Reason::NoTable);
            assert_eq!(d.list_version(), None);
            assert_eq!(g.generation(), 0);
            drop(g);
            live.replace(table(0, 0)).unwrap();
            // With a table, the policy decides: 203.0.113.1 is unlisted.
            assert_eq!(live.verdict(&p, ip("203.0.113.1")), Verdict::Pass);
            assert_eq!(live.verdict(&p, ip("192.0.2.1")), Verdict::Block);
            assert_eq!(live.generation(), 1);
        }
    }

    #[test]
    fn reload_of_a_bad_file_keeps_the_table_in_service() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        let live = LiveTable::new(table(1, 0), FailMode::Closed);
        std::fs::write(&path, b"not a table").unwrap();
        let err = live.reload(&path, ReloadMode::READ).unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Load);
        assert!(err.load_error().is_some());
        assert_eq!(live.list_version(), Some(1));
        let err = live
            .reload(dir.path().join("missing"), ReloadMode::READ)
            .unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Load);
        std::fs::write(&path, table(2, 0).as_bytes()).unwrap();
        assert_eq!(
            live.reload(&path, ReloadMode::READ).unwrap().list_version,
            2
        );
        assert_eq!(live.list_version(), Some(2));
    }

    #[test]
    fn staleness_follows_created_unix() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let live = LiveTable::new(table(1, now - 7200), FailMode::Open);
        assert!(live.is_stale(Duration::from_secs(3600)));
        assert!(!live.is_stale(Duration::from_secs(3 * 3600)));
        live.replace(table(2, now + 60)).unwrap();
        assert_eq!(live.age(), Some(Duration::ZERO));
        assert!(
            !live.is_stale(Duration::ZERO),
            "within the clock skew allowed"
        );
        // Beyond it: a wrong clock must not keep a table fresh forever.
        live.replace(table(3, now + 1000)).unwrap();
        assert_eq!(live.age(), Some(Duration::ZERO));
        assert!(live.is_stale(Duration::from_secs(86_400)));
    }

    #[test]
    fn guard_answers_from_the_generation_it_loaded() {
        let live = LiveTable::new(table(1, 0), FailMode::Open);
        let p = Policy::default();
        let g = live.load();
        live.replace(table(2, 0)).unwrap();
        assert_eq!(g.generation(), 1);
        assert_eq!(g.decide(&p, ip("192.0.2.1")).tag(), Some("v1"));
        assert_eq!(live.load().decide(&p, ip("192.0.2.1")).tag(), Some("v2"));
    }

    #[test]
    fn watcher_reloads_a_republished_file_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.c2t");
        let publish = |v: u64| crate::publish::publish(&path, table(v, 0).as_bytes()).unwrap();
        publish(1);
        let live = Arc::new(LiveTable::empty(FailMode::Closed));
        let (tx, rx) = std::sync::mpsc::channel();
        let w = live
            .watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                Duration::from_millis(5),
                move |r| {
                    let _ = tx.send(r.map(|s| s.list_version).map_err(|e| e.kind()));
                },
            )
            .unwrap();
        let recv = || rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(recv(), Ok(1), "an empty handle loads on the first poll");
        publish(2);
        assert_eq!(recv(), Ok(2));
        assert_eq!(live.list_version(), Some(2));
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not a table").unwrap();
        std::fs::rename(&junk, &path).unwrap();
        assert_eq!(recv(), Err(SwapErrorKind::Load));
        // The junk is retried (and reported) until it is replaced.
        let next = || loop {
            let r = recv();
            if r != Err(SwapErrorKind::Load) {
                return r;
            }
        };
        publish(1);
        assert_eq!(next(), Err(SwapErrorKind::Rollback));
        publish(3);
        assert_eq!(next(), Ok(3));
        w.stop();
        assert_eq!(live.list_version(), Some(3));
    }

    #[test]
    fn live_table_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LiveTable>();
        check::<Snapshot>();
        check::<crate::SwapError>();
    }

    /// Waits up to 5 s for a report matching `want`.
    fn wait_for(
        rx: &std::sync::mpsc::Receiver<Result<Swapped, SwapError>>,
        want: impl Fn(&Result<Swapped, SwapError>) -> bool,
    ) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(r) if want(&r) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// A failed load is retried even when nothing the poll sees changes (same length,
    /// modification time and inode), as after `chmod` fixes a permission.
    #[test]
    fn watcher_retries_a_failed_load_of_an_unchanged_file() {
        use std::io::{Seek, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        let good = table(3, 0).as_bytes().to_vec();
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff; // Checksum mismatch.
        std::fs::write(&path, &bad).unwrap();
        let stamp = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(stamp).unwrap();
        let live = Arc::new(LiveTable::empty(FailMode::Closed));
        let (tx, rx) = std::sync::mpsc::channel();
        let w = live
            .watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                Duration::from_millis(10),
                move |r| {
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        assert!(wait_for(&rx, |r| r
            .as_ref()
            .is_err_and(|e| e.kind() == SwapErrorKind::Load)));
        // Fixed in place: same inode, same length, same modification time.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(&good).unwrap();
        f.set_modified(stamp).unwrap();
        drop(f);
        assert!(
            wait_for(&rx, |r| r.is_ok()),
            "the fixed file was never loaded"
        );
        assert_eq!(live.list_version(), Some(3));
        w.stop();
    }

    /// A pointer naming a table that appears only later is followed once it does.
    #[test]
    fn watcher_follows_a_pointer_whose_table_appears_later() {
        let dir = tempfile::tempdir().unwrap();
        let pointer = dir.path().join("lists.current");
        std::fs::write(&pointer, "lists.7.c2t\n").unwrap();
        let live = Arc::new(LiveTable::empty(FailMode::Closed));
        let (tx, rx) = std::sync::mpsc::channel();
        let _w = live
            .watch(
                WatchTarget::Pointer(pointer),
                ReloadMode::READ,
                Duration::from_millis(10),
                move |r| {
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        assert!(
            wait_for(&rx, |r| r.is_err()),
            "the missing table is reported"
        );
        std::fs::write(dir.path().join("lists.7.c2t"), table(7, 0).as_bytes()).unwrap();
        assert!(wait_for(&rx, |r| r.is_ok()));
        assert_eq!(live.list_version(), Some(7));
    }

    /// A panicking callback neither ends the watch nor goes unnoticed.
    #[test]
    fn watcher_survives_a_panicking_callback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        std::fs::write(&path, table(1, 0).as_bytes()).unwrap();
        let live = Arc::new(LiveTable::empty(FailMode::Closed));
        let (tx, rx) = std::sync::mpsc::channel();
        let calls = std::sync::atomic::AtomicU64::new(0);
        let w = live
            .watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                Duration::from_millis(10),
                move |r| {
                    if calls.fetch_add(1, AtomicOrdering::SeqCst) == 0 {
                        panic!("a callback bug");
                    }
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while live.list_version() != Some(1) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(live.list_version(), Some(1));
        crate::publish::publish(&path, table(2, 0).as_bytes()).unwrap();
        assert!(
            wait_for(&rx, |r| r.is_ok()),
            "the watch ended with the panic"
        );
        assert_eq!(live.list_version(), Some(2));
        assert_eq!(w.callback_panics(), 1);
        w.stop();
    }

    #[test]
    fn a_table_from_the_future_is_stale() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let day = Duration::from_secs(86_400);
        for (created, stale) in [
            (now, false),
            (now + 60, false),
            (now + CLOCK_SKEW.as_secs() + 60, true),
            (now + 10 * 365 * 86_400, true),
            (now - 2 * 86_400, true),
        ] {
            let live = LiveTable::new(table(1, created), FailMode::Open);
            assert_eq!(live.is_stale(day), stale, "{created} vs {now}");
        }
    }

    fn fp(len: u64) -> Option<Fingerprint> {
        Some(Fingerprint {
            len,
            modified: None,
            inode: 1,
        })
    }

    /// Backoff decisions, with time passed in: a changed file is loaded at once even while
    /// a failed one waits for its retry; an unchanged one waits; an interval too long for
    /// the clock means "only on a change", never a panic.
    #[test]
    fn watch_state_backs_off_but_not_for_a_new_file() {
        let t0 = Instant::now();
        let sec = Duration::from_secs(1);
        let mut w = WatchState::new(sec);
        assert!(w.due(None, t0), "the first poll loads, even a missing file");
        let fail: Result<Swapped, SwapError> = Err(SwapError::io(
            "x".into(),
            std::io::Error::other("unreadable"),
        ));
        w.settle(fp(10), &fail, t0);
        assert!(!w.due(fp(10), t0), "waits one interval");
        assert!(w.due(fp(10), t0 + sec));
        assert!(w.due(fp(11), t0), "a changed file: at once");
        w.settle(fp(10), &fail, t0 + sec);
        assert!(!w.due(fp(10), t0 + sec + sec), "then two intervals");
        assert!(w.due(fp(10), t0 + 3 * sec));
        for i in 0..20 {
            w.settle(fp(10), &fail, t0 + 4 * sec + i * sec);
        }
        let (_, when, next) = w.retry.unwrap();
        assert!(next <= 64 * sec && when.unwrap() <= t0 + 100 * sec);
        let ok = Ok(Swapped {
            generation: 1,
            list_version: 1,
            previous_version: None,
        });
        w.settle(fp(12), &ok, t0);
        assert!(!w.due(fp(12), t0 + 1000 * sec), "settled: nothing new");
        assert!(w.due(None, t0), "the file went away: report it");

        let mut huge = WatchState::new(Duration::MAX);
        huge.settle(fp(1), &fail, t0);
        huge.settle(fp(1), &fail, t0);
        assert!(!huge.due(fp(1), t0 + 1000 * sec));
        assert!(huge.due(fp(2), t0));
    }

    /// A handle that already serves a table still loads a newer file at the first poll,
    /// and a missing file is reported.
    #[test]
    fn watcher_loads_at_its_first_poll_and_reports_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        std::fs::write(&path, table(5, 0).as_bytes()).unwrap();
        let live = Arc::new(LiveTable::new(table(1, 0), FailMode::Open));
        let (tx, rx) = std::sync::mpsc::channel();
        let w = live
            .watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                Duration::from_millis(10),
                move |r| {
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        assert!(wait_for(&rx, |r| r.is_ok()));
        assert_eq!(live.list_version(), Some(5));
        w.stop();
        let (tx, rx) = std::sync::mpsc::channel();
        let _w = live
            .watch(
                WatchTarget::File(dir.path().join("missing.c2t")),
                ReloadMode::READ,
                Duration::ZERO,
                move |r| {
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        assert!(
            wait_for(&rx, |r| r.is_err()),
            "the missing file is reported"
        );
    }

    /// A different table with the list version already in service is an update that would
    /// be lost: it is reported. The same table, re-read, is not.
    #[test]
    fn watcher_reports_a_different_table_of_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        let first = table(4, 0);
        std::fs::write(&path, first.as_bytes()).unwrap();
        let live = Arc::new(LiveTable::new(first, FailMode::Open));
        let (tx, rx) = std::sync::mpsc::channel();
        let _w = live
            .watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                Duration::from_millis(10),
                move |r| {
                    let _ = tx.send(r);
                },
            )
            .unwrap();
        // The first poll re-reads the same bytes: nothing to report.
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        // Same version, other content (another creation time).
        crate::publish::publish(&path, table(4, 99).as_bytes()).unwrap();
        assert!(wait_for(&rx, |r| r
            .as_ref()
            .is_err_and(|e| e.versions() == Some((4, 4)))));
        assert_eq!(live.load().table().map(Table::created_unix), Some(0));
    }
}
