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

/// `text` with the user information of its authority (`user:password@`), if any, replaced
/// by `***`, for messages: credentials are never printed or stored.
pub(super) fn redact(text: &str) -> String {
    let Some(start) = text.find("//").map(|i| i + 2) else {
        return text.to_owned();
    };
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &rest[at..]),
        None => text.to_owned(),
    }
}

/// Parses an absolute `http` or `https` URL with a host and no user information (a URL a
/// redirect may lead to; it may have a query).
fn parse_target(url: &str) -> Result<Uri, String> {
    let shown = redact(url);
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{shown:?}: only http and https URLs are supported")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!(
            "{shown:?}: a URL with credentials (user@host) is not supported: they would be \
             sent to whoever the URL names and stored with the HTTP validators"
        ));
    }
    Ok(uri)
}

/// Parses an update URL: absolute, `http` or `https`, with a host, no credentials, naming
/// a file (the signature is the same URL plus `.sig`), without a query or a fragment
/// (`URL.sig` would then not name the signature: a fragment is never sent, so the
/// signature's URL would be the table's own).
pub(super) fn parse_url(url: &str) -> Result<Uri, String> {
    let shown = redact(url);
    if url.contains('#') {
        return Err(format!(
            "{shown:?}: a URL with a fragment (#...) cannot name its signature as URL.sig"
        ));
    }
    if url.contains('?') {
        return Err(format!(
            "{shown:?}: a URL with a query cannot name its signature as URL.sig"
        ));
    }
    let uri = parse_target(url)?;
    if uri.path().is_empty() || uri.path().ends_with('/') || !url.ends_with(uri.path()) {
        return Err(format!(
            "{shown:?}: the URL must name a file (its signature is URL.sig)"
        ));
    }
    Ok(uri)
}

/// RFC 3986 section 5.2.4: removes the `.` and `..` segments of a path.
fn remove_dot_segments(path: &str) -> String {
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').skip(usize::from(absolute)).collect();
    let mut out: Vec<&str> = Vec::new();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                // A trailing dot segment leaves a directory: "/a/b/.." is "/a/".
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Resolves a `Location` header against the URL that answered with it (RFC 3986 section
/// 5.2). A fragment is dropped (it is never sent); a target with credentials is refused,
/// so a server cannot make the client send an `Authorization` header of its choosing.
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let location = location.trim();
    let shown = redact(location);
    let reference = location.split_once('#').map_or(location, |(r, _)| r);
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    // A reference with a scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`,
    // then `:` before any `/`, `?` or `#`) is absolute, whatever the scheme.
    let ref_scheme = reference.split_once(':').and_then(|(s, rest)| {
        let is_scheme = s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        is_scheme.then_some((s, rest))
    });
    let (t_scheme, rest) = ref_scheme.unwrap_or((scheme, reference));
    let (t_authority, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        // A scheme with no authority (`http:files/x`) names no host: nothing to fetch.
        None if ref_scheme.is_some() => {
            return Err(format!("redirect to {shown:?}: no host after the scheme"));
        }
        None => (authority, rest),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let explicit = ref_scheme.is_some() || reference.starts_with("//");
    let (path, query) = if explicit || path.starts_with('/') {
        (remove_dot_segments(path), query)
    } else if path.is_empty() {
        (base.path().to_owned(), query.or(base.query()))
    } else {
        let base_path = base.path();
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        (remove_dot_segments(&format!("{dir}{path}")), query)
    };
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let mut absolute = format!("{t_scheme}://{t_authority}{path}");
    if let Some(q) = query {
        absolute.push('?');
        absolute.push_str(q);
    }
    parse_target(&absolute).map_err(|e| format!("redirect to {shown:?}: {e}"))
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
        let base = uri("http://a.example:8080/lists/sub/c2.c2t");
        let cases = [
            ("https://b.example/t.c2t", "https://b.example/t.c2t"),
            ("https://b.example/a/../t.c2t", "https://b.example/t.c2t"),
            ("//c.example/t", "http://c.example/t"),
            ("//c.example/x/./y/../t?q=1", "http://c.example/x/t?q=1"),
            ("//c.example", "http://c.example/"),
            ("/other/t.c2t", "http://a.example:8080/other/t.c2t"),
            ("/a/./b/../../c", "http://a.example:8080/c"),
            ("v2/t.c2t", "http://a.example:8080/lists/sub/v2/t.c2t"),
            ("../../files/t", "http://a.example:8080/files/t"),
            ("../../../../../files/t", "http://a.example:8080/files/t"),
            ("./x", "http://a.example:8080/lists/sub/x"),
            ("..", "http://a.example:8080/lists/"),
            (".", "http://a.example:8080/lists/sub/"),
            ("x?a=../b", "http://a.example:8080/lists/sub/x?a=../b"),
            ("x#frag", "http://a.example:8080/lists/sub/x"),
            ("../y?k=v#f", "http://a.example:8080/lists/y?k=v"),
            ("?k=v", "http://a.example:8080/lists/sub/c2.c2t?k=v"),
            ("#only", "http://a.example:8080/lists/sub/c2.c2t"),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve(&base, loc).expect(loc).to_string(), want, "{loc}");
        }
        assert!(resolve(&base, "ftp://x/y").is_err());
        // A scheme without an authority names no host, rather than one made of the path.
        for loc in ["http:files/t", "https:t.c2t", "http:/files/t"] {
            assert!(resolve(&base, loc).is_err(), "{loc}");
        }
    }

    #[test]
    fn dot_segments_as_in_rfc_3986() {
        for (path, want) in [
            ("/a/b/c/./../../g", "/a/g"),
            ("mid/content=5/../6", "mid/6"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/a//../b", "/a/b"),
            ("/a/b", "/a/b"),
            ("", ""),
        ] {
            assert_eq!(remove_dot_segments(path), want, "{path}");
        }
    }

    /// Credentials in a redirect target are refused (never sent), and never printed.
    #[test]
    fn credentials_are_refused_and_redacted() {
        let base = uri("http://a.example/t.c2t");
        for loc in [
            "http://user:secret@a.example/t.c2t",
            "//user:secret@b.example/t",
            "https://secret@b.example/t",
        ] {
            let e = resolve(&base, loc).expect_err(loc);
            assert!(!e.contains("secret"), "{e}");
        }
        assert_eq!(
            redact("https://u:p@h.example/x@y"),
            "https://***@h.example/x@y"
        );
        assert_eq!(redact("https://h.example/x@y"), "https://h.example/x@y");
        let e = parse_url("https://u:secret@h.example/t.c2t").expect_err("credentials");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn only_upgrades_and_same_scheme() {
        let (http, https) = (uri("http://a.example/t"), uri("https://a.example/t"));
        assert!(redirect_allowed(&http, &http));
        assert!(redirect_allowed(&http, &https));
        assert!(redirect_allowed(&https, &https));
        assert!(!redirect_allowed(&https, &http));
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("https://lists.example/t.c2t").is_ok());
        assert!(parse_url("https://lists.example:8443/a/t.c2t").is_ok());
        for bad in [
            "ftp://lists.example/t",
            "/t.c2t",
            "lists.example/t",
            "http://",
            "https://lists.example/t.c2t?v=1",
            "https://lists.example/t.c2t#x",
            "https://lists.example",
            "https://lists.example/",
            "https://lists.example/dir/",
            "https://user@lists.example/t.c2t",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
