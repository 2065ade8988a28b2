//! Writing the files the commands produce (keys, signatures, exports) safely: never through
//! a symbolic link at the output path, never torn, durable once the command reports success.
//!
//! The bytes go to a new temporary file in the output's directory (created exclusively, so
//! it cannot be a link planted in advance), which is flushed to disk and then renamed over
//! the output, or, when the output must not be replaced, hard-linked to its name (which
//! fails if anything, a link included, already has it). The directory is flushed last, so
//! the new name survives a crash.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// How [`write()`] treats an existing file at the output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace it (atomically: a reader sees the old file or the new one).
    Replace,
    /// Refuse: the output is created, never overwritten (a secret key).
    Keep,
}

/// Who may read the new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// As the process's umask allows.
    Default,
    /// The owner only (mode 0600 on Unix), from the moment the file exists.
    Private,
}

/// Fails when `path` is a symbolic link (dangling or not): the commands never write through
/// one, since a link planted at an output path would send a key or a signature elsewhere.
pub(crate) fn refuse_symlink(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; refusing to write through it (remove it or name \
                 another file)",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` as the module documentation describes.
///
/// # Errors
///
/// `path` is a symbolic link or has no file name; with [`Existing::Keep`], `path` exists;
/// or any I/O error. The error message names the path. No temporary file is left behind.
pub(crate) fn write(
    path: &Path,
    bytes: &[u8],
    existing: Existing,
    access: Access,
) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    refuse_symlink(path)?;
    if existing == Existing::Keep && fs::symlink_metadata(path).is_ok() {
        return Err(already_exists(path));
    }
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (tmp, mut file) = create_temp(dir, name, access).map_err(named)?;
    let placed = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            match existing {
                Existing::Replace => fs::rename(&tmp, path),
                Existing::Keep => link_new(&tmp, path),
            }
        });
    // After a rename the temporary name is gone; after a link (or a failure) it is removed.
    if placed.is_err() || existing == Existing::Keep {
        let _ = fs::remove_file(&tmp);
    }
    match placed {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(already_exists(path)),
        r => r.map_err(named)?,
    }
    sync_dir(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: flushing the directory: {e}", dir.display()),
        )
    })
}

fn already_exists(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} already exists; it is not overwritten", path.display()),
    )
}

/// Creates `DIR/.NAME.PID.N.tmp` exclusively.
fn create_temp(dir: &Path, name: &std::ffi::OsStr, access: Access) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut last = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::Private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        }
        #[cfg(not(unix))]
        let _ = access;
        match opts.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Gives `tmp`'s file the name `path`, failing if `path` exists (a link included).
fn link_new(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // A file system without hard links: rename, after checking again that the name is
        // free (a narrow window, where the link would have had none).
        Err(_) if fs::symlink_metadata(path).is_err() => fs::rename(tmp, path),
        Err(_) => Err(io::ErrorKind::AlreadyExists.into()),
    }
}

/// Flushes a directory's entries to disk (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_and_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        write(&p, b"one", Existing::Replace, Access::Default).unwrap();
        write(&p, b"two", Existing::Replace, Access::Default).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let e = write(&p, b"three", Existing::Keep, Access::Private).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let k = dir.path().join("key");
        write(&k, b"secret", Existing::Keep, Access::Private).unwrap();
        assert_eq!(fs::read(&k).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&k).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    #[cfg(unix)]
    fn never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"precious").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for existing in [Existing::Replace, Existing::Keep] {
            for p in [&link, &dangling] {
                let e = write(p, b"evil", existing, Access::Default).unwrap_err();
                assert!(e.to_string().contains("symbolic link"), "{e}");
            }
        }
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        assert!(!dir.path().join("nowhere").exists());
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(leftovers(dir.path()).is_empty());
    }
}
