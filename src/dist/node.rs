//! The node (pycos `netpycos.Pycos`): a process's presence in a rycos network. It listens,
//! dials, authenticates peers (`handshake`), keeps one [`Link`] per peer incarnation, and
//! routes what arrives on the links: sends and delivers to exported tasks, locate questions
//! and answers (`names.rs`), terminate, monitors and exits.

use super::discovery::{self, Announcement, DiscoveryConfig};
use super::envelope::{Delivered, Ending, Envelope};
use super::handshake::{self, HandshakeError, Identity, Peer, Role};
use super::link::{DownHandler, DownReason, FrameHandler, Frames, Handlers, Link, LinkConfig, Redial};
use super::location::{DEFAULT_PORT, Location, LocationError};
use super::names::Answer;
use super::remote::{self, Export};
use super::wire::Wire;
use crate::net::{TcpListener, TcpStream, UdpSocket};
use crate::runtime::Handle;
use crate::task::extras::HookToken;
use crate::task::{AnyTaskRef, NodeId, TaskId, TaskRef};
use crate::tls::{TlsAcceptor, TlsConnector};
use futures_channel::mpsc;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

/// A node: listens for peers, links to them, and makes the tasks of this process reachable
/// from theirs. Cheap to clone (a handle); [`shutdown`](Node::shutdown) ends it.
///
/// ```
/// use rycos::dist::Node;
/// use std::time::Duration;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listen = "127.0.0.1:0".parse().unwrap();
///     let a = Node::builder().name("a").listen(listen).secret("s3cret").start().await.unwrap();
///     let b = Node::builder().name("b").listen(listen).secret("s3cret").start().await.unwrap();
///
///     let echo = rycos::spawn_task(|cx: rycos::Cx<(String, rycos::TaskRef<String>)>| async move {
///         while let Some((text, reply)) = cx.receive().await {
///             let _ = reply.send(text.to_uppercase());
///         }
///     });
///     a.register("echo", &echo).unwrap();
///
///     b.peer(a.location().addr()).await.unwrap();
///     let remote = b.locate::<(String, rycos::TaskRef<String>)>("echo", Duration::from_secs(5)).await.unwrap();
///     assert!(!remote.is_local());
///     let (_, answer) = rycos::spawn_task_joinable(move |cx: rycos::Cx<String>| async move {
///         remote.send(("hello".into(), cx.me())).unwrap();
///         cx.receive().await
///     });
///     assert_eq!(answer.await.unwrap().as_deref(), Some("HELLO"));
///     a.shutdown().await;
///     b.shutdown().await;
/// });
/// ```
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

/// What [`Node::shutdown`] returns: completes once every link the shutdown closed has written
/// its last frames and closed its connection. The shutdown itself has happened already; dropping
/// this only stops waiting.
#[must_use = "the node is shut down already; await this to wait until what was sent is written"]
pub struct Shutdown(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shutdown")
    }
}

/// The node's state, shared by its handles, its links' tasks and the remote references made
/// through it.
pub(crate) struct NodeInner {
    /// This incarnation.
    pub(crate) id: NodeId,
    pub(crate) location: Location,
    identity: Identity,
    secret: Vec<u8>,
    pub(crate) link_config: LinkConfig,
    handshake_timeout: Duration,
    connect_timeout: Duration,
    outbound_limit: usize,
    /// The largest envelope a link sends or accepts.
    max_message: usize,
    /// The runtime the node's tasks run on.
    pub(crate) runtime: Handle,
    /// One link per peer incarnation.
    links: Mutex<HashMap<NodeId, Arc<Link>>>,
    /// Tasks of this node that peers may reach, by task id.
    pub(crate) exports: Mutex<HashMap<u64, Export, foldhash::fast::RandomState>>,
    /// Names peers can locate: name → exported task id.
    pub(crate) names: Mutex<HashMap<String, u64>>,
    /// Locates waiting for answers, by request number.
    pub(crate) locates: Mutex<HashMap<u64, mpsc::UnboundedSender<(NodeId, Answer)>>>,
    pub(crate) next_request: AtomicU64,
    /// Monitors peers hold on tasks of this node: (peer, its monitor number) → the task and
    /// the exit hook that tells the peer.
    watched: Mutex<HashMap<(NodeId, u64), (AnyTaskRef, HookToken)>>,
    /// Subscribers to peer events.
    events: Mutex<Vec<mpsc::UnboundedSender<PeerEvent>>>,
    listeners: Mutex<Vec<Arc<TcpListener>>>,
    /// The discovery sockets (IPv4 broadcast, IPv6 multicast), closed at shutdown.
    discovery: Mutex<Vec<Arc<UdpSocket>>>,
    /// The port of the first listener of each family (IPv4, IPv6): what announcements give.
    ports: (Option<u16>, Option<u16>),
    /// Incarnations heard of by discovery that a dial is under way to.
    discovering: Mutex<HashSet<NodeId>>,
    /// Whether peers are told our address (`NodeBuilder::advertise`), or take the announcement's
    /// source address.
    advertised: bool,
    /// TLS under every link, if configured.
    tls: Option<NodeTls>,
    shut_down: AtomicBool,
}

/// Settings of a node; [`Node::builder`] starts with the defaults.
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    name: Option<String>,
    listen: Vec<SocketAddr>,
    advertise: Option<SocketAddr>,
    secret: Vec<u8>,
    peers: Vec<String>,
    heartbeat: Duration,
    misses: u32,
    grace: Duration,
    outbound_limit: usize,
    max_frame: usize,
    max_message: usize,
    handshake_timeout: Duration,
    connect_timeout: Duration,
    runtime: Option<Handle>,
    /// Certificate chain, private key and the CA that signs peers' certificates.
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
    tls_server_name: Option<String>,
    /// `None`: on unless static peers are given or every listen address is loopback.
    discovery: Option<bool>,
    discovery_port: u16,
    discovery_targets: Vec<SocketAddr>,
    discovery_interval: Duration,
}

