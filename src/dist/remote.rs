//! Remote `TaskRef`s: the distribution layer's side of the seam in `task::remote`.
//!
//! - [`RemoteRef<M>`] is what a `TaskRef<M>` to a task of another node holds: the link to that
//!   node, the task's id there, and (by its type) the encoder for `M`, captured where the
//!   reference was made — the only place that needs `M: Serialize + DeserializeOwned`.
//! - An [`Export`] is a task of this node that peers may reach by id: made when a reference to
//!   it leaves the node (a located name, a `TaskRef` inside a message), removed when it ends.
//!   It decodes payloads as its message type and queues them.
//! - A `TaskRef<M>` inside a message is itself serialised ([`WireRef`]): a local one exports its
//!   task, a remote one passes on where its task is, and decoding gives a remote reference back
//!   — or the local one, when the reference comes home.
//!
//! serde has no argument to pass the node through, so encoding and decoding run inside a
//! thread-local context ([`encoding_for`], [`decoding_from`]) that says which node (and, when
//! decoding, which link) the bytes belong to.

use super::envelope::{Delivered, Ending, Envelope};
use super::link::Link;
use super::node::NodeInner;
use crate::error::SendError;
use crate::runtime::task::state::Outcome;
use crate::task::extras::{Ended, ExitHook, HookToken};
use crate::task::remote::{RemoteDeliver, RemoteFailure, RemoteTask};
use crate::task::{AnyTaskRef, TaskAddr, TaskId, TaskRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// A task of another node, untyped: where it is and what it is called.
pub(crate) struct Target {
    pub(crate) link: Arc<Link>,
    pub(crate) task: TaskId,
    pub(crate) name: Option<Arc<str>>,
}

/// The largest encoding buffer a thread keeps for the next send (one huge message must not
/// pin its size on every thread that sent one).
pub(crate) const KEPT_BUFFER: usize = 1 << 20;

/// Bytes reserved for an encoded message before encoding it.
const PAYLOAD_CAPACITY: usize = 128;

/// A task of another node with a mailbox of `M`.
pub(crate) struct RemoteRef<M> {
    target: Target,
    node: Weak<NodeInner>,
    _message: PhantomData<fn(M) -> M>,
}

impl<M: Serialize + DeserializeOwned + Send + 'static> RemoteRef<M> {
    /// The handle for `task` on the peer of `link`.
    pub(crate) fn handle(
        node: &Arc<NodeInner>,
        link: Arc<Link>,
        task: TaskId,
        name: Option<Arc<str>>,
    ) -> TaskRef<M> {
        let remote = RemoteRef::<M> {
            target: Target { link, task, name },
            node: Arc::downgrade(node),
            _message: PhantomData,
        };
        TaskRef::from_remote(Arc::new(remote))
    }

    /// Appends `message` to `buffer`.
    fn encode(&self, message: &dyn Any, buffer: &mut Vec<u8>) -> Result<(), RemoteFailure> {
        let message = message.downcast_ref::<M>().expect("a RemoteRef<M> is only given an M");
        if self.target.link.is_down() || self.node.strong_count() == 0 {
            return Err(RemoteFailure::PeerDown);
        }
        encoding_for(&self.node, || super::envelope::append(message, buffer)).map_err(|e| {
            tracing::error!(target: "rycos::dist", error = %e, "a message did not serialise; it was not sent");
            RemoteFailure::Closed
        })
    }

    /// `message` encoded into a buffer of its own (one allocation, not a doubling from nothing:
    /// most messages are small).
    fn payload(&self, message: &dyn Any) -> Result<Vec<u8>, RemoteFailure> {
        let mut payload = Vec::with_capacity(PAYLOAD_CAPACITY);
        self.encode(message, &mut payload)?;
        Ok(payload)
    }
}

