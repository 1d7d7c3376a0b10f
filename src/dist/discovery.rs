//! Finding peers on the local network (pycos `discover_peers`): a node announces itself by UDP
//! broadcast on the discovery port, and a node that hears an announcement from a node it has
//! no link to dials it (`docs/protocol.md`, "Discovery").
//!
//! An announcement is authenticated with the shared secret (HMAC-SHA256 over every byte
//! before the tag), and its tag is checked before any field is used: a stranger cannot make a
//! node dial an address of its choosing. A replayed announcement only makes a node dial the
//! real announcer, whose TCP handshake then proves itself or fails. Nothing else is trusted: a
//! discovered peer is linked through the same handshake as one dialled by hand.

use super::node::NodeInner;
use crate::net::UdpSocket;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The UDP port nodes announce themselves on unless told otherwise (pycos's, 9705).
pub const DEFAULT_DISCOVERY_PORT: u16 = 9705;

/// The IPv6 multicast group of discovery: link-local scope (like an IPv4 broadcast, it does
/// not cross routers), group id `ryco`.
pub const DISCOVERY_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x7279, 0x636f);

/// How often a node announces itself after the first announcements (at start, then half a
/// second and two seconds later, against a lost datagram).
pub const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);

const MAGIC: &[u8; 4] = b"RYCA";
/// The announcement layout's version (independent of the link protocol's).
const VERSION: u16 = 1;
const TAG: usize = 32;
/// The fixed fields: magic, version, incarnation, port, address kind, name length.
const FIXED: usize = 4 + 2 + 8 + 2 + 1 + 1;
/// The longest announcement: the fixed fields, an IPv6 address, a 255-byte name, the tag.
pub(crate) const MAX_ANNOUNCEMENT: usize = FIXED + 16 + 255 + TAG;

/// "Node `name`, incarnation `incarnation`, takes links on `port` (at `ip`, or at the address
/// this came from)."
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub(crate) incarnation: u64,
    /// The node's location as it calls itself (`name@addr`).
    pub(crate) name: String,
    pub(crate) port: u16,
    /// Where to dial, when the node was told its address (`NodeBuilder::advertise`); `None`:
    /// the source address of the datagram.
    pub(crate) ip: Option<IpAddr>,
}

/// Why a datagram on the discovery port was not an announcement to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not a rycos announcement at all (another program on the port).
    NotAnnouncement,
    /// Another layout version.
    Version(u16),
    /// The tag does not match: another secret, or forged.
    WrongSecret,
    /// Authenticated, yet its fields do not add up (a bug on the sender's side).
    Malformed(&'static str),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotAnnouncement => f.write_str("not a rycos announcement"),
            Refused::Version(v) => write!(f, "announcement version {v}, this node reads {VERSION}"),
            Refused::WrongSecret => {
                f.write_str("its tag does not match our secret (another secret, or forged)")
            }
            Refused::Malformed(what) => write!(f, "malformed announcement: {what}"),
        }
    }
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"rycos-announce-v1");
    mac
}

