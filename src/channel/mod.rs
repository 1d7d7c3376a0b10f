//! Named publish/subscribe channels (pycos `Channel`).
//!
//! A [`Channel<M>`] has a name unique in its runtime, so any task can find it with
//! [`Channel::locate`]. Tasks subscribe to it, and so can other channels, which makes
//! hierarchies: a message sent to a channel goes to each subscriber, through each sub-channel's
//! own transform and on to its subscribers. A subscription that would make a cycle is refused.
//!
//! Every subscriber sees the messages of a channel in one order: a send hands the message to all
//! subscribers before the next send on that channel starts.
//!
//! A subscriber's bounded mailbox ([`task::Builder::mailbox_capacity`]) counts channel messages
//! like any other: [`Channel::send`] skips a subscriber whose mailbox is full (it is not counted
//! in the result, as a direct `send` to it would return `Full`), and [`Channel::deliver`] waits
//! for room in it, so a slow subscriber holds its publisher back instead of growing without
//! limit. Messages to one subscriber keep the channel's order either way: while deliveries
//! wait for room, later sends find the mailbox full. Unbounded subscribers take everything.
//!
//! A transform that panics loses only that message, for that channel: the panic is logged
//! through `tracing` and the sender goes on.
//!
//! [`task::Builder::mailbox_capacity`]: crate::task::Builder::mailbox_capacity
//!
//! ```
//! use rycos::channel::Channel;
//!
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let news = Channel::<String>::new("news").unwrap();
//!     let (reader, read) = rycos::spawn_task_joinable(|cx: rycos::Cx<String>| async move {
//!         let mut headlines = Vec::new();
//!         while let Some(h) = cx.receive().await {
//!             headlines.push(h);
//!             if headlines.len() == 2 {
//!                 break;
//!             }
//!         }
//!         headlines
//!     });
//!     Channel::<String>::locate("news").unwrap().subscribe(&reader).unwrap();
//!     assert_eq!(news.send("rain".into()).unwrap(), 1);
//!     assert_eq!(news.send("sun".into()).unwrap(), 1);
//!     assert_eq!(read.await.unwrap(), ["rain", "sun"]);
//! });
//! ```

mod log;
#[cfg(all(test, loom))]
mod loom_channel;
mod route;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::Ordering;
use crate::registry::Registry;
use crate::runtime::Handle;
use crate::task::{TaskId, TaskRef};
use crate::time::timeout_at;
use log::Writer;
use route::{Board, Bounded, Offer, PendingDelivery, Reader};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A transform: `Some` passes the (possibly changed) message on, `None` drops it.
type Transform<M> = Box<dyn Fn(&M) -> Option<M> + Send + Sync>;

/// A named publish/subscribe channel; cloning gives another handle to the same channel.
pub struct Channel<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for Channel<M> {
    fn clone(&self) -> Self {
        Channel { inner: self.inner.clone() }
    }
}

struct Inner<M> {
    id: u64,
    name: Arc<str>,
    transform: Option<Transform<M>>,
    registry: Arc<Registry>,
    board: Arc<Board>,
    state: Mutex<State<M>>,
}

struct State<M> {
    /// Messages for the tasks subscribed through the log, who read them from their mailboxes.
    log: Writer<M>,
    readers: Vec<Reader>,
    /// Tasks with a bounded mailbox get each message queued directly (see `route`).
    bounded: Vec<Bounded<M>>,
    /// Sub-channels get each message handed over at once (through their own transform).
    channels: Vec<Box<dyn Endpoint<M>>>,
    closed: bool,
    /// Deliveries waiting for enough subscribers.
    watchers: Vec<Waker>,
}

impl<M> State<M> {
    fn live_subscribers(&self) -> usize {
        self.readers.iter().filter(|r| r.is_live()).count()
            + self.bounded.iter().filter(|b| b.is_live()).count()
            + self.channels.iter().filter(|c| c.is_alive()).count()
    }

