//! Crash-safe publishing of compiled tables.
//!
//! A table file may be mapped by a running process ([`Table::map_file`],
//! [`ReloadMode::map`](crate::swap::ReloadMode::map)), so a published file is **never
//! rewritten in place**:
//!
//! - a mapping shows every later write, so a process reading the table while it is being
//!   rewritten sees a mix of two tables (validation ran on the old bytes and no longer holds),
//!   and a file truncated under a mapping makes the reader fault (`SIGBUS`);
//! - a crash midway through an in-place write leaves neither the old table nor the new one.
//!
//! Instead, [`publish`] writes the new table to a temporary file in the **same directory**
//! (so the rename below stays within one file system), `fsync`s it, reads it back and
//! validates it, renames it over the target (atomic on POSIX: a reader opening the path gets
//! the old file or the new one, whole), and `fsync`s the directory so the rename itself
//! survives a power cut. Processes that mapped the old file keep the old inode, intact,
//! until they unmap it. A crash at any point leaves the previous table in place, plus at
//! worst a stray temporary file that [`remove_stale_temps`] clears.
//!
//! # Windows
//!
//! Windows refuses to replace or delete a file that is mapped (or open without
//! `FILE_SHARE_DELETE`), so renaming over a table in service fails. There, publish with
//! [`publish_versioned`]: each version gets its own file name (`stem.<list_version>.c2t`),
//! which is never replaced, and a small pointer file (`stem.current`) naming the current
//! version is replaced instead; nobody maps the pointer. Delete old versions with
//! [`cleanup`] once no process maps them (removal of a mapped file fails and is retried at
//! the next cleanup). Windows also has no directory `fsync` through `std`, so there the
//! rename's durability is the file system's. The versioned scheme works the same on Unix.
//!
//! # Example
//!
//! ```
//! use c2trie::{Compiler, publish};
//!
//! let dir = tempfile::tempdir()?;
//! let bytes = Compiler::new().list_version(3).to_vec()?;
//! let table = publish::publish(dir.path().join("lists.c2t"), &bytes)?;
//! assert_eq!(table.list_version(), 3);
//!
//! let (path, _) = publish::publish_versioned(dir.path(), "lists", &bytes)?;
//! assert!(path.ends_with("lists.3.c2t"));
//! assert_eq!(publish::resolve_pointer(dir.path().join("lists.current"))?, path);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::SwapError;
use crate::table::Table;

/// The suffix of temporary files written while publishing.
pub(crate) const TEMP_SUFFIX: &str = ".c2trie-tmp";
/// The extension of versioned table files.
pub const TABLE_EXT: &str = "c2t";
/// The extension of the pointer file written by [`publish_versioned`].
pub const POINTER_EXT: &str = "current";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err(what: impl FnOnce() -> String) -> impl FnOnce(io::Error) -> SwapError {
    move |e| SwapError::io(what(), e)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the file at its path when dropped, unless disarmed (`None`).
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// A temporary file name no other publisher can predict or share: the process id alone
/// repeats across PID namespaces (two containers' publishers are both PID 1).
fn temp_name(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    #[cfg(test)]
    if let Some(forced) = tests::FORCED_TEMP.with(|f| f.borrow().clone()) {
        return forced;
    }
    // `RandomState` keys come from the operating system's random source.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(TEMP_COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!(".{name}.{:016x}{TEMP_SUFFIX}", h.finish())
}

/// Writes `write`'s output to a temporary file beside `path`, syncs it, checks it with
/// `check`, renames it over `path` and syncs the directory. Only a temporary file this call
/// created is ever removed.
pub(crate) fn atomic_write<T>(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
    check: impl FnOnce(&Path) -> Result<T, SwapError>,
) -> Result<T, SwapError> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    // Declared before `file`, so dropped after it (Windows cannot remove an open file).
    let mut guard = RemoveOnDrop(None);
    // `create_new`: the file is ours only if this call made it.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io_err(|| format!("cannot create {}", tmp.display())))?;
    // Ours, so ours to remove on any error, or if `write` or `check` panics;
    // `remove_stale_temps` catches what this misses (a crash).
    guard.0 = Some(&tmp);
    write(&mut file)
        .and_then(|()| file.flush())
        .map_err(io_err(|| format!("cannot write {}", tmp.display())))?;
    file.sync_all()
        .map_err(io_err(|| format!("cannot sync {}", tmp.display())))?;
    drop(file);
    keep_mode_and_owner(path, &tmp);
    let checked = check(&tmp)?;
    fs::rename(&tmp, path).map_err(io_err(|| {
        format!("cannot rename {} to {}", tmp.display(), path.display())
    }))?;
    // Renamed away: whatever holds that name from now on is not ours.
    guard.0 = None;
    // The new file is in place from here on: an error now must say so.
    sync_dir(dir).map_err(|e| {
        SwapError::io_after_publish(
            format!(
                "{} is published, but syncing {} failed, so it may not survive a power cut",
                path.display(),
                dir.display()
            ),
            e,
        )
    })?;
    Ok(checked)
}

