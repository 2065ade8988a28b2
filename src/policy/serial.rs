//! Serde impls (feature `serde`) that cannot be derived: [`EmbeddedV4`], kept as a
//! product keeps it in a configuration file, and the types that borrow a table,
//! [`Decision`] and [`EntryRef`], serialized by hand.
//!
//! [`Decision`] and [`EntryRef`] serialize to flat maps whose keys are the field names of
//! [`MatchEvent`](crate::MatchEvent) where the two share a value (`verdict`, `list`,
//! `prefix`, `source`, `tag`, `risk`, `list_version`, `reason`, `embedded`, `matched_ip`);
//! a value that is unknown is left out, never written as `null`.

use ipnet::Ipv6Net;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Decision, EmbeddedV4, Encoding};
use crate::table::EntryRef;

/// [`EmbeddedV4`] as written in a configuration file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Embedded {
    /// The enabled encodings, by [`Encoding::as_str`] name. Default: all.
    #[serde(default = "all_encodings")]
    encodings: Vec<Encoding>,
    /// The operator's NAT64 prefixes. Default: none.
    #[serde(default)]
    nat64_prefixes: Vec<Ipv6Net>,
}

fn all_encodings() -> Vec<Encoding> {
    Encoding::ALL.to_vec()
}

/// A map with two keys: `encodings`, the names of the enabled encodings (in
/// [`Encoding::ALL`] order), and `nat64_prefixes`, the operator's NAT64 prefixes.
///
/// ```
/// use c2trie::policy::{EmbeddedV4, Encoding};
///
/// let mut e = EmbeddedV4::none().with(Encoding::Mapped, true).with(Encoding::Nat64Operator, true);
/// e.add_nat64_prefix("2001:db8:64::/96".parse()?)?;
/// assert_eq!(
///     serde_json::to_string(&e)?,
///     r#"{"encodings":["mapped","nat64-operator"],"nat64_prefixes":["2001:db8:64::/96"]}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Serialize for EmbeddedV4 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Embedded {
            encodings: Encoding::ALL
                .into_iter()
                .filter(|e| self.is_enabled(*e))
                .collect(),
            nat64_prefixes: self.nat64.clone(),
        }
        .serialize(s)
    }
}

/// The form [`Serialize`] writes. A missing `encodings` means all of them (the default), a
/// missing `nat64_prefixes` none; an unknown key or encoding name is an error, and so is a
/// NAT64 prefix whose length RFC 6052 does not define (the [`Nat64PrefixError`] message).
/// Host bits in a prefix are cleared, and a repeated prefix is kept once, as
/// [`EmbeddedV4::add_nat64_prefix`] does. Prefixes are kept even when
/// [`Encoding::Nat64Operator`] is not enabled (they are then not decoded).
///
/// [`Nat64PrefixError`]: super::Nat64PrefixError
///
/// ```
/// use c2trie::policy::{EmbeddedV4, Encoding};
///
/// let e: EmbeddedV4 = serde_json::from_str(r#"{"nat64_prefixes": ["2001:db8:64::/96"]}"#)?;
/// assert!(Encoding::ALL.iter().all(|x| e.is_enabled(*x)));
/// assert_eq!(e.nat64_prefixes(), ["2001:db8:64::/96".parse()?]);
///
/// let err = serde_json::from_str::<EmbeddedV4>(r#"{"nat64_prefixes": ["2001:db8::/33"]}"#)
///     .unwrap_err();
/// assert!(err.to_string().contains("RFC 6052 allows 32, 40, 48, 56, 64 or 96"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'de> Deserialize<'de> for EmbeddedV4 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EmbeddedV4, D::Error> {
        let config = Embedded::deserialize(d)?;
        let mut e = EmbeddedV4::none();
        for enc in config.encodings {
            e.set(enc, true);
        }
        for p in config.nat64_prefixes {
            e.add_nat64_prefix(p).map_err(D::Error::custom)?;
        }
        Ok(e)
    }
}

/// Writes the entry's keys into a map being serialized.
fn entry_fields<M: SerializeMap>(m: &mut M, e: &EntryRef<'_>) -> Result<(), M::Error> {
    m.serialize_entry("list", &e.list())?;
    m.serialize_entry("prefix", &e.prefix())?;
    m.serialize_entry("source", e.source())?;
    if let Some(tag) = e.tag() {
        m.serialize_entry("tag", tag)?;
    }
    if let Some(risk) = e.risk() {
        m.serialize_entry("risk", &risk)?;
    }
    if let Some(expires) = e.expires() {
        m.serialize_entry("expires", &expires)?;
    }
    Ok(())
}

/// A map: `list`, `prefix`, `source`, then `tag`, `risk` and `expires` (seconds since the
/// Unix epoch) when the entry has them.
///
/// ```
/// use c2trie::{Compiler, List, Meta};
///
/// let mut c = Compiler::new();
/// c.add(List::Blocked, "192.0.2.0/24".parse()?, "ops", Meta::tagged("c2").with_risk(80))?;
/// let table = c.build()?;
/// let e = table.entries().next().unwrap();
/// assert_eq!(
///     serde_json::to_string(&e)?,
///     r#"{"list":"blocked","prefix":"192.0.2.0/24","source":"ops","tag":"c2","risk":80}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Serialize for EntryRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry_fields(&mut m, self)?;
        m.end()
    }
}

/// A flat map: `verdict`; `ip`, the address decided; the deciding entry's keys (as
/// [`EntryRef`] writes them) when an entry decided; `list_version` when a table was in
/// service; `reason` (`listed`, `unlisted`, `no_table`); and `embedded` (the
/// [`Encoding`]) with `matched_ip` (the embedded IPv4 address) when an embedded address
/// decided.
///
/// ```
/// use c2trie::{Compiler, List, Meta, Policy};
///
/// let mut c = Compiler::new();
/// c.list_version(7);
/// c.add(List::Blocked, "192.0.2.0/24".parse()?, "ops", Meta::tagged("c2"))?;
/// let table = c.build()?;
///
/// let d = Policy::default().decide(&table, "64:ff9b::192.0.2.9".parse()?);
/// assert_eq!(
///     serde_json::to_string(&d)?,
///     r#"{"verdict":"block","ip":"64:ff9b::c000:209","list":"blocked","prefix":"192.0.2.0/24","source":"ops","tag":"c2","list_version":7,"reason":"listed","embedded":"nat64","matched_ip":"192.0.2.9"}"#
/// );
/// let d = Policy::default().decide(&table, "198.51.100.1".parse()?);
/// assert_eq!(
///     serde_json::to_string(&d)?,
///     r#"{"verdict":"pass","ip":"198.51.100.1","list_version":7,"reason":"unlisted"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Serialize for Decision<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("verdict", &self.verdict)?;
        m.serialize_entry("ip", &self.addr)?;
        if let Some(e) = &self.entry {
            entry_fields(&mut m, e)?;
        }
        if let Some(v) = self.list_version {
            m.serialize_entry("list_version", &v)?;
        }
        m.serialize_entry("reason", &self.reason)?;
        if let Some(via) = self.via {
            m.serialize_entry("embedded", &via)?;
            m.serialize_entry("matched_ip", &self.matched)?;
        }
        m.end()
    }
}
