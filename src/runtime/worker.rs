//! A worker thread: runs tasks from its own queues, steals when they are empty, parks when
//! there is nothing anywhere.
//!
//! Where the next task comes from (`next_task`):
//!
//! 1. every `global_queue_interval` ticks, the global queue first, so tasks scheduled from
//!    outside are never starved by a busy local queue;
//! 2. the LIFO slot: the task this worker woke last. Message ping-pong and request/reply stay
//!    on one core, hot in cache, with no cross-core wake-up. The slot is used at most
//!    `MAX_LIFO_POLLS` times in a row *while other tasks wait in the local queue*; when the
//!    local queue is empty there is nobody to starve and the streak goes on (two tasks
//!    ping-ponging then run at single-thread speed instead of bouncing between cores);
//! 3. the local queue (FIFO);
//! 4. a batch from the global queue.
//!
//! With nothing local: due timers are fired, then the worker steals half of another worker's
//! queue (see `idle.rs` for who may search), and finally parks. The first worker to park becomes
//! the driver: it waits in the reactor for I/O events, only until the next timer is due, and is
//! woken with `Poller::notify`. Everyone else sleeps on a condition variable until notified.
//! The exception: while another worker runs through a batch of I/O wake-ups it kept (below), a
//! parking worker leaves the reactor to it and watches it instead (`Worker::sleep`).
//!
//! A *lone* task — the only task a running worker has queued, typically the one its current
//! task just spawned or woke — is left to that worker: thieves give it a grace period, queuing
//! it wakes nobody while a parked worker watches, and the watcher takes it only if the worker
//! turns out to be stuck in a poll (`LONE_TASK_GRACE`, `Worker::watch`). Chains of tasks and
//! request/reply pairs so stay on one core; surplus work (two or more queued) still spreads.
//! The tasks one look for I/O events wakes are *kept* the same way, unless the worker is behind
//! (`Worker::after_io_look`): a server's requests are then served by as few workers as keep up
//! with them, without a wake-up between workers per batch.
//!
//! Fairness guarantee at the time of writing: a task that is queued runs after at most
//! `MAX_LIFO_POLLS` LIFO polls per queued task ahead of it, and a task in the global queue after
//! at most `global_queue_interval` polls of its worker. A task that never returns from `poll`
//! blocks its worker (no runtime can preempt it); other workers steal the rest of that worker's
//! queue.

use super::driver::{DriverGuard, earliest};
use super::queue::Local;
use super::shared::{Queued, Shared};
use super::task::Notified;
use super::{Handle, context, park::Parker};
use crate::coop;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{
    Ordering::{Relaxed, SeqCst},
    fence,
};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// LIFO-slot polls in a row allowed while other tasks wait in the local queue.
const MAX_LIFO_POLLS: u32 = 3;

/// Steal rounds a searcher makes, backing off between them (4, 8, 16, then 32 spin-loop hints),
/// before it parks. Work usually comes in bursts; a searcher that waits a few µs catches the
/// next task of a burst without a futex round trip, and while it searches, producers need not
/// wake anyone. Kept short: a spinning worker takes a CPU from whoever else needs it — with 16
/// rounds (~20 µs) the workers spent a fifth of their time spinning while piping data through
/// `cat`, which then ran slower for want of a core (docs/bench-history.md, pipes); 4 rounds
/// measured as fast as 16 on the core workloads. Bounded, so an idle runtime still sleeps.
const SPIN_ROUNDS: u32 = if cfg!(loom) { 1 } else { 4 };

/// How long a thief leaves alone the only task queued on a worker that keeps polling (a *lone*
/// task). A task spawned or woken by the running task is usually the one its worker runs next:
/// stealing it moves a chain of tasks to another core at every link (chained_spawn ran 3–5×
/// slower in the runs where that happened). A worker that has not started another poll for
/// this long may be stuck in a long one, and its lone task is taken. (Go's scheduler waits
/// ~3 µs before stealing a P's `runnext` for the same reason.) Zero under loom: the grace is
/// timing, not protocol.
///
/// Queuing a lone task wakes nobody if a parked worker already *watches* (see idle.rs): the
/// last searcher to park with only lone tasks queued sleeps `WATCH_FIRST`, doubling up to
/// `WATCH_LAST`, then looks again; so a lone task behind a poll that never returns is taken
/// within about `WATCH_LAST`, and a busy worker's stream of lone tasks costs a few wake-ups.
const LONE_TASK_GRACE: Duration = if cfg!(loom) { Duration::ZERO } else { Duration::from_micros(5) };
const WATCH_FIRST: Duration = Duration::from_micros(100);
const WATCH_LAST: Duration = Duration::from_micros(1_600);

