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
        .ok_or_else(|| {
            Error::argument(format!(
                "n is {n}: {n} addresses of {width} bytes each in {what} are more than PTRDIFF_MAX bytes"
            ))
        })?;
    // SAFETY: `p` is not NULL and the caller guarantees `len` readable bytes that nothing
    // mutates for `'a`; `len` fits in `isize` (checked above); `u8` has no alignment.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// The layout of a struct the caller allocated and the library writes, as its `size`
/// fields describe it.
///
/// Such a struct starts with `uint32_t size`, the caller's `sizeof`, set by its `_INIT`
/// macro or function. The library writes only the fields the caller's layout has, at the
/// caller's offsets, and leaves the rest of the caller's bytes (fields a newer header added)
/// as they were. Structs grow only at their end; when an embedded struct grows (the
/// `c2trie_match` in `c2trie_decision`), the fields after it move by as much, and the
/// embedded struct's own `size` says by how much.
pub(crate) trait CallerLayout: Copy + fmt::Debug {
    /// The Rust (current) type of one element.
    type Value;

    /// The size field every struct of this type starts with, as C names it from the
    /// struct (`size`, `lists[0].size`).
    const LEAD: &'static str;

    /// This layout's value of [`CallerLayout::LEAD`].
    fn lead(&self) -> usize;

    /// Where two layouts with the same [`CallerLayout::lead`] differ, if they do: the
    /// field as C names it from the struct, this layout's value and `other`'s.
    fn differs(&self, other: &Self) -> Option<(&'static str, usize, usize)>;

    /// Reads and checks the `size` fields of the element at `p`.
    ///
    /// # Safety
    ///
    /// `p` is not NULL, aligned for `Self::Value`, and points to a struct of this type that
    /// the caller initialized (its `size` fields at least) and that is as large as its
    /// `size` says.
    unsafe fn read(p: *const u8, at: Place<'_>) -> Result<Self, Error>;

    /// The caller's size of one element: the distance between batch elements.
    fn stride(&self) -> usize;

    /// Writes `value` in the caller's layout.
    ///
    /// # Safety
    ///
    /// `p` is valid for writing `self.stride()` bytes, and this layout was read from it.
    unsafe fn write(&self, p: *mut u8, value: &Self::Value);
}

/// A caller's struct as its size errors name it, in C: `out->` for the struct an
/// out-pointer points to, `out[2].` for an element of a batch, followed by the field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'a> {
    /// The struct the parameter of this name points to.
    One(&'a str),
    /// Element `.1` of the batch the parameter of this name points to.
    Element(&'a str, usize),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::One(name) => write!(f, "{name}->"),
            Place::Element(name, i) => write!(f, "{name}[{i}]."),
        }
    }
}

/// Checks a `size` field (named `field`, of a struct of C type `ty`): at least `min` (the
/// layout of the first release with the field), and a multiple of the alignment, as any
/// `sizeof` is.
pub(crate) fn check_size(
    size: u32,
    (min, align): (usize, usize),
    field: impl fmt::Display,
    ty: &str,
    init: &str,
) -> Result<usize, Error> {
    let s = size as usize;
    if s < min || !s.is_multiple_of(align) {
        return Err(Error::new(
            C2TRIE_ERR_SIZE,
            format!(
                "{field} is {size}; expected sizeof({ty}) (at least {min}, a multiple of \
                 {align}): initialize it with {init}"
            ),
        ));
    }
    Ok(s)
}

/// Reads the `uint32_t size` field at `offset` bytes into a caller's struct.
///
/// # Safety
///
/// `p + offset` is valid for reading an initialized, aligned `u32`.
pub(crate) unsafe fn read_size(p: *const u8, offset: usize) -> u32 {
    let field = p.wrapping_add(offset).cast::<u32>();
    // SAFETY: the caller's guarantee: in bounds, aligned and initialized.
    unsafe { field.read() }
}

/// Copies the bytes `from` of `value` to `dst + at`, but no further than `dst + limit`.
///
/// # Safety
///
/// `dst` is valid for writing `limit` bytes; `from` lies within `T`.
pub(crate) unsafe fn copy_part<T>(
    value: &T,
    from: std::ops::Range<usize>,
    dst: *mut u8,
    at: usize,
    limit: usize,
) {
    let len = from.len().min(limit.saturating_sub(at));
    if len == 0 {
        return;
    }
    let src = std::ptr::from_ref(value)
        .cast::<u8>()
        .wrapping_add(from.start);
    let dst = dst.wrapping_add(at);
    // SAFETY: `src..src + len` lies within `value` (`from` is within `T`, and `len` is at
    // most its length); `dst + at..dst + at + len` lies within the `limit` bytes the caller
    // guarantees writable; the two do not overlap (`value` is a Rust value, `dst` the
    // caller's memory). An untyped copy moves padding bytes as they are.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
}

/// Writes `value` through an out-pointer to a sized struct, in the caller's layout.
///
/// # Safety
///
/// `p` is NULL or points to a struct of the type `L` describes, initialized by its `_INIT`
/// macro or function (or written by this library before), valid for writing and not
/// accessed by anything else during the call.
pub(crate) unsafe fn put_sized<L: CallerLayout>(
    p: *mut L::Value,
    what: &str,
    value: &L::Value,
) -> Result<(), Error> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: not NULL; the caller's guarantee on the rest.
    let layout = unsafe { L::read(p.cast(), Place::One(what)) }?;
    // SAFETY: the struct is `stride` bytes long (its size says so) and writable.
    unsafe { layout.write(p.cast(), value) };
    Ok(())
}

