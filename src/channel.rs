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

use crate::registry::Registry;
use crate::runtime::Handle;
use crate::task::{TaskId, TaskRef};
use crate::time::timeout;
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    state: Mutex<State<M>>,
}

struct State<M> {
    subscribers: Vec<Box<dyn Endpoint<M>>>,
    closed: bool,
    /// Deliveries waiting for enough subscribers.
    watchers: Vec<Waker>,
}

/// Who a subscription refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum SubscriberKey {
    Task(TaskId),
    Channel(u64),
}

/// What handing one message to a subscriber achieved.
#[doc(hidden)]
#[derive(Debug)]
pub enum Forwarded {
    /// Reached this many end-point tasks.
    Delivered(usize),
    /// The subscriber has ended or closed: drop the subscription.
    Gone,
}

/// Something a channel can send to: a task or another channel.
#[doc(hidden)]
pub trait Endpoint<M>: Send + Sync {
    fn key(&self) -> SubscriberKey;
    fn forward(&self, message: &M) -> Forwarded;
    fn is_alive(&self) -> bool;
    /// True if messages sent here can reach the channel `target`.
    fn reaches(&self, target: u64) -> bool;
}

/// What [`Channel::subscribe`] accepts: a [`TaskRef<N>`] or a [`Channel<N>`] whose message type
/// `N` can be made from `M` (`M` itself, or an enum with a `From<M>` variant).
pub trait Subscriber<M>: sealed::Sealed {
    #[doc(hidden)]
    fn endpoint(&self) -> Box<dyn Endpoint<M>>;
    #[doc(hidden)]
    fn key(&self) -> SubscriberKey;
}

mod sealed {
    pub trait Sealed {}
    impl<N> Sealed for crate::task::TaskRef<N> {}
    impl<N> Sealed for super::Channel<N> {}
}

impl<M, N> Endpoint<M> for TaskRef<N>
where
    M: Clone,
    N: From<M> + Send + 'static,
{
    fn key(&self) -> SubscriberKey {
        SubscriberKey::Task(self.id())
    }

    fn forward(&self, message: &M) -> Forwarded {
        match self.send(N::from(message.clone())) {
            Ok(()) => Forwarded::Delivered(1),
            // A full bounded mailbox misses this message; the count says so.
            Err(e) if e.is_full() => Forwarded::Delivered(0),
            Err(_) => Forwarded::Gone,
        }
    }

    fn is_alive(&self) -> bool {
        self.as_any().is_alive()
    }

    fn reaches(&self, _target: u64) -> bool {
        false
    }
}

impl<M, N> Subscriber<M> for TaskRef<N>
where
    M: Clone + Send + 'static,
    N: From<M> + Send + 'static,
{
    fn endpoint(&self) -> Box<dyn Endpoint<M>> {
        Box::new(self.clone())
    }

    fn key(&self) -> SubscriberKey {
        SubscriberKey::Task(self.id())
    }
}

impl<M, N> Endpoint<M> for Channel<N>
where
    M: Clone,
    N: From<M> + Clone + Send + 'static,
{
    fn key(&self) -> SubscriberKey {
        SubscriberKey::Channel(self.inner.id)
    }

    fn forward(&self, message: &M) -> Forwarded {
        match self.publish(N::from(message.clone())) {
            Ok(delivered) => Forwarded::Delivered(delivered),
            Err(_) => Forwarded::Gone,
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
        state.subscribers.iter().any(|s| matches!(s.key(), SubscriberKey::Channel(_)) && s.reaches(target))
    }
}

impl<M, N> Subscriber<M> for Channel<N>
where
    M: Clone + Send + 'static,
    N: From<M> + Clone + Send + 'static,
{
    fn endpoint(&self) -> Box<dyn Endpoint<M>> {
        Box::new(self.clone())
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
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NameTaken(n) => write!(f, "a channel named {n:?} already exists"),
            ChannelError::NotFound(n) => write!(f, "no channel named {n:?}"),
            ChannelError::WrongType(n) => write!(f, "the channel named {n:?} carries another message type"),
            ChannelError::Cycle => f.write_str("the subscription would make a cycle of channels"),
            ChannelError::Closed => f.write_str("the channel is closed"),
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

impl<M: Clone + Send + 'static> ChannelBuilder<M> {
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
            state: Mutex::new(State { subscribers: Vec::new(), closed: false, watchers: Vec::new() }),
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

impl<M: Clone + Send + 'static> Channel<M> {
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
    /// nothing. A channel that reaches this one through its own subscribers is refused
    /// ([`ChannelError::Cycle`]).
    pub fn subscribe(&self, subscriber: &impl Subscriber<M>) -> Result<(), ChannelError> {
        let key = subscriber.key();
        let endpoint = subscriber.endpoint();
        let _hierarchy = matches!(key, SubscriberKey::Channel(_)).then(|| HIERARCHY.lock());
        if endpoint.reaches(self.inner.id) {
            return Err(ChannelError::Cycle);
        }
        let watchers = {
            let mut state = self.inner.state.lock();
            if state.closed {
                return Err(ChannelError::Closed);
            }
            if state.subscribers.iter().any(|s| s.key() == key) {
                return Ok(());
            }
            state.subscribers.push(endpoint);
            std::mem::take(&mut state.watchers)
        };
        for waker in watchers {
            waker.wake();
        }
        Ok(())
    }

    /// Removes a subscription; false if it did not exist.
    pub fn unsubscribe(&self, subscriber: &impl Subscriber<M>) -> bool {
        let key = subscriber.key();
        let mut state = self.inner.state.lock();
        let before = state.subscribers.len();
        state.subscribers.retain(|s| s.key() != key);
        state.subscribers.len() != before
    }

    /// Live subscribers right now (tasks that have ended are not counted).
    pub fn subscribers(&self) -> usize {
        self.inner.state.lock().subscribers.iter().filter(|s| s.is_alive()).count()
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
        if state.subscribers.iter().filter(|s| s.is_alive()).count() >= n.max(1) {
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
        if state.subscribers.is_empty() {
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
        state.subscribers.retain(|s| match s.forward(&message) {
            Forwarded::Delivered(n) => {
                delivered += n;
                true
            }
            Forwarded::Gone => false,
        });
        Ok(delivered)
    }

    /// Closes the channel: subscriptions are dropped, the name is freed, later sends fail.
    pub fn close(&self) {
        let (subscribers, watchers) = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            (std::mem::take(&mut state.subscribers), std::mem::take(&mut state.watchers))
        };
        self.inner.registry.unregister_channel(&self.inner.name, Arc::as_ptr(&self.inner) as *const ());
        drop(subscribers);
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
    }
}

impl<M> fmt::Debug for Channel<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").field("name", &self.inner.name).finish_non_exhaustive()
    }
}