/// Whether only the last worker to park waits in the reactor (see `Worker::sleep`). Not under
/// loom, which models the driver protocol with any parked worker as the driver.
const DRIVER_ONLY_WHEN_ALL_PARK: bool = !cfg!(loom);

/// What a watcher does after a sleep (see `Worker::watch`).
enum Watch {
    /// Keep watching.
    Continue,
    /// Nothing is queued and no other worker runs: sleep until notified.
    Sleep,
    /// Back to the run loop.
    Return,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    pub(super) index: usize,
    local: Local,
    lifo: Cell<Option<Notified>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    is_searching: Cell<bool>,
    shutting_down: Cell<bool>,
    rng: Cell<u32>,
    parker: Parker,
    /// Per other worker: the poll count last seen and when it was first seen (see
    /// `LONE_TASK_GRACE`).
    seen_polls: Box<[Cell<(u64, Instant)>]>,
    /// When `maintenance` next looks for I/O events, and how long it waits after a look that
    /// found none (see `IO_QUIET_MAX`).
    next_io_look: Cell<Instant>,
    io_quiet: Cell<Duration>,
    /// True while this worker wakes the tasks its look for I/O events found: their pushes
    /// notify nobody, `after_io_look` decides for the batch.
    in_io_look: Cell<bool>,
    /// The look for I/O events this worker made while parked as the driver: `after_io_look`
    /// runs for it only once the worker counts as running again (see `park`). Holds how many
    /// tasks were queued before the look.
    unsettled_io_look: Cell<Option<usize>>,
    /// Set by a watcher that found another worker stuck in a poll: its next sleep may take the
    /// driver role although that worker still runs (see `sleep`).
    found_stuck: Cell<bool>,
}

/// The longest a busy worker goes between looks for I/O events while its looks keep finding
/// none: each empty look doubles the wait from `IO_QUIET_MIN` up to this; a look that finds
/// events makes the next maintenance look again. A runtime with a quiet socket (a monitor's
/// listener, an idle connection) then pays ~1,000 `epoll_wait`s a second per busy worker
/// instead of one per 61 polls, which had cost ping_pong a third of its speed; a runtime with
/// traffic keeps looking at every maintenance.
const IO_QUIET_MAX: Duration = Duration::from_millis(1);
const IO_QUIET_MIN: Duration = Duration::from_micros(16);

/// The body of a worker thread.
pub(super) fn run(shared: Arc<Shared>, index: usize, local: Local, parker: Parker) {
    let workers = shared.workers.len();
    let worker = Worker {
        shared,
        index,
        local,
        lifo: Cell::new(None),
        lifo_streak: Cell::new(0),
        tick: Cell::new(0),
        is_searching: Cell::new(false),
        shutting_down: Cell::new(false),
        rng: Cell::new(0x9e37_79b9 ^ (index as u32).wrapping_mul(0x85eb_ca6b) | 1),
        seen_polls: (0..workers).map(|_| Cell::new((0, Instant::now()))).collect(),
        next_io_look: Cell::new(Instant::now()),
        io_quiet: Cell::new(Duration::ZERO),
        in_io_look: Cell::new(false),
        unsettled_io_look: Cell::new(None),
        found_stuck: Cell::new(false),
        parker,
    };
    // User panics are caught around each poll; a panic that reaches this far is a bug in the
    // runtime itself, and a dead worker would strand its queue: abort loudly instead. (Not under
    // loom, which reports a failed model by panicking.)
    let abort = (!cfg!(loom)).then(|| AbortOnPanic);
    {
        let _context = context::set_worker(&worker);
        worker.run();
        worker.shutdown();
    }
    std::mem::forget(abort);
    worker.shared.worker_exited();
}