impl Announcement {
    /// The datagram, tagged with `secret`.
    pub(crate) fn encode(&self, secret: &[u8]) -> Vec<u8> {
        let name = &self.name.as_bytes()[..self.name.len().min(255)];
        let mut bytes = Vec::with_capacity(MAX_ANNOUNCEMENT);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&self.incarnation.to_le_bytes());
        bytes.extend_from_slice(&self.port.to_le_bytes());
        match self.ip {
            None => bytes.push(0),
            Some(IpAddr::V4(ip)) => {
                bytes.push(4);
                bytes.extend_from_slice(&ip.octets());
            }
            Some(IpAddr::V6(ip)) => {
                bytes.push(6);
                bytes.extend_from_slice(&ip.octets());
            }
        }
        bytes.push(name.len() as u8);
        bytes.extend_from_slice(name);
        let mut mac = mac(secret);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        bytes
    }

    /// Reads a datagram: the magic and version, then the tag (in constant time), and only then
    /// the fields.
    pub(crate) fn decode(datagram: &[u8], secret: &[u8]) -> Result<Announcement, Refused> {
        if datagram.len() < FIXED + TAG || datagram.len() > MAX_ANNOUNCEMENT || &datagram[..4] != MAGIC {
            return Err(Refused::NotAnnouncement);
        }
        let version = u16::from_le_bytes([datagram[4], datagram[5]]);
        if version != VERSION {
            return Err(Refused::Version(version));
        }
        let (signed, tag) = datagram.split_at(datagram.len() - TAG);
        let mut mac = mac(secret);
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| Refused::WrongSecret)?;

        let incarnation = u64::from_le_bytes(signed[6..14].try_into().expect("8 bytes"));
        let port = u16::from_le_bytes([signed[14], signed[15]]);
        let (ip, rest) = match signed[16] {
            0 => (None, &signed[17..]),
            // The address, and the name length after it.
            4 if signed.len() > 17 + 4 => {
                let octets: [u8; 4] = signed[17..21].try_into().expect("4 bytes");
                (Some(IpAddr::V4(Ipv4Addr::from(octets))), &signed[21..])
            }
            6 if signed.len() > 17 + 16 => {
                let octets: [u8; 16] = signed[17..33].try_into().expect("16 bytes");
                (Some(IpAddr::V6(Ipv6Addr::from(octets))), &signed[33..])
            }
            _ => return Err(Refused::Malformed("address kind")),
        };
        let (&len, name) = rest.split_first().ok_or(Refused::Malformed("no name length"))?;
        if name.len() != usize::from(len) {
            return Err(Refused::Malformed("name length"));
        }
        let name = std::str::from_utf8(name).map_err(|_| Refused::Malformed("name is not UTF-8"))?.to_owned();
        if incarnation == 0 || port == 0 {
            return Err(Refused::Malformed("incarnation or port 0"));
        }
        Ok(Announcement { incarnation, name, port, ip })
    }

    /// Where to dial the announcer, given where the datagram came from (an IPv6 link-local
    /// source keeps its interface).
    pub(crate) fn dial_addr(&self, from: SocketAddr) -> SocketAddr {
        match (self.ip, from) {
            (Some(ip), _) => SocketAddr::new(ip, self.port),
            (None, SocketAddr::V6(from)) => {
                SocketAddr::V6(std::net::SocketAddrV6::new(*from.ip(), self.port, 0, from.scope_id()))
            }
            (None, SocketAddr::V4(from)) => SocketAddr::new((*from.ip()).into(), self.port),
        }
    }
}

/// The addresses to broadcast an announcement to on `port`: every IPv4 interface's broadcast
/// address (loopback has none), or the limited broadcast address if the interfaces cannot be
/// listed.
pub(crate) fn broadcast_targets(port: u16) -> Vec<SocketAddr> {
    let mut targets: Vec<SocketAddr> = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .iter()
            .filter(|interface| !interface.is_loopback())
            .filter_map(|interface| match &interface.addr {
                if_addrs::IfAddr::V4(v4) => v4.broadcast.map(|b| SocketAddr::from((b, port))),
                if_addrs::IfAddr::V6(_) => None,
            })
            .collect(),
        Err(e) => {
            tracing::debug!(target: "rycos::dist", error = %e, "cannot list the interfaces: broadcasting to 255.255.255.255");
            vec![SocketAddr::from((Ipv4Addr::BROADCAST, port))]
        }
    };
    targets.sort();
    targets.dedup();
    targets
}

/// How a node takes part in discovery (`NodeBuilder::discovery` and its neighbours).
#[derive(Debug, Clone)]
pub(crate) struct DiscoveryConfig {
    pub(crate) port: u16,
    /// The IPv6 socket (multicast), or the IPv4 one (broadcast).
    pub(crate) v6: bool,
    /// Where announcements go; empty: every IPv4 interface's broadcast address, or the
    /// multicast group on every IPv6 interface, listed again for each round (interfaces come
    /// and go).
    pub(crate) targets: Vec<SocketAddr>,
    pub(crate) interval: Duration,
}