    fn has_subscribers(&self) -> bool {
        !(self.readers.is_empty() && self.bounded.is_empty() && self.channels.is_empty())
    }

    fn is_subscribed(&self, id: TaskId) -> bool {
        self.readers.iter().any(|r| r.id == id && r.is_live())
            || self.bounded.iter().any(|b| b.id == id && b.is_live())
    }

    /// Ends every log subscription after the messages appended so far.
    fn end_readers(&self) {
        let end = self.log.seq();
        for reader in &self.readers {
            reader.end_at(end);
        }
    }
}

/// A `deliver` in progress: the waker to register with full subscribers, and where to put the
/// deliveries that wait for room.
struct Waits<'a, 'b> {
    cx: &'a mut Context<'b>,
    pending: &'a mut Vec<Box<dyn PendingDelivery>>,
}

/// Who a subscription refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum SubscriberKey {
    Task(TaskId),
    Channel(u64),
}

/// A sub-channel, as its parent sees it.
trait Endpoint<M>: Send + Sync {
    fn key(&self) -> SubscriberKey;
    /// Hands the message over (a `deliver` passes its `waits`); the number of end-point tasks it
    /// reached, `None` if the channel is closed.
    fn forward(&self, message: &M, waits: Option<&mut Waits<'_, '_>>) -> Option<usize>;
    fn is_alive(&self) -> bool;
    /// True if messages sent here can reach the channel `target`.
    fn reaches(&self, target: u64) -> bool;
}

/// What [`Channel::subscribe`] accepts: a [`TaskRef<N>`] or a [`Channel<N>`] whose message type
/// `N` can be made from `M` (`M` itself, or an enum with a `From<M>` variant).
pub trait Subscriber<M>: sealed::Sealed {
    #[doc(hidden)]
    fn subscribe_to(&self, channel: &Channel<M>) -> Result<(), ChannelError>;
    #[doc(hidden)]
    fn key(&self) -> SubscriberKey;
}

mod sealed {
    pub trait Sealed {}
    impl<N> Sealed for crate::task::TaskRef<N> {}
    impl<N> Sealed for super::Channel<N> {}
}

impl<M, N> Subscriber<M> for TaskRef<N>
where
    M: Clone + Send + Sync + 'static,
    N: From<M> + Send + 'static,
{
    fn subscribe_to(&self, channel: &Channel<M>) -> Result<(), ChannelError> {
        channel.subscribe_task(self)
    }

    fn key(&self) -> SubscriberKey {
        SubscriberKey::Task(self.id())
    }
}

impl<M, N> Endpoint<M> for Channel<N>
where
    M: Clone,
    N: From<M> + Clone + Send + Sync + 'static,
{
    fn key(&self) -> SubscriberKey {
        SubscriberKey::Channel(self.inner.id)
    }

    fn forward(&self, message: &M, waits: Option<&mut Waits<'_, '_>>) -> Option<usize> {
        match self.publish(N::from(message.clone()), waits) {
            Ok(delivered) => Some(delivered),
            Err(PublishError::Closed(_)) => None,
            // Nobody below yet: it reached no task, and stays subscribed.
            Err(_) => Some(0),
        }
    }

    fn is_alive(&self) -> bool {
        !self.is_closed()
    }

    fn reaches(&self, target: u64) -> bool {
        if self.inner.id == target {
            return true;
        }
        // Locks are taken parent before child, the order sends take them in; the hierarchy
        // has no cycles, so this cannot deadlock with a send.
        let state = self.inner.state.lock();
        state.channels.iter().any(|c| c.reaches(target))
    }
}

impl<M, N> Subscriber<M> for Channel<N>
where
    M: Clone + Send + Sync + 'static,
    N: From<M> + Clone + Send + Sync + 'static,
{
    fn subscribe_to(&self, channel: &Channel<M>) -> Result<(), ChannelError> {
        channel.subscribe_channel(Box::new(self.clone()))
    }

    fn key(&self) -> SubscriberKey {
        SubscriberKey::Channel(self.inner.id)
    }
}

