//! pycos `udp.py`: a UDP server that answers each datagram, and clients that send some.
//!
//! ```text
//! cargo run --release --example udp
//! ```

use rycos::net::UdpSocket;
use std::io;

/// Runs a server and `clients` clients that each send `each` datagrams; returns the replies
/// the clients got.
pub fn run(clients: usize, each: usize) -> io::Result<Vec<String>> {
    rycos::block_on(async move {
        let server = UdpSocket::bind("127.0.0.1:0")?;
        let addr = server.local_addr()?;
        let total = clients * each;
        rycos::spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..total {
                let (n, from) = server.recv_from(&mut buf).await?;
                let reply = format!("echo {}", String::from_utf8_lossy(&buf[..n]));
                server.send_to(reply.as_bytes(), from).await?;
            }
            io::Result::Ok(())
        });
        let mut handles = Vec::new();
        for c in 0..clients {
            handles.push(rycos::spawn(async move {
                let sock = UdpSocket::bind("127.0.0.1:0")?;
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
    })
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    for reply in run(3, 3)? {
        println!("{reply}");
    }
    Ok(())
}
