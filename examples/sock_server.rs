//! pycos `sock_server.py`: a server that receives length-prefixed messages from clients and
//! answers each with an acknowledgement. Run `sock_client` against it.
//!
//! ```text
//! cargo run --release --example sock_server -- 127.0.0.1:8010
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::net::{TcpListener, TcpStream};
use std::io;

/// Serves one client: every message gets back "ack: <message>"; returns how many it got.
pub async fn serve_client(conn: TcpStream) -> io::Result<usize> {
    let mut received = 0;
    loop {
        match conn.recv_msg().await {
            Ok(msg) => {
                received += 1;
                let mut reply = b"ack: ".to_vec();
                reply.extend_from_slice(&msg);
                conn.send_msg(&reply).await?;
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(received),
            Err(e) => return Err(e),
        }
    }
}

/// Accepts clients forever, one task each.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (conn, peer) = listener.accept().await?;
        rycos::spawn(async move {
            match serve_client(conn).await {
                Ok(n) => println!("{peer}: {n} messages"),
                Err(e) => println!("{peer}: {e}"),
            }
        });
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8010".into());
    rycos::block_on(async {
        let listener = TcpListener::bind(&addr)?;
        println!("sock_server listening on {}", listener.local_addr()?);
        serve(listener).await
    })
}