struct AbortOnPanic;

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        tracing::error!(target: "rycos::runtime", "a worker thread panicked inside the runtime (a bug in rycos); aborting");
        // The one line the library writes itself: the process ends here, with or without a
        // subscriber to hear the event.
        eprintln!("rycos: a worker thread panicked inside the runtime (a bug in rycos); aborting");
        std::process::abort();
    }
}

impl Worker {
    pub(crate) fn handle(&self) -> Handle {
        Handle { shared: self.shared.clone() }
    }

    /// True if this worker belongs to the runtime `shared`.
    pub(super) fn serves(&self, shared: &Shared) -> bool {
        std::ptr::eq(&*self.shared, shared)
    }

    /// True if this worker belongs to the runtime `shared` and still accepts tasks.
    pub(super) fn accepts_tasks_for(&self, shared: &Shared) -> bool {
        std::ptr::eq(&*self.shared, shared) && !self.shutting_down.get()
    }

    fn run(&self) {
        while !self.shared.is_shutdown() {
            if let Some(task) = self.next_task() {
                self.run_task(task);
                continue;
            }
            if self.shared.driver.timers.fire_due() > 0 {
                continue;
            }
            if let Some(task) = self.steal_work() {
                self.run_task(task);
                continue;
            }
            self.park();
        }
    }

    fn next_task(&self) -> Option<Notified> {
        let tick = self.tick.get();
        if tick.is_multiple_of(self.shared.config.global_queue_interval)
            && let Some(task) = self.shared.inject.pop()
        {
            return Some(task);
        }
        if let Some(task) = self.lifo.take() {
            if self.lifo_streak.get() < MAX_LIFO_POLLS || self.local.is_empty() {
                self.lifo_streak.set(self.lifo_streak.get() + 1);
                return Some(task);
            }
            // Tasks are waiting behind the streak: the LIFO task takes its turn at the back.
            self.local.push(task);
        }
        self.lifo_streak.set(0);
        self.local.pop().or_else(|| self.shared.inject.steal_into(&self.local))
    }

    fn run_task(&self, task: Notified) {
        crate::loom::loom_trace!(
            "worker {} runs {:?} (searching: {})",
            self.index,
            task.id(),
            self.is_searching.get()
        );
        if self.is_searching.replace(false) && self.shared.idle.transition_worker_from_searching() {
            // The last searcher found work: there may be more, let another worker look.
            self.shared.notify_parked();
        }
        let entry = &self.shared.workers[self.index];
        entry.activity.running.store(task.id().as_u64(), Relaxed);
        // Counted before the poll, so whoever learns of the task's progress sees the count.
        // Only this worker writes it: a plain load and store, no locked instruction.
        entry.activity.polls.store(entry.activity.polls.load(Relaxed) + 1, Relaxed);
        task.stats().note_poll(self.shared.driver.timers.coarse_ms());
        coop::budgeted(|| task.run());
        entry.activity.running.store(0, Relaxed);

        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(self.shared.config.event_interval) {
            self.maintenance();
        }
    }

    /// Between polls: fire due timers and, if any descriptor is registered and no other worker
    /// is parked in the reactor, collect I/O events without blocking, so a busy runtime does
    /// not starve its sockets.
    fn maintenance(&self) {
        self.shared.driver.timers.fire_due();
        #[cfg(not(loom))]
        if self.shared.driver.reactor.has_sources() {
            let now = Instant::now();
            if now >= self.next_io_look.get()
                && let Some(role) = self.shared.driver.try_claim()
            {
                let queued_before = self.begin_io_look();
                let events = self.shared.driver.reactor.poll(Some(Duration::ZERO));
                // The role first: a worker that failed to claim it meanwhile sleeps without
                // it, and the notification below must see that worker parked (see `sleep`).
                drop(role);
                self.after_io_look(queued_before);
                let quiet = match events {
                    0 => (self.io_quiet.get() * 2).clamp(IO_QUIET_MIN, IO_QUIET_MAX),
                    _ => Duration::ZERO,
                };
                self.io_quiet.set(quiet);
                self.next_io_look.set(now + quiet);
            }
        }
    }