/// Why a node did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// A listen address could not be bound.
    Bind(SocketAddr, io::Error),
    /// The name and advertised address do not make a location (too long, say).
    Location(LocationError),
    /// `start` was called outside a runtime and no runtime was given.
    NoRuntime,
    /// The discovery port could not be bound.
    Discovery(u16, io::Error),
    /// The TLS certificates or key could not be read or do not fit together.
    Tls(io::Error),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Bind(addr, e) => write!(f, "could not listen on {addr}: {e}"),
            NodeError::Location(e) => write!(f, "bad node location: {e}"),
            NodeError::NoRuntime => {
                f.write_str("a node starts inside a runtime (or give one with `runtime`)")
            }
            NodeError::Discovery(port, e) => write!(f, "could not bind the discovery port {port} (UDP): {e}"),
            NodeError::Tls(e) => write!(f, "bad TLS settings: {e}"),
        }
    }
}

impl std::error::Error for NodeError {}

/// Why [`Node::peer`] did not link to a peer.
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerError {
    /// The address did not resolve, or the connection failed.
    Connect(String, io::Error),
    /// The handshake failed (wrong secret, another protocol, not a rycos node, ...).
    Handshake(HandshakeError),
    /// The TLS handshake under the link failed (a certificate no CA of ours signed, a peer
    /// that does not speak TLS, a name the certificate does not carry, ...).
    Tls(io::Error),
    /// The peer's hello does not carry a valid location or incarnation.
    BadPeer(String),
    /// The address is this node's own.
    Itself,
    /// This node has shut down.
    ShutDown,
    /// The connection was made but the link went down at once (why).
    Down(String),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Connect(addr, e) => write!(f, "could not connect to {addr}: {e}"),
            PeerError::Handshake(e) => write!(f, "handshake failed: {e}"),
            PeerError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            PeerError::BadPeer(why) => write!(f, "the peer's hello is unusable: {why}"),
            PeerError::Itself => f.write_str("that address is this node's own"),
            PeerError::ShutDown => f.write_str("this node has shut down"),
            PeerError::Down(why) => write!(f, "the link went down at once: {why}"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<HandshakeError> for PeerError {
    fn from(e: HandshakeError) -> Self {
        PeerError::Handshake(e)
    }
}

/// A peer came or went (pycos `peer_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerEvent {
    /// A link to the peer is up.
    Up(Location),
    /// The peer is down: its connection broke, it stopped answering heartbeats, or it was
    /// closed; `why` says which. Its tasks' monitors got `ExitReason::NoConnection`.
    Down {
        /// The peer.
        location: Location,
        /// What happened.
        why: String,
    },
}

/// The peer events of a node, from the moment [`Node::peer_events`] was called: a
/// `futures_core::Stream`, or [`next`](PeerEvents::next) for the next one. Ends when the node
/// shuts down.
pub struct PeerEvents(mpsc::UnboundedReceiver<PeerEvent>);

impl fmt::Debug for PeerEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerEvents(..)")
    }
}

impl PeerEvents {
    /// The next event; `None` once the node has shut down.
    pub async fn next(&mut self) -> Option<PeerEvent> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut self.0), cx)).await
    }
}

impl futures_core::Stream for PeerEvents {
    type Item = PeerEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PeerEvent>> {
        futures_core::Stream::poll_next(Pin::new(&mut self.0), cx)
    }
}

/// The default time between heartbeats on an idle link.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// Heartbeats a peer may miss before it is down.
pub const DEFAULT_MISSES: u32 = 5;
/// How long a link whose connection broke waits for another, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// The default outbound buffer limit per link: sends beyond it fail with `Full`.
pub const DEFAULT_OUTBOUND_LIMIT: usize = 64 << 20;

impl Default for NodeBuilder {
    fn default() -> Self {
        NodeBuilder {
            name: None,
            listen: Vec::new(),
            advertise: None,
            secret: Vec::new(),
            peers: Vec::new(),
            heartbeat: DEFAULT_HEARTBEAT,
            misses: DEFAULT_MISSES,
            grace: DEFAULT_GRACE,
            outbound_limit: DEFAULT_OUTBOUND_LIMIT,
            max_frame: super::frame::DEFAULT_MAX_FRAME,
            max_message: super::chunk::DEFAULT_MAX_MESSAGE,
            handshake_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            runtime: None,
            tls: None,
            tls_server_name: None,
            discovery: None,
            discovery_port: discovery::DEFAULT_DISCOVERY_PORT,
            discovery_targets: Vec::new(),
            discovery_interval: discovery::DEFAULT_DISCOVERY_INTERVAL,
        }
    }
}

