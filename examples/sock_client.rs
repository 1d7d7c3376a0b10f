//! pycos `sock_client.py`: sends a few messages to `sock_server` and prints the replies.
//!
//! ```text
//! cargo run --release --example sock_client -- 127.0.0.1:8010 5
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::net::TcpStream;
use std::io;
use std::net::SocketAddr;

/// Sends `count` messages and returns the replies.
pub async fn run(server: SocketAddr, count: usize) -> io::Result<Vec<String>> {
    let conn = TcpStream::connect(server).await?;
    let mut replies = Vec::with_capacity(count);
    for i in 0..count {
        conn.send_msg(format!("message {i}").as_bytes()).await?;
        replies.push(String::from_utf8_lossy(&conn.recv_msg().await?).into_owned());
    }
    Ok(replies)
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "127.0.0.1:8010".into());
    let count = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let server = server.parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    for reply in rycos::block_on(run(server, count))? {
        println!("{reply}");
    }
    Ok(())
}
