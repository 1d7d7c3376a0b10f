//! Names across nodes (pycos `register` / `locate`): a name registered through the node is in
//! the runtime's registry (so local `locate` finds it) and in the node's table of names peers
//! may ask for, which points at the task's export.
//!
//! A locate asks every linked peer at once and takes the first that has the name; "not found"
//! only once every peer asked has said so, gone down, or the time is up (pycos takes the first
//! answer, found or not). The message type is checked by the answering node, by stable type
//! name, so a wrong type is an error at locate time.

use super::envelope::{Envelope, NameKind};
use super::link::Link;
use super::location::Location;
use super::node::NodeInner;
use super::remote::RemoteRef;
use crate::registry::{LocateError, RegisterError};
use crate::task::{NodeId, TaskId, TaskRef};
use futures_channel::mpsc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A peer's answer to a locate.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// The name is the task with this id on the answering node.
    Found(u64),
    NotFound,
    /// The name is there, for this message type.
    WrongType(String),
    /// The peer went down before it answered.
    PeerDown,
}

impl NodeInner {
    pub(crate) fn register<M>(self: &Arc<Self>, name: &str, task: &TaskRef<M>) -> Result<(), RegisterError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        task.register_in(&self.runtime, name)?;
        let id = self.export(task);
        self.names.lock().insert(name.to_owned(), id.as_u64());
        // The export's exit hook removes the name with the export; a task that ended between
        // the two steps has no export left, so the name must not stay either.
        if !task.is_alive() {
            self.names.lock().remove(name);
        }
        Ok(())
    }

    pub(crate) fn unregister(&self, name: &str) -> bool {
        let Some(id) = self.names.lock().remove(name) else { return false };
        let task = self.exports.lock().get(&id).map(|e| e.task.clone());
        if let Some(task) = task {
            self.runtime.registry().unregister_task(name, &task);
        }
        true
    }

    /// Answers a peer's `Locate`.
    pub(crate) fn answer_locate(
        &self,
        link: &Link,
        request: u64,
        kind: NameKind,
        name: &str,
        type_name: &str,
    ) {
        let answer = match kind {
            // Remote channels come with their own issue: no channel is shared yet.
            NameKind::Channel => Envelope::NotFound { request },
            NameKind::Task => {
                let id = self.names.lock().get(name).copied();
                let exports = self.exports.lock();
                match id.and_then(|id| exports.get(&id).map(|export| (id, export))) {
                    Some((_, export)) if !export.task.is_alive() => Envelope::NotFound { request },
                    Some((id, export)) if export.type_name == type_name => {
                        Envelope::Located { request, task: id }
                    }
                    Some((_, export)) => Envelope::WrongType { request, found: export.type_name.clone() },
                    None => Envelope::NotFound { request },
                }
            }
        };
        let _ = link.push(&answer, true);
    }

    /// A peer answered the locate `request`.
    pub(crate) fn answered(&self, request: u64, link: &Link, answer: Answer) {
        let waiting = self.locates.lock().get(&request).cloned();
        if let Some(answers) = waiting {
            let _ = answers.unbounded_send((link.id, answer));
        }
    }

    pub(crate) async fn locate<M>(
        self: &Arc<Self>,
        name: &str,
        at: Option<&Location>,
        timeout: Duration,
    ) -> Result<TaskRef<M>, LocateError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        let not_found = || LocateError::NotFound(name.to_owned());
        let type_name = super::type_name::stable::<M>();
        if at.is_none() || at == Some(&self.location) {
            match self.local::<M>(name, &type_name) {
                Err(LocateError::NotFound(_)) if at.is_none() => {}
                found => return found,
            }
        }
        let asked: Vec<Arc<Link>> =
            self.linked().into_iter().filter(|l| at.is_none_or(|at| &l.location == at)).collect();
        if asked.is_empty() {
            return Err(match at {
                Some(peer) => LocateError::PeerDown { name: name.to_owned(), peer: peer.to_string() },
                None => not_found(),
            });
        }
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (answers, mut incoming) = mpsc::unbounded();
        self.locates.lock().insert(request, answers);
        let _unlisten = Unlisten { node: self, request };
        let question = Envelope::Locate {
            request,
            kind: NameKind::Task,
            name: name.to_owned(),
            type_name: type_name.clone(),
        };
        let mut waiting: HashSet<NodeId> = HashSet::new();
        for link in &asked {
            if link.push(&question, true).is_ok() {
                waiting.insert(link.id);
            }
        }
        let mut wrong_type = None;
        let mut down = None;
        let deadline = crate::time::sleep(timeout);
        let mut deadline = std::pin::pin!(deadline);
        while !waiting.is_empty() {
            let next = std::future::poll_fn(|cx| {
                use futures_core::Stream;
                if let std::task::Poll::Ready(answer) = std::pin::Pin::new(&mut incoming).poll_next(cx) {
                    return std::task::Poll::Ready(answer);
                }
                deadline.as_mut().poll(cx).map(|()| None)
            });
            let Some((peer, answer)) = next.await else { break };
            if !waiting.remove(&peer) {
                continue;
            }
            match answer {
                Answer::Found(task) => {
                    let link =
                        asked.iter().find(|l| l.id == peer).expect("answers come from the links asked");
                    let Some(task) = TaskId::from_u64(task) else { continue };
                    return Ok(RemoteRef::<M>::handle(self, link.clone(), task, Some(Arc::from(name))));
                }
                Answer::NotFound => {}
                Answer::WrongType(found) => wrong_type = Some(found),
                Answer::PeerDown => {
                    down = asked.iter().find(|l| l.id == peer).map(|l| l.location.to_string())
                }
            }
        }
        if let Some(found) = wrong_type {
            return Err(LocateError::WrongType { name: name.to_owned(), expected: type_name, found });
        }
        match (at, down) {
            (Some(_), Some(peer)) => Err(LocateError::PeerDown { name: name.to_owned(), peer }),
            _ => Err(not_found()),
        }
    }

    /// The task registered as `name` through this node. (Not the runtime's registry: several
    /// nodes may share a runtime, and each must find only its own names here.)
    fn local<M: Send + 'static>(&self, name: &str, type_name: &str) -> Result<TaskRef<M>, LocateError> {
        let not_found = || LocateError::NotFound(name.to_owned());
        let id = self.names.lock().get(name).copied().ok_or_else(not_found)?;
        let exports = self.exports.lock();
        let export = exports.get(&id).filter(|e| e.task.is_alive()).ok_or_else(not_found)?;
        export.typed::<M>().ok_or_else(|| LocateError::WrongType {
            name: name.to_owned(),
            expected: type_name.to_owned(),
            found: export.type_name.clone(),
        })
    }

    /// The links not down: up, between connections, or connecting (a question queues on them
    /// and is answered, or fails with the link, like any message).
    pub(crate) fn linked(&self) -> Vec<Arc<Link>> {
        self.links_snapshot().into_iter().filter(|l| !l.is_down()).collect()
    }
}

/// Removes a finished locate's answer channel.
struct Unlisten<'a> {
    node: &'a NodeInner,
    request: u64,
}

impl Drop for Unlisten<'_> {
    fn drop(&mut self) {
        self.node.locates.lock().remove(&self.request);
    }
}