impl NodeBuilder {
    /// The node's name (default: the host name and the process id, `host-1234`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a TCP address to listen on (IPv4 or IPv6; port 0 picks a free one). Default: every
    /// IPv4 interface on [`DEFAULT_PORT`] (9705, pycos's).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// The address peers are told to reach this node at, when it is not the listen address (a
    /// NAT or a container's published port; pycos `ext_host`).
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// The shared secret peers prove they know (HMAC-SHA256; it never crosses the wire).
    /// Default: none, which links only to peers without one either.
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = secret.as_ref().to_vec();
        self
    }

    /// A peer to link to at start (`host:port`, resolved again on every attempt), retried with
    /// backoff until it answers or the node shuts down.
    pub fn peer(mut self, addr: impl Into<String>) -> Self {
        self.peers.push(addr.into());
        self
    }

    /// Time between heartbeats on an idle link (default 1 s), and how many a peer may miss
    /// before it is down (default 5).
    pub fn heartbeat(mut self, every: Duration, misses: u32) -> Self {
        self.heartbeat = every;
        self.misses = misses.max(1);
        self
    }

    /// How long a link whose connection broke tries for another before the peer is down
    /// (default 5 s): it redials the peer meanwhile, sends queue on the link and monitors wait;
    /// on the new connection the link resends what the peer did not get, once. A peer that
    /// says goodbye (shuts down, closes the link) is down at once.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Bytes a link may hold that the peer has not acknowledged (queued, or written and kept to
    /// resend) before sends fail with `Full` (default 64 MiB). Peers acknowledge every 32 KiB,
    /// with their replies, and at least once a heartbeat period: far below 32 KiB, a one-way
    /// stream waits for the heartbeat.
    pub fn outbound_limit(mut self, bytes: usize) -> Self {
        self.outbound_limit = bytes;
        self
    }

    /// The largest frame accepted from a peer (default 1 MiB); a larger one ends the link
    /// before anything is allocated for it. Never below one chunk frame (64 KiB and 25 bytes):
    /// messages larger than a chunk travel in chunks, smaller ones whole.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.max(1 + super::chunk::CHUNK_HEADER + super::chunk::CHUNK);
        self
    }

    /// The largest message (encoded) sent to or accepted from a peer (default 256 MiB). A
    /// larger `send` or `deliver` fails at once with `TooLarge`; a larger message from a peer
    /// (configured with a higher limit) is skipped as it arrives, logged, never held in
    /// memory, and the link stays up.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// How long a handshake may take (default 5 s; a peer that connects and says nothing is
    /// dropped then).
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// Links over TLS (rustls), both ways authenticated: the node presents `cert_chain` (PEM,
    /// its certificate first) with `private_key`, and accepts only peers whose chain `peer_ca`
    /// signed — as a server (client certificates are required) and as a client. Every node of
    /// a cluster needs TLS, or none: a TLS node refuses plain TCP and the other way round, each
    /// with a clear error. The shared secret's handshake still runs inside TLS. Files are read
    /// at [`start`](NodeBuilder::start) (`NodeError::Tls`).
    pub fn tls(
        mut self,
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
        peer_ca: impl AsRef<Path>,
    ) -> Self {
        self.tls = Some((
            cert_chain.as_ref().to_owned(),
            private_key.as_ref().to_owned(),
            peer_ca.as_ref().to_owned(),
        ));
        self
    }

    /// The name (DNS name or IP address) a peer's certificate must carry when this node dials
    /// it (default: the host part of the address dialled). One name for a cluster whose nodes
    /// share a certificate; unset when each node's certificate names its own host.
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Whether the node finds peers on the local network and is found by them (pycos
    /// `discover_peers`): it announces itself by UDP broadcast on the discovery port, and links
    /// to every node whose announcement carries a tag made with the same secret. Default: on,
    /// unless static peers are given ([`peer`](NodeBuilder::peer)) or the node listens on
    /// loopback only (nobody else could reach it).
    pub fn discovery(mut self, on: bool) -> Self {
        self.discovery = Some(on);
        self
    }

    /// The UDP port of discovery (default [`DEFAULT_DISCOVERY_PORT`], 9705, pycos's), shared by
    /// every node of a host.
    ///
    /// [`DEFAULT_DISCOVERY_PORT`]: crate::dist::DEFAULT_DISCOVERY_PORT
    pub fn discovery_port(mut self, port: u16) -> Self {
        self.discovery_port = port;
        self
    }

    /// Sends announcements to `addr` (a subnet's broadcast address, or a host's unicast
    /// address where broadcasts do not pass) instead of every interface's broadcast address;
    /// call once per address.
    pub fn announce_to(mut self, addr: SocketAddr) -> Self {
        self.discovery_targets.push(addr);
        self
    }

    /// How often the node announces itself once started (default 10 s; the first three
    /// announcements go at once, half a second and two seconds after the start).
    pub fn discovery_interval(mut self, every: Duration) -> Self {
        self.discovery_interval = every;
        self
    }

    /// The runtime the node's tasks run on (default: the one `start` runs in).
    pub fn runtime(mut self, handle: &Handle) -> Self {
        self.runtime = Some(handle.clone());
        self
    }

    /// Binds the listen addresses and starts accepting peers (and dialling the static ones).
    pub async fn start(self) -> Result<Node, NodeError> {
        let runtime = match self.runtime.clone().or_else(Handle::try_current) {
            Some(runtime) => runtime,
            None => return Err(NodeError::NoRuntime),
        };
        let listen = if self.listen.is_empty() {
            vec![SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))]
        } else {
            self.listen.clone()
        };
        let mut listeners = Vec::new();
        for addr in &listen {
            let listener = {
                let _enter = runtime.enter();
                TcpListener::bind(addr).map_err(|e| NodeError::Bind(*addr, e))?
            };
            listeners.push(Arc::new(listener));
        }
        let bound = listeners[0].local_addr().map_err(|e| NodeError::Bind(listen[0], e))?;
        let advertised = self.advertise.unwrap_or_else(|| reachable(bound));
        let name = self.name.clone().unwrap_or_else(default_name);
        let location = Location::new(name, advertised).map_err(NodeError::Location)?;
        let hello_name = location.to_string();
        if hello_name.len() > 255 {
            return Err(NodeError::Location(LocationError::BadName(location.name().len())));
        }
        let discovering = self
            .discovery
            .unwrap_or(self.peers.is_empty() && !listen.iter().all(|addr| addr.ip().is_loopback()));
        let mut bound_ports = Vec::new();
        for listener in &listeners {
            bound_ports.push(listener.local_addr().map_err(|e| NodeError::Bind(listen[0], e))?);
        }
        let port_of = |v6: bool| bound_ports.iter().find(|addr| addr.is_ipv6() == v6).map(SocketAddr::port);
        let ports = (port_of(false), port_of(true));
        let mut discovery_sockets = Vec::new();
        // One socket per family the node listens on (beyond loopback, unless asked for):
        // broadcast for IPv4, multicast for IPv6.
        let asked = self.discovery == Some(true);
        let families = [false, true].into_iter().filter(|&v6| {
            listen.iter().any(|addr| addr.is_ipv6() == v6 && (asked || !addr.ip().is_loopback()))
        });
        for v6 in families.filter(|_| discovering) {
            let _enter = runtime.enter();
            match discovery::bind(self.discovery_port, v6) {
                Ok(socket) => discovery_sockets.push((v6, Arc::new(socket))),
                Err(e) if self.discovery.is_some() => {
                    return Err(NodeError::Discovery(self.discovery_port, e));
                }
                Err(e) => {
                    // On by default only: the node works without it.
                    tracing::warn!(target: "rycos::dist", port = self.discovery_port, ipv6 = v6, error = %e,
                        "discovery is off: its port could not be bound");
                }
            }
        }
        let tls = match &self.tls {
            None => None,
            Some((chain, key, ca)) => {
                let acceptor =
                    TlsAcceptor::builder(chain, key).client_auth(ca).build().map_err(NodeError::Tls)?;
                let connector = TlsConnector::builder()
                    .root_certificates(ca)
                    .map_err(NodeError::Tls)?
                    .client_certificate(chain, key)
                    .build()
                    .map_err(NodeError::Tls)?;
                Some(NodeTls { acceptor, connector, server_name: self.tls_server_name.clone() })
            }
        };
        let id = first_node_id();
        let inner = Arc::new(NodeInner {
            id,
            location,
            identity: Identity { name: hello_name, incarnation: id.as_u64() },
            secret: self.secret.clone(),
            link_config: LinkConfig {
                heartbeat: self.heartbeat,
                misses: self.misses,
                max_frame: self.max_frame,
                grace: self.grace,
            },
            handshake_timeout: self.handshake_timeout,
            connect_timeout: self.connect_timeout,
            outbound_limit: self.outbound_limit,
            max_message: self.max_message,
            runtime: runtime.clone(),
            links: Mutex::new(HashMap::new()),
            exports: Mutex::new(HashMap::default()),
            names: Mutex::new(HashMap::new()),
            locates: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            watched: Mutex::new(HashMap::new()),
            events: Mutex::new(Vec::new()),
            listeners: Mutex::new(Vec::new()),
            discovery: Mutex::new(discovery_sockets.iter().map(|(_, socket)| socket.clone()).collect()),
            ports,
            discovering: Mutex::new(HashSet::new()),
            advertised: self.advertise.is_some(),
            tls,
            shut_down: AtomicBool::new(false),
        });
        for listener in listeners {
            let node = Arc::downgrade(&inner);
            runtime.spawn(accept_loop(node, listener.clone()));
            inner.listeners.lock().push(listener);
        }
        for peer in self.peers {
            runtime.spawn(keep_dialling(Arc::downgrade(&inner), peer));
        }
        for (v6, socket) in discovery_sockets {
            let config = DiscoveryConfig {
                port: self.discovery_port,
                v6,
                targets: self.discovery_targets.iter().copied().filter(|t| t.is_ipv6() == v6).collect(),
                interval: self.discovery_interval,
            };
            runtime.spawn(discovery::listen(Arc::downgrade(&inner), socket.clone()));
            runtime.spawn(discovery::announce(Arc::downgrade(&inner), socket, config));
        }
        tracing::info!(target: "rycos::dist", node = %inner.location, "node started");
        Ok(Node { inner })
    }
}

