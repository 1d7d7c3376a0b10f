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

use crate::mailbox::Source;
use crate::registry::Registry;
use crate::runtime::Handle;
use crate::task::{TaskId, TaskRef};
use crate::time::timeout;
use log::{Cursor, Writer};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

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
    /// Messages for the task subscribers, who read them from their mailboxes.
    log: Writer<M>,
    tasks: Vec<TaskSubscription>,
    /// Sub-channels get each message handed over at once (through their own transform).
    channels: Vec<Box<dyn Endpoint<M>>>,
    closed: bool,
    /// Deliveries waiting for enough subscribers.
    watchers: Vec<Waker>,
}

impl<M> State<M> {
    fn live_subscribers(&self) -> usize {
        self.tasks.iter().filter(|t| t.is_live()).count()
            + self.channels.iter().filter(|c| c.is_alive()).count()
    }
}

/// A task's subscription, as the channel sees it.
struct TaskSubscription {
    id: TaskId,
    flags: Arc<Flags>,
}

impl TaskSubscription {
    fn is_live(&self) -> bool {
        !self.flags.gone.load(Ordering::Acquire)
    }
}

impl Drop for TaskSubscription {
    /// The wake-up holds a `TaskRef` (a sender: it keeps the task's receive from seeing "no
    /// senders left"); it goes with the subscription, which also breaks the cycle
    /// task → mailbox → source → flags → task.
    fn drop(&mut self) {
        // Dropped after the lock is released: it may be the task's last sender, whose drop
        // wakes the task's receive.
        let wake = self.flags.wake.lock().take();
        drop(wake);
    }
}

/// Shared by a subscription and the source in the subscriber's mailbox.
struct Flags {
    /// The subscriber's receive waits and is on the board's waiting list.
    waiting: AtomicBool,
    /// The log position where the subscription ends (`u64::MAX` while subscribed).
    stop_at: AtomicU64,
    /// The source is gone: the task has ended.
    gone: AtomicBool,
    board: Arc<Board>,
    /// Wakes the task's receive; present while the channel lists the subscription.
    wake: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

/// What subscribers' mailboxes post for their channel, so that a send looks at two counters
/// rather than at every subscription.
#[derive(Default)]
struct Board {
    /// Subscriptions whose task ended since the channel last swept its list.
    ended: AtomicUsize,
    /// Receivers waiting for the channel's next message; `waiting_count` is its length.
    waiting: Mutex<Vec<Arc<Flags>>>,
    waiting_count: AtomicUsize,
}

impl Board {
    /// Wakes every waiting receiver (after a message was appended and fenced).
    fn wake_waiting(&self) {
        if self.waiting_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waiting = {
            let mut list = self.waiting.lock();
            self.waiting_count.store(0, Ordering::Relaxed);
            std::mem::take(&mut *list)
        };
        // Woken outside the board lock: a wake takes the mailbox lock, and receivers take the
        // board lock while holding theirs.
        for flags in waiting {
            if flags.waiting.swap(false, Ordering::AcqRel) {
                let wake = flags.wake.lock();
                if let Some(wake) = wake.as_ref() {
                    wake();
                }
            }
        }
    }
}

/// The mailbox side of a task's subscription: a cursor in the channel's log.
struct LogSource<M, N> {
    cursor: Cursor<M>,
    flags: Arc<Flags>,
    _into: PhantomData<fn() -> N>,
}

impl<M, N> Source<N> for LogSource<M, N>
where
    M: Clone + Send + Sync,
    N: From<M>,
{
    fn pull_into(&mut self, queue: &mut VecDeque<N>, max: usize) -> usize {
        let stop_at = self.flags.stop_at.load(Ordering::Acquire);
        let allowed = stop_at.saturating_sub(self.cursor.seq()).min(max as u64) as usize;
        let mut pulled = 0;
        while pulled < allowed {
            let Some(message) = self.cursor.next() else { break };
            queue.push_back(N::from(message));
            pulled += 1;
        }
        pulled
    }

    fn next(&mut self) -> Option<N> {
        if self.cursor.seq() >= self.flags.stop_at.load(Ordering::Acquire) {
            return None;
        }
        self.cursor.next().map(N::from)
    }

    fn is_finished(&self) -> bool {
        self.cursor.seq() >= self.flags.stop_at.load(Ordering::Acquire)
    }

    fn set_waiting(&self) {
        if !self.flags.waiting.load(Ordering::Relaxed) {
            self.flags.waiting.store(true, Ordering::Relaxed);
            let board = &self.flags.board;
            let mut list = board.waiting.lock();
            list.push(self.flags.clone());
            board.waiting_count.store(list.len(), Ordering::Relaxed);
        }
    }
}

impl<M, N> Drop for LogSource<M, N> {
    fn drop(&mut self) {
        self.flags.gone.store(true, Ordering::Release);
        self.flags.board.ended.fetch_add(1, Ordering::Release);
    }
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
    /// Hands the message over; the number of end-point tasks it reached, `None` if closed.
    fn forward(&self, message: &M) -> Option<usize>;
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

