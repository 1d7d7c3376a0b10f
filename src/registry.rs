//! Names in a runtime (pycos `register` / `locate`): tasks and channels are found by name here,
//! each kind in its own namespace.
//!
//! - A **channel** is held weakly: its name lives exactly as long as the channel.
//! - A **task** is held by a [`TaskRef`], so a registered task's `receive` does not return
//!   `None` while it is registered (someone may still locate it and send). The name lives until
//!   the task ends (an exit hook removes it then) or until it is unregistered.
//!
//! A second live registration of a name fails. Lookups are typed: locating a task whose
//! mailbox takes another message type is a [`LocateError::WrongType`] naming both types, never
//! a wrong cast. Types are told apart by `TypeId` in a process; across nodes that cannot work,
//! so every entry also keeps a type *name*, the seam a stable type name will use.

use crate::loom::sync::Mutex;
use crate::runtime::Handle;
use crate::task::extras::HookToken;
use crate::task::{AnyTaskRef, TaskId, TaskRef};
use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
// std's `Arc`: the registry needs `Weak` (loom's `Arc` has none), and no protocol here rests
// on the reference counts.
use std::sync::{Arc, Weak};

/// The namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Task = 0,
    Channel = 1,
}

/// What a name is bound to.
enum Bound {
    /// A channel, held weakly (`Weak<channel::Inner<M>>`).
    Channel(Weak<dyn Any + Send + Sync>),
    /// A task: its `TaskRef<M>` (as `dyn Any`), and the exit hook that frees the name.
    Task { task: AnyTaskRef, typed: Box<dyn Any + Send + Sync>, on_exit: Option<HookToken> },
}

struct Named {
    bound: Bound,
    /// `std::any::type_name` of the message type, for errors (and, later, across nodes).
    type_name: &'static str,
}

impl Named {
    fn is_live(&self) -> bool {
        match &self.bound {
            Bound::Channel(weak) => weak.strong_count() > 0,
            Bound::Task { task, .. } => task.is_alive(),
        }
    }
}

/// The names of one runtime, reached through [`Handle::registry`].
#[derive(Default)]
pub(crate) struct Registry {
    /// One map per [`Kind`], indexed by it.
    names: Mutex<[HashMap<Arc<str>, Named>; 2]>,
}

/// Why a task could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// A live task already has the name.
    NameTaken(String),
    /// The task has ended.
    TaskEnded,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::NameTaken(name) => write!(f, "a live task is registered as {name:?} already"),
            RegisterError::TaskEnded => f.write_str("the task has ended"),
        }
    }
}

impl std::error::Error for RegisterError {}

/// Why [`locate`](crate::locate) found no task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocateError {
    /// No live task is registered under the name.
    NotFound(String),
    /// The task registered under the name takes another message type.
    WrongType {
        /// The name.
        name: String,
        /// The message type asked for.
        expected: String,
        /// The message type of the registered task.
        found: String,
    },
    /// The node asked (`Node::locate_at`) is down or unreachable, or went down before it
    /// answered.
    PeerDown {
        /// The name.
        name: String,
        /// The node (its location, `name@address`).
        peer: String,
    },
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocateError::NotFound(name) => write!(f, "no task is registered as {name:?}"),
            LocateError::WrongType { name, expected, found } => {
                write!(f, "the task registered as {name:?} takes {found}, not {expected}")
            }
            LocateError::PeerDown { name, peer } => {
                write!(f, "could not ask {peer} for {name:?}: the node is down or unreachable")
            }
        }
    }
}

impl std::error::Error for LocateError {}

impl Registry {
    /// Binds `name` in `kind`, unless a live entry holds it; the entry it replaced
    /// (a dead one) is returned, to be dropped outside the lock.
    fn bind(&self, kind: Kind, name: &Arc<str>, named: Named) -> Result<Option<Named>, Named> {
        let mut names = self.names.lock();
        match names[kind as usize].entry(name.clone()) {
            Entry::Occupied(mut taken) if !taken.get().is_live() => Ok(Some(taken.insert(named))),
            Entry::Occupied(_) => Err(named),
            Entry::Vacant(free) => {
                free.insert(named);
                Ok(None)
            }
        }
    }