impl Node {
    /// The settings, starting from the defaults.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// Where this node is: its name and the address peers reach it at.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// This node's incarnation (a restarted node has a new one).
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// Links to the node at `addr` (`ip:port` or `host:port`), unless a link to it is up
    /// already; its location.
    pub async fn peer(&self, addr: impl ToString) -> Result<Location, PeerError> {
        let addr = addr.to_string();
        let link = self.inner.dial(&addr, None).await?;
        Ok(link.location.clone())
    }

    /// The peers linked now (including any whose connection broke less than the grace period
    /// ago: they are not down yet).
    pub fn peers(&self) -> Vec<Location> {
        let links = self.inner.links.lock();
        let mut peers: Vec<_> = links
            .values()
            .filter(|l| l.was_connected() && !l.is_down())
            .map(|l| l.location.clone())
            .collect();
        peers.sort();
        peers
    }

    /// Closes the link to `peer`: it is down from then on (its tasks' monitors get
    /// `NoConnection`, pending delivers fail), and the peer sees the connection close. False
    /// if no link to it was up.
    pub fn close_peer(&self, peer: &Location) -> bool {
        let link = self.inner.links.lock().values().find(|l| &l.location == peer && !l.is_down()).cloned();
        match link {
            Some(link) => {
                if link.close("closed by this node".into()) {
                    self.inner.link_down(&link);
                }
                true
            }
            None => false,
        }
    }

    /// The node's peers and shared names as they are now; see [`NodeSnapshot`](super::NodeSnapshot).
    pub fn snapshot(&self) -> super::NodeSnapshot {
        super::snapshot::take(&self.inner)
    }

    /// Peer events from now on.
    pub fn peer_events(&self) -> PeerEvents {
        let (tx, rx) = mpsc::unbounded();
        if !self.inner.shut_down.load(Ordering::Acquire) {
            self.inner.events.lock().push(tx);
        }
        PeerEvents(rx)
    }

    /// Ends the node: stops listening, takes every link down ("this node shut down": peers are
    /// told with a goodbye, pending delivers and locates fail), and forgets its names and
    /// exports. Idempotent.
    ///
    /// This happens at once; what was sent before is still being written to the peers. Await
    /// the returned [`Shutdown`] to wait until it is (at most a second per peer that stopped
    /// reading), before dropping the runtime that writes it.
    pub fn shutdown(&self) -> Shutdown {
        let closing = self.inner.shutdown();
        Shutdown(Box::pin(async move {
            for link in closing {
                link.closed().await;
            }
        }))
    }

    /// Registers `task` under `name` in this node's runtime and makes it locatable by peers
    /// (pycos `register`). The name lives until the task ends or [`unregister`] removes it;
    /// meanwhile the node holds a `TaskRef`, so the task's `receive` does not return `None`.
    /// `M` must be serialisable: peers send it.
    ///
    /// [`unregister`]: Node::unregister
    pub fn register<M>(&self, name: &str, task: &TaskRef<M>) -> Result<(), crate::RegisterError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        self.inner.register(name, task)
    }

    /// Removes a name registered with [`register`](Node::register); false if it is not
    /// registered here.
    pub fn unregister(&self, name: &str) -> bool {
        self.inner.unregister(name)
    }

    /// Finds the task registered as `name` on this node or any linked peer (pycos `locate`):
    /// this node's own registry first, then every peer is asked at once and the first that
    /// has the name wins. [`LocateError::NotFound`] once every peer has said no (or the
    /// timeout passed); [`LocateError::WrongType`] if the name exists only for another message
    /// type.
    ///
    /// [`LocateError::NotFound`]: crate::LocateError::NotFound
    /// [`LocateError::WrongType`]: crate::LocateError::WrongType
    pub async fn locate<M>(&self, name: &str, timeout: Duration) -> Result<TaskRef<M>, crate::LocateError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        self.inner.locate(name, None, timeout).await
    }

    /// Like [`locate`](Node::locate), asking only the peer at `peer`
    /// ([`LocateError::PeerDown`](crate::LocateError::PeerDown) if it is not linked or goes
    /// down before it answers).
    pub async fn locate_at<M>(
        &self,
        name: &str,
        peer: &Location,
        timeout: Duration,
    ) -> Result<TaskRef<M>, crate::LocateError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        self.inner.locate(name, Some(peer), timeout).await
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node").field("location", &self.inner.location).field("id", &self.inner.id).finish()
    }
}

