//! `c2trie diff OLD NEW`: entries added and removed per list, and changed metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use c2trie::{EntryRef, List, Table};
use clap::Args;
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::{Outcome, Result};

pub(crate) const HELP: &str = "Examples:
  c2trie compile --global feed-monday.csv --list-version 1 -o monday.c2t
  c2trie compile --global feed-tuesday.csv --list-version 2 -o tuesday.c2t
  c2trie diff monday.c2t tuesday.c2t
  c2trie diff --json monday.c2t tuesday.c2t | jq '.counts'

An entry is a (list, prefix) pair. It is added when only NEW has it, removed when only OLD
has it, and changed when both have it with a different source, tag, risk or expiry. The
source is the feed's file name as given to compile; --ignore-source leaves it out when the
two versions were compiled from differently named files.

Text output: one line per difference (+ added, - removed, ~ changed) and a summary per
list. JSON output: {\"old\", \"new\", \"identical\", \"counts\", \"lists\": {LIST: {\"added\",
\"removed\", \"changed\"}}}.

Exit status: 0 when the entries are identical (header fields such as the list version and
creation time are shown but not compared), 3 when they differ, 1 when a table cannot be
read, 2 on a usage error.
";

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The older table.
    old: PathBuf,
    /// The newer table.
    new: PathBuf,
    /// Do not count a different source (feed file name) as a change.
    #[arg(long)]
    ignore_source: bool,
    /// Print the counts per list only, not each entry.
    #[arg(long)]
    summary: bool,
    /// Machine-readable output: one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// An entry's metadata, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    source: String,
    tag: Option<String>,
    risk: Option<u8>,
    expires: Option<u64>,
}

impl Meta {
    fn of(e: &EntryRef<'_>) -> Meta {
        Meta {
            source: e.source().to_owned(),
            tag: e.tag().map(str::to_owned),
            risk: e.risk(),
            expires: e.expires(),
        }
    }

    fn json(&self, prefix: &IpNet) -> Value {
        json!({
            "prefix": prefix.to_string(),
            "source": self.source,
            "tag": self.tag,
            "risk": self.risk,
            "expires": self.expires,
        })
    }

    /// `source=... tag=...` for the text output.
    fn text(&self) -> String {
        let mut s = format!("source={}", shown(&self.source));
        if let Some(t) = &self.tag {
            s.push_str(&format!(" tag={}", shown(t)));
        }
        if let Some(r) = self.risk {
            s.push_str(&format!(" risk={r}"));
        }
        if let Some(x) = self.expires {
            s.push_str(&format!(" expires={x}"));
        }
        s
    }

    /// The fields that differ, as `field: old -> new`.
    fn changes(&self, new: &Meta, ignore_source: bool) -> Vec<String> {
        let opt = |v: &Option<String>| v.as_deref().map_or_else(|| "-".into(), shown);
        let num = |v: Option<u64>| v.map_or_else(|| "-".into(), |v| v.to_string());
        let mut out = Vec::new();
        if !ignore_source && self.source != new.source {
            out.push(format!(
                "source: {} -> {}",
                shown(&self.source),
                shown(&new.source)
            ));
        }
        if self.tag != new.tag {
            out.push(format!("tag: {} -> {}", opt(&self.tag), opt(&new.tag)));
        }
        if self.risk != new.risk {
            out.push(format!(
                "risk: {} -> {}",
                num(self.risk.map(u64::from)),
                num(new.risk.map(u64::from))
            ));
        }
        if self.expires != new.expires {
            out.push(format!(
                "expires: {} -> {}",
                num(self.expires),
                num(new.expires)
            ));
        }
        out
    }
}

type Entries = BTreeMap<(List, IpNet), Meta>;

fn entries(table: &Table) -> Entries {
    table
        .entries()
        .map(|e| ((e.list(), e.prefix()), Meta::of(&e)))
        .collect()
}

/// One list's differences.
#[derive(Debug, Default)]
struct ListDiff {
    added: Vec<(IpNet, Meta)>,
    removed: Vec<(IpNet, Meta)>,
    changed: Vec<(IpNet, Meta, Meta, Vec<String>)>,
}

