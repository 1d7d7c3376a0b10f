//! pycos's "ping pong" web server benchmark, as an HTTP/1.x server that ordinary clients (curl,
//! `ab`, `wrk`, browsers) can rely on. Requests are parsed with `httparse`.
//!
//! ```text
//! cargo run --release --example webserver -- 127.0.0.1:8080
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ab -k -n 100000 -c 100 http://127.0.0.1:8080/
//! curl -d 'some body' http://127.0.0.1:8080/
//! ```
//!
//! What it honours:
//! - keep-alive by HTTP version: HTTP/1.1 keeps the connection unless `Connection: close`,
//!   HTTP/1.0 closes it unless `Connection: keep-alive`; the answer says which it does;
//! - request bodies, by `Content-Length` or `Transfer-Encoding: chunked` (read and counted, so
//!   the next request on the connection starts where the body ends), and `Expect: 100-continue`;
//! - pipelining: every complete request in what arrived is answered, in order, in one write;
//! - bad input: malformed requests, both `Content-Length` and `Transfer-Encoding`, a bad length
//!   get 400; headers over 16 KiB or over 64 fields get 431; then the connection closes
//!   (after a short drain, so the client reads the answer instead of a reset);
//! - idle keep-alive connections close after 30 s.
//!
//! GET and HEAD answer `pong`; a request with a body answers how many bytes it got.

#[path = "support/logging.rs"]
mod logging;

use rycos::net::{TcpListener, TcpStream};
use std::io;
use std::net::Shutdown;
use std::time::Duration;

/// Room for a request's head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A keep-alive connection with no new request for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// How long a closing connection reads (and drops) what the client still sends.
const LINGER: Duration = Duration::from_millis(500);

/// What one parsed request asks of the connection.
struct Head {
    len: usize,
    keep_alive: bool,
    http10: bool,
    head_only: bool,
    body: Body,
    expects_continue: bool,
}

enum Body {
    None,
    Length(u64),
    Chunked,
}

/// Why a request cannot be served; answered, then the connection closes.
#[derive(Debug)]
enum Refusal {
    BadRequest(&'static str),
    HeadTooLarge,
}

impl Refusal {
    fn response(&self) -> Vec<u8> {
        let (status, why) = match self {
            Refusal::BadRequest(why) => ("400 Bad Request", *why),
            Refusal::HeadTooLarge => ("431 Request Header Fields Too Large", "request head too large"),
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}\n",
            why.len() + 1
        )
        .into_bytes()
    }
}

/// Parses the request head at the start of `buf`: `Ok(None)` if it is not complete yet.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(Refusal::HeadTooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::HeadTooLarge),
        Err(_) => return Err(Refusal::BadRequest("malformed request")),
    };
    let http10 = request.version == Some(0);
    let mut keep_alive = !http10;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut expects_continue = false;
    for header in request.headers.iter() {
        let value =
            std::str::from_utf8(header.value).map_err(|_| Refusal::BadRequest("header is not text"))?;
        if header.name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.trim().parse().map_err(|_| Refusal::BadRequest("bad Content-Length"))?;
            if length.is_some_and(|m| m != n) {
                return Err(Refusal::BadRequest("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked` (last, as HTTP/1.1 requires) is understood.
            if !value.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")) {
                return Err(Refusal::BadRequest("unsupported Transfer-Encoding"));
            }
            chunked = true;
        } else if header.name.eq_ignore_ascii_case("expect") {
            expects_continue = value.trim().eq_ignore_ascii_case("100-continue");
        }
    }
    let body = match (length, chunked) {
        (Some(_), true) => return Err(Refusal::BadRequest("both Content-Length and Transfer-Encoding")),
        (Some(0), false) | (None, false) => Body::None,
        (Some(n), false) => Body::Length(n),
        (None, true) => Body::Chunked,
    };
    let head_only = request.method == Some("HEAD");
    Ok(Some(Head { len, keep_alive, http10, head_only, body, expects_continue }))
}

/// One connection's read side: a buffer and the socket behind it.
struct Reader<'a> {
    conn: &'a TcpStream,
    buf: Vec<u8>,
    /// `buf[start..end]` has arrived and is not consumed yet.
    start: usize,
    end: usize,
}

