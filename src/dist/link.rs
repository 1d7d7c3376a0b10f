//! A link: everything this node keeps about one peer incarnation — the outbound buffer, the
//! delivers waiting for an acknowledgement, the monitors of its tasks — and the connection under
//! it. The link outlives connections: it exists before its first connection is up (a reference
//! to a task of a node not yet linked queues its messages here), and a second connection to the
//! same peer (both dialled at once) replaces the first without losing the buffer.
//!
//! Per connection three tasks run: a writer that takes everything queued since its last write
//! in one `write` (coalescing), a reader that decodes every frame a `read` brought in, and a
//! heartbeat that speaks on an idle link and declares the peer down when it stays silent.
//!
//! The envelopes are one stream per direction that outlives connections (`stream.rs`): kept
//! until the peer acknowledges them, resent from where the peer stopped on the next
//! connection, dropped by the receiver when they come twice. A connection that breaks is
//! redialled (`Redial`) until the grace period ends; only then is the link down.
//!
//! Going down is final for the incarnation: pending delivers fail with `PeerDown`, monitors get
//! `ExitReason::NoConnection`, and every reference to its tasks fails from then on. A restarted
//! peer is a new incarnation and gets a new link.

use super::chunk::{Assembler, Chunker, Order, Piece};
use super::envelope::{Delivered, Envelope};
use super::frame::{self, kind};
use super::location::Location;
use super::stream::{Arrival, Incoming, Outgoing, StreamError};
use super::wire::{Wire, WireReader, WireWriter};
use crate::net::TcpStream;
use crate::sync::Event;
use crate::task::extras::{Ended, ExitHook, HookToken};
use crate::task::remote::RemoteFailure;
use crate::task::{NodeId, TaskId};
use futures_channel::oneshot;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a link went down, as `PeerEvent::Down` and the logs report it.
pub type DownReason = Arc<str>;

/// One peer incarnation.
pub(crate) struct Link {
    /// Where the peer is and what it calls itself.
    pub(crate) location: Location,
    /// The peer's incarnation.
    pub(crate) id: NodeId,
    /// Which of this node's links to the peer incarnation this is: told to the peer on every
    /// connection, so that a link one side took down is never resumed by the other
    /// (`docs/protocol.md`, "Link epochs").
    pub(crate) epoch: u64,
    /// The peer's epoch for its side of this link, from the first connection (0 before).
    peer_epoch: AtomicU64,
    /// Frames waiting for the writer, and the state that decides whether more may be queued.
    out: Mutex<Outbound>,
    /// Set when `out` has something for the writer.
    writable: Event,
    /// Set when the peer acknowledged part of the stream (or the link went down): a deliver
    /// refused for space waits on it.
    room: Event,
    /// Unacknowledged bytes of the stream before a send is refused with `Full`.
    limit: usize,
    /// The largest envelope sent or accepted.
    max_message: usize,
    /// What this node has processed of the peer's stream. Locked for a whole read batch, so
    /// that the readers of an old and a new connection never both process one envelope.
    inbound: Mutex<Inbound>,
    /// `inbound`'s count, for the writer to acknowledge without waiting for a reader.
    received: AtomicU64,
    /// The address this node last dialled the peer at (a proxy, a DNS name): redialled there.
    dial_addr: Mutex<Option<String>>,
    /// Delivers and monitors waiting for the peer's answer.
    waiting: Mutex<Waiting>,
    /// Set once, when the link goes down.
    down: AtomicBool,
    /// Set once the link is down and its connection closed: the farewell written, or given up
    /// on after `FAREWELL` (what `Node::shutdown` waits for).
    closed: Event,
    /// When a frame last arrived (milliseconds since `started`).
    heard: AtomicU64,
    started: Instant,
    /// Traffic counters and the last round-trip time, for `Node::snapshot`.
    pub(crate) counters: Counters,
}

/// What a link has carried (envelopes counted whole, a chunked one once), and how long the
/// last heartbeat probe took to come back.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    /// Microseconds; 0 until the first echo.
    pub(crate) rtt_us: AtomicU64,
}

/// What `Node::snapshot` shows of a link.
pub(crate) struct LinkView {
    pub(crate) connected: bool,
    pub(crate) ever_connected: bool,
    pub(crate) messages_out: u64,
    pub(crate) unacknowledged: usize,
}

struct Outbound {
    /// Heartbeats and acknowledgements for the next write: outside the stream, never resent.
    control: Vec<u8>,
    /// The envelopes, kept until the peer acknowledges them.
    stream: Outgoing,
    /// Envelopes not in the stream yet: large ones going in a chunk per write, and those that
    /// may not overtake them.
    chunker: Chunker,
    /// The last acknowledgement of the peer's stream written (or queued) by this side.
    ack_sent: u64,
    /// The connection now carrying the link.
    conn: Option<Conn>,
    generation: u64,
    /// Envelopes queued since the link began.
    sent: u64,
    /// Why the link went down, once it has.
    down: Option<DownReason>,
    /// Why the writer of the current connection gave up: it closes the socket, and the reader,
    /// which decides what happens next, reports this instead of "the socket was closed".
    write_failed: Option<(u64, DownReason)>,
}

/// What this node has processed of the peer's stream, and the large message it is assembling.
struct Inbound {
    stream: Incoming,
    pieces: Assembler,
}

