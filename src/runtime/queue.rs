//! Run queues: each worker's local FIFO, the stealers other workers take from, and the global
//! injector for tasks scheduled from outside the runtime.
//!
//! In a normal build these are `crossbeam-deque`'s lock-free Chase–Lev deque and injector
//! (≥ 0.8.1, after the double-pop fix of CVE-2021-32810). crossbeam has no loom support, so under
//! `--cfg loom` they are replaced by a mutex around a `VecDeque` with the same interface: loom
//! then checks rycos's own protocol around the queues (notify, park, steal, shutdown), while
//! crossbeam's deque is trusted and covered by the stress tests.

use super::task::Notified;

#[cfg(not(loom))]
mod imp {
    use super::Notified;
    use crossbeam_deque::{Injector, Steal, Stealer as CbStealer, Worker};

    /// Steals until the answer is not `Retry` (a lost race that says nothing about emptiness).
    fn settle<T>(mut attempt: impl FnMut() -> Steal<T>) -> Option<T> {
        loop {
            match attempt() {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// A worker's own queue; only its worker pushes and pops.
    pub(crate) struct Local(Worker<Notified>);

    /// The side of a worker's queue other workers steal from.
    #[derive(Clone)]
    pub(crate) struct Stealer(CbStealer<Notified>);

    /// The global queue.
    pub(crate) struct Inject(Injector<Notified>);

    impl Local {
        pub(crate) fn new() -> Local {
            Local(Worker::new_fifo())
        }
        pub(crate) fn stealer(&self) -> Stealer {
            Stealer(self.0.stealer())
        }
        pub(crate) fn push(&self, task: Notified) {
            self.0.push(task);
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            self.0.pop()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl Stealer {
        /// Moves about half of the victim's tasks into `dest` and returns one of them.
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            settle(|| self.0.steal_batch_and_pop(&dest.0))
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl Inject {
        pub(crate) fn new() -> Inject {
            Inject(Injector::new())
        }
        pub(crate) fn push(&self, task: Notified) {
            self.0.push(task);
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            settle(|| self.0.steal())
        }
        /// Moves a batch into `dest` and returns one task of it.
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            settle(|| self.0.steal_batch_and_pop(&dest.0))
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::Notified;
    use crate::loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    type Queue = Arc<Mutex<VecDeque<Notified>>>;

    pub(crate) struct Local(Queue);
    #[derive(Clone)]
    pub(crate) struct Stealer(Queue);
    pub(crate) struct Inject(Mutex<VecDeque<Notified>>);

    fn steal_half(from: &Mutex<VecDeque<Notified>>, dest: &Local) -> Option<Notified> {
        let mut src = from.lock();
        let first = src.pop_front()?;
        let extra = src.len() / 2;
        let batch: Vec<_> = src.drain(..extra).collect();
        drop(src);
        dest.0.lock().extend(batch);
        Some(first)
    }

    impl Local {
        pub(crate) fn new() -> Local {
            Local(Arc::new(Mutex::new(VecDeque::new())))
        }
        pub(crate) fn stealer(&self) -> Stealer {
            Stealer(self.0.clone())
        }
        pub(crate) fn push(&self, task: Notified) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            self.0.lock().pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl Stealer {
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            steal_half(&self.0, dest)
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl Inject {
        pub(crate) fn new() -> Inject {
            Inject(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, task: Notified) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            self.0.lock().pop_front()
        }
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            steal_half(&self.0, dest)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

pub(crate) use imp::{Inject, Local, Stealer};
