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
//! Going down is final for the incarnation: pending delivers fail with `PeerDown`, monitors get
//! `ExitReason::NoConnection`, and every reference to its tasks fails from then on. A restarted
//! peer is a new incarnation and gets a new link.

use super::envelope::{Delivered, Envelope};
use super::frame::{self, kind};
use super::location::Location;
use crate::net::TcpStream;
use crate::sync::Event;
use crate::task::extras::{Ended, ExitHook, HookToken};
use crate::task::remote::RemoteFailure;
use crate::task::{NodeId, TaskId};
use futures_channel::oneshot;
use parking_lot::Mutex;
use std::collections::HashMap;
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
    /// Frames waiting for the writer, and the state that decides whether more may be queued.
    out: Mutex<Outbound>,
    /// Set when `out` has something for the writer.
    writable: Event,
    /// Set when the writer took the buffer (or the link went down): a deliver refused for
    /// space waits on it.
    room: Event,
    /// Bytes `out` may hold before a send is refused with `Full`.
    limit: usize,
    /// Delivers and monitors waiting for the peer's answer.
    waiting: Mutex<Waiting>,
    /// Set once, when the link goes down.
    down: AtomicBool,
    /// Set once the link is down and its connection closed: the farewell written, or given up
    /// on after `FAREWELL` (what `Node::shutdown` waits for).
    closed: Event,
    /// When a frame last arrived (milliseconds since `epoch`).
    heard: AtomicU64,
    epoch: Instant,
}

struct Outbound {
    frames: Vec<u8>,
    /// The connection now carrying the link.
    conn: Option<Conn>,
    generation: u64,
    /// Set when anything was queued since the heartbeat last looked.
    spoke: bool,
    /// Why the link went down, once it has.
    down: Option<DownReason>,
    /// Why the writer of the current connection gave up: it closes the socket, and the reader,
    /// which decides what happens next, reports this instead of "the socket was closed".
    write_failed: Option<(u64, DownReason)>,
}

/// A connection under a link.
struct Conn {
    /// Its number: a replaced connection's tasks see the number change and stop.
    generation: u64,
    /// The incarnation that dialled it (decides which of two connections stays).
    dialer: NodeId,
    stream: TcpStream,
}

/// Handles one frame from the peer; an error takes the link down with that reason.
pub(crate) type FrameHandler = Arc<FrameFn>;
/// The function behind a [`FrameHandler`]: the link, the frame's kind and its body.
pub(crate) type FrameFn = dyn Fn(&Arc<Link>, u8, &[u8]) -> Result<(), DownReason> + Send + Sync;
/// Runs once after the link went down because its connection ended.
pub(crate) type DownHandler = Arc<dyn Fn(&Arc<Link>) + Send + Sync>;

#[derive(Default)]
struct Waiting {
    next_seq: u64,
    delivers: HashMap<u64, oneshot::Sender<Result<(), RemoteFailure>>>,
    next_monitor: u64,
    /// Monitors of the peer's tasks: the task watched and the hook to run with its end.
    monitors: HashMap<u64, (TaskId, Option<Arc<str>>, ExitHook)>,
}