impl<M: Serialize + DeserializeOwned + Send + 'static> RemoteTask for RemoteRef<M> {
    fn addr(&self) -> TaskAddr {
        TaskAddr { node: self.target.link.id, task: self.target.task }
    }

    fn name(&self) -> Option<&str> {
        self.target.name.as_deref()
    }

    fn is_alive(&self) -> bool {
        !self.target.link.is_down()
    }

    fn terminate(&self) -> bool {
        self.target.link.push(&Envelope::Terminate { task: self.target.task.as_u64() }, true).is_ok()
    }

    fn send(&self, message: &dyn Any) -> Result<(), RemoteFailure> {
        thread_local! {
            /// Where sends encode their messages: a send allocates nothing once it has grown.
            static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        }
        // Taken out while in use: a message whose encoding sends (a TaskRef exported on the
        // way) gets a fresh one.
        let mut scratch = SCRATCH.take();
        scratch.clear();
        let sent = self
            .encode(message, &mut scratch)
            .and_then(|()| self.target.link.push_send(self.target.task.as_u64(), &scratch));
        if scratch.capacity() <= KEPT_BUFFER {
            SCRATCH.set(scratch);
        }
        sent
    }

    fn deliver(&self, message: &dyn Any, timeout: Duration) -> Result<RemoteDeliver, RemoteFailure> {
        let payload = self.payload(message)?;
        let link = self.target.link.clone();
        let to = self.target.task.as_u64();
        let deadline = Instant::now() + timeout;
        Ok(Box::pin(async move {
            let (seq, acknowledged) = link.expect_ack();
            // The peer may wait for mailbox room for what is left of the timeout once queued
            // here; the time on the wire comes out of the acknowledgement's share.
            let left = deadline.saturating_duration_since(Instant::now());
            let wait_ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX);
            let envelope = Envelope::Deliver { to, seq, wait_ms, payload };
            if let Err(failure) = link.push_when_room(&envelope, deadline).await {
                link.forget_ack(seq);
                return Err(failure);
            }
            match crate::time::timeout_at(deadline, acknowledged).await {
                Ok(Ok(outcome)) => outcome,
                // The link dropped the sender without an answer: it went down.
                Ok(Err(_)) => Err(RemoteFailure::PeerDown),
                Err(_) => {
                    link.forget_ack(seq);
                    Err(RemoteFailure::Timeout)
                }
            }
        }))
    }

    fn add_exit_hook(&self, hook: ExitHook) -> Option<HookToken> {
        self.target.link.monitor(self.target.task, self.target.name.clone(), hook)
    }

    fn remove_exit_hook(&self, hook: HookToken) -> bool {
        self.target.link.demonitor(hook)
    }

    fn as_any(&self) -> &dyn Any {
        &self.target
    }
}

/// The record an exit from the peer gives a monitor's hook.
pub(crate) fn ended_remotely(link: &Link, task: TaskId, name: Option<Arc<str>>, how: Ending) -> Ended {
    let (outcome, panic_message) = match how {
        Ending::Finished => (Outcome::Finished, None),
        Ending::Panicked(message) => (Outcome::Panicked, Some(message)),
        Ending::Terminated | Ending::Gone => (Outcome::Terminated, None),
    };
    Ended { task, name, outcome, panic_message, value: None, node: link.id, connection_lost: false }
}

/// How a local task's end travels.
pub(crate) fn ending_of(ended: &Ended) -> Ending {
    match ended.outcome {
        Outcome::Finished => Ending::Finished,
        Outcome::Terminated => Ending::Terminated,
        Outcome::Panicked => Ending::Panicked(
            ended.panic_message.clone().unwrap_or_else(|| "<non-string panic payload>".into()),
        ),
    }
}

/// Decodes a payload for an exported task and queues it; `ack` is the deliver to answer
/// (its number and how long the sender waits), `None` for a plain send. Called inside
/// [`decoding_from`] for the node and link it is given.
pub(crate) type SinkHandle =
    Arc<dyn Fn(&Arc<NodeInner>, &Arc<Link>, &[u8], Option<(u64, u32)>) + Send + Sync>;

/// A task of this node that peers may reach by its id.
pub(crate) struct Export {
    pub(crate) task: AnyTaskRef,
    /// The stable name of its message type (`type_name::stable`).
    pub(crate) type_name: String,
    /// Its `TaskRef<M>`, for a reference that comes home.
    typed: Box<dyn Any + Send + Sync>,
    sink: SinkHandle,
}