impl ListDiff {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn compare(old: &Entries, new: &Entries, ignore_source: bool) -> BTreeMap<List, ListDiff> {
    let mut lists: BTreeMap<List, ListDiff> = List::ALL
        .iter()
        .map(|l| (*l, ListDiff::default()))
        .collect();
    for ((list, prefix), meta) in old {
        let d = lists.entry(*list).or_default();
        match new.get(&(*list, *prefix)) {
            None => d.removed.push((*prefix, meta.clone())),
            Some(n) => {
                let changes = meta.changes(n, ignore_source);
                if !changes.is_empty() {
                    d.changed.push((*prefix, meta.clone(), n.clone(), changes));
                }
            }
        }
    }
    for ((list, prefix), meta) in new {
        if !old.contains_key(&(*list, *prefix)) {
            lists
                .entry(*list)
                .or_default()
                .added
                .push((*prefix, meta.clone()));
        }
    }
    lists
}

fn header(path: &Path, t: &Table) -> Value {
    json!({
        "file": path.display().to_string(),
        "list_version": t.list_version(),
        "created_unix": t.created_unix(),
        "checksum": format!("xxh3:{:016x}", t.checksum()),
        "entries": t.len(),
    })
}

/// `s` with its control characters escaped (`\u{1b}`, `\n`, ...): a feed's tag or source
/// must not move the cursor, clear the screen or forge a summary line on a terminal.
fn shown(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

pub(crate) fn run(args: DiffArgs) -> Result<Outcome> {
    let load = |p: &Path| Table::read_file(p).map_err(|e| format!("{}: {e}", p.display()));
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let lists = compare(&entries(&old), &entries(&new), args.ignore_source);
    let count = |f: fn(&ListDiff) -> usize| lists.values().map(f).sum::<usize>();
    let (added, removed, changed) = (
        count(|d| d.added.len()),
        count(|d| d.removed.len()),
        count(|d| d.changed.len()),
    );
    let identical = lists.values().all(ListDiff::is_empty);

    if args.json {
        let per_list: serde_json::Map<String, Value> = lists
            .iter()
            .map(|(list, d)| {
                let v = json!({
                    "added": d.added.iter().map(|(p, m)| m.json(p)).collect::<Vec<_>>(),
                    "removed": d.removed.iter().map(|(p, m)| m.json(p)).collect::<Vec<_>>(),
                    "changed": d.changed.iter().map(|(p, o, n, fields)| json!({
                        "prefix": p.to_string(),
                        "old": o.json(p),
                        "new": n.json(p),
                        "fields": fields,
                    })).collect::<Vec<_>>(),
                });
                (list.as_str().to_owned(), v)
            })
            .collect();
        let out = json!({
            "old": header(&args.old, &old),
            "new": header(&args.new, &new),
            "identical": identical,
            "counts": { "added": added, "removed": removed, "changed": changed },
            "lists": per_list,
        });
        println!("{out}");
    } else {
        for (label, path, t) in [("---", &args.old, &old), ("+++", &args.new, &new)] {
            println!(
                "{label} {} (list version {}, {} entries)",
                path.display(),
                t.list_version(),
                t.len()
            );
        }
        for (list, d) in &lists {
            if !args.summary {
                let list = list.as_str();
                for (p, m) in &d.removed {
                    println!("- {list:<8} {:<24} {}", p.to_string(), m.text());
                }
                for (p, m) in &d.added {
                    println!("+ {list:<8} {:<24} {}", p.to_string(), m.text());
                }
                for (p, _, _, fields) in &d.changed {
                    println!("~ {list:<8} {:<24} {}", p.to_string(), fields.join(", "));
                }
            }
        }
        for (list, d) in &lists {
            println!(
                "{:<8} {} added, {} removed, {} changed",
                list.as_str(),
                d.added.len(),
                d.removed.len(),
                d.changed.len()
            );
        }
        if identical {
            println!("no differences");
        } else {
            println!("total    {added} added, {removed} removed, {changed} changed");
        }
    }
    Ok(if identical {
        Outcome::Success
    } else {
        Outcome::Differ
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(source: &str, tag: Option<&str>) -> Meta {
        Meta {
            source: source.into(),
            tag: tag.map(Into::into),
            risk: None,
            expires: None,
        }
    }

    #[test]
    fn compare_finds_added_removed_and_changed() {
        let p = |s: &str| s.parse::<IpNet>().unwrap();
        let old: Entries = [
            ((List::Global, p("192.0.2.0/24")), meta("a", Some("x"))),
            ((List::Global, p("192.0.2.7/32")), meta("a", None)),
            ((List::Blocked, p("2001:db8::/32")), meta("b", None)),
        ]
        .into_iter()
        .collect();
        let new: Entries = [
            ((List::Global, p("192.0.2.0/24")), meta("a2", Some("y"))),
            ((List::Global, p("198.51.100.1/32")), meta("a2", None)),
            // Same prefix, another list: a removal and an addition, not a change.
            ((List::Approved, p("2001:db8::/32")), meta("b", None)),
        ]
        .into_iter()
        .collect();
        let d = compare(&old, &new, false);
        let g = &d[&List::Global];
        assert_eq!(g.added.len(), 1);
        assert_eq!(g.removed[0].0, p("192.0.2.7/32"));
        assert_eq!(g.changed[0].3, ["source: a -> a2", "tag: x -> y"]);
        assert_eq!(d[&List::Blocked].removed.len(), 1);
        assert_eq!(d[&List::Approved].added.len(), 1);
        let d = compare(&old, &new, true);
        assert_eq!(d[&List::Global].changed[0].3, ["tag: x -> y"]);
        assert!(compare(&old, &old, false).values().all(ListDiff::is_empty));
    }

    #[test]
    fn control_characters_in_tags_are_escaped_in_text() {
        let t = meta("feed\nno differences", Some("\u{1b}[2Jx"));
        assert_eq!(t.text(), "source=feed\\nno differences tag=\\u{1b}[2Jx");
        assert!(!t.text().chars().any(char::is_control));
        let other = meta("feed", Some("y\r"));
        let ch = t.changes(&other, false);
        assert!(
            ch.iter().all(|c| !c.chars().any(char::is_control)),
            "{ch:?}"
        );
    }
}
