//! The persisted version record behind [`VersionState`].

use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::SwapError;
use crate::table::Table;

/// The first line of a state file.
const MAGIC: &str = "c2trie-version-state v1";

/// A state file larger than this is not one.
const MAX_LEN: u64 = 4096;

/// The table a [`VersionState`] last accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// Its `list_version`: older tables are refused.
    pub list_version: u64,
    /// Its checksum: another table with the same version is refused.
    pub checksum: u64,
    /// When it was accepted (seconds since the Unix epoch).
    pub accepted_unix: u64,
}

/// Why a [`VersionState`] refuses a table (turned into a [`SwapError`] by the caller).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Older than the record, or the record's version with another checksum.
    Rollback { accepted: u64 },
    /// More than `max` above the record.
    Jump { accepted: u64, max: u64 },
    /// The record could not be read or written.
    Io(SwapError),
}

/// Rollback protection that survives a restart: the highest accepted `list_version`,
/// persisted in a small state file.
///
/// A [`LiveTable`](super::LiveTable) refuses a table older than the one in service, but a
/// restarted process has nothing in service: without a record it would accept any older
/// (validly signed) table an attacker replays. A [`VersionState`] is that record. Attach it
/// with [`LiveTable::attach_version_state`](super::LiveTable::attach_version_state) before
/// the first load; from then on every table put in service (by `replace`, `reload`, the
/// watcher or `force_replace`) is written to it **before** it serves, and any table older
/// than the record is refused, whether or not a table is in service.
///
/// The same version is accepted again only with the same checksum (a restart reloading the
/// table it served); a different table claiming an accepted version is refused. An optional
/// [`max_jump`](VersionState::set_max_jump) refuses a version more than that far above the
/// record, so that one table with `list_version` near `u64::MAX` (a mistake or a stolen key)
/// cannot shut out every later update.
///
/// The file is text, written crash-safely (temporary file, sync, rename, directory sync):
///
/// ```text
/// c2trie-version-state v1
/// list_version 42
/// checksum 9c0b5d2f1e8a7364
/// accepted_unix 1767225600
/// check 51f0c1d8a2b7e693
/// ```
///
/// `check` is the XXH3-64 of the lines above it. Handles that share the file (two processes,
/// two `LiveTable`s) take turns through an exclusive lock on `PATH.lock` and re-read the
/// record under it, so none lowers a version another has recorded. A missing file is an empty record (first
/// start); a file that cannot be read or does not check is an error, never an empty record:
/// losing it silently would switch rollback protection off.
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, SwapErrorKind, Table};
/// use c2trie::swap::{FailMode, LiveTable, VersionState};
///
/// let dir = std::env::temp_dir().join(format!("c2trie-state-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let state = dir.join("versions.state");
/// let table = |v| Table::from_bytes(Compiler::new().list_version(v).to_vec().unwrap());
///
/// let live = LiveTable::empty(FailMode::Closed);
/// live.attach_version_state(VersionState::open(&state)?)?;
/// live.replace(table(7)?)?;
///
/// // After a restart, an older table is refused although nothing is in service.
/// let restarted = LiveTable::empty(FailMode::Closed);
/// restarted.attach_version_state(VersionState::open(&state)?)?;
/// let err = restarted.replace(table(6)?).unwrap_err();
/// assert_eq!(err.kind(), SwapErrorKind::Rollback);
/// assert_eq!(err.versions(), Some((7, 6)));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionState {
    path: PathBuf,
    accepted: Option<Accepted>,
    max_jump: Option<u64>,
}

