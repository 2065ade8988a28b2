//! `c2trie inspect` and `c2trie verify`.

use std::path::Path;

use c2trie::{List, Table};
use serde_json::json;

use crate::Result;

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

pub(crate) fn verify(path: &Path) -> Result<bool> {
    match Table::read_file(path) {
        Ok(t) => {
            println!(
                "{}: ok (format {}, list version {}, {} entries)",
                path.display(),
                t.format_version(),
                t.list_version(),
                t.len()
            );
            Ok(true)
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            Ok(false)
        }
    }
}
