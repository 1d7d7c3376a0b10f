//! Which workers are parked, and how many are searching for work.
//!
//! The sleep/wake protocol, in one place:
//!
//! - A worker that runs out of work becomes a *searcher* (steals from the others), but only
//!   while fewer than half of the workers search: more searchers would only burn CPU fighting
//!   over the same queues.
//! - Whoever makes work available (a spawn, a wake into a local queue, a push to the global
//!   queue) calls [`Idle::worker_to_notify`], which wakes **one** parked worker, and only if no
//!   worker is searching already (a searcher will find the work). The woken worker starts as a
//!   searcher.
//! - A searcher that finds work stops searching; if it was the last searcher it wakes another
//!   parked worker, since more work may be queued behind what it found.
//! - A worker about to park first publishes that it is parked, then checks every queue once more
//!   (done by the worker when it was the last searcher). The notifier publishes work first, then
//!   reads the parked/searching counts. Each side puts a `SeqCst` fence between its write and
//!   its read, so at least one sees the other: either the parker finds the work, or the
//!   notifier finds the parker. (Fences rather than SeqCst accesses alone: loom models SeqCst
//!   fences exactly but treats SeqCst accesses as AcqRel.)
//! - A worker pushing onto its own queue notifies only while the queue is short (fewer than
//!   two tasks before the push). Pushes onto a queue of two or more notify nobody: a worker
//!   that parked before the queue grew was notified by the push that made it long, and the
//!   last searcher to park while it is long finds it so when it checks the queues. A busy
//!   worker so pays no fence per push, most of what a yield or a spawn costs beyond the queue.
//! - *Lone tasks* are the exception. A worker that queues a task while nothing else is queued
//!   on it runs that task itself as soon as the current poll returns, so waking another worker
//!   for it only makes a thief spin beside a busy worker (a chain of spawns woke the other
//!   worker ~1,000 times in 10 ms and ran at half speed). Someone must still notice if the
//!   current poll never returns: the last searcher that parks with only lone tasks queued
//!   becomes a *watcher* and parks with a timeout (see `Worker::park`); while one watches, a
//!   lone task wakes nobody ([`Idle::worker_to_notify_unless_watched`]). The watcher is
//!   counted from before its first sleep, through every look between sleeps, until it stops
//!   watching; the count is withdrawn behind a fence *before* its last look at the queues (the
//!   run loop's search and park, or the check before a plain sleep), so a notifier that saw a
//!   watcher is always covered by one of that watcher's looks.
//! - A batch of tasks woken by a worker's own look for I/O events is kept like a lone task
//!   (`Worker::after_io_look`): its pushes notify nobody, and afterwards the worker either
//!   notifies as for surplus (it is behind) or as for a lone task. A worker parking while
//!   another runs such a batch watches it, and so does not wait in the reactor beside it
//!   (`Worker::sleep`).

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst, fence};

pub(crate) struct Idle {
    /// `num_searching` in the low half, `num_unparked` in the high half.
    state: AtomicUsize,
    /// Indexes of parked workers.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
    /// Parked workers watching lone tasks (sleeping with a timeout).
    watchers: AtomicUsize,
}

const UNPARK_SHIFT: usize = usize::BITS as usize / 2;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;
const SEARCH_MASK: usize = UNPARK_ONE - 1;

fn num_searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn num_unparked(state: usize) -> usize {
    state >> UNPARK_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
            watchers: AtomicUsize::new(0),
        }
    }

    /// The worker to wake after making work available, if one should be woken. The chosen
    /// worker is counted as unparked and searching before this returns.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.notify_should_wakeup() {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
        Some(worker)
    }

    /// Like [`worker_to_notify`](Idle::worker_to_notify), for a lone task: nobody is woken
    /// while a watcher will look at it anyway.
    pub(crate) fn worker_to_notify_unless_watched(&self) -> Option<usize> {
        fence(SeqCst);
        if self.watchers.load(SeqCst) > 0 {
            return None;
        }
        self.worker_to_notify()
    }

    /// A parking worker will watch the lone tasks: called before it sleeps.
    pub(crate) fn start_watching(&self) {
        self.watchers.fetch_add(1, SeqCst);
    }

    /// The watcher woke: called before it looks at the queues again.
    pub(crate) fn stop_watching(&self) {
        self.watchers.fetch_sub(1, SeqCst);
        fence(SeqCst);
    }

    fn notify_should_wakeup(&self) -> bool {
        fence(SeqCst);
        let state = self.state.load(SeqCst);
        num_searching(state) == 0 && num_unparked(state) < self.num_workers
    }

    /// Records that `worker` parks. Returns true if it was the last searcher (it must then
    /// check the queues once more, see the module doc).
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && num_searching(prev) == 1
    }

    /// Lets a worker start searching if fewer than half of the workers already do.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * num_searching(state) >= self.num_workers.max(2) {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(num_searching(prev) > 0);
        num_searching(prev) == 1
    }

    /// A parked worker woke up by itself (timer, shutdown, spurious). Returns true if it removed
    /// itself from the sleepers; false if a notifier already did (it is then a searcher).
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARK_ONE, SeqCst);
                true
            }
            None => false,
        }
    }

    /// True while `worker` is among the parked (no notifier has taken it out to search).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }

    pub(crate) fn num_parked(&self) -> usize {
        self.num_workers - num_unparked(self.state.load(SeqCst))
    }
}