impl Link {
    pub(crate) fn new(location: Location, id: NodeId, limit: usize) -> Arc<Link> {
        Arc::new(Link {
            location,
            id,
            out: Mutex::new(Outbound {
                frames: Vec::new(),
                conn: None,
                generation: 0,
                spoke: false,
                down: None,
                write_failed: None,
            }),
            writable: Event::new(),
            room: Event::new(),
            closed: Event::new(),
            limit,
            waiting: Mutex::new(Waiting::default()),
            down: AtomicBool::new(false),
            heard: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// True once the link has gone down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
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
    /// pass `control`: answers and exits are never refused for space), `PeerDown` once down.
    pub(crate) fn push(&self, envelope: &Envelope, control: bool) -> Result<(), RemoteFailure> {
        thread_local! {
            static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BODY.with(|body| {
            let mut body = body.borrow_mut();
            body.clear();
            envelope.encode_into(&mut body);
            self.push_frame(kind::ENVELOPE, &body, control)
        })
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

    fn push_frame(&self, frame_kind: u8, body: &[u8], control: bool) -> Result<(), RemoteFailure> {
        {
            let mut out = self.out.lock();
            if out.down.is_some() {
                return Err(RemoteFailure::PeerDown);
            }
            if !control && out.frames.len() >= self.limit {
                return Err(RemoteFailure::Full);
            }
            frame::encode(frame_kind, body, &mut out.frames);
            out.spoke = true;
        }
        self.writable.set();
        Ok(())
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
    /// heartbeat on `runtime`; `on_frame` handles every frame read, `on_down` runs if the
    /// connection's end takes the link down. Returns whether the connection was taken, and
    /// whether it is the link's first.
    ///
    /// When two connections to one peer exist (both sides dialled at once), both sides keep
    /// the one dialled by the smaller incarnation, so they agree without talking. The other is
    /// closed by the side that dialled it (`dialled_here`), once its writer has finished the
    /// batch in hand; the other side reads it until then, so nothing either side wrote on it
    /// before it learnt of the second connection is lost. The buffer stays with the link.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attach(
        self: &Arc<Self>,
        stream: TcpStream,
        dialer: NodeId,
        dialled_here: bool,
        config: LinkConfig,
        on_frame: FrameHandler,
        on_down: DownHandler,
        runtime: &crate::Handle,
    ) -> (bool, bool) {
        let (generation, first) = {
            let mut out = self.out.lock();
            if out.down.is_some() {
                stream.close();
                return (false, false);
            }
            if let Some(current) = &out.conn
                && current.dialer <= dialer
            {
                drop(out);
                if dialled_here {
                    stream.close();
                } else {
                    self.drain(stream, config.max_frame, on_frame, runtime);
                }
                return (false, false);
            }
            out.generation += 1;
            let first = out.generation == 1;
            let conn = Conn { generation: out.generation, dialer, stream: stream.clone() };
            // A replaced connection's writer sees it is no longer current when woken below, and
            // closes it if this side dialled it; its reader reads on until it is closed.
            drop(out.conn.replace(conn));
            (out.generation, first)
        };
        self.heard.store(self.now_ms(), Ordering::Release);
        let writer = self.clone();
        let writer_stream = stream.clone();
        runtime.spawn(async move {
            if let Err(why) = writer.write_loop(&writer_stream, generation, dialled_here).await {
                tracing::debug!(target: "rycos::dist", peer = %writer.location, "{why}");
                writer.out.lock().write_failed = Some((generation, why));
                // The reader sees the closed socket and decides.
                writer_stream.close();
            }
        });
        let reader = self.clone();
        let reader_down = on_down.clone();
        runtime.spawn(async move {
            match reader.read_loop(&stream, config.max_frame, &*on_frame).await {
                ReadEnd::Broken(why) => {
                    let write_failed = reader.out.lock().write_failed.take();
                    let why = match write_failed {
                        Some((failed, write_why)) if failed == generation => write_why,
                        _ => why,
                    };
                    reader.disconnected(generation, why, config.grace, &reader_down).await
                }
                ReadEnd::Fatal(why) => reader.lost_connection(generation, why, &reader_down),
            }
        });
        let beat = self.clone();
        runtime.spawn(async move {
            if let Some(why) = beat.heartbeat_loop(generation, config).await {
                beat.lost_connection(generation, why, &on_down);
            }
        });
        // Whatever was queued before the connection came is written now.
        self.writable.set();
        (true, first)
    }

    /// True while `generation` is the connection carrying the link.
    fn is_current(&self, generation: u64) -> bool {
        self.out.lock().conn.as_ref().is_some_and(|c| c.generation == generation)
    }

    /// Reads a connection that lost to another until its dialer closes it.
    fn drain(
        self: &Arc<Self>,
        stream: TcpStream,
        max_frame: usize,
        on_frame: FrameHandler,
        runtime: &crate::Handle,
    ) {
        let reader = self.clone();
        runtime.spawn(async move {
            let _ = reader.read_loop(&stream, max_frame, &*on_frame).await;
            stream.close();
        });
    }

    async fn write_loop(
        &self,
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
                std::mem::swap(&mut batch, &mut out.frames);
                self.room.set();
                // Going down with a farewell: this batch ends with the goodbye.
                if out.down.is_some() { out.conn.take() } else { None }
            };
            if let Some(conn) = closing {
                let _ = crate::time::timeout(FAREWELL, stream.write_all(&batch)).await;
                conn.stream.close();
                self.closed.set();
                return Ok(());
            }
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = stream.write_all(&batch).await {
                return Err(format!("write to the peer failed: {e}").into());
            }
            batch.clear();
        }
    }

    /// Reads frames until the connection ends; why it stopped.
    async fn read_loop(
        self: &Arc<Self>,
        stream: &TcpStream,
        max_frame: usize,
        on_frame: &FrameFn,
    ) -> ReadEnd {
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
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
            let mut at = 0;
            loop {
                match frame::decode(&buf[at..filled], max_frame) {
                    Ok(Some(frame)) => {
                        at += frame.consumed;
                        if frame.kind != kind::HEARTBEAT
                            && let Err(why) = on_frame(self, frame.kind, frame.body)
                        {
                            return ReadEnd::Fatal(why);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return ReadEnd::Fatal(format!("protocol error from the peer: {e}").into()),
                }
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
        }
    }

    /// Speaks on an idle connection every `heartbeat`; the reason to go down once the peer has
    /// been silent for `misses` heartbeats. `None` when the connection is no longer current.
    async fn heartbeat_loop(&self, generation: u64, config: LinkConfig) -> Option<DownReason> {
        let mut tick = crate::time::interval(config.heartbeat);
        tick.tick().await;
        loop {
            tick.tick().await;
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
            if silent > allowed {
                return Some(
                    format!("the peer was silent for {silent} ms ({} heartbeats missed)", config.misses)
                        .into(),
                );
            }
            let idle = !std::mem::replace(&mut self.out.lock().spoke, false);
            if idle {
                let _ = self.push_frame(kind::HEARTBEAT, &[], true);
            }
        }
    }

    /// The connection `generation` broke with `why`: the link waits `grace` for another
    /// connection (the peer redialling, or a second dial already under way) and goes down if
    /// none came.
    async fn disconnected(
        self: &Arc<Self>,
        generation: u64,
        why: DownReason,
        grace: Duration,
        on_down: &DownHandler,
    ) {
        {
            let mut out = self.out.lock();
            if out.conn.as_ref().is_none_or(|c| c.generation != generation) {
                return;
            }
            out.conn = None;
        }
        tracing::debug!(target: "rycos::dist", peer = %self.location, "connection lost ({why}); waiting {grace:?} for another");
        crate::time::sleep(grace).await;
        let reconnected = { self.out.lock().generation != generation };
        if !reconnected && self.go_down(why) {
            on_down(self);
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
                    let mut body = Vec::new();
                    Envelope::Goodbye { reason }.encode_into(&mut body);
                    frame::encode(kind::ENVELOPE, &body, &mut out.frames);
                    // The writer flushes, closes and sets `closed`.
                    None
                }
                _ => {
                    out.frames = Vec::new();
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
        self.epoch.elapsed().as_millis() as u64
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
