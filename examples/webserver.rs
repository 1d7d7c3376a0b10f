//! pycos's "ping pong" web server benchmark: answers every HTTP request with a short body,
//! keeping connections alive. Requests are parsed with `httparse`.
//!
//! ```text
//! cargo run --release --example webserver -- 127.0.0.1:8080
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ```

use rycos::net::{TcpListener, TcpStream};
use std::io;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\npong";

/// Serves requests on one connection until the client closes it; returns how many.
pub async fn serve_connection(conn: TcpStream) -> io::Result<usize> {
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut served = 0;
    loop {
        // Answer every complete request in the buffer (pipelining).
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&buf[..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    conn.write_all(RESPONSE).await?;
                    served += 1;
                    buf.copy_within(len..filled, 0);
                    filled -= len;
                }
                Ok(httparse::Status::Partial) => break,
                Err(e) => {
                    conn.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await?;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
        }
        if filled == buf.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request headers too large"));
        }
        let n = conn.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(served);
        }
        filled += n;
    }
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
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    rycos::block_on(async {
        let listener = TcpListener::bind_with_backlog(&addr, 4096)?;
        println!("web server on http://{}/", listener.local_addr()?);
        serve(listener).await
    })
}