impl Export {
    /// The export of `task`.
    pub(crate) fn of<M: Serialize + DeserializeOwned + Send + 'static>(task: &TaskRef<M>) -> Export {
        let typed = task.clone();
        let sink: SinkHandle = Arc::new(move |node, from, payload, ack| {
            // Inside the frame handler's `decoding_from`: references in the message resolve.
            let decoded: Result<M, _> = postcard::from_bytes(payload);
            let answer = |outcome| {
                if let Some((seq, _)) = ack {
                    let _ = from.push(&Envelope::Delivered { seq, outcome }, true);
                }
            };
            let message = match decoded {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(target: "rycos::dist", peer = %from.location, error = %e,
                        "a message from the peer did not decode as the task's type; dropped");
                    return answer(Delivered::Malformed);
                }
            };
            match (typed.send(message), ack) {
                (Ok(()), _) => answer(Delivered::Queued),
                (Err(SendError::Full(message)), Some((seq, wait_ms))) => {
                    // A bounded mailbox is full: wait for room as long as the sender waits.
                    let (task, from) = (typed.clone(), from.clone());
                    node.runtime.spawn(async move {
                        let outcome = match task.deliver(message, Duration::from_millis(wait_ms.into())).await
                        {
                            Ok(()) => Delivered::Queued,
                            Err(crate::DeliverError::Timeout(_)) => Delivered::Timeout,
                            Err(_) => Delivered::Closed,
                        };
                        let _ = from.push(&Envelope::Delivered { seq, outcome }, true);
                    });
                }
                (Err(e), _) => {
                    if ack.is_none() {
                        tracing::debug!(target: "rycos::dist", peer = %from.location, task = %typed.id(),
                            "a message from the peer was not queued: {e}");
                    }
                    answer(Delivered::Closed)
                }
            }
        });
        Export {
            task: task.as_any().clone(),
            type_name: super::type_name::stable::<M>(),
            typed: Box::new(task.clone()),
            sink,
        }
    }

    /// What the node needs to queue a payload, taken out of the exports lock.
    pub(crate) fn handle(&self) -> super::node::ExportHandle {
        super::node::ExportHandle::new(self.task.clone(), self.sink.clone())
    }

    /// The local handle, if the task takes `M`.
    pub(crate) fn typed<M: Send + 'static>(&self) -> Option<TaskRef<M>> {
        self.typed.downcast_ref::<TaskRef<M>>().cloned()
    }
}

impl crate::AnyTaskRef {
    /// Where the task's node is, for a task on another node (its name and address, as
    /// [`Node::peers`](super::Node::peers) lists it); `None` for a task of this process, which
    /// may belong to several nodes at once (each has its own [`Node::location`](super::Node::location)).
    ///
    /// ```
    /// let rt = rycos::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let task = rycos::spawn_task(|cx: rycos::Cx<u32>| async move { cx.receive().await });
    ///     assert_eq!(task.location(), None); // local
    ///     task.terminate();
    /// });
    /// ```
    pub fn location(&self) -> Option<super::Location> {
        let remote = self.remote()?;
        let target = remote.as_any().downcast_ref::<Target>().expect("remote tasks are dist's");
        Some(target.link.location.clone())
    }
}

/// A `TaskRef` as it travels inside a message.
#[derive(Serialize, Deserialize)]
struct WireRef {
    /// The incarnation of the task's node.
    node: u64,
    /// Where that node is (`name@address`), for a receiver not linked to it yet.
    location: String,
    task: u64,
    name: Option<String>,
}

scoped_tls::scoped_thread_local!(static ENCODING: Weak<NodeInner>);
scoped_tls::scoped_thread_local!(static DECODING_NODE: Arc<NodeInner>);
scoped_tls::scoped_thread_local!(static DECODING_LINK: Arc<Link>);