/// The first node of a process is the node of its tasks ([`NodeId::local`]); more nodes in one
/// process (tests) get fresh incarnations.
fn first_node_id() -> NodeId {
    static FIRST: AtomicBool = AtomicBool::new(true);
    if FIRST.swap(false, Ordering::AcqRel) { NodeId::local() } else { NodeId::fresh() }
}

/// The last step of linking, after the handshake (`docs/protocol.md`, "Link epochs"): each
/// side sends the epoch of its link to the other, both at once; the peer's.
async fn exchange_epochs(wire: &mut Wire, ours: u64, limit: Duration) -> Result<u64, HandshakeError> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        wire.write_all(&ours.to_le_bytes()).await?;
        wire.flush().await?;
        let mut theirs = [0u8; 8];
        wire.read_exact(&mut theirs).await?;
        Ok(u64::from_le_bytes(theirs))
    };
    crate::time::timeout(limit, exchange).await.unwrap_or(Err(HandshakeError::TimedOut(limit)))
}

/// What TLS under the links needs.
struct NodeTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    /// The name peers' certificates must carry; `None`: the host dialled.
    server_name: Option<String>,
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// `host-pid`.
fn default_name() -> String {
    let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
    let host = if host.is_empty() { "rycos".to_owned() } else { host };
    let mut name = format!("{host}-{}", std::process::id());
    name.truncate(200);
    name
}

/// The address to advertise for a listener bound to `bound`: itself, unless it is the
/// unspecified address, which peers cannot dial; then the address this host would use to
/// reach the outside (a UDP `connect` sends nothing); without a route, the first interface
/// address that is not loopback; loopback on a host with none.
fn reachable(bound: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let probe = || -> io::Result<std::net::IpAddr> {
        let (local, remote): (SocketAddr, SocketAddr) = if bound.is_ipv4() {
            (([0, 0, 0, 0], 0).into(), ([192, 0, 2, 1], 9).into())
        } else {
            (
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                ("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap(), 9).into(),
            )
        };
        let socket = std::net::UdpSocket::bind(local)?;
        socket.connect(remote)?;
        Ok(socket.local_addr()?.ip())
    };
    // No route out (a namespace with one link, an offline host): the first interface of the
    // family that is not loopback, then loopback.
    let interface = || {
        let interfaces = if_addrs::get_if_addrs().ok()?;
        interfaces
            .into_iter()
            .filter(|interface| !interface.is_loopback())
            .map(|interface| interface.ip())
            .find(|ip| ip.is_ipv4() == bound.is_ipv4() && !is_link_local(ip))
    };
    let ip = probe().ok().or_else(interface).unwrap_or(if bound.is_ipv4() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        std::net::Ipv6Addr::LOCALHOST.into()
    });
    SocketAddr::new(ip, bound.port())
}

/// Link-local addresses need a scope to be dialled: no use as an advertised address.
fn is_link_local(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

async fn accept_loop(node: Weak<NodeInner>, listener: Arc<TcpListener>) {
    loop {
        let accepted = listener.accept().await;
        let Some(inner) = node.upgrade() else { return };
        if inner.shut_down.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, from)) => {
                let node = inner.clone();
                inner.runtime.spawn(async move {
                    if let Err(e) = node.handshake_and_install(stream, None, None).await {
                        tracing::warn!(target: "rycos::dist", node = %node.location, %from, error = %e, "refused a peer");
                    }
                });
            }
            Err(e) if is_fatal_accept_error(&e) => {
                tracing::debug!(target: "rycos::dist", node = %inner.location, error = %e, "stopped listening");
                return;
            }
            Err(e) => {
                // Out of descriptors and the like: keep serving, after a pause.
                tracing::warn!(target: "rycos::dist", node = %inner.location, error = %e, "accept failed");
                drop(inner);
                crate::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn is_fatal_accept_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotConnected | io::ErrorKind::InvalidInput)
}

