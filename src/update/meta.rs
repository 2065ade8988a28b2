//! The HTTP validators of the last accepted download (`ETag`, `Last-Modified`), kept in a
//! small crash-safe text file in the state directory so that a restarted updater still
//! sends conditional requests.

use std::io::Write as _;
use std::path::Path;

/// The first line of a metadata file.
const MAGIC: &str = "c2trie-http-meta v1";

/// A metadata file larger than this is not one.
const MAX_LEN: u64 = 8192;

/// A validator longer than this is not kept (and so never sent back).
pub(super) const MAX_VALIDATOR: usize = 1024;

/// The validators of the table at `url` that was accepted as `list_version`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Meta {
    pub(super) url: String,
    pub(super) list_version: u64,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
}

/// Whether a header value may be stored and sent back: visible ASCII and spaces only (no
/// line breaks that could forge another line of the file or another request header).
pub(super) fn storable(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_VALIDATOR && v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl Meta {
    /// Reads the file at `path`. A missing, unreadable or damaged file is no metadata: the
    /// next request is then unconditional, which costs one download and nothing else.
    pub(super) fn read(path: &Path) -> Option<Meta> {
        // Only a small regular file: a FIFO planted here must not block the open, nor a
        // link to a device make the read endless.
        let bytes = crate::publish::read_regular(path, MAX_LEN).ok()?;
        parse(std::str::from_utf8(&bytes).ok()?)
    }

    /// Writes the file at `path` crash-safely.
    pub(super) fn write(&self, path: &Path) -> Result<(), crate::SwapError> {
        let text = self.render();
        crate::publish::atomic_write(path, |f| f.write_all(text.as_bytes()), |_| Ok(()))
    }

    fn render(&self) -> String {
        let mut s = format!(
            "{MAGIC}\nurl {}\nlist_version {}\n",
            self.url, self.list_version
        );
        if let Some(e) = self.etag.as_deref().filter(|v| storable(v)) {
            s.push_str(&format!("etag {e}\n"));
        }
        if let Some(l) = self.last_modified.as_deref().filter(|v| storable(v)) {
            s.push_str(&format!("last_modified {l}\n"));
        }
        let check = xxhash_rust::xxh3::xxh3_64(s.as_bytes());
        s.push_str(&format!("check {check:016x}\n"));
        s
    }
}

fn parse(text: &str) -> Option<Meta> {
    let body_end = text.rfind("check ")?;
    let (body, check) = text.split_at(body_end);
    let check = u64::from_str_radix(check.strip_prefix("check ")?.trim_end(), 16).ok()?;
    if xxhash_rust::xxh3::xxh3_64(body.as_bytes()) != check {
        return None;
    }
    let mut lines = body.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut meta = Meta::default();
    for line in lines {
        let (key, value) = line.split_once(' ')?;
        match key {
            "url" => meta.url = value.to_owned(),
            "list_version" => meta.list_version = value.parse().ok()?,
            "etag" if storable(value) => meta.etag = Some(value.to_owned()),
            "last_modified" if storable(value) => meta.last_modified = Some(value.to_owned()),
            _ => return None,
        }
    }
    Some(meta)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            url: "https://lists.example/c2.c2t".into(),
            list_version: 7,
            etag: Some("\"abc\"".into()),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(parse(&sample().render()), Some(sample()));
        let bare = Meta {
            etag: None,
            last_modified: None,
            ..sample()
        };
        assert_eq!(parse(&bare.render()), Some(bare));
    }

    #[cfg(unix)]
    #[test]
    fn only_a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("http-meta");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || tx.send(Meta::read(&p)));
        let read = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a FIFO does not block");
        assert_eq!(read, None);
        std::fs::remove_file(&path).expect("remove");
        std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
        assert_eq!(Meta::read(&path), None);
        std::fs::remove_file(&path).expect("remove");
        sample().write(&path).expect("write");
        assert_eq!(Meta::read(&path), Some(sample()));
    }

    #[test]
    fn damage_and_unsafe_values_are_dropped() {
        let good = sample().render();
        assert_eq!(
            parse(&good.replace("list_version 7", "list_version 8")),
            None
        );
        assert_eq!(parse(&good[..good.len() - 2]), None);
        assert_eq!(parse(""), None);
        let forged = Meta {
            etag: Some("x\nlist_version 9".into()),
            ..sample()
        };
        let parsed = parse(&forged.render()).expect("the rest is kept");
        assert_eq!((parsed.etag, parsed.list_version), (None, 7));
    }
}
