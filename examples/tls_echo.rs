//! A TLS echo server and client. A throwaway CA and a certificate for `localhost` are created at
//! start and loaded from PEM files, as a real deployment would.
//!
//! ```text
//! cargo run --release --example tls_echo                        # server and client in one process
//! cargo run --release --example tls_echo -- --serve 127.0.0.1:9443 --pki /tmp/rycos-pki
//! openssl s_client -connect 127.0.0.1:9443 -CAfile /tmp/rycos-pki/ca.pem -servername localhost
//! ```
//!
//! With `--serve` the server runs until killed, echoing every connection, and leaves its PEM
//! files (the CA to trust is `ca.pem`) in the `--pki` directory.

#[path = "support/logging.rs"]
mod logging;

#[path = "support/certs.rs"]
#[allow(dead_code)]
mod certs;

use clap::Parser;
use rycos::net::{TcpListener, TcpStream};
use rycos::tls::{TlsAcceptor, TlsConnector};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Echoes one TLS connection until the client closes it.
async fn echo(acceptor: TlsAcceptor, tcp: TcpStream) -> io::Result<()> {
    let mut tls = acceptor.accept(tcp).await?;
    let mut buf = [0u8; 4096];
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // the client sent close_notify
        }
        tls.write_all(&buf[..n]).await?;
    }
}

/// Accepts TLS connections on `listener` and echoes each in a task of its own, forever.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        rycos::spawn(echo(acceptor.clone(), tcp));
    }
}

/// The server's acceptor, from the PEM files of `pki`, offering ALPN `echo`.
pub fn acceptor(pki: &certs::Pki) -> io::Result<TlsAcceptor> {
    TlsAcceptor::builder(&pki.server_chain, &pki.server_key).alpn(["echo"]).build()
}

/// Sends `messages` over one TLS connection to `addr` (trusting `pki`'s CA); the echoes.
pub async fn client(addr: SocketAddr, pki: &certs::Pki, messages: &[&str]) -> io::Result<Vec<String>> {
    let connector = TlsConnector::builder().root_certificates(&pki.ca)?.alpn(["echo"]).build()?;
    let mut tls = connector.connect("localhost", TcpStream::connect(addr).await?).await?;
    println!("connected, ALPN {:?}", tls.alpn_protocol().map(String::from_utf8_lossy));
    let mut replies = Vec::new();
    for m in messages {
        tls.write_all(m.as_bytes()).await?;
        let mut back = vec![0u8; m.len()];
        tls.read_exact(&mut back).await?;
        replies.push(String::from_utf8_lossy(&back).into_owned());
    }
    tls.shutdown().await?;
    Ok(replies)
}

/// Echoes `messages` through a TLS server on an ephemeral port; returns the replies.
pub async fn run(messages: &[&str]) -> io::Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("rycos-tls-echo-{}", std::process::id()));
    let pki = certs::generate(&dir);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = rycos::spawn(serve(listener, acceptor(&pki)?));
    let replies = client(addr, &pki, messages).await;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    replies
}

#[derive(Parser)]
#[command(about = "A TLS echo server and client")]
struct Args {
    /// Run only the server, on this address, until killed.
    #[arg(long, value_name = "ADDR")]
    serve: Option<SocketAddr>,
    /// Where the server writes its CA, certificate and key (with --serve).
    #[arg(long, value_name = "DIR", default_value = "rycos-pki")]
    pki: PathBuf,
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let args = Args::parse();
    rycos::block_on(async {
        let Some(addr) = args.serve else {
            for reply in run(&["hello", "over", "tls"]).await? {
                println!("echo: {reply}");
            }
            return Ok(());
        };
        let pki = certs::generate(&args.pki);
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        println!("TLS echo server on {addr}; trust {}", pki.ca.display());
        println!("try: openssl s_client -connect {addr} -CAfile {} -servername localhost", pki.ca.display());
        serve(listener, acceptor(&pki)?).await
    })
}
