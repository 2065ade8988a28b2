//! The poisoned-feed guard flags of `c2trie compile`.

use c2trie::List;
use c2trie::compile::{Limits, ListLimits};
use clap::Args;

use crate::Result;

/// Poisoned-feed guards, per list, for this run (defaults: the global list refuses IPv4
/// prefixes shorter than /8, and IPv6 shorter than /16 or embedding IPv4 space broader
/// than /8; the user lists are unlimited).
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Shortest IPv4 prefix accepted in a list, e.g. `global=3` (repeatable).
    #[arg(long, value_name = "LIST=LEN")]
    min_prefix_v4: Vec<String>,
    /// Shortest IPv6 prefix accepted in a list, e.g. `global=12` (repeatable).
    #[arg(long, value_name = "LIST=LEN")]
    min_prefix_v6: Vec<String>,
    /// Most entries a list may hold, e.g. `global=2000000` or `global=none` (repeatable).
    #[arg(long, value_name = "LIST=N")]
    max_entries: Vec<String>,
    /// Largest share of the IPv4 space a list may cover, e.g. `global=1%` (repeatable).
    #[arg(long, value_name = "LIST=SHARE")]
    max_coverage_v4: Vec<String>,
    /// Largest share of the IPv6 space a list may cover, e.g. `global=0.01%` (repeatable).
    #[arg(long, value_name = "LIST=SHARE")]
    max_coverage_v6: Vec<String>,
    /// Refuse special-purpose space (loopback, private, link-local, multicast, ...) in a
    /// list, e.g. `global` (repeatable), naming each entry's file and line.
    #[arg(long, value_name = "LIST")]
    refuse_special: Vec<List>,
    /// Lift every limit on a list, e.g. `global` (repeatable); the flags above still apply.
    #[arg(long, value_name = "LIST")]
    allow_broad: Vec<List>,
}

impl LimitArgs {
    /// The limits for this run: the defaults, lifted by `--allow-broad`, then each flag.
    pub(crate) fn limits(&self) -> Result<Limits> {
        fn each<'a>(
            flag: &str,
            values: &'a [String],
        ) -> impl Iterator<Item = Result<(List, &'a str)>> {
            values.iter().map(move |v| {
                let (list, value) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--{flag} {v:?}: expected LIST=VALUE"))?;
                let list: List = list.trim().parse()?;
                Ok((list, value.trim()))
            })
        }
        let mut limits = Limits::default();
        for &list in &self.allow_broad {
            *limits.get_mut(list) = ListLimits::NONE;
        }
        for &list in &self.refuse_special {
            limits.get_mut(list).refuse_special = true;
        }
        for r in each("min-prefix-v4", &self.min_prefix_v4) {
            let (list, v) = r?;
            let len: u8 = v.parse()?;
            if len > 32 {
                return Err(
                    format!("--min-prefix-v4 {list}={v}: an IPv4 prefix is at most /32").into(),
                );
            }
            limits.get_mut(list).min_prefix_v4 = len;
        }
        for r in each("min-prefix-v6", &self.min_prefix_v6) {
            let (list, v) = r?;
            let len: u8 = v.parse()?;
            if len > 128 {
                return Err(
                    format!("--min-prefix-v6 {list}={v}: an IPv6 prefix is at most /128").into(),
                );
            }
            limits.get_mut(list).min_prefix_v6 = len;
        }
        for r in each("max-entries", &self.max_entries) {
            let (list, v) = r?;
            limits.get_mut(list).max_entries = match v {
                "none" => None,
                n => Some(n.parse()?),
            };
        }
        for r in each("max-coverage-v4", &self.max_coverage_v4) {
            let (list, v) = r?;
            limits.get_mut(list).max_coverage_v4 = parse_share(v)?;
        }
        for r in each("max-coverage-v6", &self.max_coverage_v6) {
            let (list, v) = r?;
            limits.get_mut(list).max_coverage_v6 = parse_share(v)?;
        }
        Ok(limits)
    }
}

/// Parses a coverage share: `25%`, `0.25`, or `none` (no limit).
fn parse_share(s: &str) -> std::result::Result<Option<f64>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|e| format!("coverage {s:?}: {e}"))
    };
    let share = match s.strip_suffix('%') {
        Some(p) => number(p)? / 100.0,
        None => number(s)?,
    };
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("coverage {s:?} is not between 0% and 100%"));
    }
    Ok(Some(share))
}

#[cfg(test)]
mod tests {
    use super::parse_share;

    #[test]
    fn shares_parse_as_percent_or_fraction() {
        assert_eq!(parse_share("25%").unwrap(), Some(0.25));
        assert_eq!(parse_share("0.5").unwrap(), Some(0.5));
        assert_eq!(parse_share("none").unwrap(), None);
        for bad in ["150%", "-1", "lots", "NaN", ""] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
    }
}
