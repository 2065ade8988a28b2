//! A small HTTP/1.1 server on 127.0.0.1 for the update tests, written by hand so that it can
//! misbehave on purpose: lie about lengths, close early, stall, redirect anywhere. Every
//! connection is answered once and closed. Shared by the library's and the CLI's tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The bytes of the request head as received (request line and headers).
    pub head_bytes: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status, headers, and a body with its true `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// These bytes exactly, then close (for lies about lengths and early closes).
    Raw(Vec<u8>),
    /// A chunked body of these chunks.
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
    },
    /// These bytes, then hold the connection open, silent, for the duration.
    Stall(Vec<u8>, Duration),
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Reply {
        Reply::Full {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

/// One request and what answering it cost.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Request,
    /// Bytes written in response (head and body).
    pub response_bytes: usize,
    /// Bytes of the response head alone.
    pub response_head_bytes: usize,
}

pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;
type Wrap = dyn Fn(TcpStream) -> Option<Box<dyn Stream>> + Send + Sync;

pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Exchange>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Plain HTTP.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::start_with(|s| Some(Box::new(s) as Box<dyn Stream>), handler)
    }

    /// Each accepted connection goes through `wrap` first (a TLS server session).
    pub fn start_with(
        wrap: impl Fn(TcpStream) -> Option<Box<dyn Stream>> + Send + Sync + 'static,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let wrap: Arc<Wrap> = Arc::new(wrap);
        let (stop2, log2) = (Arc::clone(&stop), Arc::clone(&log));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Acquire) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, wrap, log) =
                    (Arc::clone(&handler), Arc::clone(&wrap), Arc::clone(&log2));
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    if let Some(mut s) = wrap(conn) {
                        let _ = serve(&mut *s, &*handler, &log);
                    }
                });
            }
        });
        Server {
            addr,
            stop,
            log,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/PATH` (`scheme` may be https).
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!(
            "{scheme}://127.0.0.1:{}/{}",
            self.addr.port(),
            path.trim_start_matches('/')
        )
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(s: &mut dyn Stream, handler: &Handler, log: &Mutex<Vec<Exchange>>) -> io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let request = Request {
        method,
        path,
        headers,
        head_bytes: head.len(),
    };
    let reply = handler(&request);
    let (bytes, head_len, stall) = match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut h = head_of(status, &headers);
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            {
                h.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            h.push_str("\r\n");
            let n = h.len();
            let mut out = h.into_bytes();
            out.extend_from_slice(&body);
            (out, n, None)
        }
        Reply::Raw(bytes) => {
            let n = bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(bytes.len(), |p| p + 4);
            (bytes, n, None)
        }
        Reply::Chunked {
            status,
            headers,
            chunks,
        } => {
            let mut h = head_of(status, &headers);
            h.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let n = h.len();
            let mut out = h.into_bytes();
            for c in chunks.iter().filter(|c| !c.is_empty()) {
                out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            (out, n, None)
        }
        Reply::Stall(bytes, d) => {
            let n = bytes.len();
            (bytes, n, Some(d))
        }
    };
    log.lock().unwrap().push(Exchange {
        request,
        response_bytes: bytes.len(),
        response_head_bytes: head_len,
    });
    // A client that gives up (a cap reached) closes early: not an error of the server.
    let _ = s.write_all(&bytes).and_then(|()| s.flush());
    if let Some(d) = stall {
        std::thread::sleep(d);
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head_of(status: u16, headers: &[(String, String)]) -> String {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    for (n, v) in headers {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h
}

/// A static site: files by path with an `ETag` each, answering conditional requests with
/// `304` as a static server or a CDN does, and gzip when asked and `gzip` is on.
#[derive(Debug, Default)]
pub struct Site {
    files: Mutex<HashMap<String, (Vec<u8>, String)>>,
    pub gzip: AtomicBool,
}

impl Site {
    pub fn new() -> Arc<Site> {
        Arc::new(Site::default())
    }

    /// Serves `body` at `/path` with `etag` (quoted in the header).
    pub fn put(&self, path: &str, body: Vec<u8>, etag: &str) {
        self.files.lock().unwrap().insert(
            format!("/{}", path.trim_start_matches('/')),
            (body, format!("\"{etag}\"")),
        );
    }

    pub fn remove(&self, path: &str) {
        self.files
            .lock()
            .unwrap()
            .remove(&format!("/{}", path.trim_start_matches('/')));
    }

    pub fn reply(&self, req: &Request) -> Reply {
        let files = self.files.lock().unwrap();
        let Some((body, etag)) = files.get(&req.path) else {
            return Reply::status(404);
        };
        let mut headers = vec![
            ("ETag".to_owned(), etag.clone()),
            (
                "Last-Modified".to_owned(),
                "Wed, 01 Apr 2026 12:00:00 GMT".to_owned(),
            ),
        ];
        if req.header("if-none-match") == Some(etag.as_str()) {
            return Reply::Full {
                status: 304,
                headers,
                body: Vec::new(),
            };
        }
        let wants_gzip = req
            .header("accept-encoding")
            .is_some_and(|v| v.contains("gzip"));
        if self.gzip.load(Ordering::Relaxed) && wants_gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(body).unwrap();
            headers.push(("Content-Encoding".into(), "gzip".into()));
            return Reply::Full {
                status: 200,
                headers,
                body: enc.finish().unwrap(),
            };
        }
        Reply::Full {
            status: 200,
            headers,
            body: body.clone(),
        }
    }
}

/// Every file in `dir`: name -> (length, modification time, contents), to show that a
/// refused update changed nothing.
pub fn snapshot(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (u64, std::time::SystemTime, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (
                    m.len(),
                    m.modified().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                ),
            )
        })
        .collect()
}
