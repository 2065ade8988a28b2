//! Bounded reading: a peekable buffer for sniffing, and a line splitter that never holds more
//! than one line's worth (capped) of a line in memory, however long the line is.

use std::io::{self, BufRead, Read};

use super::FeedError;

/// Size of the read buffer, and the most that [`Source::peek`] can look ahead.
pub(crate) const BUF_LEN: usize = 64 * 1024;

/// A buffered reader that can look ahead without consuming (for format sniffing).
pub(crate) struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Source<R> {
        Source {
            inner,
            buf: vec![0; BUF_LEN],
            pos: 0,
            end: 0,
            eof: false,
        }
    }

    /// Buffers at least `n` bytes (at most [`BUF_LEN`]) unless the input ends first, and
    /// returns everything buffered. Nothing is consumed.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(BUF_LEN);
        if self.end - self.pos < n && self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while !self.eof && self.end - self.pos < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// Whether the input is known to end within what is buffered.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.end && !self.eof {
            self.pos = 0;
            self.end = 0;
            match self.inner.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end = k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }
}

/// Counts consumed input against the size cap.
#[derive(Debug)]
pub(crate) struct Meter {
    consumed: u64,
    limit: u64,
}

impl Meter {
    pub(crate) fn new(limit: u64) -> Meter {
        Meter { consumed: 0, limit }
    }

    /// Records `n` more bytes; fails once the total passes the limit.
    pub(crate) fn add(&mut self, n: usize) -> Result<(), FeedError> {
        self.consumed = self.consumed.saturating_add(n as u64);
        if self.consumed > self.limit {
            return Err(FeedError::new(super::FeedErrorKind::TooLarge {
                limit: self.limit,
            }));
        }
        Ok(())
    }
}

/// One line as read: its bytes (without `\n` or `\r\n`), or a note that it was too long.
pub(crate) enum RawLine<'a> {
    Text(&'a [u8]),
    TooLong,
}

/// Splits a byte stream into lines of at most `max` bytes each, holding no more than that.
pub(crate) struct LineReader<R> {
    src: R,
    meter: Meter,
    max: usize,
    line: Vec<u8>,
    number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(src: R, max_line: usize, max_input: u64) -> LineReader<R> {
        LineReader {
            src,
            meter: Meter::new(max_input),
            max: max_line,
            line: Vec::new(),
            number: 0,
        }
    }

    /// How much memory the line buffer holds (for tests of the memory bound).
    #[cfg(test)]
    pub(crate) fn line_capacity(&self) -> usize {
        self.line.capacity()
    }

    /// The next line and its 1-based number, or `None` at the end of input. A final line
    /// without `\n` is a line.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, RawLine<'_>)>, FeedError> {
        self.line.clear();
        let mut too_long = false;
        let mut any = false;
        // Keep one byte beyond the cap so a `\r` before `\n` does not count against it.
        let keep = self.max.saturating_add(1);
        loop {
            let avail = self.src.fill_buf().map_err(FeedError::from)?;
            if avail.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            if !too_long {
                if self.line.len() + chunk.len() > keep {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            self.src.consume(used);
            self.meter.add(used)?;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if too_long || self.line.len() > self.max {
            self.line.clear();
            return Ok(Some((self.number, RawLine::TooLong)));
        }
        Ok(Some((self.number, RawLine::Text(&self.line))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut r = LineReader::new(Source::new(input), max, u64::MAX);
        let mut out = Vec::new();
        while let Some((_, l)) = r.next_line().unwrap() {
            out.push(match l {
                RawLine::Text(t) => Some(t.to_vec()),
                RawLine::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn splits_lf_crlf_and_final_line() {
        let got = lines(b"a\r\nbb\n\nc", 10);
        assert_eq!(
            got,
            [
                Some(b"a".to_vec()),
                Some(b"bb".to_vec()),
                Some(vec![]),
                Some(b"c".to_vec())
            ]
        );
        assert_eq!(lines(b"", 10), Vec::<Option<Vec<u8>>>::new());
        assert_eq!(lines(b"x\n", 10), [Some(b"x".to_vec())]);
    }

    #[test]
    fn cap_is_exact() {
        assert_eq!(lines(b"abc\n", 3), [Some(b"abc".to_vec())]);
        assert_eq!(lines(b"abc\r\n", 3), [Some(b"abc".to_vec())]);
        assert_eq!(lines(b"abcd\nef", 3), [None, Some(b"ef".to_vec())]);
        assert_eq!(lines(b"abcd", 3), [None]);
    }

    #[test]
    fn long_line_spanning_many_buffers() {
        let mut input = vec![b'a'; BUF_LEN * 3 + 17];
        input.extend_from_slice(b"\n1.2.3.4\n");
        assert_eq!(lines(&input, 100), [None, Some(b"1.2.3.4".to_vec())]);
    }

    #[test]
    fn peek_does_not_consume() {
        let mut s = Source::new(&b"hello world"[..]);
        assert_eq!(s.peek(100).unwrap(), b"hello world");
        assert!(s.at_eof());
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world");
    }

    #[test]
    fn meter_caps_input() {
        let mut r = LineReader::new(Source::new(&b"1\n2\n3\n"[..]), 10, 4);
        assert!(r.next_line().is_ok());
        assert!(r.next_line().is_ok());
        assert!(matches!(
            r.next_line().map_err(|e| e.kind()),
            Err(super::super::FeedErrorKind::TooLarge { limit: 4 })
        ));
    }
}