/// The output structs of a batch, in the caller's layout: every element was checked to
/// have the layout of the first before anything is written.
#[derive(Debug)]
pub(crate) struct BatchOut<'a, L: CallerLayout> {
    base: *mut u8,
    n: usize,
    layout: Option<L>,
    _out: std::marker::PhantomData<&'a mut L::Value>,
}

impl<L: CallerLayout> BatchOut<'_, L> {
    /// Writes result `i`; an index past the batch is ignored.
    pub(crate) fn write(&mut self, i: usize, value: &L::Value) {
        let Some(layout) = self.layout else { return };
        if i >= self.n {
            return;
        }
        // `i * stride` is within the batch (checked not to overflow when it was made).
        let at = self.base.wrapping_add(i * layout.stride());
        // SAFETY: element `i` lies within the `n * stride` writable bytes the constructor's
        // caller guaranteed for the batch's lifetime, and its layout was checked to be
        // `layout`.
        unsafe { layout.write(at, value) };
    }
}

/// The output slots of a batch of `n` results of a sized struct.
///
/// # Safety
///
/// When `n > 0`, `p` is NULL or points to `n` consecutive structs of the type `L`
/// describes, each initialized by its `_INIT` macro or function, valid for writing, not
/// overlapping any input, and not accessed by anything else during `'a`.
pub(crate) unsafe fn batch_sized<'a, L: CallerLayout>(
    p: *mut L::Value,
    n: usize,
    what: &str,
) -> Result<BatchOut<'a, L>, Error> {
    let mut out = BatchOut {
        base: p.cast(),
        n,
        layout: None,
        _out: std::marker::PhantomData,
    };
    if n == 0 {
        return Ok(out);
    }
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: not NULL; the caller's guarantee on the rest.
    let first = unsafe { L::read(p.cast(), Place::Element(what, 0)) }?;
    let stride = first.stride();
    if n.checked_mul(stride)
        .is_none_or(|l| isize::try_from(l).is_err())
    {
        return Err(Error::argument(format!(
            "n is {n}: {n} results of {stride} bytes each in {what} are more than PTRDIFF_MAX \
             bytes"
        )));
    }
    let mismatch = |i: usize, (field, this, first): (&str, usize, usize)| {
        Error::new(
            C2TRIE_ERR_SIZE,
            format!(
                "{what}[{i}].{field} {this} differs from {what}[0].{field} {first}: initialize \
                 every element"
            ),
        )
    };
    for i in 1..n {
        let at = out.base.wrapping_add(i * stride);
        // Element `i`'s first size field first: where it equals element 0's, every size
        // field `L::read` goes on to read lies where it lies in element 0, inside the
        // element's `stride` bytes; where it differs (a later element left uninitialized,
        // say), the element is not read further.
        // SAFETY: element `i` starts `i * stride` bytes in, within the batch (the product
        // fits, checked above), and starts with its `u32` size field (`stride` is at least
        // the smallest layout).
        let lead = unsafe { read_size(at, 0) } as usize;
        if lead != first.lead() {
            return Err(mismatch(i, (L::LEAD, lead, first.lead())));
        }
        // SAFETY: as for the first element, within the `stride` bytes of element `i` (its
        // first size is element 0's, above), which the caller initialized.
        let this = unsafe { L::read(at, Place::Element(what, i)) }?;
        if let Some(d) = this.differs(&first) {
            return Err(mismatch(i, d));
        }
    }
    out.layout = Some(first);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::batch_sized;
    use crate::types::{MatchesLayout, c2trie_matches};

    /// A batch whose results could not fit in one object is refused after its first
    /// element, the one read to learn the stride, with the count and the stride in the
    /// message. (A caller whose `addrs` held that many addresses could reach it.)
    #[test]
    fn a_batch_of_results_too_large_is_refused_by_its_count() {
        let mut first = std::mem::MaybeUninit::<c2trie_matches>::uninit();
        // SAFETY: a valid, writable `c2trie_matches`.
        assert_eq!(unsafe { crate::c2trie_matches_init(first.as_mut_ptr()) }, 0);
        let n = usize::MAX / 64;
        // SAFETY: only element 0 is read (the count is refused before any other): it is
        // valid and initialized.
        let Err(e) = (unsafe { batch_sized::<MatchesLayout>(first.as_mut_ptr(), n, "out") }) else {
            panic!("a batch of {n} results was accepted");
        };
        let stride = size_of::<c2trie_matches>();
        assert_eq!(e.code, crate::C2TRIE_ERR_ARGUMENT);
        assert_eq!(
            e.message,
            format!(
                "n is {n}: {n} results of {stride} bytes each in out are more than PTRDIFF_MAX \
                 bytes"
            )
        );
    }
}