// The two process-wide statics stay on `parking_lot` / `std` (loom's primitives cannot be built
// in a `static`); neither takes part in a protocol the loom models check.

/// Serialises channel-to-channel subscriptions, so two of them racing cannot make a cycle that
/// neither saw.
static HIERARCHY: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why a channel could not be created, found or subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// Another live channel in this runtime has the name.
    NameTaken(String),
    /// No live channel has the name.
    NotFound(String),
    /// The channel with the name carries another message type.
    WrongType(String),
    /// The subscription would make a cycle of channels.
    Cycle,
    /// The channel is closed.
    Closed,
    /// The task to subscribe has ended.
    TaskEnded,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NameTaken(n) => write!(f, "a channel named {n:?} already exists"),
            ChannelError::NotFound(n) => write!(f, "no channel named {n:?}"),
            ChannelError::WrongType(n) => write!(f, "the channel named {n:?} carries another message type"),
            ChannelError::Cycle => f.write_str("the subscription would make a cycle of channels"),
            ChannelError::Closed => f.write_str("the channel is closed"),
            ChannelError::TaskEnded => f.write_str("the task has ended"),
        }
    }
}

impl std::error::Error for ChannelError {}

/// A message a channel did not send; it is inside.
#[non_exhaustive]
pub enum PublishError<M> {
    /// The channel is closed.
    Closed(M),
    /// Nobody is subscribed.
    NoSubscribers(M),
    /// `deliver` waited in vain for enough subscribers.
    Timeout(M),
}

impl<M> PublishError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            PublishError::Closed(m) | PublishError::NoSubscribers(m) | PublishError::Timeout(m) => m,
        }
    }
}

impl<M> fmt::Debug for PublishError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublishError::Closed(_) => "PublishError::Closed(..)",
            PublishError::NoSubscribers(_) => "PublishError::NoSubscribers(..)",
            PublishError::Timeout(_) => "PublishError::Timeout(..)",
        })
    }
}

impl<M> fmt::Display for PublishError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublishError::Closed(_) => "the channel is closed",
            PublishError::NoSubscribers(_) => "the channel has no subscribers",
            PublishError::Timeout(_) => "timed out waiting for subscribers",
        })
    }
}

impl<M> std::error::Error for PublishError<M> {}

/// Options of a new channel.
pub struct ChannelBuilder<M> {
    name: Arc<str>,
    transform: Option<Transform<M>>,
    handle: Option<Handle>,
}

impl<M: Clone + Send + Sync + 'static> ChannelBuilder<M> {
    /// Passes every message sent to the channel through `transform` first: `Some` sends the
    /// returned message on, `None` drops it. A transform that panics drops that message (the
    /// send reports 0 end-point tasks reached) and the panic is logged as a `tracing` error;
    /// the sending task goes on unharmed, as in pycos.
    pub fn transform(mut self, transform: impl Fn(&M) -> Option<M> + Send + Sync + 'static) -> Self {
        self.transform = Some(Box::new(transform));
        self
    }

    /// Registers the name in this runtime instead of the current (or default) one.
    pub fn on(mut self, handle: &Handle) -> Self {
        self.handle = Some(handle.clone());
        self
    }

    /// Creates the channel; fails if a live channel of the runtime has the name.
    pub fn build(self) -> Result<Channel<M>, ChannelError> {
        let handle = self.handle.unwrap_or_else(Handle::current_or_default);
        let registry = handle.registry();
        let inner = Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: self.name.clone(),
            transform: self.transform,
            registry: registry.clone(),
            board: Arc::default(),
            state: Mutex::new(State {
                log: Writer::new(),
                readers: Vec::new(),
                bounded: Vec::new(),
                channels: Vec::new(),
                closed: false,
                watchers: Vec::new(),
            }),
        });
        let weak: std::sync::Weak<dyn std::any::Any + Send + Sync> = Arc::downgrade(&inner) as _;
        if !registry.register_channel(&self.name, weak, std::any::type_name::<M>()) {
            return Err(ChannelError::NameTaken(self.name.to_string()));
        }
        Ok(Channel { inner })
    }
}

