//! loom models of the task state word, driven by a toy scheduler (which the actor layer's
//! models, `task/loom_actor.rs`, use too).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.
//! Each model checks, over every interleaving loom explores, that the future and the output are
//! dropped exactly once, that the allocation is freed, and that no wake-up is lost.

use super::{JoinHandle, Notified, RawTask, Schedule, Stats, allocate};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// A run queue the test threads drain by hand.
#[derive(Clone)]
pub(crate) struct ToyScheduler {
    queue: Arc<Mutex<VecDeque<Notified>>>,
    pub(crate) ended: Arc<AtomicUsize>,
}

impl Default for ToyScheduler {
    fn default() -> Self {
        ToyScheduler { queue: Arc::new(Mutex::new(VecDeque::new())), ended: Arc::new(AtomicUsize::new(0)) }
    }
}

impl Schedule for ToyScheduler {
    fn schedule(&self, task: Notified) {
        self.queue.lock().push_back(task);
    }
    fn track(&self, _task: RawTask) -> bool {
        true
    }
    fn release(&self, _task: RawTask) -> bool {
        // The toy has no owner list: `spawn` below drops that reference right away.
        false
    }
    fn task_ended(&self, _daemon: bool) {
        self.ended.fetch_add(1, SeqCst);
    }
    fn set_daemon(&self, task: RawTask, daemon: bool) {
        let _ = task.transition_daemon(daemon);
    }
}

impl ToyScheduler {
    /// Runs queued tasks until the queue is empty.
    pub(crate) fn run_all(&self) {
        loop {
            let next = self.queue.lock().pop_front();
            match next {
                Some(task) => task.run(),
                None => return,
            }
        }
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task =
            allocate(future, self.clone(), (), true, 0, false, Stats::new(std::panic::Location::caller(), 0));
        // No owner list here: give back the reference reserved for it.
        task.raw.drop_reference();
        self.schedule(task.notified());
        // SAFETY: allocated with a join handle and this output type.
        unsafe { task.join_handle() }
    }
}

/// Counts drops of whatever carries it.
#[derive(Clone)]
pub(crate) struct Drops(Arc<AtomicUsize>);
impl Default for Drops {
    fn default() -> Self {
        Drops(Arc::new(AtomicUsize::new(0)))
    }
}
pub(crate) struct Token(Arc<AtomicUsize>);
impl Drops {
    pub(crate) fn token(&self) -> Token {
        Token(self.0.clone())
    }
    pub(crate) fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}
impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A waker that records that it was woken.
pub(crate) struct Flag(pub(crate) AtomicBool);
impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// A future that is pending until woken once through the waker it publishes in `slot`.
struct WaitOnce {
    slot: Arc<Mutex<Option<Waker>>>,
    woken: Arc<AtomicBool>,
    _token: Token,
}

impl Future for WaitOnce {
    type Output = Token;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Token> {
        if self.woken.load(SeqCst) {
            let token = Token(self._token.0.clone());
            return Poll::Ready(token);
        }
        *self.slot.lock() = Some(cx.waker().clone());
        // Re-check after publishing the waker, so a wake in between is not lost.
        if self.woken.load(SeqCst) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

fn wait_once(drops: &Drops) -> (WaitOnce, Arc<Mutex<Option<Waker>>>, Arc<AtomicBool>) {
    let slot = Arc::new(Mutex::new(None));
    let woken = Arc::new(AtomicBool::new(false));
    (WaitOnce { slot: slot.clone(), woken: woken.clone(), _token: drops.token() }, slot, woken)
}

/// Wakes the task through the published waker, if it has published one yet.
fn wake(slot: &Mutex<Option<Waker>>, woken: &AtomicBool) {
    woken.store(true, SeqCst);
    if let Some(w) = slot.lock().take() {
        w.wake();
    }
}

#[test]
fn wake_races_with_poll_and_join() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let future_drops = Drops::default();
        let (future, slot, woken) = wait_once(&future_drops);
        let mut handle = sched.spawn(future);

        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let waker = thread::spawn(move || wake(&slot, &woken));

        // Poll the join handle once while the others race.
        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let join_waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&join_waker);
        let first = Pin::new(&mut handle).poll(&mut cx);

