//! The HTTP side of an update: GET with conditional headers, redirects followed by hand
//! (so that the scheme rule is ours to enforce), bodies read under a byte cap.

use std::io::{self, Read as _};
use std::time::{Duration, Instant};

use ureq::http::{Response, Uri, header};

use super::{Refusal, RefusalKind};

/// The validators sent with a conditional request.
#[derive(Debug, Clone, Default)]
pub(super) struct Conditional<'a> {
    pub(super) etag: Option<&'a str>,
    pub(super) last_modified: Option<&'a str>,
}

/// Parses an update URL: absolute, `http` or `https`, with a host.
pub(super) fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{url:?}: only http and https URLs are supported")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(uri)
}

/// Resolves a `Location` header against the URL that answered with it.
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let location = location.trim();
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    // A reference with a scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`,
    // then `:` before any `/`, `?` or `#`) is absolute, whatever the scheme.
    let has_scheme = location.split_once(':').is_some_and(|(s, _)| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let absolute = if has_scheme {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    };
    parse_url(&absolute).map_err(|e| format!("redirect to {location:?}: {e}"))
}

/// Whether a redirect from `from` to `to` may be followed: the same scheme, or an upgrade
/// from http to https. Never a downgrade: an https URL promises that nobody on the path can
/// change the answer, and a redirect to http would break that promise silently.
pub(super) fn redirect_allowed(from: &Uri, to: &Uri) -> bool {
    matches!(
        (from.scheme_str(), to.scheme_str()),
        (Some("http"), Some("http" | "https")) | (Some("https"), Some("https"))
    )
}

/// The time left before `deadline`, or a timeout refusal.
fn remaining(deadline: Instant) -> Result<Duration, Refusal> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| Refusal::new(RefusalKind::Timeout, "the update took too long"))
}

/// The refusal for a failed request or body read.
pub(super) fn transport_refusal(what: &str, e: ureq::Error) -> Refusal {
    match e {
        ureq::Error::Timeout(t) => {
            Refusal::new(RefusalKind::Timeout, format!("{what}: timed out ({t})"))
        }
        ureq::Error::Io(io) => io_refusal(what, &io),
        e => Refusal::new(RefusalKind::Network, format!("{what}: {e}")),
    }
}

/// The refusal for an I/O error while reading a body (ureq's own errors arrive wrapped).
pub(super) fn io_refusal(what: &str, e: &io::Error) -> Refusal {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
        if let ureq::Error::Timeout(t) = inner {
            return Refusal::new(RefusalKind::Timeout, format!("{what}: timed out ({t})"));
        }
        return Refusal::new(RefusalKind::Network, format!("{what}: {inner}"));
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Refusal::new(RefusalKind::Timeout, format!("{what}: timed out ({e})"))
        }
        io::ErrorKind::UnexpectedEof => Refusal::new(
            RefusalKind::Network,
            format!("{what}: the connection closed before the whole body arrived ({e})"),
        ),
        _ => Refusal::new(RefusalKind::Network, format!("{what}: {e}")),
    }
}

/// GETs `url`, following at most `max_redirects` redirects that [`redirect_allowed`]
/// permits, each request bounded by what is left of `deadline`. Returns the final response
/// (any status but a redirect) and the URL that gave it.
pub(super) fn get(
    agent: &ureq::Agent,
    url: &Uri,
    cond: &Conditional<'_>,
    max_redirects: u32,
    deadline: Instant,
) -> Result<(Response<ureq::Body>, Uri), Refusal> {
    let mut current = url.clone();
    let mut hops = 0;
    loop {
        let mut req = agent.get(current.to_string());
        if let Some(etag) = cond.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = cond.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let resp = req
            .config()
            .timeout_global(Some(remaining(deadline)?))
            .build()
            .call()
            .map_err(|e| transport_refusal(&format!("GET {current}"), e))?;
        let status = resp.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok((resp, current));
        }
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Refusal::new(
                    RefusalKind::Redirect,
                    format!("GET {current}: {status} without a usable Location"),
                )
            })?;
        let next = resolve(&current, location)
            .map_err(|e| Refusal::new(RefusalKind::Redirect, format!("GET {current}: {e}")))?;
        if !redirect_allowed(&current, &next) {
            return Err(Refusal::new(
                RefusalKind::Redirect,
                format!("GET {current}: refused the redirect to {next} (https to http)"),
            ));
        }
        hops += 1;
        if hops > max_redirects {
            return Err(Refusal::new(
                RefusalKind::Redirect,
                format!("GET {url}: more than {max_redirects} redirects"),
            ));
        }
        current = next;
    }
}

/// A header's value as text, if present and visible ASCII.
pub(super) fn header_text(resp: &Response<ureq::Body>, name: header::HeaderName) -> Option<&str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads the body of `resp` (from `url`) into memory, refusing more than `cap` bytes: first
/// by its `Content-Length`, before reading, then while reading, whatever the header said
/// (or if there was none, as with a chunked body). The cap applies to the decoded bytes, so
/// a small compressed body cannot expand past it. `progress` sees the bytes read so far and
/// the expected total when known.
pub(super) fn read_body(
    resp: Response<ureq::Body>,
    url: &Uri,
    cap: u64,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, Refusal> {
    let declared =
        header_text(&resp, header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    let encoded = header_text(&resp, header::CONTENT_ENCODING)
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
    if let Some(n) = declared
        && n > cap
    {
        return Err(too_large(url, cap, &format!("Content-Length {n}")));
    }
    // The declared length counts encoded bytes: only an unencoded one is the total.
    let total = declared.filter(|_| !encoded);
    let mut reader = resp.into_body().into_reader().take(cap + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(total.unwrap_or(0).min(cap)).unwrap_or(0));
    let mut buf = vec![0u8; 64 * 1024];
    progress(0, total);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_refusal(&format!("GET {url}"), &e)),
        };
        bytes.extend_from_slice(&buf[..n]);
        if bytes.len() as u64 > cap {
            return Err(too_large(url, cap, "the body"));
        }
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

fn too_large(url: &Uri, cap: u64, what: &str) -> Refusal {
    Refusal::new(
        RefusalKind::TooLarge,
        format!("GET {url}: {what} exceeds the limit of {cap} bytes"),
    )
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        parse_url(s).expect("a test URL")
    }

    #[test]
    fn locations_resolve() {
        let base = uri("http://a.example:8080/lists/c2.c2t?x=1");
        let cases = [
            ("https://b.example/t.c2t", "https://b.example/t.c2t"),
            ("//c.example/t", "http://c.example/t"),
            ("/other/t.c2t", "http://a.example:8080/other/t.c2t"),
            ("v2/t.c2t", "http://a.example:8080/lists/v2/t.c2t"),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve(&base, loc).expect(loc).to_string(), want, "{loc}");
        }
        assert!(resolve(&base, "ftp://x/y").is_err());
    }

    #[test]
    fn only_upgrades_and_same_scheme() {
        let (http, https) = (uri("http://a.example/"), uri("https://a.example/"));
        assert!(redirect_allowed(&http, &http));
        assert!(redirect_allowed(&http, &https));
        assert!(redirect_allowed(&https, &https));
        assert!(!redirect_allowed(&https, &http));
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("https://lists.example/t.c2t").is_ok());
        for bad in [
            "ftp://lists.example/t",
            "/t.c2t",
            "lists.example/t",
            "http://",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
