//! A TLS echo server and client. A throwaway CA and a certificate for `localhost` are created at
//! start (in a temporary directory) and loaded from PEM files, as a real deployment would.
//!
//! ```text
//! cargo run --release --example tls_echo
//! ```

#[path = "support/certs.rs"]
#[allow(dead_code)]
mod certs;

use rycos::net::{TcpListener, TcpStream};
use rycos::tls::{TlsAcceptor, TlsConnector};
use std::io;

/// Echoes `messages` through a TLS server; returns the replies.
pub fn run(messages: &[&str]) -> io::Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("rycos-tls-echo-{}", std::process::id()));
    let pki = certs::generate(&dir);
    let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
    let replies = rycos::block_on(async move {
        let acceptor = TlsAcceptor::builder(&pki.server_chain, &pki.server_key).alpn(["echo"]).build()?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = rycos::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut tls = acceptor.accept(tcp).await?;
            let mut buf = [0u8; 4096];
            loop {
                let n = tls.read(&mut buf).await?;
                if n == 0 {
                    return io::Result::Ok(()); // the client sent close_notify
                }
                tls.write_all(&buf[..n]).await?;
            }
        });
        let connector = TlsConnector::builder().root_certificates(&pki.ca)?.alpn(["echo"]).build()?;
        let mut tls = connector.connect("localhost", TcpStream::connect(addr).await?).await?;
        println!("connected, ALPN {:?}", tls.alpn_protocol().map(String::from_utf8_lossy));
        let mut replies = Vec::new();
        for m in &messages {
            tls.write_all(m.as_bytes()).await?;
            let mut back = vec![0u8; m.len()];
            tls.read_exact(&mut back).await?;
            replies.push(String::from_utf8_lossy(&back).into_owned());
        }
        tls.shutdown().await?;
        server.await.map_err(io::Error::from)??;
        io::Result::Ok(replies)
    });
    let _ = std::fs::remove_dir_all(&dir);
    replies
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    for reply in run(&["hello", "over", "tls"])? {
        println!("echo: {reply}");
    }
    Ok(())
}