/// Gives `tmp` the permissions and (where allowed) the owner and group of the file it is
/// about to replace, so a publish does not widen or change who may read the table. Best
/// effort: without a file to replace, or the right to `chown`, `tmp` keeps its own.
#[cfg(unix)]
fn keep_mode_and_owner(path: &Path, tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(old) = fs::metadata(path) {
        let _ = fs::set_permissions(tmp, old.permissions());
        let _ = std::os::unix::fs::chown(tmp, Some(old.uid()), Some(old.gid()));
    }
}

#[cfg(not(unix))]
fn keep_mode_and_owner(_path: &Path, _tmp: &Path) {}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Publishes `bytes` at `path` crash-safely (see the [module docs](self)) and returns the
/// table as read back from disk, ready for [`LiveTable::replace`](crate::swap::LiveTable::replace).
///
/// # Errors
///
/// [`SwapErrorKind::Load`](crate::SwapErrorKind::Load) when the bytes are not a valid table
/// (nothing is published); [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when writing,
/// syncing or renaming fails: the previous file, if any, is untouched, except when
/// [`SwapError::is_published`] says the new file was renamed into place and only the
/// directory sync after it failed.
pub fn publish(path: impl AsRef<Path>, bytes: &[u8]) -> Result<Table, SwapError> {
    publish_with(path, |f| f.write_all(bytes))
}

