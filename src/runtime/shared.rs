//! State shared by a runtime's workers and its tasks: queues, the idle set, the owner list, the
//! timers, and the count of tasks `join` waits for. Tasks reach it through [`Schedule`].

use super::driver::Driver;
use super::idle::Idle;
use super::owned::OwnedTasks;
use super::park::Unparker;
use super::queue::{Inject, Stealer};
use super::task::{self, MailboxSlot, Notified, RawTask, Schedule, SpawnedTask, TaskBody};
use super::{Config, context};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*, fence};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crossbeam_utils::CachePadded;
use std::sync::Arc as StdArc;
use std::time::Instant;

/// Options of one spawn (from [`crate::task::Builder`]).
#[derive(Clone, Default)]
pub(crate) struct TaskOptions {
    pub(crate) name: Option<StdArc<str>>,
    pub(crate) daemon: bool,
}

/// What a spawn asks for besides the body and the mailbox slot.
pub(crate) struct Spawn<'a> {
    /// A `JoinHandle` will be made for the task.
    pub(crate) join: bool,
    /// How many sender handles (`TaskRef`s) the layer above makes for it.
    pub(crate) handles: usize,
    pub(crate) options: &'a TaskOptions,
    /// The source line that spawned it.
    pub(crate) location: &'static std::panic::Location<'static>,
}

/// A task just spawned, and whether the runtime took it: after shutdown it did not (the task was
/// cancelled at once), and its handles report that.
pub(crate) struct Spawned {
    pub(crate) task: SpawnedTask,
    pub(crate) accepted: bool,
}

/// What other threads may touch of one worker.
pub(crate) struct WorkerShared {
    /// Read by every thief and every notifier; written never.
    pub(super) stealer: Stealer,
    pub(super) unparker: Unparker,
    /// Written by the worker on every poll, so on a cache line of its own: thieves and
    /// notifiers reading the fields above should not miss because the worker is busy.
    pub(super) activity: CachePadded<Activity>,
}

impl WorkerShared {
    /// What this worker's queue holds, as another worker sees it.
    pub(super) fn queued(&self) -> Queued {
        match self.stealer.len() {
            0 => Queued::Nothing,
            1 => Queued::Kept,
            _ if self.activity.keeps_io_batch.load(Relaxed) => Queued::Kept,
            _ => Queued::Surplus,
        }
    }
}

/// What a parking worker finds queued (see `Shared::queued_work`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queued {
    Nothing,
    /// Only tasks that their (running) workers are about to run themselves: a lone task (the
    /// only one in a worker's queue), or the batch of tasks a worker's look for I/O events
    /// woke (see `Worker::after_io_look`).
    Kept,
    /// Work another worker should take: the global queue, or a queue of two or more that its
    /// worker does not keep.
    Surplus,
}

/// The worker's own counters, written only by it, read for reports and metrics.
#[derive(Default)]
pub(crate) struct Activity {
    /// Id of the task the worker is polling (0 when none), for shutdown reports.
    pub(super) running: AtomicU64,
    /// Times the worker woke from parking (a metric: idle runtimes should not churn).
    pub(super) unparks: AtomicU64,
    /// Tasks the worker has polled (a metric: shows how work spread over the workers).
    pub(super) polls: AtomicU64,
    /// Times the worker took tasks from another worker's queue (a metric: a chain of tasks
    /// that moves between workers shows up here).
    pub(super) steals: AtomicU64,
    /// Times the worker parked as the watcher of lone tasks (a metric; see `Worker::watch`).
    pub(super) watches: AtomicU64,
    /// True while the tasks in the worker's queue are a batch its last look for I/O events
    /// woke, which it keeps to run itself (see `Worker::after_io_look`). Only a hint: thieves
    /// leave such a queue to a worker that keeps polling, as they leave a lone task.
    pub(super) keeps_io_batch: AtomicBool,
    /// Tasks spawned and tasks ended on this worker (a metric: their difference, summed over
    /// the workers and `Shared::outside`, is the number of live tasks).
    pub(super) spawned: AtomicU64,
    pub(super) ended: AtomicU64,
}

pub(crate) struct Shared {
    /// Padded: one worker's entry is read by others while its neighbour's worker writes.
    pub(super) workers: Box<[CachePadded<WorkerShared>]>,
    pub(super) inject: Inject,
    pub(super) idle: Idle,
    pub(super) owned: OwnedTasks,
    /// The reactor, the timers, and who waits in the poller (`driver/mod.rs`).
    pub(crate) driver: Driver,
    pub(super) config: Config,
    /// Threads for `rycos::blocking`, started on first use.
    pub(crate) blocking: std::sync::OnceLock<rycos_pool::ThreadPool>,
    /// What the layers above keep per runtime (the name registry, later a node).
    pub(crate) services: super::services::Services,
    non_daemon: NonDaemon,
    /// Tasks spawned and ended off the workers (see `Activity::spawned`); padded away from the
    /// fields every spawn reads.
    outside: CachePadded<Activity>,
    shutdown: AtomicBool,
    exited: Mutex<usize>,
    exited_cv: Condvar,
}