/// A discovery socket on `port`, shared with the other nodes of this host (`SO_REUSEADDR` and
/// `SO_REUSEPORT`: each gets every broadcast and multicast): for IPv4 on every address,
/// allowed to broadcast; for IPv6 (`v6`) on every address, joining [`DISCOVERY_GROUP_V6`] on
/// the interfaces that have IPv6 as it announces ([`join_new_interfaces`]).
pub(crate) fn bind(port: u16, v6: bool) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(if v6 { Domain::IPV6 } else { Domain::IPV4 }, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if v6 {
        socket.set_only_v6(true)?;
        socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    } else {
        socket.set_broadcast(true)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    }
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Joins the discovery group on every interface with IPv6 not joined yet (an interface that
/// came up, or got its link-local address, since the last round).
fn join_new_interfaces(socket: &UdpSocket, joined: &mut Vec<u32>) {
    for index in ipv6_interfaces() {
        if joined.contains(&index) {
            continue;
        }
        match socket.join_multicast_v6(&DISCOVERY_GROUP_V6, index) {
            Ok(()) => joined.push(index),
            // Joined by an earlier round whose list was stale: a member all the same.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => joined.push(index),
            Err(e) => tracing::debug!(target: "rycos::dist", index, error = %e,
                "discovery: cannot join the IPv6 group on an interface"),
        }
    }
}

/// The indexes of the interfaces with an IPv6 address, loopback left out.
fn ipv6_interfaces() -> Vec<u32> {
    let mut indexes: Vec<u32> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .iter()
        .filter(|interface| !interface.is_loopback() && interface.ip().is_ipv6())
        .filter_map(|interface| interface.index)
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// Reads announcements until the node shuts down (and closes the socket); each one that is
/// authentic and from a node not linked yet is dialled.
pub(crate) async fn listen(node: Weak<NodeInner>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; MAX_ANNOUNCEMENT + 1];
    loop {
        let received = socket.recv_from(&mut buf).await;
        let Some(node) = node.upgrade() else { return };
        if node.is_shut_down() {
            return;
        }
        let (len, from) = match received {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!(target: "rycos::dist", node = %node.location, error = %e, "discovery: receive failed");
                drop(node);
                crate::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match Announcement::decode(&buf[..len], node.secret()) {
            Ok(announcement) => node.discovered(announcement, from),
            Err(Refused::NotAnnouncement) => {}
            Err(why) => tracing::debug!(target: "rycos::dist", node = %node.location, %from,
                "discovery: an announcement was ignored: {why}"),
        }
    }
}

/// Announces the node: at once, half a second and two seconds later, then every `interval`,
/// until it shuts down.
pub(crate) async fn announce(node: Weak<NodeInner>, socket: Arc<UdpSocket>, config: DiscoveryConfig) {
    let datagram = match node.upgrade() {
        Some(node) => node.announcement(config.v6).encode(node.secret()),
        None => return,
    };
    let pauses = [Duration::ZERO, Duration::from_millis(500), Duration::from_millis(1500)];
    let mut joined = Vec::new();
    for round in 0usize.. {
        crate::time::sleep(pauses.get(round).copied().unwrap_or(config.interval)).await;
        match node.upgrade() {
            Some(node) if !node.is_shut_down() => {}
            _ => return,
        }
        if config.v6 {
            // Before announcing: whoever answers an announcement on an interface announces
            // there too.
            join_new_interfaces(&socket, &mut joined);
        }
        let targets = match (config.targets.is_empty(), config.v6) {
            (false, _) => config.targets.clone(),
            (true, false) => broadcast_targets(config.port),
            (true, true) => multicast_targets(config.port),
        };
        if targets.is_empty() {
            tracing::debug!(target: "rycos::dist", ipv6 = config.v6, "discovery: no interface to announce on");
        }
        for target in targets {
            if let Err(e) = socket.send_to(&datagram, target).await {
                tracing::debug!(target: "rycos::dist", %target, error = %e, "discovery: announcement not sent");
            }
        }
    }
}

/// The IPv6 group on `port` once per interface that has IPv6 (the scope picks the interface).
pub(crate) fn multicast_targets(port: u16) -> Vec<SocketAddr> {
    ipv6_interfaces()
        .into_iter()
        .map(|index| SocketAddr::V6(std::net::SocketAddrV6::new(DISCOVERY_GROUP_V6, port, 0, index)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ip: Option<IpAddr>) -> Announcement {
        Announcement { incarnation: 0x1234_5678_9abc, name: "alpha@10.0.0.1:9705".into(), port: 9705, ip }
    }

    #[test]
    fn an_announcement_round_trips_with_the_same_secret() {
        for ip in [None, Some("10.1.2.3".parse().unwrap()), Some("fe80::1".parse().unwrap())] {
            let bytes = sample(ip).encode(b"secret");
            assert!(bytes.len() <= MAX_ANNOUNCEMENT);
            assert_eq!(Announcement::decode(&bytes, b"secret"), Ok(sample(ip)));
        }
        let from: SocketAddr = "10.9.9.9:40000".parse().unwrap();
        assert_eq!(sample(None).dial_addr(from), "10.9.9.9:9705".parse().unwrap());
        assert_eq!(
            sample(Some("10.1.2.3".parse().unwrap())).dial_addr(from),
            "10.1.2.3:9705".parse().unwrap()
        );
    }

    #[test]
    fn another_secret_or_any_changed_byte_is_refused() {
        let bytes = sample(None).encode(b"secret");
        assert_eq!(Announcement::decode(&bytes, b"other"), Err(Refused::WrongSecret));
        assert_eq!(Announcement::decode(&bytes, b""), Err(Refused::WrongSecret));
        for at in 6..bytes.len() {
            let mut forged = bytes.clone();
            forged[at] ^= 0x01;
            assert_eq!(
                Announcement::decode(&forged, b"secret"),
                Err(Refused::WrongSecret),
                "byte {at} flipped"
            );
        }
        // A stranger who rewrites the port or address must also forge the tag.
        let mut redirected = sample(Some("203.0.113.7".parse().unwrap())).encode(b"guess");
        redirected.truncate(redirected.len() - TAG);
        redirected.extend_from_slice(&[0; TAG]);
        assert_eq!(Announcement::decode(&redirected, b"secret"), Err(Refused::WrongSecret));
    }

    #[test]
    fn other_datagrams_are_not_announcements() {
        assert_eq!(Announcement::decode(b"", b"s"), Err(Refused::NotAnnouncement));
        assert_eq!(Announcement::decode(&[0xff; 100], b"s"), Err(Refused::NotAnnouncement));
        assert_eq!(Announcement::decode(&[0; MAX_ANNOUNCEMENT + 1], b"s"), Err(Refused::NotAnnouncement));
        let mut newer = sample(None).encode(b"s");
        newer[4] = 2;
        assert_eq!(Announcement::decode(&newer, b"s"), Err(Refused::Version(2)));
        for cut in 0..newer.len() {
            assert!(Announcement::decode(&sample(None).encode(b"s")[..cut], b"s").is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn authenticated_but_inconsistent_fields_are_malformed() {
        // Built by hand and tagged correctly: the checks after the tag still hold.
        let tagged = |mut body: Vec<u8>| {
            let mut mac = mac(b"s");
            mac.update(&body);
            body.extend_from_slice(&mac.finalize().into_bytes());
            body
        };
        let head = |kind: u8| {
            let mut body = MAGIC.to_vec();
            body.extend_from_slice(&VERSION.to_le_bytes());
            body.extend_from_slice(&7u64.to_le_bytes());
            body.extend_from_slice(&9705u16.to_le_bytes());
            body.push(kind);
            body
        };
        let mut bad_kind = head(5);
        bad_kind.extend_from_slice(&[1, b'a']);
        assert_eq!(Announcement::decode(&tagged(bad_kind), b"s"), Err(Refused::Malformed("address kind")));
        let mut bad_len = head(0);
        bad_len.extend_from_slice(&[9, b'a']);
        assert_eq!(Announcement::decode(&tagged(bad_len), b"s"), Err(Refused::Malformed("name length")));
    }
}
