//! `c2trie inspect` and `c2trie verify`.

use std::path::Path;

use c2trie::{List, LoadErrorKind, Table};
use serde_json::json;

use crate::Result;

pub(crate) const INSPECT_HELP: &str = concat!(
    "Example:
  c2trie inspect table.c2t

The output is always one JSON object (--json is accepted for uniformity): file, size,
format and list versions, creation time, checksum, and entry counts per list and family.

",
    crate::exit_codes!()
);

pub(crate) const VERIFY_HELP: &str = concat!(
    "Examples:
  c2trie verify table.c2t && systemctl reload my-agent
  c2trie verify --json table.c2t

Runs the same full validation as loading (checksum and every format invariant). With
--json, prints {\"file\", \"valid\", ...} and, for an invalid table, \"error\", \"kind\"
and \"invariant\".

",
    crate::exit_codes!()
);

pub(crate) fn inspect(path: &Path) -> Result<bool> {
    let table = Table::read_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut counts = serde_json::Map::new();
    for list in List::ALL {
        counts.insert(
            list.as_str().into(),
            json!({ "ipv4": table.count(list, false), "ipv6": table.count(list, true) }),
        );
    }
    let info = json!({
        "file": path.display().to_string(),
        "bytes": table.as_bytes().len(),
        "format_version": table.format_version(),
        "list_version": table.list_version(),
        "created_unix": table.created_unix(),
        "checksum": format!("xxh3:{:016x}", table.checksum()),
        "entries": table.len(),
        "counts": counts,
    });
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(true)
}

pub(crate) fn verify(path: &Path, json: bool) -> Result<bool> {
    let file = path.display().to_string();
    match Table::read_file(path) {
        Ok(t) => {
            if json {
                let v = json!({
                    "file": file,
                    "valid": true,
                    "format_version": t.format_version(),
                    "list_version": t.list_version(),
                    "created_unix": t.created_unix(),
                    "checksum": format!("xxh3:{:016x}", t.checksum()),
                    "entries": t.len(),
                });
                println!("{v}");
            } else {
                println!(
                    "{file}: ok (format {}, list version {}, {} entries)",
                    t.format_version(),
                    t.list_version(),
                    t.len()
                );
            }
            Ok(true)
        }
        Err(e) => {
            if json {
                let kind = match e.kind() {
                    LoadErrorKind::Io => "io",
                    LoadErrorKind::NotATable => "not_a_table",
                    LoadErrorKind::UnsupportedVersion { .. } => "unsupported_version",
                    LoadErrorKind::ChecksumMismatch => "checksum_mismatch",
                    LoadErrorKind::Corrupt => "corrupt",
                    _ => "other",
                };
                let v = json!({
                    "file": file,
                    "valid": false,
                    "error": e.to_string(),
                    "kind": kind,
                    "invariant": e.invariant(),
                });
                println!("{v}");
            }
            eprintln!("{file}: {e}");
            Ok(false)
        }
    }
}