    /// Queues a task woken on this worker: into the LIFO slot (the one it displaces goes to the
    /// local queue), or, for a task that yielded, to the back of the local queue.
    pub(super) fn schedule_local(&self, task: Notified, is_yield: bool) {
        if is_yield || !self.shared.config.lifo_slot {
            self.push_local(task);
            return;
        }
        if let Some(previous) = self.lifo.replace(Some(task)) {
            self.push_local(previous);
        }
    }

    /// Queues a task at the back of the local queue and lets an idle worker know there is
    /// work to steal — unless it is a lone task (the only one this worker has to run next), or
    /// the queue was a surplus already: the push that made it one notified, and a worker that
    /// parked since saw the surplus as it parked (see idle.rs). So a worker whose queue stays
    /// long pays no fence per push.
    pub(super) fn push_local(&self, task: Notified) {
        if self.in_io_look.get() {
            self.local.push(task);
            return;
        }
        let queued = self.local.len();
        let lone = queued == 0 && self.lifo_is_empty();
        self.local.push(task);
        let keeps_io_batch = &self.shared.workers[self.index].activity.keeps_io_batch;
        if keeps_io_batch.load(Relaxed) {
            // The queue was a batch of I/O wake-ups kept for this worker; with another task
            // behind it, it is surplus like any other.
            keeps_io_batch.store(false, Relaxed);
            self.shared.notify_parked();
        } else if lone {
            self.shared.notify_parked_for_lone_task();
        } else if queued < 2 {
            self.shared.notify_parked();
        }
    }

    /// Before a look for I/O events: the tasks it wakes are queued without notifying anyone
    /// (`after_io_look` decides for all of them). Returns how many tasks were queued already.
    #[cfg(not(loom))]
    fn begin_io_look(&self) -> usize {
        self.in_io_look.set(true);
        self.local.len()
    }

    /// After a look for I/O events: whether another worker should help with the tasks it woke.
    ///
    /// They are this worker's to run, as a lone task is, unless it is behind: the look found
    /// tasks still queued from before, or woke more than this worker runs before its next
    /// look (`event_interval`): only then is a parked worker woken to help. Otherwise one is
    /// woken only to watch, as for a lone task, and not if one watches already. Waking one
    /// to help with every batch cost more than it gave: on the 2-core machine of the HTTP
    /// benchmark, where the load generator needs a core too, hyper on two workers that spread
    /// each batch served ~10 % fewer requests than on one (BENCHMARKS.md, HTTP); the woken
    /// worker's futex round trip, and the core it takes from whatever else runs, cost more
    /// than the parallelism gives for tasks that each take microseconds. A kept batch is
    /// watched like a lone task (see idle.rs): if this worker stops starting polls, a watcher
    /// takes the rest.
    #[cfg(not(loom))]
    fn after_io_look(&self, queued_before: usize) {
        self.in_io_look.set(false);
        let queued = self.local.len();
        if queued == queued_before {
            // Nothing queued (at most the LIFO slot took one task, which wakes nobody).
            return;
        }
        let keeps_io_batch = &self.shared.workers[self.index].activity.keeps_io_batch;
        if queued_before > 0 || queued >= self.shared.config.event_interval as usize {
            keeps_io_batch.store(false, Relaxed);
            self.shared.notify_parked();
        } else {
            keeps_io_batch.store(true, Relaxed);
            self.shared.notify_parked_for_lone_task();
        }
    }

    fn lifo_is_empty(&self) -> bool {
        let task = self.lifo.take();
        let empty = task.is_none();
        self.lifo.set(task);
        empty
    }

    fn steal_work(&self) -> Option<Notified> {
        if !self.is_searching.get() {
            if !self.shared.idle.transition_worker_to_searching() {
                crate::loom::loom_trace!("worker {} may not search", self.index);
                return None;
            }
            self.is_searching.set(true);
        }
        for round in 0..SPIN_ROUNDS {
            if let Some(task) = self.steal_once() {
                return Some(task);
            }
            if self.shared.is_shutdown() {
                break;
            }
            for _ in 0..(4u32 << round.min(3)) {
                std::hint::spin_loop();
            }
        }
        None
    }