/// Tasks `Runtime::join` waits for (non-daemon tasks that have not ended).
struct NonDaemon {
    count: AtomicUsize,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Shared {
    pub(super) fn new(workers: Box<[CachePadded<WorkerShared>]>, config: Config, driver: Driver) -> Shared {
        let count = workers.len();
        Shared {
            workers,
            inject: Inject::new(),
            idle: Idle::new(count),
            owned: OwnedTasks::new(count),
            driver,
            config,
            services: Default::default(),
            blocking: std::sync::OnceLock::new(),
            non_daemon: NonDaemon { count: AtomicUsize::new(0), lock: Mutex::new(()), zero: Condvar::new() },
            outside: CachePadded::default(),
            shutdown: AtomicBool::new(false),
            exited: Mutex::new(0),
            exited_cv: Condvar::new(),
        }
    }

    pub(super) fn num_workers(&self) -> usize {
        self.workers.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    /// Allocates, lists and schedules a task. After shutdown the task is cancelled at once (its
    /// body is dropped) and returned not accepted, so its handles report the cancellation.
    #[inline]
    pub(crate) fn spawn<T: TaskBody, M: MailboxSlot>(
        this: &Arc<Self>,
        body: T,
        mailbox: M,
        spec: Spawn<'_>,
    ) -> Spawned {
        let Spawn { join, handles, options, location } = spec;
        let stats = task::Stats::new(location, this.driver.timers.coarse_ms());
        let task = task::allocate(body, this.clone(), mailbox, join, handles, options.daemon, stats);
        if let Some(name) = &options.name {
            task.raw.extras().set_name(name.clone());
        }
        if !options.daemon {
            this.non_daemon_inc();
        }
        this.count(|activity| &activity.spawned);
        if this.is_shutdown() {
            task.notified().cancel();
            return Spawned { task, accepted: false };
        }
        // Not listed yet (see `owned.rs`): should shutdown begin from here on, the queue this
        // goes to is drained with the task cancelled.
        this.schedule_new(task.notified());
        Spawned { task, accepted: true }
    }

    /// Counts a task spawned or ended: on this worker's own counter when called on one of the
    /// runtime's workers (no cache line shared with the other workers), else on a shared one.
    fn count(&self, counter: impl Fn(&Activity) -> &AtomicU64) {
        context::with_worker(|worker| match worker {
            Some(worker) if worker.accepts_tasks_for(self) => {
                let own = counter(&self.workers[worker.index].activity);
                own.store(own.load(Relaxed) + 1, Relaxed);
            }
            _ => {
                counter(&self.outside).fetch_add(1, Relaxed);
            }
        });
    }

    /// A worker counter summed over the workers.
    pub(super) fn total(&self, counter: impl Fn(&Activity) -> &AtomicU64) -> u64 {
        self.workers.iter().map(|entry| counter(&entry.activity).load(Relaxed)).sum()
    }

    /// Tasks spawned and not yet ended, from the counters `count` keeps.
    pub(super) fn live_tasks(&self) -> usize {
        let activities = self.workers.iter().map(|entry| &entry.activity).chain([&self.outside]);
        let (spawned, ended) = activities
            .fold((0u64, 0u64), |(s, e), a| (s + a.spawned.load(Relaxed), e + a.ended.load(Relaxed)));
        usize::try_from(spawned.saturating_sub(ended)).unwrap_or(usize::MAX)
    }

    /// A new task goes to the back of the local queue (new work spreads to idle workers), or
    /// to the global queue from outside.
    fn schedule_new(&self, task: Notified) {
        context::with_worker(|worker| match worker {
            Some(worker) if worker.accepts_tasks_for(self) => worker.push_local(task),
            _ => self.push_from_outside(task),
        });
    }

    fn schedule_task(&self, task: Notified, is_yield: bool) {
        crate::loom::loom_trace!(
            "schedule {:?} (yield: {is_yield}) on a worker: {}",
            task.id(),
            context::is_worker_thread()
        );
        context::with_worker(|worker| match worker {
            Some(worker) if worker.accepts_tasks_for(self) => worker.schedule_local(task, is_yield),
            _ => self.push_from_outside(task),
        });
    }

    /// Queues a task scheduled from outside the workers.
    fn push_from_outside(&self, task: Notified) {
        crate::loom::loom_trace!("push_from_outside {:?}", task.id());
        if self.is_shutdown() {
            // A listed task is cancelled through the owner list; one never polled, only here.
            // (Cancelling listed ones here too would cascade: a cancelled task's monitors are
            // woken, come here and are cancelled, waking theirs, all on this thread's stack.)
            if task.is_listed() {
                drop(task);
            } else {
                task.cancel();
            }
            return;
        }
        self.inject.push(task);
        // Shutdown may have begun since the check above, and its final drain of the global
        // queue may already be over: then nobody else will take this task out (a leak, and a
        // task <-> runtime reference cycle). Draining is idempotent, so do it here too. SeqCst
        // pairs with the store in `begin_shutdown`: either we see the flag, or the shutdown's
        // drain comes after our push.
        fence(SeqCst);
        if self.shutdown.load(SeqCst) {
            self.drain_inject();
            return;
        }
        self.notify_parked();
    }

    /// Wakes one parked worker if the idle protocol says one is needed.
    pub(super) fn notify_parked(&self) {
        self.unpark_chosen(self.idle.worker_to_notify());
    }

    /// After a worker queued a *lone* task (see `Worker::push_local`): wakes a parked worker
    /// only if none watches the lone tasks already.
    pub(super) fn notify_parked_for_lone_task(&self) {
        self.unpark_chosen(self.idle.worker_to_notify_unless_watched());
    }

    fn unpark_chosen(&self, chosen: Option<usize>) {
        crate::loom::loom_trace!("notify -> {chosen:?}");
        if let Some(index) = chosen {
            self.workers[index].unparker.unpark();
        }
    }

    /// What is queued anywhere, as the last searcher sees it when it parks.
    pub(super) fn queued_work(&self) -> Queued {
        if !self.inject.is_empty() {
            return Queued::Surplus;
        }
        let mut queued = Queued::Nothing;
        for entry in self.workers.iter() {
            match entry.queued() {
                Queued::Nothing => {}
                Queued::Kept => queued = Queued::Kept,
                Queued::Surplus => return Queued::Surplus,
            }
        }
        queued
    }

    /// A timer due at `tick` was registered: wake the driver if it sleeps past it (see
    /// `driver/mod.rs`).
    pub(crate) fn timer_registered(&self, tick: u64) {
        if let Some(parked) = self.driver.timer_registered(tick) {
            self.workers[parked].unparker.unpark();
        }
    }

    pub(super) fn non_daemon_inc(&self) {
        self.non_daemon.count.fetch_add(1, Relaxed);
    }

    pub(super) fn non_daemon_dec(&self) {
        if self.non_daemon.count.fetch_sub(1, AcqRel) == 1 {
            // Notify under the lock so a waiter between its check and its wait cannot miss it.
            let _guard = self.non_daemon.lock.lock();
            self.non_daemon.zero.notify_all();
        }
    }

    pub(super) fn non_daemon_count(&self) -> usize {
        self.non_daemon.count.load(Acquire)
    }

    /// Waits until no non-daemon task is left; false if `deadline` passed first.
    pub(super) fn wait_non_daemon_zero(&self, deadline: Option<Instant>) -> bool {
        let mut guard = self.non_daemon.lock.lock();
        while self.non_daemon.count.load(Acquire) != 0 {
            match deadline {
                None => self.non_daemon.zero.wait(&mut guard),
                Some(deadline) => {
                    if self.non_daemon.zero.wait_until(&mut guard, deadline).timed_out() {
                        return self.non_daemon.count.load(Acquire) == 0;
                    }
                }
            }
        }
        true
    }

    /// Starts shutting down: no more tasks are accepted, every worker is woken to cancel what is
    /// left. Returns false if shutdown had already begun.
    pub(super) fn begin_shutdown(&self) -> bool {
        // Close the owner list *before* publishing the flag: a worker that sees the flag drains
        // the list once and exits, so no task may get listed after that (found by the
        // loom model `shutdown_races_with_spawn`).
        if !self.owned.close() {
            return false;
        }
        self.shutdown.store(true, SeqCst);
        fence(SeqCst); // pairs with the fence in `push_from_outside`
        for entry in self.workers.iter() {
            entry.unparker.unpark();
        }
        true
    }

    pub(super) fn worker_exited(&self) {
        let mut exited = self.exited.lock();
        *exited += 1;
        self.exited_cv.notify_all();
    }

    pub(super) fn workers_exited(&self) -> usize {
        *self.exited.lock()
    }

    /// Waits for every worker to leave its loop; false if `deadline` passed first.
    pub(super) fn wait_workers_exited(&self, deadline: Option<Instant>) -> bool {
        let mut exited = self.exited.lock();
        while *exited < self.num_workers() {
            match deadline {
                None => self.exited_cv.wait(&mut exited),
                Some(deadline) => {
                    if self.exited_cv.wait_until(&mut exited, deadline).timed_out() {
                        return *exited == self.num_workers();
                    }
                }
            }
        }
        true
    }

    /// Cancels what is left in the global queue: each worker does at its shutdown, and the
    /// runtime once the workers are gone.
    pub(super) fn drain_inject(&self) {
        while let Some(task) = self.inject.pop() {
            task.cancel();
        }
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true);
    }

    fn track(&self, task: RawTask) -> bool {
        self.owned.track(task)
    }

    fn release(&self, task: RawTask) -> bool {
        self.owned.remove(task)
    }

    fn task_ended(&self, daemon: bool) {
        self.count(|activity| &activity.ended);
        if !daemon {
            self.non_daemon_dec();
        }
    }

    fn set_daemon(&self, task: RawTask, daemon: bool) {
        // Count before un-daemonising, so `join` never sees a transient zero while this task
        // can still run; undo if nothing changed.
        if !daemon {
            self.non_daemon_inc();
        }
        let changed = task.transition_daemon(daemon) == Some(true);
        if daemon == changed {
            self.non_daemon_dec();
        }
    }
}
