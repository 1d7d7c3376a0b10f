//! pycos `udp.py`: a UDP server that answers each datagram, and clients that send some.
//!
//! ```text
//! cargo run --release --example udp                              # server and 3 clients in one process
//! cargo run --release --example udp -- --serve 127.0.0.1:9000    # only the server, until killed
//! socat - UDP:127.0.0.1:9000                                     # ...and any client: type a line
//! cargo run --release --example udp -- --connect 127.0.0.1:9000  # only the clients
//! ```

#[path = "support/logging.rs"]
mod logging;

use clap::Parser;
use rycos::net::UdpSocket;
use std::io;
use std::net::SocketAddr;

/// Answers every datagram with `echo ` and its text, forever (or until an error).
pub async fn serve(server: UdpSocket) -> io::Result<()> {
    let mut buf = [0u8; 65_536];
    loop {
        let (n, from) = server.recv_from(&mut buf).await?;
        let reply = format!("echo {}", String::from_utf8_lossy(&buf[..n]));
        server.send_to(reply.as_bytes(), from).await?;
    }
}

/// `clients` clients that each send `each` datagrams to `addr` and wait for each answer; the
/// answers.
pub async fn clients(addr: SocketAddr, clients: usize, each: usize) -> io::Result<Vec<String>> {
    let mut handles = Vec::new();
    for c in 0..clients {
        handles.push(rycos::spawn(async move {
            let sock = UdpSocket::bind(if addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" })?;
            sock.connect(addr)?;
            let mut replies = Vec::new();
            let mut buf = [0u8; 1500];
            for i in 0..each {
                sock.send(format!("client {c} datagram {i}").as_bytes()).await?;
                let n = sock.recv(&mut buf).await?;
                replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            io::Result::Ok(replies)
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.map_err(io::Error::from)??);
    }
    Ok(all)
}

/// A server on an ephemeral port and `clients` clients against it; the clients' answers.
pub async fn run(clients_count: usize, each: usize) -> io::Result<Vec<String>> {
    let server = UdpSocket::bind("127.0.0.1:0")?;
    let addr = server.local_addr()?;
    let serving = rycos::spawn(serve(server));
    let replies = clients(addr, clients_count, each).await;
    serving.abort();
    replies
}

#[derive(Parser)]
#[command(about = "pycos udp.py: a UDP echo server and its clients")]
struct Args {
    /// Run only the server, on this address, until killed.
    #[arg(long, value_name = "ADDR", conflicts_with = "connect")]
    serve: Option<SocketAddr>,
    /// Run only the clients, against a server at this address.
    #[arg(long, value_name = "ADDR")]
    connect: Option<SocketAddr>,
    /// Clients, and datagrams each.
    #[arg(long, default_value_t = 3)]
    clients: usize,
    #[arg(long, default_value_t = 3)]
    each: usize,
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let args = Args::parse();
    rycos::block_on(async {
        let replies = match (args.serve, args.connect) {
            (Some(addr), _) => {
                let server = UdpSocket::bind(addr)?;
                println!("udp echo server on {}", server.local_addr()?);
                return serve(server).await;
            }
            (None, Some(addr)) => clients(addr, args.clients, args.each).await?,
            (None, None) => run(args.clients, args.each).await?,
        };
        for reply in replies {
            println!("{reply}");
        }
        Ok(())
    })
}