    /// One pass over the other workers' queues and the global queue.
    fn steal_once(&self) -> Option<Notified> {
        let workers = &self.shared.workers;
        let n = workers.len();
        let start = self.next_random() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            // An empty queue is skipped, not raced for: a steal attempt started on an empty
            // queue takes the lone task its owner queues meanwhile, and with it the chain of
            // tasks that task starts (seen as hundreds of hops in a 10 ms chained_spawn).
            match workers[victim].queued() {
                Queued::Nothing => continue,
                Queued::Kept if self.within_lone_task_grace(victim) => continue,
                _ => {}
            }
            if let Some(task) = workers[victim].stealer.steal_into(&self.local) {
                let steals = &self.shared.workers[self.index].activity.steals;
                steals.store(steals.load(Relaxed) + 1, Relaxed);
                return Some(task);
            }
        }
        self.shared.inject.steal_into(&self.local)
    }

    /// True if `victim` started a poll within the last `LONE_TASK_GRACE`, as far as this
    /// worker has seen: its lone queued task is probably next in line there.
    fn within_lone_task_grace(&self, victim: usize) -> bool {
        if LONE_TASK_GRACE.is_zero() {
            return false;
        }
        let polls = self.shared.workers[victim].activity.polls.load(Relaxed);
        let now = Instant::now();
        let seen = &self.seen_polls[victim];
        let (last_polls, mut since) = seen.get();
        if last_polls != polls {
            since = now;
            seen.set((polls, since));
        }
        now.duration_since(since) < LONE_TASK_GRACE
    }

    fn park(&self) {
        let was_searching = self.is_searching.replace(false);
        crate::loom::loom_trace!("worker {} parks (was searching: {was_searching})", self.index);
        let mut watch = false;
        if self.shared.idle.transition_worker_to_parked(self.index, was_searching) {
            // The last searcher: work published meanwhile must not be stranded. Dekker with
            // `Idle::worker_to_notify`: we published "parked" and now read the queues; a
            // notifier published work and then read "parked". With a SeqCst fence on both sides
            // at least one sees the other (see idle.rs).
            fence(SeqCst);
            match self.shared.queued_work() {
                Queued::Surplus => self.shared.notify_parked(),
                Queued::Kept => watch = true,
                Queued::Nothing => {}
            }
        }
        // A worker that parks while another runs through a batch of I/O wake-ups does not wait
        // in the reactor (see `sleep`): it watches instead, so a worker stuck in a poll does
        // not leave the runtime's I/O and timers unattended.
        watch |= self.leaves_io_to_others();
        if !self.shared.is_shutdown() {
            if watch {
                self.watch();
            } else {
                self.sleep(None);
            }
        }
        if !self.shared.idle.unpark_worker_by_id(self.index) {
            // A notifier woke us and counted us as a searcher.
            self.is_searching.set(true);
        }
        // Whether another worker should help with the tasks this worker's wait in the reactor
        // woke is decided only now. Decided while this worker was still among the parked (and
        // perhaps counted as the watcher), the notification could pick this very worker (it
        // did, several times in each run of rt_fairness'
        // `io_goes_on_when_the_worker_that_kept_a_batch_of_wake_ups_hangs`) or be skipped as
        // watched, and leave the others asleep: if the batch then hung this worker, nobody
        // would look after the runtime's I/O.
        #[cfg(not(loom))]
        if let Some(queued_before) = self.unsettled_io_look.take() {
            self.after_io_look(queued_before);
        }
        crate::loom::loom_trace!("worker {} unparked (searching: {})", self.index, self.is_searching.get());
    }

    /// Sleeps once, as the driver if no other worker is, until notified or `wake_at`.
    ///
    /// While another worker runs through a batch of I/O wake-ups it kept (`after_io_look`), a
    /// parking worker does not take the driver role: the running one looks for I/O events
    /// between polls (`maintenance`) and drives when it parks, and a parked worker waiting in
    /// the reactor beside it would be woken by the kernel for every batch and take a share of
    /// it, at the cost measured in `after_io_look`. Such a worker sleeps at most until the next
    /// timer is due (the driver would have fired it) or `WATCH_LAST`, and takes the role after
    /// all if, watching, it found the running worker stuck in a poll.
    fn sleep(&self, wake_at: Option<Instant>) {
        let may_drive = self.found_stuck.take() || !self.leaves_io_to_others();
        let role = may_drive.then(|| {
            // Dekker with a driver settling its look for I/O events (`park`): it gives up the
            // role, then reads who is parked; this worker published that it is parked, and
            // now reads the role. One of the two sees the other, so a worker that fails to
            // claim the role is woken if that look's tasks need help.
            fence(SeqCst);
            self.shared.driver.try_claim()
        });
        match role.flatten() {
            Some(role) => self.park_as_driver(&role, wake_at),
            // Somebody else drives.
            None if may_drive => self.parker.park(wake_at),
            None => {
                let limit = wake_at.unwrap_or_else(|| Instant::now() + WATCH_LAST);
                self.parker.park(earliest(Some(limit), self.shared.driver.timers.next_due()))
            }
        }
        // The tasks about to run are stamped with it (their statistics).
        self.shared.driver.timers.refresh_clock();
        self.shared.workers[self.index].activity.unparks.fetch_add(1, Relaxed);
    }

    /// Stays parked as the watcher of lone tasks (see `LONE_TASK_GRACE`): sleeps an interval at
    /// a time, then looks whether each worker with a lone task queued has started a poll since
    /// the interval began. One that has not is stuck in a poll: this worker returns to steal
    /// its task. Returns as well as soon as there is anything else to do, and ends in a plain
    /// sleep once no other worker is running.
    fn watch(&self) {
        // Counted as a watcher throughout, also while it looks between sleeps: a lone task
        // queued meanwhile is covered by its next look and need not wake it.
        self.shared.idle.start_watching();
        let watches = &self.shared.workers[self.index].activity.watches;
        watches.store(watches.load(Relaxed) + 1, Relaxed);
        let mut interval = WATCH_FIRST;
        loop {
            let since = Instant::now();
            self.note_polls(since);
            let wake_at = since + interval;
            loop {
                self.sleep(Some(wake_at));
                match self.watch_outcome() {
                    Watch::Return => {
                        // The run loop searches and parks again: that is its next look.
                        self.shared.idle.stop_watching();
                        return;
                    }
                    Watch::Sleep => {
                        // From here on a lone task wakes this worker; one queued before
                        // `stop_watching` is seen by the look after it.
                        self.shared.idle.stop_watching();
                        if self.shared.queued_work() == Queued::Nothing {
                            self.sleep(None);
                        }
                        return;
                    }
                    Watch::Continue if Instant::now() >= wake_at => break,
                    Watch::Continue => {}
                }
            }
            if self.a_worker_is_stuck() {
                self.found_stuck.set(true);
                self.shared.idle.stop_watching();
                return;
            }
            interval = (interval * 2).min(WATCH_LAST);
        }
    }

    /// What a watcher does after a sleep.
    fn watch_outcome(&self) -> Watch {
        let has_own_work =
            !self.local.is_empty() || !self.lifo_is_empty() || self.shared.driver.timers.is_due();
        if self.shared.is_shutdown() || !self.shared.idle.is_parked(self.index) || has_own_work {
            // Shutdown, or a notifier took this worker to search, or I/O events woke tasks
            // here, or a timer is due: the run loop takes it from here.
            return Watch::Return;
        }
        match self.shared.queued_work() {
            Queued::Surplus => Watch::Return,
            // No other worker runs, or has for a whole interval: nothing can get stuck, and
            // nothing gets queued unnoticed. (A worker that parks between bursts of work is
            // still watched: the bursts then wake nobody, see `after_io_look`.)
            Queued::Nothing
                if self.all_parked() && (self.others_idle_since_note() || !self.io_kept_elsewhere()) =>
            {
                Watch::Sleep
            }
            // Lone tasks to watch, or a running worker that may queue one, waking nobody.
            _ => Watch::Continue,
        }
    }

    /// Records every other worker's poll count as seen at `now` (see `within_lone_task_grace`).
    fn note_polls(&self, now: Instant) {
        for (victim, seen) in self.seen_polls.iter().enumerate() {
            seen.set((self.shared.workers[victim].activity.polls.load(Relaxed), now));
        }
    }

    /// True if another worker has not started a poll since `note_polls` while it has tasks
    /// kept queued (a lone task, a batch of I/O wake-ups) or is inside a poll.
    fn a_worker_is_stuck(&self) -> bool {
        self.shared.workers.iter().zip(self.seen_polls.iter()).enumerate().any(|(victim, (entry, seen))| {
            victim != self.index
                && entry.activity.polls.load(Relaxed) == seen.get().0
                && (entry.queued() == Queued::Kept
                    || (DRIVER_ONLY_WHEN_ALL_PARK && entry.activity.running.load(Relaxed) != 0))
        })
    }

    /// True if no other worker has started a poll since `note_polls`.
    fn others_idle_since_note(&self) -> bool {
        self.shared.workers.iter().zip(self.seen_polls.iter()).enumerate().all(|(victim, (entry, seen))| {
            victim == self.index || entry.activity.polls.load(Relaxed) == seen.get().0
        })
    }

    /// True if every worker, this one included, is counted as parked.
    fn all_parked(&self) -> bool {
        self.shared.idle.num_parked() == self.shared.workers.len()
    }

    /// True if this parking worker should leave the reactor to the running workers: one of
    /// them keeps a batch of I/O wake-ups (see `after_io_look`) and looks for more between
    /// polls. (The flag may be stale once that worker parked too: then all are parked, and
    /// this one may drive.)
    fn leaves_io_to_others(&self) -> bool {
        !self.all_parked() && self.io_kept_elsewhere()
    }

    /// True if another worker keeps (or lately kept) a batch of I/O wake-ups.
    fn io_kept_elsewhere(&self) -> bool {
        DRIVER_ONLY_WHEN_ALL_PARK
            && self
                .shared
                .workers
                .iter()
                .enumerate()
                .any(|(other, entry)| other != self.index && entry.activity.keeps_io_batch.load(Relaxed))
    }

    /// Sleeps until notified, until the next timer is due (the driver protocol, `driver/mod.rs`)
    /// or until `wake_at`.
    fn park_as_driver(&self, role: &DriverGuard<'_>, wake_at: Option<Instant>) {
        let driver = &self.shared.driver;
        let deadline = driver.parking(role, self.index, wake_at);
        #[cfg(not(loom))]
        {
            // Looks repeated in one park (a watcher's sleeps) make one batch, settled in `park`.
            let queued_before = self.unsettled_io_look.take().unwrap_or_else(|| self.begin_io_look());
            self.parker.park_in_reactor(deadline);
            self.unsettled_io_look.set(Some(queued_before));
        }
        // loom cannot model the poller: there the driver sleeps on its condition variable.
        #[cfg(loom)]
        if deadline.is_none_or(|d| d > std::time::Instant::now()) {
            self.parker.park(deadline);
        }
        driver.unparked(role);
    }

    /// Cancels every task still listed and every task queued on this worker (a task never
    /// polled is on no list: its queue entry is all shutdown can find it by). Steps 3–5 of the
    /// shutdown protocol written above `Runtime::shutdown`.
    fn shutdown(&self) {
        self.shutting_down.set(true);
        // Destructors run here may wake or spawn tasks; those are refused or cancelled, so this
        // converges.
        for task in self.shared.owned.drain() {
            task.shutdown();
        }
        if let Some(task) = self.lifo.take() {
            task.cancel();
        }
        while let Some(task) = self.local.pop() {
            task.cancel();
        }
        // Tasks never polled also wait in the global queue and in the queues of workers that may
        // be stuck in a poll for good (`shutdown_timeout` leaves them behind): cancel those too.
        self.shared.drain_inject();
        let others = self.shared.workers.iter().enumerate().filter(|&(index, _)| index != self.index);
        for (_, entry) in others {
            while let Some(task) = entry.stealer.steal_into(&self.local) {
                task.cancel();
                while let Some(task) = self.local.pop() {
                    task.cancel();
                }
            }
        }
    }

    fn next_random(&self) -> u32 {
        // xorshift32: only spreads steal attempts, quality does not matter.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}