impl VersionState {
    /// Reads the state file at `path`; a missing file gives an empty record, written on the
    /// first accepted table.
    ///
    /// # Errors
    ///
    /// [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when the file exists but cannot be
    /// read, is not a regular file, or does not parse and check (an
    /// [`io::ErrorKind::InvalidData`] source).
    pub fn open(path: impl AsRef<Path>) -> Result<VersionState, SwapError> {
        let path = path.as_ref().to_path_buf();
        let accepted = match read_bounded(&path) {
            Ok(text) => Some(parse(&text).map_err(|why| {
                SwapError::io(
                    format!("version state {} is damaged", path.display()),
                    io::Error::new(io::ErrorKind::InvalidData, why),
                )
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(SwapError::io(
                    format!("version state {} is damaged", path.display()),
                    e,
                ));
            }
            Err(e) => {
                return Err(SwapError::io(
                    format!("cannot read version state {}", path.display()),
                    e,
                ));
            }
        };
        Ok(VersionState {
            path,
            accepted,
            max_jump: None,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last accepted table, if any.
    pub fn accepted(&self) -> Option<Accepted> {
        self.accepted
    }

    /// Refuse a table whose `list_version` is more than `max` above the accepted one
    /// (`None`, the default: no limit). The first table, with nothing accepted yet, is not
    /// limited.
    pub fn set_max_jump(&mut self, max: Option<u64>) -> &mut VersionState {
        self.max_jump = max;
        self
    }

    /// [`VersionState::set_max_jump`], by value.
    #[must_use]
    pub fn with_max_jump(mut self, max: Option<u64>) -> VersionState {
        self.max_jump = max;
        self
    }

    /// The jump limit in force.
    pub fn max_jump(&self) -> Option<u64> {
        self.max_jump
    }

    /// Whether `table` may be accepted: newer than the record (within the jump limit), or
    /// the recorded table itself.
    pub(crate) fn admits(&self, table: &Table) -> Result<(), Refusal> {
        let Some(a) = self.accepted else {
            return Ok(());
        };
        let offered = table.list_version();
        if offered < a.list_version || (offered == a.list_version && table.checksum() != a.checksum)
        {
            return Err(Refusal::Rollback {
                accepted: a.list_version,
            });
        }
        if let Some(max) = self.max_jump
            && offered - a.list_version > max
        {
            return Err(Refusal::Jump {
                accepted: a.list_version,
                max,
            });
        }
        Ok(())
    }

    /// [`VersionState::record_checked`], not forced, with the refusal as a [`SwapError`].
    #[cfg_attr(not(feature = "update"), allow(dead_code))]
    pub(crate) fn record(&mut self, table: &Table) -> Result<(), SwapError> {
        let offered = table.list_version();
        self.record_checked(table, false).map_err(|r| match r {
            Refusal::Rollback { accepted } => SwapError::rollback(accepted, offered, None),
            Refusal::Jump { accepted, max } => SwapError::jump(accepted, offered, max, None),
            Refusal::Io(e) => e,
        })
    }

    /// Records `table` as accepted, crash-safely, unless it already is. Other handles may
    /// share the file (two processes, or two `LiveTable`s): the record is re-read under an
    /// exclusive lock on `PATH.lock`, and unless `force`, a table the file's record does not
    /// admit is refused, so a newer version another handle recorded is never overwritten.
    pub(crate) fn record_checked(&mut self, table: &Table, force: bool) -> Result<(), Refusal> {
        let lock_path = {
            let mut p = self.path.as_os_str().to_owned();
            p.push(".lock");
            PathBuf::from(p)
        };
        let lock = crate::publish::open_lock(&lock_path).map_err(|e| {
            Refusal::Io(SwapError::io(
                format!("cannot open {}", lock_path.display()),
                e,
            ))
        })?;
        lock.lock().map_err(|e| {
            Refusal::Io(SwapError::io(
                format!("cannot lock {}", lock_path.display()),
                e,
            ))
        })?;
        // What the file says now, which another handle may have moved on.
        let on_disk = VersionState::open(&self.path).map_err(Refusal::Io)?;
        self.accepted = on_disk.accepted;
        if !force {
            self.admits(table)?;
        }
        if self.accepted.is_some_and(|a| {
            a.list_version == table.list_version() && a.checksum == table.checksum()
        }) {
            return Ok(());
        }
        let accepted = Accepted {
            list_version: table.list_version(),
            checksum: table.checksum(),
            accepted_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let text = render(&accepted);
        // An error after the rename (the directory sync) is still an error: the table is
        // then not put in service, and offering it again finds it recorded.
        crate::publish::atomic_write(&self.path, |f| f.write_all(text.as_bytes()), |_| Ok(()))
            .map_err(Refusal::Io)?;
        self.accepted = Some(accepted);
        Ok(())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rollback { accepted } => write!(f, "not newer than accepted {accepted}"),
            Refusal::Jump { accepted, max } => {
                write!(f, "more than {max} above accepted {accepted}")
            }
            Refusal::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The record's text: at most [`MAX_LEN`] bytes of a regular file (a FIFO would block the
/// open, a device read forever), as UTF-8.
fn read_bounded(path: &Path) -> io::Result<String> {
    String::from_utf8(crate::publish::read_regular(path, MAX_LEN)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn body(a: &Accepted) -> String {
    format!(
        "{MAGIC}\nlist_version {}\nchecksum {:016x}\naccepted_unix {}\n",
        a.list_version, a.checksum, a.accepted_unix
    )
}

fn render(a: &Accepted) -> String {
    let body = body(a);
    let check = xxhash_rust::xxh3::xxh3_64(body.as_bytes());
    format!("{body}check {check:016x}\n")
}

fn parse(text: &str) -> Result<Accepted, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(format!("the first line is not {MAGIC:?}"));
    }
    let mut field = |name: &str, radix: u32| -> Result<u64, String> {
        let line = lines.next().ok_or_else(|| format!("no {name} line"))?;
        let value = line
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix(' '))
            .ok_or_else(|| format!("expected {name}, found {line:?}"))?;
        u64::from_str_radix(value, radix).map_err(|_| format!("bad {name} {value:?}"))
    };
    let a = Accepted {
        list_version: field("list_version", 10)?,
        checksum: field("checksum", 16)?,
        accepted_unix: field("accepted_unix", 10)?,
    };
    let check = field("check", 16)?;
    if lines.any(|l| !l.is_empty()) {
        return Err("unexpected text after the check line".into());
    }
    if xxhash_rust::xxh3::xxh3_64(body(&a).as_bytes()) != check {
        return Err("the check line does not match (a torn or edited file)".into());
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Accepted {
        Accepted {
            list_version: 42,
            checksum: 0x9c0b_5d2f_1e8a_7364,
            accepted_unix: 1_767_225_600,
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(parse(&render(&sample())), Ok(sample()));
    }

    #[test]
    fn every_damage_is_an_error() {
        let good = render(&sample());
        let cases = [
            String::new(),
            good.replace("v1", "v2"),
            good.replace("list_version 42", "list_version 43"),
            good.replace("list_version 42", "list_version -1"),
            good.replace("checksum ", "checksum  "),
            good.replace("accepted_unix", "accepted"),
            good.lines().take(4).collect::<Vec<_>>().join("\n"),
            format!("{good}extra\n"),
            good[..good.len() - 3].to_owned(),
        ];
        for bad in cases {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