impl Reader<'_> {
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more; false at the end of the stream. Waits at most `limit`.
    async fn fill(&mut self, limit: Duration) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "buffer full"));
        }
        let read = rycos::time::timeout(limit, self.conn.read(&mut self.buf[self.end..])).await;
        let n = read.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client idle"))??;
        self.end += n;
        Ok(n > 0)
    }

    /// Reads and drops `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            if self.pending().is_empty() && !self.fill(IDLE).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = self.pending().len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// A line ending in CRLF (without it), for chunk sizes and trailers.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(at) = self.pending().windows(2).position(|w| w == b"\r\n") {
                let line = self.pending()[..at].to_vec();
                self.consume(at + 2);
                return Ok(line);
            }
            if self.pending().len() >= MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if !self.fill(IDLE).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads a chunked body to its end (trailers included); its size.
    async fn skip_chunked(&mut self) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let mut line = self.line().await?;
            line.extend_from_slice(b"\r\n");
            let size = match httparse::parse_chunk_size(&line) {
                Ok(httparse::Status::Complete((_, size))) => size,
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")),
            };
            if size == 0 {
                // Trailer fields, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(total);
            }
            self.skip(size).await?;
            if !self.line().await?.is_empty() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "chunk not followed by CRLF"));
            }
            total += size;
        }
    }
}

fn response(head: &Head, body: &str) -> Vec<u8> {
    let connection = match (head.keep_alive, head.http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{connection}\r\n",
        body.len()
    )
    .into_bytes();
    if !head.head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Serves requests on one connection until either side closes it; returns how many it answered.
pub async fn serve_connection(conn: TcpStream) -> io::Result<usize> {
    let mut reader = Reader { conn: &conn, buf: vec![0u8; MAX_HEAD], start: 0, end: 0 };
    let mut served = 0;
    let mut out = Vec::new();
    loop {
        // Answer every complete request that has arrived (pipelining), gathering the answers.
        let head = match parse_head(reader.pending()) {
            Ok(Some(head)) => head,
            Ok(None) => {
                flush(&conn, &mut out).await?;
                match reader.fill(IDLE).await {
                    Ok(true) => continue,
                    Ok(false) if reader.pending().is_empty() => return Ok(served),
                    Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Err(e) if e.kind() == io::ErrorKind::TimedOut && reader.pending().is_empty() => {
                        return Ok(served);
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(refusal) => {
                out.extend_from_slice(&refusal.response());
                flush(&conn, &mut out).await?;
                close_gently(&conn).await;
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{refusal:?}")));
            }
        };
        reader.consume(head.len);
        if head.expects_continue && !matches!(head.body, Body::None) {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            flush(&conn, &mut out).await?;
        }
        let received = match head.body {
            Body::None => None,
            Body::Length(n) => {
                if (reader.pending().len() as u64) < n {
                    // The body is still on its way: send what is answered so far first.
                    flush(&conn, &mut out).await?;
                }
                reader.skip(n).await?;
                Some(n)
            }
            Body::Chunked => {
                flush(&conn, &mut out).await?;
                Some(reader.skip_chunked().await?)
            }
        };
        let body = match received {
            None => "pong".to_owned(),
            Some(n) => format!("received {n} bytes\n"),
        };
        out.extend_from_slice(&response(&head, &body));
        served += 1;
        if !head.keep_alive {
            flush(&conn, &mut out).await?;
            close_gently(&conn).await;
            return Ok(served);
        }
    }
}

/// Writes the answers gathered so far.
async fn flush(conn: &TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        conn.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Ends the connection without losing the last answer: our side is shut for writing, and what
/// the client still sends is read and dropped for a moment, so the kernel does not answer it
/// with a reset that could destroy the answer in flight.
async fn close_gently(conn: &TcpStream) {
    let _ = conn.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = conn.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = rycos::time::timeout(LINGER, drain).await;
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (conn, _) = listener.accept().await?;
        conn.set_nodelay(true)?;
        rycos::spawn(serve_connection(conn));
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    rycos::block_on(async {
        let listener = TcpListener::bind_with_backlog(&addr, 4096)?;
        println!("web server on http://{}/", listener.local_addr()?);
        serve(listener).await
    })
}
