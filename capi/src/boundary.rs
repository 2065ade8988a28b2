//! The boundary itself: status codes with a thread-local message, panic containment, and
//! the checked conversions of pointers that come from C.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use crate::types::*;

/// A failure to report to C: a status code and its message.
#[derive(Debug)]
pub(crate) struct Error {
    code: c_int,
    message: String,
}

impl Error {
    pub(crate) fn new(code: c_int, message: impl fmt::Display) -> Error {
        Error {
            code,
            message: message.to_string(),
        }
    }

    pub(crate) fn null(what: &str) -> Error {
        Error::new(C2TRIE_ERR_NULL, format_args!("{what} is NULL"))
    }

    pub(crate) fn argument(message: impl fmt::Display) -> Error {
        Error::new(C2TRIE_ERR_ARGUMENT, message)
    }

    pub(crate) fn load(e: &c2trie::LoadError) -> Error {
        let code = match e.kind() {
            c2trie::LoadErrorKind::Io => C2TRIE_ERR_IO,
            _ => C2TRIE_ERR_INVALID_TABLE,
        };
        Error::new(code, e)
    }

    pub(crate) fn swap(e: &c2trie::SwapError) -> Error {
        match e.kind() {
            c2trie::SwapErrorKind::Rollback | c2trie::SwapErrorKind::VersionJump => {
                Error::new(C2TRIE_ERR_ROLLBACK, e)
            }
            c2trie::SwapErrorKind::Load => match e.load_error() {
                Some(l) => Error::load(l),
                None => Error::new(C2TRIE_ERR_INVALID_TABLE, e),
            },
            _ => Error::new(C2TRIE_ERR_IO, e),
        }
    }

    pub(crate) fn with_context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

thread_local! {
    /// The message of the last failing call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message cannot hold NUL inside a C string; such a byte could only come from a file
    // name, so it is shown escaped.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with` fails only while the thread is being torn down; the message is then lost,
    // but the status code still says what happened.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = c);
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// Runs an exported function's body: no panic leaves it, and a failure sets the thread's
/// last error and becomes its status code.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> c_int {
    // Unwind safety: after a panic nothing the body touched is used again, except the
    // handles the caller passed in, which are immutable (tables) or only swapped atomically
    // (live handles), so no broken invariant can be observed.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => C2TRIE_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.code
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal error (please report): panic: {}",
                panic_message(&*payload)
            ));
            // Dropping the payload runs foreign drop code that could itself panic, outside
            // any `catch_unwind`; leaking it on this (bug) path is the safe choice.
            std::mem::forget(payload);
            C2TRIE_ERR_PANIC
        }
    }
}

/// As [`guard`], for functions that return nothing (the `_free` functions).
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = guard(|| {
        body();
        Ok(())
    });
}

/// The message of the last failing call on the calling thread: `""` when none has failed.
///
/// Thread-safe: each thread has its own message. The string is owned by the library and
/// stays valid until the next failing call on the same thread (or the thread's exit).
#[unsafe(no_mangle)]
pub extern "C" fn c2trie_last_error() -> *const c_char {
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|e| e.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
    .unwrap_or(c"".as_ptr())
}

/// A static description of a status code (`"invalid table"`, ...). Never NULL; thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn c2trie_strerror(code: c_int) -> *const c_char {
    let s: &'static CStr = match code {
        C2TRIE_OK => c"ok",
        C2TRIE_ERR_NULL => c"null pointer argument",
        C2TRIE_ERR_ARGUMENT => c"invalid argument",
        C2TRIE_ERR_IO => c"i/o error",
        C2TRIE_ERR_INVALID_TABLE => c"invalid table",
        C2TRIE_ERR_ROLLBACK => c"rollback refused",
        C2TRIE_ERR_NO_TABLE => c"no table in service",
        C2TRIE_ERR_PANIC => c"internal error",
        _ => c"unknown status code",
    };
    s.as_ptr()
}

/// The library version, e.g. `"0.1.0"`. Static; thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn c2trie_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// A shared reference from a pointer C passed in, or [`C2TRIE_ERR_NULL`].
///
/// # Safety
///
/// `p` is NULL or points to a valid, initialized `T` that nothing mutates for `'a`.
pub(crate) unsafe fn arg<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller guarantees `p` is NULL or valid for reads for `'a`; `as_ref` maps
    // NULL to `None`.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(what))
}

/// Writes `value` through an out-pointer C passed in, or fails with [`C2TRIE_ERR_NULL`].
///
/// # Safety
///
/// `p` is NULL or valid for writing one `T` (it need not be initialized).
pub(crate) unsafe fn put<T>(p: *mut T, what: &str, value: T) -> Result<(), Error> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: `p` is not NULL, and the caller guarantees it is valid for a write of `T`.
    // `write` does not read or drop the old contents, which may be uninitialized.
    unsafe { p.write(value) };
    Ok(())
}

/// A path from a NUL-terminated C string.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that stays unchanged during the call.
pub(crate) unsafe fn path_arg(p: *const c_char, what: &str) -> Result<PathBuf, Error> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string valid for the call.
    let c = unsafe { CStr::from_ptr(p) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(c.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        c.to_str()
            .map(PathBuf::from)
            .map_err(|_| Error::argument(format!("{what} is not UTF-8")))
    }
}

/// A NUL-terminated C string as UTF-8.
///
/// # Safety
///
/// As [`path_arg`].
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string valid for `'a`.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Error::argument(format!("{what} is not UTF-8")))
}

/// The input slice of a batch of `n` addresses of `width` bytes each.
///
/// # Safety
///
/// When `n > 0`, `p` is NULL or valid for reading `n * width` bytes, unchanged during `'a`.
pub(crate) unsafe fn batch_in<'a>(
    p: *const u8,
    n: usize,
    width: usize,
    what: &str,
) -> Result<&'a [u8], Error> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::null(what));
    }
    let len = n
        .checked_mul(width)
        .filter(|l| isize::try_from(*l).is_ok())
        .ok_or_else(|| Error::argument(format!("batch of {n} addresses is too large")))?;
    // SAFETY: `p` is not NULL and the caller guarantees `len` readable bytes that nothing
    // mutates for `'a`; `len` fits in `isize` (checked above); `u8` has no alignment.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// The output slots of a batch of `n` results.
///
/// # Safety
///
/// When `n > 0`, `p` is NULL or valid for writing `n` consecutive `T`s (initialized or
/// not), not overlapping any input, and not accessed by anything else during `'a`.
pub(crate) unsafe fn batch_out<'a, T>(
    p: *mut T,
    n: usize,
    what: &str,
) -> Result<&'a mut [std::mem::MaybeUninit<T>], Error> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::null(what));
    }
    if n.checked_mul(size_of::<T>())
        .is_none_or(|l| isize::try_from(l).is_err())
    {
        return Err(Error::argument(format!(
            "batch of {n} results is too large"
        )));
    }
    // SAFETY: `p` is not NULL, aligned for `T` (a C array of `T`), and valid for `n` writes
    // with exclusive access for `'a` (the caller's guarantee); the total size fits in
    // `isize` (checked above). `MaybeUninit` makes no claim about the current contents.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), n) })
}