/// As [`publish`], with the bytes written by `write` (e.g.
/// `|f| compiler.write_to(f).map_err(io::Error::other)`), so a large table need not be held
/// in memory twice. The written file is read back and validated before it is renamed into
/// place.
///
/// # Errors
///
/// As [`publish`]; an error from `write` is [`SwapErrorKind::Io`](crate::SwapErrorKind::Io).
pub fn publish_with(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<Table, SwapError> {
    atomic_write(path.as_ref(), write, |tmp| {
        Table::read_file(tmp).map_err(SwapError::load)
    })
}

/// The file name of version `list_version` of `stem`: `stem.<list_version>.c2t`.
pub(crate) fn versioned_name(stem: &str, list_version: u64) -> String {
    format!("{stem}.{list_version}.{TABLE_EXT}")
}

/// The pointer file of `stem` in `dir`: `dir/stem.current`.
pub fn pointer_path(dir: impl AsRef<Path>, stem: &str) -> PathBuf {
    dir.as_ref().join(format!("{stem}.{POINTER_EXT}"))
}

fn version_of(name: &str, stem: &str) -> Option<u64> {
    name.strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(TABLE_EXT)?
        .strip_suffix('.')?
        .parse()
        .ok()
}

/// Publishes `bytes` as `dir/stem.<list_version>.c2t` (a new file, never replacing one)
/// and then atomically points `dir/stem.current` at it. The scheme for Windows, where a
/// mapped file cannot be replaced; see the [module docs](self). Returns the new file's path
/// and the table read back from it.
///
/// Publishers of one stem take turns: each holds an exclusive lock on `dir/.stem.lock`
/// (created if missing, never removed) from the pointer check to the pointer update, so
/// two publishers of v and v + 1 at once leave the pointer on v + 1.
///
/// If that version's file already exists with the same bytes (a publisher that crashed
/// before updating the pointer), only the pointer is updated.
///
/// # Errors
///
/// [`SwapErrorKind::Rollback`](crate::SwapErrorKind::Rollback) when the pointer already
/// names this version or a newer one, or when a different file of this version exists;
/// [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) for a stem that is not a plain file name
/// part, or a pointer that exists but cannot be read or resolved (the rollback check needs
/// it); otherwise as [`publish`]. [`SwapError::is_published`] is true only when the version
/// file and the pointer are both in place and a directory sync failed.
pub fn publish_versioned(
    dir: impl AsRef<Path>,
    stem: &str,
    bytes: &[u8],
) -> Result<(PathBuf, Table), SwapError> {
    let dir = dir.as_ref();
    checked_version(stem, bytes)?;
    // One publisher at a time per stem: the check of the pointer below and its update
    // must not interleave with another's, or the pointer could end on the older version.
    let lock = lock_stem(dir, stem)?;
    publish_versioned_locked(dir, stem, bytes, &lock)
}

/// Takes the exclusive lock that [`publish_versioned`] holds while it publishes `stem` in
/// `dir` (`dir/.stem.lock`); released when the file is dropped.
pub(crate) fn lock_stem(dir: &Path, stem: &str) -> Result<File, SwapError> {
    check_stem(stem)?;
    let lock_path = dir.join(format!(".{stem}.lock"));
    let lock =
        open_lock(&lock_path).map_err(io_err(|| format!("cannot open {}", lock_path.display())))?;
    lock.lock()
        .map_err(io_err(|| format!("cannot lock {}", lock_path.display())))?;
    Ok(lock)
}

/// [`publish_versioned`] for a caller that already holds the stem's lock ([`lock_stem`]),
/// so that it can do more under the same lock (the update client writes the signature).
pub(crate) fn publish_versioned_locked(
    dir: &Path,
    stem: &str,
    bytes: &[u8],
    _lock: &File,
) -> Result<(PathBuf, Table), SwapError> {
    let version = checked_version(stem, bytes)?;
    let pointer = pointer_path(dir, stem);
    // Only a missing pointer means "nothing published yet": one that cannot be read or
    // resolved must not switch off the rollback check.
    match fs::symlink_metadata(&pointer) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(SwapError::io(
                format!("cannot read pointer {}", pointer.display()),
                e,
            ));
        }
        Ok(_) => {
            let current = resolve_pointer(&pointer)?;
            let cur = current
                .file_name()
                .and_then(|n| version_of(&n.to_string_lossy(), stem));
            if let Some(cur) = cur.filter(|c| *c >= version) {
                return Err(SwapError::rollback(cur, version, None));
            }
        }
    }
    let name = versioned_name(stem, version);
    let path = dir.join(&name);
    // A failed directory sync after the version file's rename: the pointer is still
    // written, and the error reported after it, when it describes the whole state.
    let mut unsynced = None;
    let table = match fs::read(&path) {
        Ok(existing) if existing == bytes => {
            Table::from_bytes(existing).map_err(SwapError::load)?
        }
        Ok(_) => return Err(SwapError::rollback(version, version, None)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match publish(&path, bytes) {
            Ok(t) => t,
            Err(e) if e.is_published() => {
                unsynced = Some(e);
                Table::read_file(&path).map_err(SwapError::load)?
            }
            Err(e) => return Err(e),
        },
        Err(e) => return Err(SwapError::io(format!("cannot read {}", path.display()), e)),
    };
    atomic_write(&pointer, |f| writeln!(f, "{name}"), |_| Ok(()))?;
    match unsynced {
        Some(e) => Err(e),
        None => Ok((path, table)),
    }
}

/// Rewrites the version file of `bytes` (replacing a damaged or missing one) and points the
/// stem's pointer at it, unless the pointer names a newer version. Only for a table the
/// caller has verified to be the one its version record accepted: the usual rollback
/// checks of [`publish_versioned`] would refuse it as "not newer". The caller holds the
/// stem's lock.
#[cfg(feature = "update")]
pub(crate) fn repair_versioned_locked(
    dir: &Path,
    stem: &str,
    bytes: &[u8],
    _lock: &File,
) -> Result<(PathBuf, Table), SwapError> {
    let version = checked_version(stem, bytes)?;
    let pointer = pointer_path(dir, stem);
    if let Ok(current) = resolve_pointer(&pointer)
        && let Some(cur) = current
            .file_name()
            .and_then(|n| version_of(&n.to_string_lossy(), stem))
            .filter(|c| *c > version)
    {
        return Err(SwapError::rollback(cur, version, None));
    }
    let name = versioned_name(stem, version);
    let path = dir.join(&name);
    let table = publish(&path, bytes)?;
    atomic_write(&pointer, |f| writeln!(f, "{name}"), |_| Ok(()))?;
    Ok((path, table))
}

/// The list version of the table `bytes`, once the stem and the table are checked.
fn checked_version(stem: &str, bytes: &[u8]) -> Result<u64, SwapError> {
    check_stem(stem)?;
    Ok(Table::from_bytes(bytes.to_vec())
        .map_err(SwapError::load)?
        .list_version())
}

