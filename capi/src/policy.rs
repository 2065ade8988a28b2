//! Policies: an opaque handle holding a [`c2trie::Policy`], built once with setters and
//! then read by any number of threads deciding.
//!
//! A handle rather than a struct the caller fills: the policy holds a list of operator NAT64
//! prefixes of any length, validated once when added instead of on every decision, and
//! decisions read it as is, without converting or allocating. New settings are new
//! functions, so the policy grows without any layout concern.

use std::ffi::c_int;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

use c2trie::Policy;
use c2trie::policy::EmbeddedV4;
use ipnet::Ipv6Net;

use crate::boundary::{Error, arg, guard, guard_void, put};
use crate::types::*;

/// A run-time policy. Opaque to C. Setters need the handle to themselves; decisions may
/// read one handle from any number of threads at once.
#[derive(Debug)]
pub struct c2trie_policy {
    pub(crate) policy: Policy,
}

/// The policy a C pointer names; NULL is the default policy, built once for the process
/// (building it on every call, then reading it back, took about a twentieth of a single
/// decision's time).
///
/// # Safety
///
/// `p` is NULL or a policy handle from this library, not yet freed and not being changed
/// while the result is in use.
pub(crate) unsafe fn policy_arg<'a>(p: *const c2trie_policy) -> &'a Policy {
    static DEFAULT: LazyLock<Policy> = LazyLock::new(Policy::default);
    // SAFETY: the caller's guarantee on `p`; `as_ref` maps NULL to `None`.
    match unsafe { p.as_ref() } {
        Some(p) => &p.policy,
        None => &DEFAULT,
    }
}

/// A policy handle to change.
///
/// # Safety
///
/// `p` is NULL or a policy handle from this library, not yet freed and not used by any
/// other thread during `'a`.
unsafe fn policy_mut<'a>(p: *mut c2trie_policy) -> Result<&'a mut Policy, Error> {
    // SAFETY: the caller's guarantee on `p`: valid and exclusive; `as_mut` maps NULL to
    // `None`.
    match unsafe { p.as_mut() } {
        Some(p) => Ok(&mut p.policy),
        None => Err(Error::null("policy")),
    }
}

/// Hands a new policy to C.
///
/// # Safety
///
/// `out` is not NULL and valid for writing a pointer.
unsafe fn give(out: *mut *mut c2trie_policy, policy: Policy) -> Result<(), Error> {
    let p = Box::into_raw(Box::new(c2trie_policy { policy }));
    // SAFETY: the caller's guarantee on `out` (not NULL, so this cannot fail and leak `p`).
    unsafe { put(out, "out", p) }
}

/// A new policy with the defaults: global list LOG, blocked list BLOCK, every IPv4-in-IPv6
/// encoding decoded, no operator NAT64 prefix.
///
/// # Safety
///
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_new(out: *mut *mut c2trie_policy) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: not NULL, and the caller's guarantee.
        unsafe { give(out, Policy::default()) }
    })
}

/// A new policy with the same settings as `policy`.
///
/// # Safety
///
/// `policy` is NULL or a policy handle not being changed; `out` is NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_clone(
    policy: *const c2trie_policy,
    out: *mut *mut c2trie_policy,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { arg(policy, "policy") }?.policy.clone();
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: not NULL, and the caller's guarantee.
        unsafe { give(out, p) }
    })
}

/// Frees a policy handle; NULL is ignored.
///
/// # Safety
///
/// `policy` is NULL or a handle from this library, not yet freed and not in use by any
/// other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_free(policy: *mut c2trie_policy) {
    guard_void(|| {
        if !policy.is_null() {
            // SAFETY: a handle from `Box::into_raw` in `give`, freed once (the caller's
            // guarantee).
            drop(unsafe { Box::from_raw(policy) });
        }
    });
}

/// The list a mode setter or getter names: global or blocked.
fn check_list(list: c_int) -> Result<(), Error> {
    match list {
        C2TRIE_LIST_GLOBAL | C2TRIE_LIST_BLOCKED => Ok(()),
        C2TRIE_LIST_APPROVED => Err(Error::argument(
            "the approved list has no mode: an approved entry always allows",
        )),
        l => Err(Error::argument(format!(
            "list {l} (expected C2TRIE_LIST_GLOBAL or C2TRIE_LIST_BLOCKED)"
        ))),
    }
}

