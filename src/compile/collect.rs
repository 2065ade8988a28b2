//! Conveniences around [`Compiler`]: compiling straight to a [`Table`], and collecting
//! `(List, IpNet)` pairs into a compiler.

use std::io;

use ipnet::IpNet;

use super::Compiler;
use crate::entry::{List, Meta};
use crate::error::CompileError;
use crate::table::Table;

impl Compiler {
    /// Compiles and loads the result: [`Compiler::to_vec`], then [`Table::from_bytes`].
    /// Borrows the compiler, as `to_vec` does, so more entries can be added and the table
    /// built again.
    ///
    /// # Errors
    ///
    /// As [`Compiler::to_vec`]. Bytes the compiler wrote always validate; if they did not
    /// (a bug), the error is of kind [`Io`](crate::error::CompileErrorKind::Io), with the
    /// [`LoadError`](crate::LoadError)'s message, and its
    /// [`io_error`](CompileError::io_error) wraps that `LoadError`.
    ///
    /// # Example
    ///
    /// ```
    /// use c2trie::{Compiler, List, Meta};
    ///
    /// let mut c = Compiler::new();
    /// c.add(List::Blocked, "192.0.2.0/24".parse()?, "ops", Meta::tagged("c2"))?;
    /// let table = c.build()?;
    /// assert!(table.lookup("192.0.2.1".parse()?).contains(List::Blocked));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Table, CompileError> {
        Table::from_bytes(self.to_vec()?).map_err(|e| CompileError::io(io::Error::other(e)))
    }
}

/// Adds each `(list, prefix)` as [`Compiler::add`] would, with no metadata
/// ([`Meta::default`]) and an empty source name (`""`, which
/// [`EntryRef::source`](crate::EntryRef::source) reports as is).
///
/// This cannot fail: [`Compiler::add`] refuses only metadata (a risk above 100), and these
/// entries carry none. A prefix already in its list is counted as a duplicate in the
/// [`report`](Compiler::report), as with `add`. The [`Limits`](super::Limits) and the
/// format's size limits are checked when the table is compiled, by [`Compiler::to_vec`],
/// [`Compiler::build`] or [`Compiler::check_limits`]. Use `add` or
/// [`add_entry`](Compiler::add_entry) to give a source or metadata.
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List};
/// use ipnet::IpNet;
///
/// let mut c = Compiler::new();
/// c.list_version(3);
/// let blocked: Vec<IpNet> = vec!["192.0.2.0/24".parse()?, "2001:db8::/32".parse()?];
/// c.extend(blocked.into_iter().map(|net| (List::Blocked, net)));
/// c.extend([(List::Approved, "192.0.2.7/32".parse()?)]);
/// let table = c.build()?;
/// assert_eq!(table.len(), 3);
/// assert_eq!(table.list_version(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Extend<(List, IpNet)> for Compiler {
    fn extend<I: IntoIterator<Item = (List, IpNet)>>(&mut self, iter: I) {
        for (list, net) in iter {
            // Cannot fail: without metadata there is nothing `add` refuses.
            let added = self.add(list, net, "", Meta::default());
            debug_assert!(added.is_ok(), "{added:?}");
        }
    }
}

/// A [`Compiler::new`] with the pairs added as by [`Extend`] (no metadata, empty source
/// name; cannot fail, limits checked when compiling).
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List};
///
/// let table = [
///     (List::Global, "198.51.100.0/24".parse()?),
///     (List::Approved, "198.51.100.7/32".parse()?),
/// ]
/// .into_iter()
/// .collect::<Compiler>()
/// .build()?;
/// let hits = table.lookup("198.51.100.7".parse()?);
/// assert!(hits.contains(List::Global) && hits.contains(List::Approved));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl FromIterator<(List, IpNet)> for Compiler {
    fn from_iter<I: IntoIterator<Item = (List, IpNet)>>(iter: I) -> Compiler {
        let mut c = Compiler::new();
        c.extend(iter);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Limits;
    use crate::error::CompileErrorKind;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn extend_is_add_with_no_metadata_and_no_source() {
        let pairs = [
            (List::Global, net("198.51.100.0/24")),
            (List::Blocked, net("198.51.100.7/32")),
            (List::Global, net("198.51.100.0/24")),
            (List::Approved, net("2001:db8::/32")),
        ];
        let mut by_add = Compiler::new();
        by_add.created_unix(0);
        for (list, n) in pairs {
            by_add.add(list, n, "", Meta::default()).unwrap();
        }
        let mut by_extend = Compiler::new();
        by_extend.created_unix(0);
        by_extend.extend(pairs);
        assert_eq!(by_extend.to_vec().unwrap(), by_add.to_vec().unwrap());
        assert_eq!(by_extend.report().global.duplicates, 1);
        assert_eq!(by_extend.len(), 3);

        let mut collected: Compiler = pairs.into_iter().collect();
        collected.created_unix(0);
        assert_eq!(collected.to_vec().unwrap(), by_add.to_vec().unwrap());

        let t = by_extend.build().unwrap();
        let e = t.lookup("198.51.100.7".parse().unwrap());
        let b = e.get(List::Blocked).unwrap();
        assert_eq!((b.source(), b.tag(), b.risk()), ("", None, None));
    }

    #[test]
    fn limits_are_checked_at_build_not_at_extend() {
        let mut c: Compiler = [(List::Global, net("0.0.0.0/0"))].into_iter().collect();
        assert_eq!(c.len(), 1);
        let err = c.build().unwrap_err();
        assert_eq!(err.kind(), CompileErrorKind::Limit);
        assert_eq!(err.breaches().len(), 1);
        c.limits(Limits::none());
        assert_eq!(c.build().unwrap().len(), 1);
    }

    #[test]
    fn build_borrows_and_can_be_repeated() {
        let mut c = Compiler::new();
        c.list_version(1);
        let first = c.build().unwrap();
        c.extend([(List::Blocked, net("192.0.2.0/24"))]);
        c.list_version(2);
        let second = c.build().unwrap();
        assert_eq!((first.len(), first.list_version()), (0, 1));
        assert_eq!((second.len(), second.list_version()), (1, 2));
    }
}