/// Refuses a stem whose pointer `resolve_pointer` would refuse, or that would name another
/// stem's files once trimmed: empty, starting with `.`, with a path separator, `:`, a
/// control character, or white space at either end.
fn check_stem(stem: &str) -> Result<(), SwapError> {
    let ok = !stem.is_empty()
        && !stem.starts_with('.')
        && stem.trim() == stem
        && !stem.contains(['/', '\\', ':'])
        && !stem.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(SwapError::io(
            format!("cannot publish under the stem {stem:?}"),
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a stem is a plain file name part: not empty, no leading '.', no '/', '\\' \
                 or ':', no control characters, no white space at either end",
            ),
        ))
    }
}

/// Opens the lock file read-only if it exists (locking needs no write access), else
/// creates it.
pub(crate) fn open_lock(path: &Path) -> io::Result<File> {
    // Only a regular file: opening a FIFO planted there would block every writer.
    if let Ok(md) = fs::metadata(path)
        && !md.is_file()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the lock file is not a regular file",
        ));
    }
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path),
        r => r,
    }
}

/// A pointer holds one file name: anything longer is not a pointer.
const MAX_POINTER_BYTES: u64 = 512;

/// Reads the regular file at `path` (following symbolic links), refusing anything else
/// before opening it (a FIFO would block the open, a device could read without end) and
/// any file larger than `max` bytes ([`io::ErrorKind::InvalidData`]).
pub(crate) fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    // Checked again on the open file: the path may have been replaced in between.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

/// A short, escaped excerpt of untrusted bytes for a message: at most 40 characters.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    format!("{short:?}")
}

/// The table file a pointer file names (in the pointer's directory).
///
/// # Errors
///
/// [`SwapErrorKind::Io`](crate::SwapErrorKind::Io) when the pointer cannot be read, is not
/// a regular file (a FIFO, a device, or a link to one), is larger than 512 bytes, or does
/// not hold a plain `*.c2t` file name (no directory part), so a tampered pointer cannot
/// redirect a reload elsewhere, block it, or make it read without end. The message quotes
/// at most a short escaped excerpt of what the file holds.
pub fn resolve_pointer(pointer: impl AsRef<Path>) -> Result<PathBuf, SwapError> {
    let pointer = pointer.as_ref();
    let bytes = read_regular(pointer, MAX_POINTER_BYTES).map_err(io_err(|| {
        format!("cannot read pointer {}", pointer.display())
    }))?;
    let text = std::str::from_utf8(&bytes).unwrap_or("");
    let name = text.trim();
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && !name.chars().any(char::is_control)
        && name.ends_with(&format!(".{TABLE_EXT}"));
    if !plain {
        return Err(SwapError::io(
            format!("pointer {} holds an unexpected name", pointer.display()),
            io::Error::new(io::ErrorKind::InvalidData, excerpt(&bytes)),
        ));
    }
    Ok(parent_dir(pointer).join(name))
}

/// What [`cleanup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cleanup {
    /// Old version files removed.
    pub removed: Vec<PathBuf>,
    /// Old version files that could not be removed (on Windows: still mapped by some
    /// process); the next cleanup tries again.
    pub kept_in_use: Vec<PathBuf>,
}