/// A connection under a link.
struct Conn {
    /// Its number: a replaced connection's tasks see the number change and stop.
    generation: u64,
    /// The incarnation that dialled it (decides which of two connections stays).
    dialer: NodeId,
    /// Its TCP socket (under TLS, if any), to close it.
    stream: TcpStream,
    /// True for plain TCP: a send may then write the stream to the socket itself.
    plain: bool,
    /// True while the writer task has a batch in flight (nothing else may write then).
    writing: bool,
    /// Where this connection's part of our stream starts.
    resume: Resume,
}

impl Conn {
    /// Writes as much of `stream`'s unwritten part as the socket takes without waiting, from
    /// the thread that queued it, if this connection allows it now: plain TCP, its writer idle,
    /// the resume point written. A sender that never yields (a loop of sends) would otherwise
    /// fill the whole outbound buffer before the writer task runs on its worker, and the peer
    /// would idle meanwhile; written here, the stream flows while it is produced.
    fn write_directly(&self, stream: &mut Outgoing) -> usize {
        if !self.plain || self.writing || self.resume != Resume::Sent || self.stream.as_async().is_closed() {
            return 0;
        }
        let mut socket = self.stream.get_ref();
        // A full socket is the writer's to wait for (it is woken for what is left); any other
        // failure it, or the reader, meets too and handles.
        match socket.write(stream.unwritten()) {
            Ok(n) => {
                stream.wrote(n);
                n
            }
            Err(_) => 0,
        }
    }
}

/// A connection carries none of our stream until the peer has said (its first ack on it) how
/// much it has: only then is the start known, and it is sent ahead of the first envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// The peer has not said yet: only control frames are written.
    Waiting,
    /// Known, not yet written: the writer sends a resume frame with it, then the stream.
    At(u64),
    /// Written: the writer takes the stream as it grows.
    Sent,
}