impl<M> fmt::Debug for ChannelBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelBuilder").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<M: Clone + Send + Sync + 'static> Channel<M> {
    /// Creates a channel named `name` in the current runtime (or the default one).
    pub fn new(name: impl AsRef<str>) -> Result<Channel<M>, ChannelError> {
        Channel::builder(name).build()
    }

    /// Options for a new channel: a transform, a particular runtime.
    pub fn builder(name: impl AsRef<str>) -> ChannelBuilder<M> {
        ChannelBuilder { name: Arc::from(name.as_ref()), transform: None, handle: None }
    }

    /// Finds the live channel named `name` in the current runtime (pycos `Channel.locate`).
    pub fn locate(name: &str) -> Result<Channel<M>, ChannelError> {
        Channel::locate_in(&Handle::current_or_default(), name)
    }

    /// Finds the live channel named `name` in the runtime of `handle`.
    pub fn locate_in(handle: &Handle, name: &str) -> Result<Channel<M>, ChannelError> {
        let found = handle.registry().channel(name).ok_or_else(|| ChannelError::NotFound(name.into()))?;
        let inner = found.downcast::<Inner<M>>().map_err(|_| ChannelError::WrongType(name.into()))?;
        if inner.state.lock().closed {
            return Err(ChannelError::NotFound(name.into()));
        }
        Ok(Channel { inner })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Subscribes a task or another channel; subscribing one already subscribed changes
    /// nothing. A task gets every message sent from now on in its mailbox; a channel that
    /// reaches this one through its own subscribers is refused ([`ChannelError::Cycle`]).
    pub fn subscribe(&self, subscriber: &impl Subscriber<M>) -> Result<(), ChannelError> {
        subscriber.subscribe_to(self)
    }

    fn subscribe_task<N: From<M> + Send + 'static>(&self, task: &TaskRef<N>) -> Result<(), ChannelError> {
        let watchers = {
            let mut state = self.inner.state.lock();
            if state.closed {
                return Err(ChannelError::Closed);
            }
            if state.is_subscribed(task.id()) {
                return Ok(());
            }
            if task.mailbox_capacity().is_some() {
                if !task.is_alive() {
                    return Err(ChannelError::TaskEnded);
                }
                state.bounded.push(Bounded::new(task));
            } else {
                let reader = Reader::attach(task, state.log.cursor(), &self.inner.board)
                    .map_err(|()| ChannelError::TaskEnded)?;
                state.readers.push(reader);
            }
            std::mem::take(&mut state.watchers)
        };
        for waker in watchers {
            waker.wake();
        }
        Ok(())
    }

    fn subscribe_channel(&self, channel: Box<dyn Endpoint<M>>) -> Result<(), ChannelError> {
        let _hierarchy = HIERARCHY.lock();
        if channel.reaches(self.inner.id) {
            return Err(ChannelError::Cycle);
        }
        let watchers = {
            let mut state = self.inner.state.lock();
            if state.closed {
                return Err(ChannelError::Closed);
            }
            let key = channel.key();
            if state.channels.iter().any(|c| c.key() == key) {
                return Ok(());
            }
            state.channels.push(channel);
            std::mem::take(&mut state.watchers)
        };
        for waker in watchers {
            waker.wake();
        }
        Ok(())
    }

    /// Removes a subscription; false if it did not exist. A task still gets the messages sent
    /// before.
    pub fn unsubscribe(&self, subscriber: &impl Subscriber<M>) -> bool {
        let key = subscriber.key();
        let mut state = self.inner.state.lock();
        match key {
            SubscriberKey::Task(id) => {
                let end = state.log.seq();
                let before = state.readers.len() + state.bounded.len();
                state.readers.retain(|r| {
                    let unsubscribing = r.id == id;
                    if unsubscribing {
                        r.end_at(end);
                    }
                    !unsubscribing
                });
                state.bounded.retain(|b| b.id != id);
                state.readers.len() + state.bounded.len() != before
            }
            SubscriberKey::Channel(_) => {
                let before = state.channels.len();
                state.channels.retain(|c| c.key() != key);
                state.channels.len() != before
            }
        }
    }

    /// Live subscribers right now (tasks that have ended are not counted).
    pub fn subscribers(&self) -> usize {
        self.inner.state.lock().live_subscribers()
    }

    /// Sends `message` to every subscriber; returns how many end-point tasks got it (summed
    /// through sub-channels; 0 if a transform dropped it). With no subscribers the message
    /// comes back in [`PublishError::NoSubscribers`].
    ///
    /// Never waits: a subscriber whose bounded mailbox is full does not get the message and is
    /// not counted, as a direct [`TaskRef::send`] to it would return `Full`.
    pub fn send(&self, message: M) -> Result<usize, PublishError<M>> {
        self.publish(message, None)
    }

    /// Waits until at least `n` subscribers exist, then sends `message` (pycos `deliver`);
    /// returns how many end-point tasks got it. All within `limit`.
    ///
    /// Unlike [`send`](Channel::send), a subscriber whose bounded mailbox is full gets the
    /// message as soon as it has room (in the order deliveries to it came), so a slow
    /// subscriber slows the publisher down rather than missing messages; one still full when
    /// `limit` runs out does not get it and is not counted. `n` counts subscribers, not
    /// deliveries: fewer than `n` subscribers within `limit` is a [`PublishError::Timeout`].
    pub async fn deliver(&self, message: M, n: usize, limit: Duration) -> Result<usize, PublishError<M>> {
        let deadline = Instant::now() + limit;
        let mut slot = Some(message);
        let mut pending = Vec::new();
        let sent = timeout_at(
            deadline,
            std::future::poll_fn(|cx| self.poll_deliver(cx, &mut slot, n, &mut pending)),
        )
        .await;
        let mut reached = match sent {
            Ok(sent) => sent?,
            Err(_) => return Err(PublishError::Timeout(slot.take().expect("the message is still here"))),
        };
        if !pending.is_empty() {
            let mut late = 0;
            let all_queued = std::future::poll_fn(|cx| {
                pending.retain_mut(|delivery| match delivery.poll(cx) {
                    Poll::Ready(queued) => {
                        late += usize::from(queued);
                        false
                    }
                    Poll::Pending => true,
                });
                if pending.is_empty() { Poll::Ready(()) } else { Poll::Pending }
            });
            // What is still waiting at the deadline is withdrawn when `pending` drops.
            let _ = timeout_at(deadline, all_queued).await;
            reached += late;
        }
        Ok(reached)
    }

    fn poll_deliver(
        &self,
        cx: &mut Context<'_>,
        slot: &mut Option<M>,
        n: usize,
        pending: &mut Vec<Box<dyn PendingDelivery>>,
    ) -> Poll<Result<usize, PublishError<M>>> {
        let mut state = self.inner.state.lock();
        let message = slot.take().expect("deliver polled after completion");
        if state.closed {
            return Poll::Ready(Err(PublishError::Closed(message)));
        }
        if state.live_subscribers() >= n.max(1) {
            return Poll::Ready(self.fan_out(&mut state, message, Some(&mut Waits { cx, pending })));
        }
        *slot = Some(message);
        if !state.watchers.iter().any(|w| w.will_wake(cx.waker())) {
            state.watchers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn publish(&self, message: M, waits: Option<&mut Waits<'_, '_>>) -> Result<usize, PublishError<M>> {
        let mut state = self.inner.state.lock();
        if state.closed {
            return Err(PublishError::Closed(message));
        }
        self.fan_out(&mut state, message, waits)
    }

    /// Hands `message` (after the transform) to every subscriber, under the channel lock so
    /// that all subscribers see one order; drops subscriptions whose task has ended.
    fn fan_out(
        &self,
        state: &mut State<M>,
        message: M,
        mut waits: Option<&mut Waits<'_, '_>>,
    ) -> Result<usize, PublishError<M>> {
        // Log subscribers whose task ended go first. (A task that ended posts it on the board
        // before its end can be observed.)
        if self.inner.board.take_ended() {
            state.readers.retain(Reader::is_live);
        }
        if !state.has_subscribers() {
            return Err(PublishError::NoSubscribers(message));
        }
        let Some(message) = self.transformed(message) else { return Ok(0) };
        let mut delivered = 0;
        state.channels.retain(|c| match c.forward(&message, waits.as_deref_mut()) {
            Some(n) => {
                delivered += n;
                true
            }
            None => false,
        });
        state.bounded.retain(|b| match b.offer(&message, waits.as_mut().map(|w| &mut *w.cx)) {
            Offer::Taken => {
                delivered += 1;
                true
            }
            Offer::Full => true,
            Offer::Waiting(delivery) => {
                waits.as_mut().expect("only a deliver waits").pending.push(delivery);
                true
            }
            Offer::Ended => false,
        });
        if state.readers.is_empty() {
            return Ok(delivered);
        }
        // Counted before appending: a task that reads the message and ends at once still got it.
        delivered += state.readers.len();
        route::append(&mut state.log, &self.inner.board, message);
        Ok(delivered)
    }

    /// The message after the channel's transform; `None` if the transform dropped it or
    /// panicked (the panic is contained here: the sender goes on, the message is dropped).
    fn transformed(&self, message: M) -> Option<M> {
        let Some(transform) = &self.inner.transform else { return Some(message) };
        match catch_unwind(AssertUnwindSafe(|| transform(&message))) {
            Ok(changed) => changed,
            Err(panic) => {
                let panic = crate::task::panic_message(&*panic);
                tracing::error!(
                    channel = %self.inner.name,
                    panic = panic.as_deref().unwrap_or("<non-string panic payload>"),
                    "a channel transform panicked; the message is dropped for this channel"
                );
                None
            }
        }
    }

    /// Closes the channel: subscriptions end (tasks still get what was sent before), the name
    /// is freed, later sends fail.
    pub fn close(&self) {
        let (readers, bounded, channels, watchers) = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            state.end_readers();
            (
                std::mem::take(&mut state.readers),
                std::mem::take(&mut state.bounded),
                std::mem::take(&mut state.channels),
                std::mem::take(&mut state.watchers),
            )
        };
        self.inner.registry.unregister_channel(&self.inner.name, Arc::as_ptr(&self.inner) as *const ());
        drop((readers, bounded, channels));
        for waker in watchers {
            waker.wake();
        }
    }

    /// True once [`close`](Channel::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.state.lock().closed
    }
}