/// Removes old version files of `stem` in `dir`, keeping the one the pointer names and the
/// `keep` newest others. A file that cannot be removed is reported, not an error.
///
/// On Unix, removing a file that a process still maps is safe: the mapping keeps the data
/// until it is unmapped.
///
/// # Errors
///
/// The error from listing `dir`.
pub fn cleanup(dir: impl AsRef<Path>, stem: &str, keep: usize) -> io::Result<Cleanup> {
    let dir = dir.as_ref();
    let current = resolve_pointer(pointer_path(dir, stem)).ok();
    let mut versions: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(v) = version_of(&name.to_string_lossy(), stem) {
            versions.push((v, entry.path()));
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    let mut out = Cleanup::default();
    let mut kept = 0;
    for (_, path) in versions {
        if current.as_ref() == Some(&path) {
            continue;
        }
        if kept < keep {
            kept += 1;
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => out.removed.push(path),
            Err(_) => out.kept_in_use.push(path),
        }
    }
    Ok(out)
}

/// Removes temporary files left in `dir` by publishers that crashed, if they were last
/// modified more than `older_than` ago (so a publish in progress is not disturbed). Returns
/// the files removed.
///
/// # Errors
///
/// The error from listing `dir`.
pub fn remove_stale_temps(dir: impl AsRef<Path>, older_than: Duration) -> io::Result<Vec<PathBuf>> {
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= older_than);
        if old && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Compiler, SwapErrorKind};

    thread_local! {
        /// A temporary file name to use instead of a random one: a seam for the test of two
        /// publishers that pick the same name.
        pub(super) static FORCED_TEMP: std::cell::RefCell<Option<String>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Another publisher's in-progress temporary file with the name this one picks is
    /// neither overwritten, renamed into place nor deleted.
    #[test]
    fn a_colliding_temp_name_never_touches_the_other_publishers_file() {
        let dir = tempfile::tempdir().unwrap();
        let name = ".lists.c2t.same.c2trie-tmp";
        let theirs = dir.path().join(name);
        std::fs::write(&theirs, b"another publisher, still writing").unwrap();
        FORCED_TEMP.with(|f| *f.borrow_mut() = Some(name.to_owned()));
        let err = publish(dir.path().join("lists.c2t"), &bytes(1)).unwrap_err();
        FORCED_TEMP.with(|f| *f.borrow_mut() = None);
        assert_eq!(err.kind(), SwapErrorKind::Io);
        assert!(!err.is_published());
        assert_eq!(
            std::fs::read(&theirs).unwrap(),
            b"another publisher, still writing"
        );
        assert!(!dir.path().join("lists.c2t").exists());
        // Unforced, names differ from call to call.
        assert_ne!(temp_name("x"), temp_name("x"));
    }

    /// Stems that `resolve_pointer` would refuse, or that trim to another stem, are refused;
    /// a pointer that exists but cannot be resolved stops a publish instead of switching
    /// off the rollback check.
    #[test]
    fn odd_stems_and_unreadable_pointers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for stem in [
            "", ".hidden", " lists", "lists ", "a/b", "a\\b", "a:b", "a\nb",
        ] {
            let err = publish_versioned(dir.path(), stem, &bytes(1)).unwrap_err();
            assert_eq!(err.kind(), SwapErrorKind::Io, "{stem:?}");
        }
        publish_versioned(dir.path(), "lists", &bytes(9)).unwrap();
        std::fs::write(pointer_path(dir.path(), "lists"), "garbage\n").unwrap();
        let err = publish_versioned(dir.path(), "lists", &bytes(2)).unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Io, "{err}");
        assert_eq!(
            std::fs::read_to_string(pointer_path(dir.path(), "lists")).unwrap(),
            "garbage\n"
        );
    }

    /// Publishers of v and v + 1 racing: the pointer always ends on v + 1.
    #[test]
    fn concurrent_versioned_publishers_never_leave_the_pointer_behind() {
        let tables: Vec<Vec<u8>> = (0..=40).map(bytes).collect();
        for round in 0..40u64 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                for v in [round, round + 1] {
                    let (dir, barrier, t) = (dir.path(), &barrier, &tables[v as usize]);
                    s.spawn(move || {
                        barrier.wait();
                        // The older one may be refused as a rollback; never both succeed
                        // with the older one last.
                        let _ = publish_versioned(dir, "lists", t);
                    });
                }
            });
            let p = resolve_pointer(pointer_path(dir.path(), "lists")).unwrap();
            assert!(
                p.ends_with(versioned_name("lists", round + 1)),
                "round {round}: the pointer names {}",
                p.display()
            );
        }
    }

    fn bytes(version: u64) -> Vec<u8> {
        Compiler::new()
            .list_version(version)
            .created_unix(0)
            .to_vec()
            .unwrap()
    }

    #[test]
    fn publish_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        publish(&path, &bytes(1)).unwrap();
        let t = publish(&path, &bytes(2)).unwrap();
        assert_eq!(t.list_version(), 2);
        assert_eq!(Table::read_file(&path).unwrap().list_version(), 2);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn invalid_bytes_are_not_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.c2t");
        publish(&path, &bytes(1)).unwrap();
        let mut bad = bytes(2);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let err = publish(&path, &bad).unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Load);
        assert_eq!(Table::read_file(&path).unwrap().list_version(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn versioned_publish_moves_the_pointer_and_refuses_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let (p1, _) = publish_versioned(dir.path(), "l", &bytes(1)).unwrap();
        let (p2, _) = publish_versioned(dir.path(), "l", &bytes(2)).unwrap();
        assert!(p1.exists() && p2.exists());
        let ptr = pointer_path(dir.path(), "l");
        assert_eq!(resolve_pointer(&ptr).unwrap(), p2);
        let err = publish_versioned(dir.path(), "l", &bytes(2)).unwrap_err();
        assert_eq!(err.versions(), Some((2, 2)));
        let err = publish_versioned(dir.path(), "l", &bytes(1)).unwrap_err();
        assert_eq!(err.kind(), SwapErrorKind::Rollback);
        assert_eq!(resolve_pointer(&ptr).unwrap(), p2);
        let live = crate::swap::LiveTable::empty(crate::swap::FailMode::Closed);
        live.reload_pointer(&ptr, crate::swap::ReloadMode::READ)
            .unwrap();
        assert_eq!(live.list_version(), Some(2));
    }

    #[test]
    fn cleanup_keeps_current_and_newest() {
        let dir = tempfile::tempdir().unwrap();
        for v in 1..=5 {
            publish_versioned(dir.path(), "l", &bytes(v)).unwrap();
        }
        let c = cleanup(dir.path(), "l", 1).unwrap();
        let mut removed: Vec<_> = c
            .removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        removed.sort();
        assert_eq!(removed, ["l.1.c2t", "l.2.c2t", "l.3.c2t"]);
        assert!(dir.path().join("l.4.c2t").exists());
        assert!(dir.path().join("l.5.c2t").exists());
    }

    #[test]
    fn tampered_pointer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ptr = pointer_path(dir.path(), "l");
        for bad in ["../etc/passwd.c2t", "/abs.c2t", "x.txt", "", ".hidden.c2t"] {
            fs::write(&ptr, bad).unwrap();
            assert_eq!(
                resolve_pointer(&ptr).unwrap_err().kind(),
                SwapErrorKind::Io,
                "{bad}"
            );
        }
    }

    /// A pointer that is not a regular file is refused before it is opened (a FIFO would
    /// block, `/dev/zero` would read without end); a regular file of any other content is
    /// read only up to a small limit and quoted only as a short excerpt.
    #[cfg(unix)]
    #[test]
    fn pointers_that_are_not_small_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ptr = pointer_path(dir.path(), "l");
        let fifo = std::process::Command::new("mkfifo")
            .arg(&ptr)
            .status()
            .unwrap();
        assert!(fifo.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = ptr.clone();
        std::thread::spawn(move || tx.send(resolve_pointer(&p).map_err(|e| e.kind())));
        let r = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("a FIFO pointer blocks"));
        assert_eq!(r, Err(SwapErrorKind::Io));
        fs::remove_file(&ptr).unwrap();

        std::os::unix::fs::symlink("/dev/zero", &ptr).unwrap();
        assert_eq!(resolve_pointer(&ptr).unwrap_err().kind(), SwapErrorKind::Io);
        fs::remove_file(&ptr).unwrap();

        let secret = format!("root:x:0:0:{}\n", "s".repeat(300));
        fs::write(&ptr, &secret).unwrap();
        let msg = resolve_pointer(&ptr).unwrap_err().to_string();
        assert!(!msg.contains(&"s".repeat(41)), "{msg}");
        assert!(msg.len() < 300, "{msg}");
        fs::write(&ptr, "x".repeat(600) + ".c2t").unwrap();
        let msg = resolve_pointer(&ptr).unwrap_err().to_string();
        assert!(msg.contains("larger than"), "{msg}");
        // A link to a regular file holding a plain name still works.
        fs::remove_file(&ptr).unwrap();
        fs::write(dir.path().join("target"), "l.3.c2t\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("target"), &ptr).unwrap();
        assert_eq!(resolve_pointer(&ptr).unwrap(), dir.path().join("l.3.c2t"));
    }

    #[test]
    fn stale_temps_are_removed_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(format!(".t.c2t.1.1{TEMP_SUFFIX}"));
        fs::write(&tmp, b"partial").unwrap();
        fs::write(dir.path().join("t.c2t"), b"x").unwrap();
        assert!(
            remove_stale_temps(dir.path(), Duration::from_secs(3600))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            remove_stale_temps(dir.path(), Duration::ZERO).unwrap(),
            [tmp]
        );
        assert!(dir.path().join("t.c2t").exists());
    }

    /// A publish keeps the replaced file's mode, owner and group.
    #[cfg(unix)]
    #[test]
    fn publish_keeps_mode_and_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lists.c2t");
        publish(&path, &bytes(1)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        // Changing the owner needs privilege; where it is refused, only the mode is checked.
        let owned = std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_ok();
        publish(&path, &bytes(2)).unwrap();
        let md = fs::metadata(&path).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o640);
        if owned {
            assert_eq!((md.uid(), md.gid()), (4242, 4343));
        }
    }
}