    /// Registers a channel under `name`, unless a live channel holds it.
    pub(crate) fn register_channel(
        &self,
        name: &Arc<str>,
        channel: Weak<dyn Any + Send + Sync>,
        type_name: &'static str,
    ) -> bool {
        self.bind(Kind::Channel, name, Named { bound: Bound::Channel(channel), type_name }).is_ok()
    }

    /// The live channel registered under `name`.
    pub(crate) fn channel(&self, name: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        let names = self.names.lock();
        match &names[Kind::Channel as usize].get(name)?.bound {
            Bound::Channel(weak) => weak.upgrade(),
            Bound::Task { .. } => None,
        }
    }

    /// Frees a channel's `name` if it still belongs to `owner` (compared by address).
    pub(crate) fn unregister_channel(&self, name: &str, owner: *const ()) {
        let mut names = self.names.lock();
        let channels = &mut names[Kind::Channel as usize];
        let ours = channels
            .get(name)
            .is_some_and(|n| matches!(&n.bound, Bound::Channel(w) if w.as_ptr() as *const () == owner));
        if ours {
            channels.remove(name);
        }
    }

    /// Registers `task` under `name` (see the module docs for how long it stays).
    pub(crate) fn register_task<M: Send + 'static>(
        self: &Arc<Self>,
        name: Arc<str>,
        task: &TaskRef<M>,
    ) -> Result<(), RegisterError> {
        if !task.is_alive() {
            return Err(RegisterError::TaskEnded);
        }
        let named = Named {
            bound: Bound::Task { task: task.as_any().clone(), typed: Box::new(task.clone()), on_exit: None },
            type_name: std::any::type_name::<M>(),
        };
        let replaced =
            self.bind(Kind::Task, &name, named).map_err(|_| RegisterError::NameTaken(name.to_string()))?;
        drop(replaced);
        // The name goes with the task. Added after binding: a task that ended meanwhile runs the
        // hook at once, which unbinds the name again.
        let registry = Arc::downgrade(self);
        let (id, hook_name) = (task.id(), name.clone());
        let hook = task.as_any().add_exit_hook(Box::new(move |_| {
            if let Some(registry) = registry.upgrade() {
                drop(registry.unbind_task(&hook_name, id));
            }
        }));
        if let Some(hook) = hook {
            let mut names = self.names.lock();
            if let Some(Named { bound: Bound::Task { task, on_exit, .. }, .. }) =
                names[Kind::Task as usize].get_mut(&name)
                && task.id() == id
            {
                *on_exit = Some(hook);
            }
        }
        Ok(())
    }

    /// Removes `name` if it is bound to the task `id`; what was bound, to be dropped outside the
    /// lock (it holds a `TaskRef`, whose drop may wake the task).
    fn unbind_task(&self, name: &str, id: TaskId) -> Option<Named> {
        let mut names = self.names.lock();
        let tasks = &mut names[Kind::Task as usize];
        let ours =
            tasks.get(name).is_some_and(|n| matches!(&n.bound, Bound::Task { task, .. } if task.id() == id));
        if ours { tasks.remove(name) } else { None }
    }

    /// Unregisters `name` if it is bound to `task`; true if it was.
    pub(crate) fn unregister_task(&self, name: &str, task: &AnyTaskRef) -> bool {
        let Some(named) = self.unbind_task(name, task.id()) else { return false };
        if let Bound::Task { task, on_exit: Some(hook), .. } = &named.bound {
            task.remove_exit_hook(*hook);
        }
        true
    }

    /// The live task registered under `name`, if its mailbox takes `M`.
    pub(crate) fn locate_task<M: Send + 'static>(&self, name: &str) -> Result<TaskRef<M>, LocateError> {
        let names = self.names.lock();
        let not_found = || LocateError::NotFound(name.to_owned());
        let named = names[Kind::Task as usize].get(name).ok_or_else(not_found)?;
        let Bound::Task { task, typed, .. } = &named.bound else { return Err(not_found()) };
        if !task.is_alive() {
            return Err(not_found());
        }
        match typed.downcast_ref::<TaskRef<M>>() {
            Some(task) => Ok(task.clone()),
            None => Err(LocateError::WrongType {
                name: name.to_owned(),
                expected: std::any::type_name::<M>().to_owned(),
                found: named.type_name.to_owned(),
            }),
        }
    }
}