impl<M> Drop for Inner<M> {
    /// The last handle went: the name is freed and the subscriptions end, so the subscribers'
    /// mailboxes drop their sources at their next read.
    fn drop(&mut self) {
        self.registry.unregister_channel(&self.name, self as *const Self as *const ());
        self.state.lock().end_readers();
    }
}

impl<M> fmt::Debug for Channel<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The leak LeakSanitizer found: a receive that starts waiting after the channel went used
    /// to put its flags on the board's list, and flags held the board: a cycle.
    #[test]
    fn nothing_of_a_channel_outlives_it_and_its_subscriber() {
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        for close in [false, true] {
            rt.block_on(async {
                let chan = Channel::<u32>::new("outlives").unwrap();
                let board = Arc::downgrade(&chan.inner.board);
                let (task, done) = crate::spawn_task_joinable(|cx: crate::Cx<u32>| async move {
                    let mut got = 0;
                    while cx.receive().await.is_some() {
                        got += 1;
                    }
                    got
                });
                chan.subscribe(&task).unwrap();
                drop(task);
                chan.send(7).unwrap();
                crate::yield_now().await;
                if close {
                    chan.close();
                }
                drop(chan);
                assert_eq!(done.await.unwrap(), 1);
                assert!(board.upgrade().is_none(), "the board is gone with the channel (close: {close})");
            });
        }
    }
}