/// Handles the envelopes of one read batch from the peer (taking every one [`Frames`] gives);
/// an error takes the link down with that reason. Called once per batch, so that what each
/// envelope needs is looked up once for many.
pub(crate) type FrameHandler = Arc<FrameFn>;
/// The function behind a [`FrameHandler`].
pub(crate) type FrameFn = dyn Fn(&Arc<Link>, &mut Frames<'_>) -> Result<(), DownReason> + Send + Sync;
/// Runs once after the link went down because its connection ended.
pub(crate) type DownHandler = Arc<dyn Fn(&Arc<Link>) + Send + Sync>;
/// One attempt to give the link a new connection (dial its peer again); the link retries,
/// with backoff, until the grace period ends.
pub(crate) type Redial = Arc<dyn Fn(Arc<Link>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What the node gives a link to run a connection with.
#[derive(Clone)]
pub(crate) struct Handlers {
    pub(crate) on_frame: FrameHandler,
    pub(crate) on_down: DownHandler,
    pub(crate) redial: Redial,
}

/// Unwritten bytes of the stream at which a send writes them to the socket itself
/// (`Conn::write_directly`): one system call per this many, as the writer's batches cost.
const DIRECT_WRITE: usize = 64 * 1024;

/// Envelopes a connection's reader hands to the node before it lets other tasks run: about
/// what a receiving task takes out of its mailbox in one turn (`coop::BUDGET`), so that a
/// reader does not fill mailboxes faster than their tasks, sharing its worker, empty them.
const ENVELOPES_PER_TURN: usize = 128;

/// How many bytes of the peer's stream are processed before an acknowledgement is written
/// even with nothing else to say (otherwise acks ride on other frames, or the heartbeat).
const ACK_EVERY: u64 = 32 * 1024;

#[derive(Default)]
struct Waiting {
    next_seq: u64,
    delivers: HashMap<u64, oneshot::Sender<Result<(), RemoteFailure>>>,
    next_monitor: u64,
    /// Monitors of the peer's tasks: the task watched and the hook to run with its end.
    monitors: HashMap<u64, (TaskId, Option<Arc<str>>, ExitHook)>,
}

impl Link {
    /// A link to incarnation `id` at `location`, this node's link number `epoch` to it;
    /// `limit` bounds the unacknowledged bytes, `max_message` the size of one envelope either
    /// way.
    pub(crate) fn new(
        location: Location,
        id: NodeId,
        epoch: u64,
        limit: usize,
        max_message: usize,
    ) -> Arc<Link> {
        Arc::new(Link {
            location,
            id,
            epoch,
            peer_epoch: AtomicU64::new(0),
            out: Mutex::new(Outbound {
                control: Vec::new(),
                stream: Outgoing::default(),
                chunker: Chunker::default(),
                ack_sent: 0,
                conn: None,
                generation: 0,
                sent: 0,
                down: None,
                write_failed: None,
            }),
            writable: Event::new(),
            room: Event::new(),
            closed: Event::new(),
            limit,
            max_message,
            inbound: Mutex::new(Inbound { stream: Incoming::default(), pieces: Assembler::new(max_message) }),
            received: AtomicU64::new(0),
            dial_addr: Mutex::new(None),
            waiting: Mutex::new(Waiting::default()),
            down: AtomicBool::new(false),
            heard: AtomicU64::new(0),
            started: Instant::now(),
            counters: Counters::default(),
        })
    }

    /// True once the link has gone down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// True if a connection whose peer says `theirs` for its side of the link belongs to this
    /// link: the first connection's epoch is taken, later ones must repeat it (another means
    /// the peer took this link down and started a new one).
    pub(crate) fn peer_epoch_is(&self, theirs: u64) -> bool {
        match self.peer_epoch.compare_exchange(0, theirs, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(current) => current == theirs,
        }
    }

    /// True once a connection has carried the link (it may be between connections now).
    pub(crate) fn was_connected(&self) -> bool {
        self.out.lock().generation > 0
    }

    /// Why the link went down, if it has.
    pub(crate) fn down_reason(&self) -> Option<DownReason> {
        self.out.lock().down.clone()
    }

    /// Queues one envelope. `Full` if the outbound buffer is over its limit (control envelopes
    /// pass `control`: answers and exits are never refused for space), `TooLarge` over the
    /// maximum message size, `PeerDown` once down.
    pub(crate) fn push(&self, envelope: &Envelope, control: bool) -> Result<(), RemoteFailure> {
        self.push_encoded(|body| envelope.encode_into(body), Order::of(envelope), control)
    }

    /// Queues `Send { to, payload }`, the commonest envelope, written from the borrowed payload
    /// straight into the stream.
    pub(crate) fn push_send(&self, to: u64, payload: &[u8]) -> Result<(), RemoteFailure> {
        let len = Envelope::send_len(to, payload.len());
        if len > self.max_message {
            return Err(RemoteFailure::TooLarge);
        }
        self.push_with(len, Order::Task(to), false, |out| Envelope::encode_send_into(to, payload, out))
    }

    /// Queues the envelope `encode` writes, encoded into a buffer of this thread (taken out of
    /// it meanwhile, so a nested push gets a fresh one).
    fn push_encoded(
        &self,
        encode: impl FnOnce(&mut Vec<u8>),
        order: Order,
        control: bool,
    ) -> Result<(), RemoteFailure> {
        thread_local! {
            static BODY: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut body = BODY.take();
        body.clear();
        encode(&mut body);
        let pushed = if body.len() > self.max_message {
            Err(RemoteFailure::TooLarge)
        } else {
            self.push_with(body.len(), order, control, |out| out.extend_from_slice(&body))
        };
        if body.capacity() <= super::remote::KEPT_BUFFER {
            BODY.set(body);
        }
        pushed
    }

    /// Queues one data envelope, waiting until `deadline` for room in a full outbound buffer
    /// (`Timeout` if none came).
    pub(crate) async fn push_when_room(
        &self,
        envelope: &Envelope,
        deadline: Instant,
    ) -> Result<(), RemoteFailure> {
        loop {
            match self.push(envelope, false) {
                Err(RemoteFailure::Full) => {}
                done => return done,
            }
            // Cleared before the second try: a take after it sets the event again.
            self.room.clear();
            match self.push(envelope, false) {
                Err(RemoteFailure::Full) => {}
                done => return done,
            }
            if crate::time::timeout_at(deadline, self.room.wait()).await.is_err() {
                return Err(RemoteFailure::Timeout);
            }
        }
    }

    /// Appends the envelope of `len` bytes that `write` writes to the stream (or to the
    /// chunker, if it is large or must follow a large one).
    fn push_with(
        &self,
        len: usize,
        order: Order,
        control: bool,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), RemoteFailure> {
        {
            let mut out = self.out.lock();
            if out.down.is_some() {
                return Err(RemoteFailure::PeerDown);
            }
            if !control && out.stream.unacknowledged() + out.chunker.pending() >= self.limit {
                return Err(RemoteFailure::Full);
            }
            let Outbound { stream, chunker, conn, sent, .. } = &mut *out;
            chunker.push_with(len, order, stream.buffer(), write);
            *sent += 1;
            if let Some(conn) = conn
                && stream.unwritten().len() >= DIRECT_WRITE
            {
                let written = conn.write_directly(stream);
                self.counters.bytes_out.fetch_add(written as u64, Ordering::Relaxed);
            }
        }
        self.writable.set();
        Ok(())
    }

    /// Queues a control frame (outside the stream) for the next write.
    fn push_control(&self, frame_kind: u8, body: &[u8]) {
        {
            let mut out = self.out.lock();
            if out.down.is_some() {
                return;
            }
            frame::encode(frame_kind, body, &mut out.control);
        }
        self.writable.set();
    }

    /// The peer acknowledged its stream up to `through` on connection `generation`: frees what
    /// it has, and if this is the first word from the peer on the current connection, decides
    /// where the connection's part of our stream starts.
    fn peer_acknowledged(&self, generation: u64, through: u64) -> Result<(), StreamError> {
        let first = {
            let mut out = self.out.lock();
            let Outbound { conn, stream, .. } = &mut *out;
            match conn {
                Some(conn) if conn.generation == generation && conn.resume == Resume::Waiting => {
                    conn.resume = Resume::At(stream.resume(through)?);
                    true
                }
                _ => {
                    if !stream.acknowledge(through)? {
                        return Ok(());
                    }
                    false
                }
            }
        };
        if first {
            self.writable.set();
        }
        self.room.set();
        Ok(())
    }

    /// The address to dial the peer at again.
    pub(crate) fn redial_addr(&self) -> String {
        self.dial_addr.lock().clone().unwrap_or_else(|| self.location.addr().to_string())
    }

    /// Remembers the address a connection to the peer was dialled at.
    pub(crate) fn dialled_at(&self, addr: &str) {
        *self.dial_addr.lock() = Some(addr.to_owned());
    }

    /// A number for a deliver, and what its acknowledgement will complete.
    pub(crate) fn expect_ack(&self) -> (u64, oneshot::Receiver<Result<(), RemoteFailure>>) {
        let (done, acknowledged) = oneshot::channel();
        let mut waiting = self.waiting.lock();
        let seq = waiting.next_seq;
        waiting.next_seq += 1;
        waiting.delivers.insert(seq, done);
        (seq, acknowledged)
    }

    /// Forgets a deliver nobody waits for any more.
    pub(crate) fn forget_ack(&self, seq: u64) {
        self.waiting.lock().delivers.remove(&seq);
    }

    /// The peer answered a deliver.
    pub(crate) fn acknowledged(&self, seq: u64, outcome: Delivered) {
        let Some(done) = self.waiting.lock().delivers.remove(&seq) else { return };
        let _ = done.send(match outcome {
            Delivered::Queued => Ok(()),
            Delivered::Closed | Delivered::Malformed => Err(RemoteFailure::Closed),
            Delivered::Timeout => Err(RemoteFailure::Timeout),
        });
    }

    /// Registers a monitor of the peer's task `task` and asks the peer for its exit; `None` (the
    /// hook has run, with a lost connection) if the link is down.
    pub(crate) fn monitor(&self, task: TaskId, name: Option<Arc<str>>, hook: ExitHook) -> Option<HookToken> {
        let monitor = {
            let mut waiting = self.waiting.lock();
            let monitor = waiting.next_monitor;
            waiting.next_monitor += 1;
            waiting.monitors.insert(monitor, (task, name.clone(), hook));
            monitor
        };
        if self.push(&Envelope::Monitor { task: task.as_u64(), monitor }, true).is_err() {
            // Down: `go_down` may have run before the insert; whoever takes the hook runs it.
            if let Some((_, name, hook)) = self.waiting.lock().monitors.remove(&monitor) {
                hook(&Ended::connection_lost(task, self.id, name));
            }
            return None;
        }
        Some(HookToken::from_number(monitor))
    }

    /// Withdraws a monitor; false if its exit came (or the link went down) first.
    pub(crate) fn demonitor(&self, token: HookToken) -> bool {
        let monitor = token.number();
        let removed = self.waiting.lock().monitors.remove(&monitor);
        if removed.is_some() {
            let _ = self.push(&Envelope::Demonitor { monitor }, true);
        }
        removed.is_some()
    }

    /// The peer says the task of `monitor` ended; runs the monitor's hook with `ended`.
    pub(crate) fn exited(&self, monitor: u64, ended: impl FnOnce(TaskId, Option<Arc<str>>) -> Ended) {
        let Some((task, name, hook)) = self.waiting.lock().monitors.remove(&monitor) else { return };
        hook(&ended(task, name));
    }

    /// Puts `stream` (dialled by `dialer`) under the link and starts its writer, reader and
    /// heartbeat on `runtime`; `handlers.on_frame` handles every envelope read,
    /// `handlers.on_down` runs if the connection's end takes the link down, `handlers.redial`
    /// tries for another connection when this one breaks. Returns whether the connection was
    /// taken, and whether it is the link's first.
    ///
    /// When two connections to one peer exist (both sides dialled at once), both sides keep
    /// the one dialled by the smaller incarnation, so they agree without talking; of two
    /// dialled by the same node, the newer (the dialler redialled: it knows the old one is
    /// dead, the other side may not yet). The loser is closed by the side that dialled it
    /// (`dialled_here`); the other side reads it to its end. Nothing is lost either way: the
    /// stream resumes on the winner from what the peer has processed.
    pub(crate) fn attach(
        self: &Arc<Self>,
        wire: Wire,
        dialer: NodeId,
        dialled_here: bool,
        config: LinkConfig,
        handlers: Handlers,
        runtime: &crate::Handle,
    ) -> (bool, bool) {
        let stream = wire.socket();
        let (generation, first) = {
            let mut out = self.out.lock();
            if out.down.is_some() {
                stream.close();
                return (false, false);
            }
            if let Some(current) = &out.conn
                && current.dialer < dialer
            {
                drop(out);
                if dialled_here {
                    stream.close();
                } else {
                    self.drain(wire, config.max_frame, runtime);
                }
                return (false, false);
            }
            out.generation += 1;
            let first = out.generation == 1;
            let conn = Conn {
                generation: out.generation,
                dialer,
                stream: stream.clone(),
                plain: matches!(wire, Wire::Plain(_)),
                writing: false,
                resume: Resume::Waiting,
            };
            // A replaced connection's writer sees it is no longer current when woken below, and
            // closes it if this side dialled it; its reader reads on until it is closed.
            drop(out.conn.replace(conn));
            // The first word on every connection: how much of the peer's stream we have, so
            // that it knows where to resume.
            let received = self.received.load(Ordering::Acquire);
            frame::encode(kind::ACK, &received.to_le_bytes(), &mut out.control);
            out.ack_sent = received;
            (out.generation, first)
        };
        self.heard.store(self.now_ms(), Ordering::Release);
        let (mut read_half, mut write_half) = wire.split();
        let writer = self.clone();
        let writer_stream = stream.clone();
        runtime.spawn(async move {
            if let Err(why) =
                writer.write_loop(&mut write_half, &writer_stream, generation, dialled_here).await
            {
                tracing::debug!(target: "rycos::dist", peer = %writer.location, reason = %why, "writer stopped");
                writer.out.lock().write_failed = Some((generation, why));
                // A half close, not a close: what the peer wrote before it went (its last
                // messages, its goodbye) may still wait in the socket, and the reader reads it
                // to the end (the peer's close or reset) and then decides. Closing here lost
                // those messages when a goodbye crossed an acknowledgement of ours.
                let _ = writer_stream.shutdown(std::net::Shutdown::Write);
            }
        });
        let reader = self.clone();
        let reader_handlers = handlers.clone();
        runtime.spawn(async move {
            let on_frame = &*reader_handlers.on_frame;
            match reader.read_loop(&mut read_half, config.max_frame, Some((generation, on_frame))).await {
                ReadEnd::Broken(why) => {
                    let write_failed = reader.out.lock().write_failed.take();
                    let why = match write_failed {
                        Some((failed, write_why)) if failed == generation => write_why,
                        _ => why,
                    };
                    reader.disconnected(generation, why, dialled_here, config.grace, &reader_handlers).await
                }
                ReadEnd::Fatal(why) => reader.lost_connection(generation, why, &reader_handlers.on_down),
            }
        });
        let beat = self.clone();
        runtime.spawn(async move {
            if let Some(why) = beat.heartbeat_loop(generation, config).await {
                beat.lost_connection(generation, why, &handlers.on_down);
            }
        });
        // The acknowledgement above, and whatever was queued before the connection came.
        self.writable.set();
        (true, first)
    }

    /// True while `generation` is the connection carrying the link.
    fn is_current(&self, generation: u64) -> bool {
        self.out.lock().conn.as_ref().is_some_and(|c| c.generation == generation)
    }

    /// Reads a connection that lost the choice between two to its end, and discards it: it
    /// never carried our stream's resume point, so the peer wrote none of its stream on it.
    fn drain(self: &Arc<Self>, wire: Wire, max_frame: usize, runtime: &crate::Handle) {
        let reader = self.clone();
        let stream = wire.socket();
        let (mut read_half, _) = wire.split();
        runtime.spawn(async move {
            let _ = reader.read_loop(&mut read_half, max_frame, None).await;
            stream.close();
        });
    }

    /// Writes what the link queues to `writer` while connection `generation` is current;
    /// `stream` is its socket, closed when this side must close it.
    async fn write_loop(
        &self,
        writer: &mut WireWriter,
        stream: &TcpStream,
        generation: u64,
        dialled_here: bool,
    ) -> Result<(), DownReason> {
        let mut batch = Vec::new();
        loop {
            self.writable.wait().await;
            // Cleared before the buffer is taken: a push after the take sets it again.
            self.writable.clear();
            let closing = {
                let mut out = self.out.lock();
                if out.conn.as_ref().is_none_or(|c| c.generation != generation) {
                    drop(out);
                    if dialled_here && !self.is_down() {
                        // Replaced by another connection: ours to close.
                        stream.close();
                    }
                    return Ok(());
                }
                self.fill_batch(&mut out, &mut batch);
                if let Some(conn) = out.conn.as_mut() {
                    conn.writing = !batch.is_empty();
                }
                // Going down with a farewell: this batch ends with the goodbye, unless the peer
                // has not said where our stream resumes yet (then the goodbye waits for that;
                // the heartbeat closes the connection if it never comes).
                let resumed = out.conn.as_ref().is_some_and(|c| c.resume == Resume::Sent);
                if out.down.is_some() && resumed { out.conn.take() } else { None }
            };
            if let Some(conn) = closing {
                let _ = crate::time::timeout(FAREWELL, writer.write_all(&batch)).await;
                conn.stream.close();
                self.closed.set();
                return Ok(());
            }
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = writer.write_all(&batch).await {
                return Err(format!("write to the peer failed: {e}").into());
            }
            self.counters.bytes_out.fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
            if let Some(conn) = self.out.lock().conn.as_mut().filter(|c| c.generation == generation) {
                conn.writing = false;
            }
        }
    }

    /// Everything the current connection should write now, in order: control frames, an
    /// acknowledgement if we processed more of the peer's stream since the last one, then (once
    /// the peer has said where) the resume point and our stream's unwritten part, with at most
    /// one chunk of a large envelope (more chunks wait for the next batch: the writer is woken
    /// again for them, so control frames get in between).
    fn fill_batch(&self, out: &mut Outbound, batch: &mut Vec<u8>) {
        batch.clear();
        if out.stream.is_cut() {
            // A send's direct write stopped inside the stream: its rest comes first.
            out.stream.take_unwritten(batch);
        }
        batch.append(&mut out.control);
        let received = self.received.load(Ordering::Acquire);
        if received > out.ack_sent {
            frame::encode(kind::ACK, &received.to_le_bytes(), batch);
            out.ack_sent = received;
        }
        let Outbound { conn, stream, chunker, .. } = out;
        let Some(conn) = conn else { return };
        match conn.resume {
            Resume::Waiting => return,
            Resume::At(start) => {
                frame::encode(kind::RESUME, &start.to_le_bytes(), batch);
                conn.resume = Resume::Sent;
            }
            Resume::Sent => {}
        }
        if chunker.release(stream.buffer()) {
            self.writable.set();
        }
        stream.take_unwritten(batch);
    }

    /// Reads frames until the connection ends; why it stopped. `attached` is the connection's
    /// number and the envelope handler, or `None` for a connection that is only drained.
    async fn read_loop(
        self: &Arc<Self>,
        stream: &mut WireReader,
        max_frame: usize,
        attached: Option<(u64, &FrameFn)>,
    ) -> ReadEnd {
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
        // Where the next envelope on this connection sits in the peer's stream (its resume
        // frame says).
        let mut at: Option<u64> = None;
        loop {
            if filled == buf.len() {
                // A frame longer than the buffer (and within `max_frame`, checked by decode).
                let grown = (buf.len() * 2).min(max_frame + frame::HEADER);
                buf.resize(grown.max(buf.len() + 1), 0);
            }
            let n = match stream.read(&mut buf[filled..]).await {
                Ok(0) => {
                    return ReadEnd::Broken(match frame::at_end(&buf[..filled], max_frame) {
                        Ok(()) => "the peer closed the connection".into(),
                        Err(e) => format!("the peer closed the connection mid-frame: {e}").into(),
                    });
                }
                Ok(n) => n,
                Err(e) => return ReadEnd::Broken(format!("read from the peer failed: {e}").into()),
            };
            filled += n;
            self.heard.store(self.now_ms(), Ordering::Release);
            self.counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            let mut consumed = 0;
            loop {
                let turn = match attached {
                    Some((generation, on_frame)) => {
                        self.process(&buf[consumed..filled], max_frame, generation, &mut at, on_frame)
                    }
                    None => skip_frames(&buf[consumed..filled], max_frame).map(|n| (n, false)),
                };
                let more = match turn {
                    Ok((taken, more)) => {
                        consumed += taken;
                        more
                    }
                    Err(why) => return ReadEnd::Fatal(why),
                };
                if !more {
                    break;
                }
                // The receivers of this turn's envelopes run before the next: a read brings
                // in hundreds, and they would otherwise pile up in mailboxes (out of the cache,
                // growing without bound) while this task reads on.
                crate::yield_now().await;
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
    }

    /// Handles the complete frames at the start of `bytes`, up to [`ENVELOPES_PER_TURN`]
    /// envelopes; how many bytes they took, and whether complete frames are left. The link
    /// handles the control frames and the stream's bookkeeping itself; `on_frames` gets the
    /// envelopes new to this side, all of the turn's in one call.
    fn process(
        self: &Arc<Self>,
        bytes: &[u8],
        max_frame: usize,
        generation: u64,
        at: &mut Option<u64>,
        on_frames: &FrameFn,
    ) -> Result<(usize, bool), DownReason> {
        let mut guard = self.inbound.lock();
        let Inbound { stream: inbound, pieces } = &mut *guard;
        let mut frames = Frames {
            link: self,
            bytes,
            consumed: 0,
            max_frame,
            generation,
            at,
            inbound,
            pieces,
            whole: Vec::new(),
            left: ENVELOPES_PER_TURN,
        };
        let outcome = on_frames(self, &mut frames);
        debug_assert!(outcome.is_err() || frames.next().is_none(), "a frame handler stopped before the end");
        let (consumed, more) = (frames.consumed, frames.left == 0);
        self.counters.messages_in.fetch_add((ENVELOPES_PER_TURN - frames.left) as u64, Ordering::Relaxed);
        let received = inbound.received();
        drop(guard);
        self.received.store(received, Ordering::Release);
        if received.saturating_sub(self.out.lock().ack_sent) >= ACK_EVERY {
            // The writer adds the acknowledgement.
            self.writable.set();
        }
        outcome.map(|()| (consumed, more))
    }

    /// Speaks on an idle connection every `heartbeat`; the reason to go down once the peer has
    /// been silent for `misses` heartbeats. `None` when the connection is no longer current.
    async fn heartbeat_loop(&self, generation: u64, config: LinkConfig) -> Option<DownReason> {
        let mut tick = crate::time::interval(config.heartbeat);
        tick.tick().await;
        let mut last_tick = Instant::now();
        loop {
            tick.tick().await;
            let stalled = last_tick.elapsed() > config.heartbeat * 2;
            last_tick = Instant::now();
            if !self.is_current(generation) {
                return None;
            }
            if self.is_down() {
                // Closing with a farewell: the writer closes the connection once the goodbye is
                // out; if the peer stopped reading, it cannot, and this does.
                crate::time::sleep(FAREWELL).await;
                let conn = self.out.lock().conn.take();
                if let Some(conn) = conn {
                    conn.stream.close();
                }
                self.closed.set();
                return None;
            }
            let silent = self.now_ms().saturating_sub(self.heard.load(Ordering::Acquire));
            let allowed = config.heartbeat.as_millis() as u64 * u64::from(config.misses);
            if silent > allowed && (stalled || self.unread_bytes_wait()) {
                // This side did not look in time (its runtime was busy or paused), or the peer's
                // bytes wait for a reader that has not got to them: not the peer's silence. It
                // gets its heartbeats' worth again from now.
                self.heard.store(self.now_ms(), Ordering::Release);
            } else if silent > allowed {
                return Some(
                    format!("the peer was silent for {silent} ms ({} heartbeats missed)", config.misses)
                        .into(),
                );
            }
            // A heartbeat every period, busy or not, with a probe the peer sends back: the
            // round-trip time. The writer adds an acknowledgement if one is due.
            self.push_control(kind::HEARTBEAT, &self.now_us().to_le_bytes());
        }
    }

    /// The connection `generation` broke with `why`: the link tries for another until `grace`
    /// has passed (redialling with backoff; the side that did not dial the broken connection
    /// lets the dialler try first), and goes down if none came.
    async fn disconnected(
        self: &Arc<Self>,
        generation: u64,
        why: DownReason,
        dialled_here: bool,
        grace: Duration,
        handlers: &Handlers,
    ) {
        {
            let mut out = self.out.lock();
            if out.conn.as_ref().is_none_or(|c| c.generation != generation) {
                return;
            }
            out.conn = None;
            if out.down.is_some() {
                // Closed on purpose meanwhile, its goodbye queued for this connection: there is
                // nothing left to write it on, and nobody else to say the link is closed.
                drop(out);
                self.closed.set();
                return;
            }
        }
        tracing::info!(target: "rycos::dist", peer = %self.location, reason = %why, ?grace, "connection lost; redialling");
        let deadline = Instant::now() + grace;
        let reconnected = || self.out.lock().generation != generation;
        if !dialled_here {
            let _ = crate::time::timeout_at(deadline, crate::time::sleep(grace / 4)).await;
        }
        let mut backoff = Duration::from_millis(20);
        while !reconnected() && !self.is_down() && Instant::now() < deadline {
            let _ = crate::time::timeout_at(deadline, (handlers.redial)(self.clone())).await;
            if reconnected() || self.is_down() {
                break;
            }
            let _ = crate::time::timeout_at(deadline, crate::time::sleep(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
        if !reconnected() && self.go_down(why) {
            (handlers.on_down)(self);
        }
    }

    /// A connection's task stopped with `why`: the link goes down, unless that connection had
    /// been replaced already.
    fn lost_connection(self: &Arc<Self>, generation: u64, why: DownReason, on_down: &DownHandler) {
        if self.is_current(generation) && self.go_down(why) {
            on_down(self);
        }
    }

    /// Takes the link down for good with `why`: closes the connection, fails what waits for the
    /// peer, runs the monitors of its tasks. True for the call that did it.
    pub(crate) fn go_down(&self, why: DownReason) -> bool {
        self.go_down_saying(why, None)
    }

    /// Like [`go_down`](Link::go_down), telling the peer first (`Goodbye`): what was queued
    /// and the goodbye are written (for at most a second), then the connection closes, and
    /// the peer takes its link down at once instead of waiting out a grace period.
    pub(crate) fn close(&self, why: DownReason) -> bool {
        let farewell = why.to_string();
        self.go_down_saying(why, Some(farewell))
    }

    fn go_down_saying(&self, why: DownReason, farewell: Option<String>) -> bool {
        let conn = {
            let mut out = self.out.lock();
            if out.down.is_some() {
                return false;
            }
            out.down = Some(why);
            match farewell {
                Some(reason) if out.conn.is_some() => {
                    // What was queued goes first, then the goodbye.
                    let Outbound { stream, chunker, .. } = &mut *out;
                    chunker.release_all(stream.buffer());
                    let mut body = Vec::new();
                    Envelope::Goodbye { reason }.encode_into(&mut body);
                    frame::encode(kind::ENVELOPE, &body, out.stream.buffer());
                    // The writer flushes, closes and sets `closed`.
                    None
                }
                _ => {
                    out.stream.clear();
                    out.chunker.clear();
                    out.control = Vec::new();
                    // Nothing to write: closed as soon as the connection (if any) is.
                    Some(out.conn.take())
                }
            }
        };
        self.down.store(true, Ordering::Release);
        if let Some(conn) = conn {
            if let Some(conn) = conn {
                conn.stream.close();
            }
            self.closed.set();
        }
        self.writable.set();
        self.room.set();
        let Waiting { delivers, monitors, .. } = std::mem::take(&mut *self.waiting.lock());
        for (_, done) in delivers {
            let _ = done.send(Err(RemoteFailure::PeerDown));
        }
        for (_, (task, name, hook)) in monitors {
            hook(&Ended::connection_lost(task, self.id, name));
        }
        true
    }

    /// Completes once the link is down and its connection is closed, its last frames written
    /// (or given up on after `FAREWELL`).
    pub(crate) async fn closed(&self) {
        self.closed.wait().await
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// True if the current connection's socket holds bytes nobody has read yet.
    fn unread_bytes_wait(&self) -> bool {
        let out = self.out.lock();
        let Some(conn) = &out.conn else { return false };
        // Non-blocking: an empty socket answers `WouldBlock`; a closed one 0 bytes.
        matches!(conn.stream.get_ref().peek(&mut [0u8; 1]), Ok(n) if n > 0)
    }

    /// The peer sent back a probe of ours, sent at `sent_us`.
    fn echoed(&self, sent_us: u64) {
        let rtt = self.now_us().saturating_sub(sent_us).max(1);
        self.counters.rtt_us.store(rtt, Ordering::Relaxed);
    }

    /// What `Node::snapshot` shows of the link.
    pub(crate) fn view(&self) -> LinkView {
        let out = self.out.lock();
        LinkView {
            connected: out.conn.is_some() && out.down.is_none(),
            ever_connected: out.generation > 0,
            messages_out: out.sent,
            unacknowledged: out.stream.unacknowledged() + out.chunker.pending(),
        }
    }
}

/// What a connection's tasks need to know of the node's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkConfig {
    pub(crate) heartbeat: Duration,
    pub(crate) misses: u32,
    pub(crate) max_frame: usize,
    /// How long a link without a connection waits for another before it is down.
    pub(crate) grace: Duration,
}

/// How long a closing link spends writing its last frames.
const FAREWELL: Duration = Duration::from_secs(1);

/// Why a connection's reader stopped.
enum ReadEnd {
    /// The connection broke (closed, reset, replaced): another may take its place.
    Broken(DownReason),
    /// The peer broke the protocol, or said goodbye: the link is down at once.
    Fatal(DownReason),
}

/// The stream offset a control frame (ack, resume) carries: 8 bytes, little-endian.
fn offset(body: &[u8]) -> Result<u64, String> {
    let bytes: [u8; 8] =
        body.try_into().map_err(|_| format!("a stream offset of {} bytes, not 8", body.len()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The bytes of the complete frames at the start of `bytes`, checked and not looked into.
fn skip_frames(bytes: &[u8], max_frame: usize) -> Result<usize, DownReason> {
    let mut consumed = 0;
    loop {
        match frame::decode(&bytes[consumed..], max_frame) {
            Ok(Some(frame)) => consumed += frame.consumed,
            Ok(None) => return Ok(consumed),
            Err(e) => return Err(format!("protocol error from the peer: {e}").into()),
        }
    }
}

/// The envelopes of one read batch that are new to this side, in order, for the node's frame
/// handler: control frames, resume points, duplicates and chunks are dealt with on the way
/// (a whole large message comes out as one envelope).
pub(crate) struct Frames<'a> {
    link: &'a Arc<Link>,
    bytes: &'a [u8],
    /// Bytes of `bytes` taken so far (whole frames).
    consumed: usize,
    max_frame: usize,
    generation: u64,
    /// Where the next frame of the peer's stream sits in it (its resume frame says).
    at: &'a mut Option<u64>,
    inbound: &'a mut Incoming,
    pieces: &'a mut Assembler,
    /// The last large message reassembled (lent out by `next`).
    whole: Vec<u8>,
    /// Envelopes still to hand out this turn.
    left: usize,
}

impl<'a> Frames<'a> {
    /// The next envelope (its kind and body), `None` at the end of the complete frames, or why
    /// the peer broke the protocol (the link goes down).
    pub(crate) fn next(&mut self) -> Option<Result<(u8, &[u8]), DownReason>> {
        let protocol = |e: &dyn fmt::Display| DownReason::from(format!("protocol error from the peer: {e}"));
        // The read buffer outlives `self`: frames are borrowed from it, not from `self`.
        let bytes: &'a [u8] = self.bytes;
        loop {
            if self.left == 0 {
                return None;
            }
            let frame = match frame::decode(&bytes[self.consumed..], self.max_frame) {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(e) => return Some(Err(protocol(&e))),
            };
            self.consumed += frame.consumed;
            match frame.kind {
                kind::HEARTBEAT => {
                    if frame.body.len() == 8 {
                        self.link.push_control(kind::ECHO, frame.body);
                    }
                }
                kind::ECHO => match offset(frame.body) {
                    Ok(sent_us) => self.link.echoed(sent_us),
                    Err(e) => return Some(Err(protocol(&e))),
                },
                kind::ACK => {
                    let acknowledged = offset(frame.body).and_then(|through| {
                        self.link.peer_acknowledged(self.generation, through).map_err(|e| e.to_string())
                    });
                    if let Err(e) = acknowledged {
                        return Some(Err(protocol(&e)));
                    }
                }
                kind::RESUME => match offset(frame.body) {
                    Ok(start) => match self.inbound.check_resume(start) {
                        Ok(()) => *self.at = Some(start),
                        Err(e) => return Some(Err(protocol(&e))),
                    },
                    Err(e) => return Some(Err(protocol(&e))),
                },
                _ => {
                    let Some(start) = *self.at else {
                        return Some(Err(protocol(&StreamError::DataBeforeResume)));
                    };
                    *self.at = Some(start + frame.consumed as u64);
                    match self.inbound.arrive(start, frame.consumed) {
                        Ok(Arrival::New) => {}
                        Ok(Arrival::Duplicate) => continue,
                        Err(e) => return Some(Err(protocol(&e))),
                    }
                    if frame.kind != kind::CHUNK {
                        self.left -= 1;
                        return Some(Ok((frame.kind, frame.body)));
                    }
                    match self.pieces.piece(frame.body) {
                        Ok(Piece::Partial) => {}
                        Ok(Piece::Whole(envelope)) => {
                            self.left -= 1;
                            self.whole = envelope;
                            return Some(Ok((kind::ENVELOPE, &self.whole)));
                        }
                        Ok(Piece::Skipped { total }) => tracing::warn!(
                            target: "rycos::dist",
                            peer = %self.link.location,
                            size = total,
                            max = self.link.max_message,
                            "a message over the maximum message size was dropped"
                        ),
                        Err(e) => return Some(Err(protocol(&e))),
                    }
                }
            }
        }
    }
}