/// Runs `encode` with `node` as the node that sends what it encodes.
pub(crate) fn encoding_for<T>(node: &Weak<NodeInner>, encode: impl FnOnce() -> T) -> T {
    ENCODING.set(node, encode)
}

/// Runs `decode` with `node` as the receiving node and `from` as the link the bytes came on
/// (the frame handler runs a whole batch of envelopes in one).
pub(crate) fn decoding_from<T>(node: &Arc<NodeInner>, from: &Arc<Link>, decode: impl FnOnce() -> T) -> T {
    DECODING_NODE.set(node, || DECODING_LINK.set(from, decode))
}

/// A `TaskRef<M>` serialises to where its task is; a local task is exported by the node that
/// sends the message (so peers can reach it). Outside a node's send (say, to JSON) it is an
/// error: a reference means nothing without a node to route it.
impl<M: Serialize + DeserializeOwned + Send + 'static> Serialize for TaskRef<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !ENCODING.is_set() {
            return Err(serde::ser::Error::custom(
                "a TaskRef is serialised only inside a message a rycos node sends",
            ));
        }
        let node = ENCODING
            .with(Weak::upgrade)
            .ok_or_else(|| serde::ser::Error::custom("the node sending the message shut down"))?;
        let wire = match self.as_any().remote() {
            Some(remote) => {
                let target = remote.as_any().downcast_ref::<Target>().expect("remote tasks are dist's");
                WireRef {
                    node: target.link.id.as_u64(),
                    location: target.link.location.to_string(),
                    task: target.task.as_u64(),
                    name: target.name.as_deref().map(str::to_owned),
                }
            }
            None => WireRef {
                node: node.id.as_u64(),
                location: node.location.to_string(),
                task: node.export(self).as_u64(),
                name: self.name().map(str::to_owned),
            },
        };
        wire.serialize(serializer)
    }
}

/// Decodes to a remote reference to the task (linking to its node if need be), or the local
/// one when the task is on the receiving node.
impl<'de, M: Serialize + DeserializeOwned + Send + 'static> Deserialize<'de> for TaskRef<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireRef::deserialize(deserializer)?;
        if !DECODING_NODE.is_set() {
            return Err(serde::de::Error::custom(
                "a TaskRef is deserialised only inside a message a rycos node receives",
            ));
        }
        DECODING_NODE
            .with(|node| {
                DECODING_LINK
                    .with(|from| node.resolve::<M>(wire.node, &wire.location, wire.task, wire.name, from))
            })
            .map_err(serde::de::Error::custom)
    }
}

impl NodeInner {
    /// The handle a decoded reference stands for.
    fn resolve<M: Serialize + DeserializeOwned + Send + 'static>(
        self: &Arc<Self>,
        node: u64,
        location: &str,
        task: u64,
        name: Option<String>,
        from: &Arc<Link>,
    ) -> Result<TaskRef<M>, String> {
        let task_id = TaskId::from_u64(task).ok_or("a task reference with task id 0")?;
        let name = name.map(Arc::from);
        if node == self.id.as_u64() {
            // Home again: the local handle, while the task lives.
            if let Some(local) = self.exports.lock().get(&task).and_then(Export::typed::<M>) {
                return Ok(local);
            }
            // It ended: a handle that behaves like one to an ended task.
            return Ok(RemoteRef::handle(self, self.ended_link(), task_id, name));
        }
        let link = if node == from.id.as_u64() {
            from.clone()
        } else {
            let node_id = crate::task::NodeId::from_u64(node).ok_or("a task reference with node id 0")?;
            let location =
                location.parse().map_err(|e| format!("a task reference with a bad location: {e}"))?;
            self.link_to(node_id, location)
        };
        Ok(RemoteRef::handle(self, link, task_id, name))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_task_ref_outside_a_node_does_not_serialise() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let task = crate::spawn_task(|cx: crate::Cx<u32>| async move { cx.receive().await });
            let err = postcard::to_allocvec(&task).unwrap_err();
            assert!(matches!(err, postcard::Error::SerdeSerCustom), "{err:?}");
            task.terminate();
        });
    }
}