    fn forward(&self, message: &M) -> Option<usize> {
        match self.publish(N::from(message.clone())) {
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

/// Serialises channel-to-channel subscriptions, so two of them racing cannot make a cycle that
/// neither saw.
static HIERARCHY: Mutex<()> = Mutex::new(());

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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
    /// returned message on, `None` drops it.
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
        let registry = handle.shared.registry.clone();
        let inner = Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: self.name.clone(),
            transform: self.transform,
            registry: registry.clone(),
            board: Arc::default(),
            state: Mutex::new(State {
                log: Writer::new(),
                tasks: Vec::new(),
                channels: Vec::new(),
                closed: false,
                watchers: Vec::new(),
            }),
        });
        let weak: std::sync::Weak<dyn std::any::Any + Send + Sync> = Arc::downgrade(&inner) as _;
        if !registry.register_channel(&self.name, weak) {
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
        let found =
            handle.shared.registry.channel(name).ok_or_else(|| ChannelError::NotFound(name.into()))?;
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
            let id = task.id();
            if state.tasks.iter().any(|t| t.id == id && t.is_live()) {
                return Ok(());
            }
            let task_ref = task.clone();
            let flags = Arc::new(Flags {
                waiting: AtomicBool::new(false),
                stop_at: AtomicU64::new(u64::MAX),
                gone: AtomicBool::new(false),
                board: self.inner.board.clone(),
                wake: Mutex::new(Some(Box::new(move || task_ref.wake_receiver()))),
            });
            let source =
                LogSource::<M, N> { cursor: state.log.cursor(), flags: flags.clone(), _into: PhantomData };
            // Lock order: channel, then mailbox (as in `send`).
            if task.attach_source(Box::new(source)).is_err() {
                return Err(ChannelError::TaskEnded);
            }
            state.tasks.push(TaskSubscription { id, flags });
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
                let before = state.tasks.len();
                state.tasks.retain(|t| {
                    let unsubscribing = t.id == id;
                    if unsubscribing {
                        t.flags.stop_at.store(end, Ordering::Release);
                    }
                    !unsubscribing
                });
                state.tasks.len() != before
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
    pub fn send(&self, message: M) -> Result<usize, PublishError<M>> {
        self.publish(message)
    }

    /// Waits until at least `n` subscribers exist (at most `limit`), then sends `message`;
    /// returns how many end-point tasks got it (pycos `deliver`).
    pub async fn deliver(&self, message: M, n: usize, limit: Duration) -> Result<usize, PublishError<M>> {
        let mut slot = Some(message);
        let waited = timeout(limit, std::future::poll_fn(|cx| self.poll_deliver(cx, &mut slot, n))).await;
        match waited {
            Ok(sent) => sent,
            Err(_) => Err(PublishError::Timeout(slot.take().expect("the message is still here"))),
        }
    }

    fn poll_deliver(
        &self,
        cx: &mut Context<'_>,
        slot: &mut Option<M>,
        n: usize,
    ) -> Poll<Result<usize, PublishError<M>>> {
        let mut state = self.inner.state.lock();
        let message = slot.take().expect("deliver polled after completion");
        if state.closed {
            return Poll::Ready(Err(PublishError::Closed(message)));
        }
        if state.live_subscribers() >= n.max(1) {
            return Poll::Ready(self.fan_out(&mut state, message));
        }
        *slot = Some(message);
        if !state.watchers.iter().any(|w| w.will_wake(cx.waker())) {
            state.watchers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn publish(&self, message: M) -> Result<usize, PublishError<M>> {
        let mut state = self.inner.state.lock();
        if state.closed {
            return Err(PublishError::Closed(message));
        }
        self.fan_out(&mut state, message)
    }

    /// Hands `message` (after the transform) to every subscriber, under the channel lock so
    /// that all subscribers see one order; drops subscriptions whose end has gone.
    fn fan_out(&self, state: &mut State<M>, message: M) -> Result<usize, PublishError<M>> {
        // Subscribers whose task ended go first. (A task that ended posts it on the board
        // before its end can be observed.)
        let ended = &self.inner.board.ended;
        if ended.load(Ordering::Relaxed) > 0 && ended.swap(0, Ordering::Acquire) > 0 {
            state.tasks.retain(TaskSubscription::is_live);
        }
        if state.tasks.is_empty() && state.channels.is_empty() {
            return Err(PublishError::NoSubscribers(message));
        }
        let message = match &self.inner.transform {
            Some(transform) => match transform(&message) {
                Some(changed) => changed,
                None => return Ok(0),
            },
            None => message,
        };
        let mut delivered = 0;
        state.channels.retain(|c| match c.forward(&message) {
            Some(n) => {
                delivered += n;
                true
            }
            None => false,
        });
        if state.tasks.is_empty() {
            return Ok(delivered);
        }
        // Counted before appending: a task that reads the message and ends at once still got it.
        delivered += state.tasks.len();
        state.log.push(message);
        // Pairs with the fence in the mailbox between putting a receiver on the waiting list
        // and looking at its sources once more: either that look finds this message, or this
        // wake-up finds the receiver on the list.
        fence(Ordering::SeqCst);
        self.inner.board.wake_waiting();
        Ok(delivered)
    }

    /// Closes the channel: subscriptions end (tasks still get what was sent before), the name
    /// is freed, later sends fail.
    pub fn close(&self) {
        let (tasks, channels, watchers) = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            let end = state.log.seq();
            for t in &state.tasks {
                t.flags.stop_at.store(end, Ordering::Release);
            }
            (
                std::mem::take(&mut state.tasks),
                std::mem::take(&mut state.channels),
                std::mem::take(&mut state.watchers),
            )
        };
        self.inner.registry.unregister_channel(&self.inner.name, Arc::as_ptr(&self.inner) as *const ());
        drop((tasks, channels));
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
    fn drop(&mut self) {
        self.registry.unregister_channel(&self.name, self as *const Self as *const ());
        // The list holds the flags, which hold the board: break the cycle.
        self.board.waiting.lock().clear();
    }
}

impl<M> fmt::Debug for Channel<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").field("name", &self.inner.name).finish_non_exhaustive()
    }
}