/// Dials a static peer until a link is up, with backoff; again whenever its link goes down.
async fn keep_dialling(node: Weak<NodeInner>, addr: String) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(inner) = node.upgrade() else { return };
        if inner.shut_down.load(Ordering::Acquire) {
            return;
        }
        match inner.dial(&addr, None).await {
            Ok(link) => {
                backoff = Duration::from_millis(100);
                drop(inner);
                while !link.is_down() {
                    crate::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Err(e) => {
                tracing::warn!(target: "rycos::dist", node = %inner.location, peer = %addr, error = %e,
                    retry_in = ?backoff, "could not link to a static peer");
                drop(inner);
                crate::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

impl NodeInner {
    /// Connects to `addr`, authenticates and installs the link; `expected` is the incarnation
    /// a reference named (a link created for it is waiting for this connection).
    pub(crate) async fn dial(
        self: &Arc<Self>,
        addr: &str,
        expected: Option<&Arc<Link>>,
    ) -> Result<Arc<Link>, PeerError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(PeerError::ShutDown);
        }
        let stream = TcpStream::connect_timeout(addr, self.connect_timeout)
            .await
            .map_err(|e| PeerError::Connect(addr.to_owned(), e))?;
        let _ = stream.set_nodelay(true);
        let link = self.handshake_and_install(stream, Some(addr), expected).await?;
        link.dialled_at(addr);
        Ok(link)
    }

    /// Runs TLS (if configured) and the node handshake on a new connection, dialled to `dialled`
    /// or accepted (`None`), and installs it.
    async fn handshake_and_install(
        self: &Arc<Self>,
        stream: TcpStream,
        dialled: Option<&str>,
        expected: Option<&Arc<Link>>,
    ) -> Result<Arc<Link>, PeerError> {
        let role = if dialled.is_some() { Role::Dialer } else { Role::Listener };
        let mut wire = self.secure(stream, dialled).await?;
        let refuse = |wire: Wire, e: PeerError| {
            wire.socket().close();
            Err(e)
        };
        let peer =
            match handshake::handshake(&mut wire, role, &self.identity, &self.secret, self.handshake_timeout)
                .await
            {
                Ok(peer) => peer,
                Err(e) => return refuse(wire, e.into()),
            };
        let (id, location) = match self.identify(&peer) {
            Ok(identified) => identified,
            Err(e) => return refuse(wire, e),
        };
        if let Some(expected) = expected
            && expected.id != id
            && expected.go_down(format!("{} restarted: it is a new incarnation", expected.location).into())
        {
            self.link_down(expected);
        }
        // Made now if there is none, so that connections racing to one peer share one epoch.
        let link = self.link_for(id, location);
        match exchange_epochs(&mut wire, link.epoch, self.handshake_timeout).await {
            Ok(theirs) => self.install(wire, role, link, theirs),
            Err(e) => {
                // A link made for this connection must not stay behind without one: nothing
                // would dial it, and references to the peer would queue on it for ever.
                if !link.was_connected() && link.go_down(format!("its first connection failed: {e}").into()) {
                    self.link_down(&link);
                }
                refuse(wire, e.into())
            }
        }
    }

    /// The peer's incarnation and location, from its hello.
    fn identify(&self, peer: &Peer) -> Result<(NodeId, Location), PeerError> {
        let location: Location = peer
            .name
            .parse()
            .map_err(|e| PeerError::BadPeer(format!("{:?} is not a location: {e}", peer.name)))?;
        let id =
            NodeId::from_u64(peer.incarnation).ok_or_else(|| PeerError::BadPeer("incarnation 0".into()))?;
        if id == self.id {
            return Err(PeerError::Itself);
        }
        Ok((id, location))
    }

    /// The connection as the link will carry it: under TLS if the node has TLS (the TLS
    /// handshake within the handshake timeout), as it is otherwise.
    async fn secure(&self, stream: TcpStream, dialled: Option<&str>) -> Result<Wire, PeerError> {
        let Some(tls) = &self.tls else { return Ok(Wire::Plain(stream)) };
        let socket = stream.clone();
        let handshake = async {
            match dialled {
                Some(addr) => {
                    let name = tls.server_name.clone().unwrap_or_else(|| host_of(addr).to_owned());
                    tls.connector.connect(&name, stream).await
                }
                None => tls.acceptor.accept(stream).await,
            }
        };
        match crate::time::timeout(self.handshake_timeout, handshake).await {
            Ok(Ok(tls)) => Ok(Wire::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                socket.close();
                Err(PeerError::Tls(e))
            }
            Err(_) => {
                socket.close();
                Err(PeerError::Tls(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("not finished after {:?}", self.handshake_timeout),
                )))
            }
        }
    }

    /// Puts an authenticated connection under the link of its peer.
    /// `theirs` is the peer's epoch for its side; one other than the link's took it down.
    fn install(
        self: &Arc<Self>,
        wire: Wire,
        role: Role,
        link: Arc<Link>,
        theirs: u64,
    ) -> Result<Arc<Link>, PeerError> {
        if self.shut_down.load(Ordering::Acquire) {
            wire.socket().close();
            return Err(PeerError::ShutDown);
        }
        let id = link.id;
        let link = if link.peer_epoch_is(theirs) {
            link
        } else {
            // The peer decided this link was down (we were silent, say) and started a new one:
            // its stream starts again, so ours must too. What waited on the old link fails.
            if link.go_down("the peer took the link down and started a new one".into()) {
                self.link_down(&link);
            }
            let fresh = self.new_link(id, link.location.clone(), link.epoch);
            fresh.peer_epoch_is(theirs);
            fresh
        };
        let dialer = if role == Role::Dialer { self.id } else { id };
        let (attached, first) = link.attach(
            wire,
            dialer,
            role == Role::Dialer,
            self.link_config,
            Handlers { on_frame: self.on_frame(), on_down: self.on_down(), redial: self.redial() },
            &self.runtime,
        );
        if link.is_down() {
            return Err(PeerError::Down(link.down_reason().map(|r| r.to_string()).unwrap_or_default()));
        }
        if attached && first {
            tracing::info!(target: "rycos::dist", node = %self.location, peer = %link.location, "peer up");
            self.emit(PeerEvent::Up(link.location.clone()));
        } else if attached {
            tracing::info!(target: "rycos::dist", node = %self.location, peer = %link.location,
                "link reconnected");
        }
        Ok(link)
    }

    /// Every link, up or waiting for its connection.
    pub(crate) fn links_snapshot(&self) -> Vec<Arc<Link>> {
        self.links.lock().values().cloned().collect()
    }

    /// The live link for the incarnation `id`, made (without a connection yet, with a fresh
    /// epoch) if there is none.
    fn link_for(&self, id: NodeId, location: Location) -> Arc<Link> {
        let mut links = self.links.lock();
        match links.get(&id) {
            Some(link) if !link.is_down() => link.clone(),
            _ => {
                let link =
                    Link::new(location, id, NodeId::fresh().as_u64(), self.outbound_limit, self.max_message);
                links.insert(id, link.clone());
                link
            }
        }
    }

    /// A new link to `id` with `epoch` (the number the peer was told), in place of any other.
    fn new_link(&self, id: NodeId, location: Location, epoch: u64) -> Arc<Link> {
        let link = Link::new(location, id, epoch, self.outbound_limit, self.max_message);
        self.links.lock().insert(id, link.clone());
        link
    }

    /// The link to the node `id` at `location`, for a reference to one of its tasks: the one
    /// up, or a new one whose connection is dialled in the background (messages queue on it
    /// meanwhile; if the dial fails, or finds another incarnation, it goes down).
    pub(crate) fn link_to(self: &Arc<Self>, id: NodeId, location: Location) -> Arc<Link> {
        if let Some(link) = self.links.lock().get(&id)
            && !link.is_down()
        {
            return link.clone();
        }
        let link = self.link_for(id, location.clone());
        if self.shut_down.load(Ordering::Acquire) {
            if link.go_down("this node shut down".into()) {
                self.link_down(&link);
            }
            return link;
        }
        let (node, waiting) = (self.clone(), link.clone());
        self.runtime.spawn(async move {
            let addr = location.addr().to_string();
            match node.dial(&addr, Some(&waiting)).await {
                Ok(_) => {}
                Err(e) => {
                    if waiting.go_down(format!("could not link to {location}: {e}").into()) {
                        node.link_down(&waiting);
                    }
                }
            }
        });
        link
    }

    /// A link that is down from the start: what references to tasks that have ended here use.
    pub(crate) fn ended_link(&self) -> Arc<Link> {
        let link = Link::new(self.location.clone(), self.id, 0, 0, 0);
        link.go_down("the task has ended".into());
        link
    }

    fn on_frame(self: &Arc<Self>) -> FrameHandler {
        let node = Arc::downgrade(self);
        Arc::new(move |link, frames| {
            let Some(node) = node.upgrade() else { return Err("this node shut down".into()) };
            remote::decoding_from(&node, link, || node.handle_frames(link, frames))
        })
    }

    /// The envelopes of one batch from `link`'s peer.
    fn handle_frames(self: &Arc<Self>, link: &Arc<Link>, frames: &mut Frames<'_>) -> Result<(), DownReason> {
        // A batch of sends is mostly for one task: its export is looked up once.
        let mut last: Option<(u64, Option<ExportHandle>)> = None;
        while let Some(frame) = frames.next() {
            let (kind, body) = frame?;
            if kind != super::frame::kind::ENVELOPE {
                return Err(format!(
                    "frame kind {kind:#04x} is not used by protocol version {}",
                    handshake::PROTOCOL_VERSION
                )
                .into());
            }
            if let Some((to, payload)) = Envelope::peek_send(body) {
                let export = match &last {
                    Some((id, export)) if *id == to => export,
                    _ => &last.insert((to, self.exported(to))).1,
                };
                self.send_to(link, export.as_ref(), to, payload);
                continue;
            }
            // Anything else may change what is exported (a terminate, a monitor).
            last = None;
            let envelope = Envelope::decode(body).map_err(|e| DownReason::from(e.to_string()))?;
            if let Envelope::Goodbye { reason } = envelope {
                return Err(format!("the peer closed the link: {reason}").into());
            }
            self.receive(link, envelope);
        }
        Ok(())
    }

    /// One redial of a link whose connection broke: the address this node dialled it at, or
    /// the peer's own; a different incarnation there takes the link down (`install`).
    fn redial(self: &Arc<Self>) -> Redial {
        let node = Arc::downgrade(self);
        Arc::new(move |link| {
            let node = node.clone();
            Box::pin(async move {
                let Some(node) = node.upgrade() else { return };
                let addr = link.redial_addr();
                if let Err(e) = node.dial(&addr, Some(&link)).await {
                    tracing::debug!(target: "rycos::dist", node = %node.location, peer = %link.location,
                        %addr, error = %e, "redial failed");
                }
            })
        })
    }

    fn on_down(self: &Arc<Self>) -> DownHandler {
        let node = Arc::downgrade(self);
        Arc::new(move |link| {
            if let Some(node) = node.upgrade() {
                node.link_down(link);
            }
        })
    }

    /// After `link` went down: forget it, tell the locates waiting for it and the event
    /// subscribers, drop the monitors it held here.
    pub(crate) fn link_down(&self, link: &Arc<Link>) {
        {
            let mut links = self.links.lock();
            if links.get(&link.id).is_some_and(|l| Arc::ptr_eq(l, link)) {
                links.remove(&link.id);
            }
        }
        let why = link.down_reason().map(|r| r.to_string()).unwrap_or_default();
        tracing::warn!(target: "rycos::dist", node = %self.location, peer = %link.location, reason = %why, "peer down");
        let waiting: Vec<_> = self.locates.lock().values().cloned().collect();
        for answers in waiting {
            let _ = answers.unbounded_send((link.id, Answer::PeerDown));
        }
        let watched: Vec<_> = {
            let mut watched = self.watched.lock();
            let theirs: Vec<_> = watched.keys().filter(|(peer, _)| *peer == link.id).copied().collect();
            theirs.into_iter().filter_map(|key| watched.remove(&key)).collect()
        };
        for (task, hook) in watched {
            task.remove_exit_hook(hook);
        }
        self.emit(PeerEvent::Down { location: link.location.clone(), why });
    }

    fn emit(&self, event: PeerEvent) {
        self.events.lock().retain(|subscriber| subscriber.unbounded_send(event.clone()).is_ok());
    }

    /// One envelope from `link`'s peer.
    fn receive(self: &Arc<Self>, link: &Arc<Link>, envelope: Envelope) {
        match envelope {
            Envelope::Locate { request, kind, name, type_name } => {
                self.answer_locate(link, request, kind, &name, &type_name)
            }
            Envelope::Located { request, task } => self.answered(request, link, Answer::Found(task)),
            Envelope::NotFound { request } => self.answered(request, link, Answer::NotFound),
            Envelope::WrongType { request, found } => self.answered(request, link, Answer::WrongType(found)),
            Envelope::Send { to, payload } => self.send_to(link, self.exported(to).as_ref(), to, &payload),
            Envelope::Deliver { to, seq, wait_ms, payload } => match self.exported(to) {
                Some(export) => export.accept(self, link, &payload, Some((seq, wait_ms))),
                None => {
                    let _ = link.push(&Envelope::Delivered { seq, outcome: Delivered::Closed }, true);
                }
            },
            Envelope::Delivered { seq, outcome } => link.acknowledged(seq, outcome),
            Envelope::Terminate { task } => {
                if let Some(export) = self.exported(task) {
                    export.task.terminate();
                }
            }
            Envelope::Monitor { task, monitor } => self.watch(link, task, monitor),
            Envelope::Demonitor { monitor } => {
                let watched = self.watched.lock().remove(&(link.id, monitor));
                if let Some((task, hook)) = watched {
                    task.remove_exit_hook(hook);
                }
            }
            Envelope::Exit { monitor, how } => {
                link.exited(monitor, |task, name| remote::ended_remotely(link, task, name, how));
            }
            // Taken by `on_frame`, which ends the link on it.
            Envelope::Goodbye { .. } => {}
        }
    }

    /// A message from `link`'s peer for our task `to`, whose export is `export` (`None`: the
    /// task is not here).
    fn send_to(self: &Arc<Self>, link: &Arc<Link>, export: Option<&ExportHandle>, to: u64, payload: &[u8]) {
        match export {
            Some(export) => export.accept(self, link, payload, None),
            None => tracing::debug!(target: "rycos::dist", peer = %link.location, to,
                "a message for a task that is not here (it ended); dropped"),
        }
    }

    /// True once `shutdown` has begun.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// The shared secret (what discovery tags announcements with).
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// What this node announces on the discovery port.
    /// What this node announces on the discovery socket of one family (`v6`): the port of
    /// its listener of that family, and its address if it was told one of that family.
    pub(crate) fn announcement(&self, v6: bool) -> Announcement {
        let advertised = self.location.addr();
        let port = if v6 { self.ports.1 } else { self.ports.0 };
        Announcement {
            incarnation: self.id.as_u64(),
            name: self.identity.name.clone(),
            port: port.unwrap_or(advertised.port()),
            ip: (self.advertised && advertised.is_ipv6() == v6).then(|| advertised.ip()),
        }
    }

    /// An authentic announcement came from `from`: dial its node unless it is this one, is
    /// linked already, or a dial to it is under way.
    pub(crate) fn discovered(self: &Arc<Self>, announcement: Announcement, from: SocketAddr) {
        let Some(id) = NodeId::from_u64(announcement.incarnation) else { return };
        if id == self.id || self.links.lock().get(&id).is_some_and(|link| !link.is_down()) {
            return;
        }
        if !self.discovering.lock().insert(id) {
            return;
        }
        let addr = announcement.dial_addr(from).to_string();
        let node = self.clone();
        self.runtime.spawn(async move {
            match node.dial(&addr, None).await {
                Ok(link) => {
                    tracing::info!(target: "rycos::dist", node = %node.location, peer = %link.location,
                    "discovered a peer")
                }
                Err(e) => {
                    tracing::warn!(target: "rycos::dist", node = %node.location, peer = %announcement.name,
                    %addr, error = %e, "could not link to a discovered peer")
                }
            }
            node.discovering.lock().remove(&id);
        });
    }

    /// The export of task `id`, if it is here (cloned out of the lock: queueing may run code).
    fn exported(&self, id: u64) -> Option<ExportHandle> {
        self.exports.lock().get(&id).map(Export::handle)
    }

    /// A peer monitors our task `task`: tell it with `Exit { monitor }` when the task ends.
    fn watch(self: &Arc<Self>, link: &Arc<Link>, task: u64, monitor: u64) {
        let Some(export) = self.exported(task) else {
            let _ = link.push(&Envelope::Exit { monitor, how: Ending::Gone }, true);
            return;
        };
        let (peer, node) = (Arc::downgrade(link), Arc::downgrade(self));
        let peer_id = link.id;
        let hook = export.task.add_exit_hook(Box::new(move |ended| {
            if let Some(node) = node.upgrade() {
                node.watched.lock().remove(&(peer_id, monitor));
            }
            if let Some(peer) = peer.upgrade() {
                let _ = peer.push(&Envelope::Exit { monitor, how: remote::ending_of(ended) }, true);
            }
        }));
        if let Some(hook) = hook {
            self.watched.lock().insert((peer_id, monitor), (export.task.clone(), hook));
        }
    }

    /// Exports `task` (if it is not yet) so peers can reach it; its id.
    pub(crate) fn export<M>(self: &Arc<Self>, task: &TaskRef<M>) -> TaskId
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        let id = task.id();
        {
            let mut exports = self.exports.lock();
            if exports.contains_key(&id.as_u64()) {
                return id;
            }
            exports.insert(id.as_u64(), Export::of(task));
        }
        // Removed when the task ends (at once, if it has already).
        let node = Arc::downgrade(self);
        task.as_any().add_exit_hook(Box::new(move |_| {
            if let Some(node) = node.upgrade() {
                node.forget_export(id.as_u64());
            }
        }));
        id
    }

    fn forget_export(&self, id: u64) {
        let export = self.exports.lock().remove(&id);
        self.names.lock().retain(|_, task| *task != id);
        // Dropped outside the locks: it holds a TaskRef, whose drop may wake the task.
        drop(export);
    }

    /// Shuts down; the links it closed (none if it was shut down already).
    fn shutdown(&self) -> Vec<Arc<Link>> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Vec::new();
        }
        for listener in self.listeners.lock().drain(..) {
            // Fails the pending accept: the accept loop ends.
            listener.as_async().close();
        }
        for socket in self.discovery.lock().drain(..) {
            socket.close();
        }
        let links: Vec<_> = self.links.lock().values().cloned().collect();
        for link in &links {
            if link.close("this node shut down".into()) {
                self.link_down(link);
            }
        }
        self.locates.lock().clear();
        let names = std::mem::take(&mut *self.names.lock());
        let exports = std::mem::take(&mut *self.exports.lock());
        // The names leave the runtime's registry too: another node (or a restarted one) on
        // the same runtime may take them.
        let registry = self.runtime.registry();
        for (name, id) in names {
            if let Some(export) = exports.get(&id) {
                registry.unregister_task(&name, &export.task);
            }
        }
        drop(exports);
        self.events.lock().clear();
        tracing::info!(target: "rycos::dist", node = %self.location, "node shut down");
        links
    }
}

/// What `receive` needs of an export, outside the exports lock.
pub(crate) struct ExportHandle {
    pub(crate) task: AnyTaskRef,
    sink: super::remote::SinkHandle,
}

impl ExportHandle {
    pub(crate) fn new(task: AnyTaskRef, sink: super::remote::SinkHandle) -> ExportHandle {
        ExportHandle { task, sink }
    }

    fn accept(&self, node: &Arc<NodeInner>, from: &Arc<Link>, payload: &[u8], ack: Option<(u64, u32)>) {
        (self.sink)(node, from, payload, ack)
    }
}
