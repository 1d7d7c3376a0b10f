//! UDP: [`UdpSocket`].

use crate::io::Async;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket.
///
/// ```
/// use rycos::net::UdpSocket;
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Async<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Registers a standard-library socket.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket { io: Async::new(socket)? })
    }

    /// Sets the default destination (and filters what `recv` gets to that peer).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.io.get_ref().connect(addr)
    }

    /// Sends a datagram to `addr`.
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to nothing"))?;
        self.io.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives a datagram and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    /// Receives a datagram without removing it.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.peek_from(buf)).await
    }

    /// Sends a datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Allows or forbids sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Joins the IPv4 multicast group `group` on the interface with address `interface`
    /// (`0.0.0.0`: the system's choice).
    pub fn join_multicast_v4(
        &self,
        group: &std::net::Ipv4Addr,
        interface: &std::net::Ipv4Addr,
    ) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(group, interface)
    }

    /// Joins the IPv6 multicast group `group` on the interface with index `interface` (0: the
    /// system's choice).
    pub fn join_multicast_v6(&self, group: &std::net::Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(group, interface)
    }

    /// Leaves a group joined with [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, group: &std::net::Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(group, interface)
    }

    /// Fails pending and later operations with `NotConnected`.
    pub fn close(&self) {
        self.io.close();
    }

    /// Deregisters and returns the standard-library socket (still non-blocking).
    pub fn into_std(self) -> std::net::UdpSocket {
        self.io.into_inner()
    }
}