        runner.join().unwrap();
        waker.join().unwrap();
        sched.run_all(); // whatever was woken after the runner finished
        let output = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert!(flag.0.load(SeqCst), "the join handle was not woken on completion");
                match Pin::new(&mut handle).poll(&mut cx) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("woken but not ready"),
                }
            }
        };
        drop(output.unwrap());
        drop(handle);
        // The future was dropped once at completion; the output token once just now.
        assert_eq!(future_drops.count(), 2);
        assert_eq!(sched.ended.load(SeqCst), 1);
    });
}

#[test]
fn join_handle_drop_races_with_completion() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let drops = Drops::default();
        let token = drops.token();
        let handle = sched.spawn(async move { token });
        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        drop(handle);
        runner.join().unwrap();
        // The output (the token) was dropped exactly once, by whichever side owned it.
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn abort_races_with_poll() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let future_drops = Drops::default();
        let (future, slot, woken) = wait_once(&future_drops);
        let handle = sched.spawn(future);
        let task = handle.task();

        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let aborter = thread::spawn(move || {
            task.terminate();
        });
        wake(&slot, &woken);
        runner.join().unwrap();
        aborter.join().unwrap();
        sched.run_all();

        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let join_waker = Waker::from(flag);
        let mut handle = handle;
        match Pin::new(&mut handle).poll(&mut Context::from_waker(&join_waker)) {
            Poll::Ready(Ok(token)) => drop(token),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("the task neither finished nor was cancelled"),
        }
        drop(handle);
        // The future's own token dropped once; plus the output's if it completed.
        assert!(future_drops.count() == 1 || future_drops.count() == 2);
        assert_eq!(sched.ended.load(SeqCst), 1);
    });
}

/// An exit hook that counts its runs.
fn counting_hook(runs: &Arc<AtomicUsize>) -> super::extras::ExitHook {
    let runs = runs.clone();
    Box::new(move |_| {
        runs.fetch_add(1, SeqCst);
    })
}

/// A monitor set up while the task completes (`Cx::monitor` is an exit hook): the hook runs
/// exactly once, whichever side wins. Protected by the re-read of the state word in
/// `add_exit_hook` after the hook is listed: a completion that looked for extras before they
/// existed never runs the list, and that re-read is the only thing that notices.
#[test]
fn exit_hook_added_while_the_task_completes_runs_once() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let handle = sched.spawn(async {});
        let raw = handle.raw();
        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let runs = Arc::new(AtomicUsize::new(0));
        let token = super::extras::add_exit_hook(raw, counting_hook(&runs));
        runner.join().unwrap();
        assert_eq!(runs.load(SeqCst), 1, "the exit hook ran {} times", runs.load(SeqCst));
        // A token is only handed out for a hook that was still listed; by now it has run.
        if let Some(token) = token {
            assert!(!super::extras::remove_exit_hook(raw, token), "a hook that ran was removed");
        }
        drop(handle);
    });
}

/// A demonitor racing the task's end: either the hook is removed and never runs, or it was
/// taken to run and the removal says so — never both, never neither.
#[test]
fn exit_hook_removed_while_the_task_completes_runs_or_is_removed() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let handle = sched.spawn(async {});
        let raw = handle.raw();
        let runs = Arc::new(AtomicUsize::new(0));
        let token = super::extras::add_exit_hook(raw, counting_hook(&runs)).expect("not started yet");
        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let removed = super::extras::remove_exit_hook(raw, token);
        runner.join().unwrap();
        assert_eq!(runs.load(SeqCst), usize::from(!removed), "removed: {removed}");
        drop(handle);
    });
}