/// Sets the mode (`C2TRIE_MODE_*`) of the global or the blocked list.
///
/// # Safety
///
/// `policy` is NULL or a policy handle no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_set_mode(
    policy: *mut c2trie_policy,
    list: c_int,
    mode: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_mut(policy) }?;
        check_list(list)?;
        if list == C2TRIE_LIST_GLOBAL {
            p.global = mode_from_c(mode, "global")?;
        } else {
            p.blocked = mode_from_c(mode, "blocked")?;
        }
        Ok(())
    })
}

/// The mode (`C2TRIE_MODE_*`) of the global or the blocked list.
///
/// # Safety
///
/// `policy` is NULL or a policy handle not being changed; `out` is NULL or valid for
/// writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_get_mode(
    policy: *const c2trie_policy,
    list: c_int,
    out: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let p = &unsafe { arg(policy, "policy") }?.policy;
        check_list(list)?;
        let m = mode_to_c(if list == C2TRIE_LIST_GLOBAL {
            p.global
        } else {
            p.blocked
        });
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put(out, "out", m) }
    })
}

/// Sets which IPv4-in-IPv6 encodings are decoded (`C2TRIE_EMBED_*` bits). Operator NAT64
/// prefixes are kept (they are decoded while `C2TRIE_EMBED_NAT64_OPERATOR` is set).
///
/// # Safety
///
/// `policy` is NULL or a policy handle no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_set_embedded(
    policy: *mut c2trie_policy,
    bits: u32,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_mut(policy) }?;
        set_embedded_bits(&mut p.embedded, bits)
    })
}

/// The `C2TRIE_EMBED_*` bits of the encodings decoded.
///
/// # Safety
///
/// `policy` is NULL or a policy handle not being changed; `out` is NULL or valid for
/// writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_get_embedded(
    policy: *const c2trie_policy,
    out: *mut u32,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let bits = embedded_bits(&unsafe { arg(policy, "policy") }?.policy.embedded);
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put(out, "out", bits) }
    })
}

/// Adds an operator NAT64 prefix (RFC 6052): `len` is 32, 40, 48, 56, 64 or 96; host bits
/// are cleared; a prefix already present is not added twice.
///
/// # Safety
///
/// `policy` is NULL or a policy handle no other thread uses during the call; `prefix` is
/// NULL or valid for reading 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_add_nat64_prefix(
    policy: *mut c2trie_policy,
    prefix: *const [u8; 16],
    len: u8,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `prefix`.
        let bytes = *unsafe { arg(prefix, "prefix") }?;
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_mut(policy) }?;
        let net = Ipv6Net::new(Ipv6Addr::from(bytes), len)
            .map_err(|_| Error::argument(format!("prefix length {len} is over 128")))?;
        p.embedded.add_nat64_prefix(net).map_err(Error::argument)
    })
}

/// Removes every operator NAT64 prefix.
///
/// # Safety
///
/// `policy` is NULL or a policy handle no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_clear_nat64_prefixes(policy: *mut c2trie_policy) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let p = unsafe { policy_mut(policy) }?;
        let mut e = EmbeddedV4::none();
        set_embedded_bits(&mut e, embedded_bits(&p.embedded))?;
        p.embedded = e;
        Ok(())
    })
}

/// The number of operator NAT64 prefixes.
///
/// # Safety
///
/// `policy` is NULL or a policy handle not being changed; `out` is NULL or valid for
/// writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_nat64_count(
    policy: *const c2trie_policy,
    out: *mut usize,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let n = unsafe { arg(policy, "policy") }?
            .policy
            .embedded
            .nat64_prefixes()
            .len();
        // SAFETY: the caller's guarantee on `out`.
        unsafe { put(out, "out", n) }
    })
}

/// Operator NAT64 prefix `index` (in the order added): its network address and length.
///
/// # Safety
///
/// `policy` is NULL or a policy handle not being changed; `prefix` is NULL or valid for
/// writing 16 bytes; `len` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn c2trie_policy_get_nat64_prefix(
    policy: *const c2trie_policy,
    index: usize,
    prefix: *mut [u8; 16],
    len: *mut u8,
) -> c_int {
    guard(|| {
        // SAFETY: the caller's guarantee on `policy`.
        let all = unsafe { arg(policy, "policy") }?
            .policy
            .embedded
            .nat64_prefixes();
        let net = all.get(index).ok_or_else(|| {
            Error::argument(format!(
                "index {index}: the policy has {} prefixes",
                all.len()
            ))
        })?;
        if prefix.is_null() {
            return Err(Error::null("prefix"));
        }
        // SAFETY: the caller's guarantee on `len`.
        unsafe { put(len, "len", net.prefix_len()) }?;
        // SAFETY: the caller's guarantee on `prefix` (not NULL, checked above).
        unsafe { put(prefix, "prefix", net.network().octets()) }
    })
}