impl Handle {
    /// The runtime's name registry.
    pub(crate) fn registry(&self) -> Arc<Registry> {
        self.shared.services.get::<Registry>()
    }

    /// The live task registered as `name` in this runtime, if its mailbox takes `M` (pycos
    /// `Task.locate`). See [`crate::locate`].
    pub fn locate<M: Send + 'static>(&self, name: &str) -> Result<TaskRef<M>, LocateError> {
        self.registry().locate_task(name)
    }
}

impl<M: Send + 'static> TaskRef<M> {
    /// Registers this task under `name` in the current runtime (or the default one), so that
    /// others find it with [`locate`](crate::locate) (pycos `register`). The name lives until
    /// the task ends or [`unregister`](TaskRef::unregister) removes it; meanwhile the registry
    /// holds a `TaskRef`, so the task's `receive` does not return `None`. Fails if a live task
    /// has the name.
    ///
    /// ```
    /// let rt = rycos::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let doubler = rycos::spawn_task(|cx: rycos::Cx<(u32, rycos::TaskRef<u32>)>| async move {
    ///         while let Some((n, reply)) = cx.receive().await {
    ///             let _ = reply.send(n * 2);
    ///         }
    ///     });
    ///     doubler.register("doubler").unwrap();
    ///     let (_, answer) = rycos::spawn_task_joinable(|cx: rycos::Cx<u32>| async move {
    ///         let doubler = rycos::locate::<(u32, rycos::TaskRef<u32>)>("doubler").unwrap();
    ///         doubler.send((21, cx.me())).unwrap();
    ///         cx.receive().await
    ///     });
    ///     assert_eq!(answer.await.unwrap(), Some(42));
    ///     assert!(rycos::locate::<String>("doubler").is_err(), "another message type");
    /// });
    /// ```
    pub fn register(&self, name: impl AsRef<str>) -> Result<(), RegisterError> {
        self.register_in(&Handle::current_or_default(), name)
    }

    /// Like [`register`](TaskRef::register), in the runtime of `handle`.
    pub fn register_in(&self, handle: &Handle, name: impl AsRef<str>) -> Result<(), RegisterError> {
        handle.registry().register_task(Arc::from(name.as_ref()), self)
    }

    /// Removes the name `name` of this task in the current runtime; false if the name is not
    /// this task's. Once its last name is gone the registry holds no handle to it.
    pub fn unregister(&self, name: &str) -> bool {
        Handle::current_or_default().registry().unregister_task(name, self.as_any())
    }
}

/// The live task registered as `name` in the current runtime (or the default one), if its
/// mailbox takes `M` (pycos `Task.locate`); see [`TaskRef::register`].
pub fn locate<M: Send + 'static>(name: &str) -> Result<TaskRef<M>, LocateError> {
    Handle::current_or_default().locate(name)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_ended_task_leaves_no_entry_behind() {
        // Its `TaskRef` would keep the task's allocation alive until the name is reused.
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let registry = Handle::current().registry();
            for i in 0..100 {
                let (task, done) =
                    crate::spawn_task_joinable(|cx: crate::Cx<()>| async move { cx.receive().await });
                task.register(format!("ends-{i}")).unwrap();
                task.send(()).unwrap();
                done.await.unwrap();
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !registry.names.lock()[Kind::Task as usize].is_empty() {
                assert!(std::time::Instant::now() < deadline, "entries of ended tasks stayed");
                crate::yield_now().await;
            }
        });
    }
}
