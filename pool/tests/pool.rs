//! The pool on its own: growth and shrinking, refused threads, panics, cancellation before
//! start, shutdown with work queued, and completions under different executors.

use rycos_pool::{JobError, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

/// Ends the test process if the test is still running after `limit`: a deadlocked pool (jobs
/// blocked on condvars that are never signalled) fails loudly instead of hanging CI.
fn watchdog(limit: Duration) -> Watchdog {
    let (done, seen) = mpsc::channel::<()>();
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = seen.recv_timeout(limit) {
            use std::io::Write;
            // Not eprintln!: the harness captures it, and the capture dies with the process.
            let _ = writeln!(std::io::stderr(), "watchdog: test `{name}` still running after {limit:?}");
            std::process::exit(101);
        }
    });
    Watchdog { _done: done }
}

/// Dropped at the end of the test: closes the channel, which releases the watchdog thread.
struct Watchdog {
    _done: mpsc::Sender<()>,
}

const LIMIT: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds or `limit` passes (the pool changes state on its own threads).
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// Runs eight jobs that each wait for all the others (and for this thread): it returns only if
/// the pool ran all eight at once.
fn run_eight_jobs_at_once(pool: &ThreadPool) {
    let barrier = Arc::new(Barrier::new(9));
    let jobs: Vec<_> = (0..8)
        .map(|_| {
            let barrier = barrier.clone();
            pool.spawn(move || {
                barrier.wait();
            })
        })
        .collect();
    barrier.wait();
    for job in jobs {
        job.wait().unwrap();
    }
}

#[test]
fn grows_under_load_and_shrinks_when_idle() {
    let _watchdog = watchdog(LIMIT);
    let pool =
        ThreadPool::builder().min_threads(1).max_threads(8).idle_timeout(Duration::from_millis(50)).build();
    assert_eq!(pool.threads(), 1);
    run_eight_jobs_at_once(&pool);
    assert_eq!(pool.threads(), 8);
    assert!(eventually(Duration::from_secs(5), || pool.threads() == 1), "shrank to min_threads: {pool:?}");
}

/// Jobs queued while the one sleeping thread is still waking up must start threads of their
/// own: each sleeper takes one job. (They used to all count on that one thread; eight jobs that
/// wait for each other then waited forever — seen under AddressSanitizer, where threads wake
/// slowly.) Pinned to one CPU (`taskset -c 0`), where the submitter always wins that race, the
/// old code failed this 20 times in 20.
#[test]
fn jobs_queued_behind_a_waking_thread_start_threads_of_their_own() {
    let _watchdog = watchdog(LIMIT);
    for _ in 0..20 {
        let pool =
            ThreadPool::builder().min_threads(1).max_threads(8).idle_timeout(Duration::from_secs(60)).build();
        assert!(
            eventually(Duration::from_secs(5), || pool.idle_threads() == 1),
            "the first thread sleeps: {pool:?}"
        );
        run_eight_jobs_at_once(&pool);
    }
}

#[test]
fn never_exceeds_max_threads_and_queues_the_rest() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let jobs: Vec<_> = (0..5)
        .map(|i| {
            let rx = release_rx.clone();
            pool.spawn(move || {
                rx.lock().unwrap().recv().unwrap();
                i
            })
        })
        .collect();
    // One job holds the receiver's lock waiting for a release, one waits for that lock.
    assert!(eventually(Duration::from_secs(5), || pool.running() == 2 && pool.queued() == 3));
    assert_eq!(pool.threads(), 2);
    for _ in 0..5 {
        release_tx.send(()).unwrap();
    }
    let mut results: Vec<_> = jobs.into_iter().map(|j| j.wait().unwrap()).collect();
    results.sort();
    assert_eq!(results, [0, 1, 2, 3, 4]);
}

#[test]
fn a_refused_thread_lowers_the_limit_and_loses_no_job() {
    let _watchdog = watchdog(LIMIT);
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let pool = ThreadPool::builder()
        .max_threads(8)
        .thread_starter(move |builder, body| {
            if counter.fetch_add(1, Ordering::SeqCst) >= 2 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "simulated: no more threads",
                ));
            }
            builder.spawn(body).map(drop)
        })
        .build();
    let jobs: Vec<_> = (0..100u64)
        .map(|i| {
            pool.spawn(move || {
                std::thread::sleep(Duration::from_micros(100));
                i * 2
            })
        })
        .collect();
    let sum: u64 = jobs.into_iter().map(|j| j.wait().unwrap()).sum();
    assert_eq!(sum, (0..100).map(|i| i * 2).sum());
    assert_eq!(pool.max_threads(), 2, "the limit came down to what the OS gave");
    assert!(pool.threads() <= 2);
}

#[test]
fn with_no_thread_at_all_a_job_fails_instead_of_waiting_forever() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::builder()
        .thread_starter(|_, _| Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "simulated")))
        .build();
    match pool.spawn(|| 1).wait() {
        Err(JobError::NoThreads(e)) => assert_eq!(e.to_string(), "simulated"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panicking_job_fails_its_completion_and_the_thread_goes_on() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(1);
    let bad = pool.spawn(|| -> u32 { panic!("bad input") });
    let good = pool.spawn(|| 5);
    let err = bad.wait().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("bad input"));
    assert_eq!(err.to_string(), "the job panicked: bad input");
    assert_eq!(good.wait().unwrap(), 5);
    assert_eq!(pool.threads(), 1);
}

#[test]
fn dropping_a_completion_before_its_job_starts_skips_the_job() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(move || release_rx.recv().unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let skipped = {
        let ran = ran.clone();
        pool.spawn(move || ran.fetch_add(1, Ordering::SeqCst))
    };
    let kept = {
        let ran = ran.clone();
        pool.spawn(move || ran.fetch_add(10, Ordering::SeqCst))
    };
    drop(skipped);
    release_tx.send(()).unwrap();
    blocker.wait().unwrap();
    kept.wait().unwrap();
    pool.join();
    assert_eq!(ran.load(Ordering::SeqCst), 10);
}

#[test]
fn join_waits_for_everything_queued() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(3);
    let done = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..50)
        .map(|_| {
            let done = done.clone();
            pool.spawn(move || {
                std::thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    pool.join();
    assert_eq!(pool.queued(), 0);
    assert_eq!(pool.running(), 0);
    assert_eq!(done.load(Ordering::SeqCst), 50);
    assert!(jobs.iter().all(|c| c.is_finished()));
}

#[test]
fn shutdown_finishes_or_reports_every_job() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let stuck = pool.spawn(move || release_rx.recv_timeout(Duration::from_secs(10)).is_ok());
    assert!(eventually(Duration::from_secs(5), || pool.running() == 1));
    let queued: Vec<_> = (0..3).map(|i| pool.spawn(move || i)).collect();
    let report = pool.shutdown(Duration::from_millis(50));
    assert_eq!(report.cancelled, 3);
    assert_eq!(report.still_running, 1);
    assert!(!report.is_clean());
    for c in queued {
        assert!(matches!(c.wait(), Err(JobError::Shutdown)));
    }
    assert!(matches!(pool.spawn(|| 1).wait(), Err(JobError::Shutdown)), "no jobs after shutdown");
    release_tx.send(()).unwrap();
    assert!(stuck.wait().unwrap(), "the running job finished in the background");

    let clean = ThreadPool::new(2);
    let jobs: Vec<_> = (0..10).map(|i| clean.spawn(move || i)).collect();
    assert!(clean.shutdown(Duration::from_secs(5)).is_clean());
    assert_eq!(jobs.into_iter().map(|j| j.wait().unwrap()).sum::<i32>(), 45);
    assert!(eventually(Duration::from_secs(5), || clean.threads() == 0));
}

#[test]
fn completions_work_under_other_executors() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(2);
    let a = futures::executor::block_on(pool.spawn(|| "futures"));
    assert_eq!(a.unwrap(), "futures");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let b = rt.block_on(pool.spawn(|| "tokio"));
    assert_eq!(b.unwrap(), "tokio");
}

#[test]
fn close_lets_queued_jobs_run_and_refuses_new_ones() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let first = pool.spawn(move || release_rx.recv().is_ok());
    let queued: Vec<_> = (0..5).map(|i| pool.spawn(move || i)).collect();
    pool.close();
    assert!(matches!(pool.spawn(|| 0).wait(), Err(JobError::Shutdown)));
    release_tx.send(()).unwrap();
    assert!(first.wait().unwrap());
    assert_eq!(queued.into_iter().map(|c| c.wait().unwrap()).sum::<i32>(), 10);
    assert!(
        eventually(Duration::from_secs(5), || pool.threads() == 0),
        "the threads exit once the queue is empty"
    );
}

#[test]
fn a_detached_completion_does_not_skip_its_job() {
    let _watchdog = watchdog(LIMIT);
    let pool = ThreadPool::new(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(move || release_rx.recv().unwrap());
    let (done_tx, done_rx) = mpsc::channel();
    pool.spawn(move || done_tx.send("ran").unwrap()).detach();
    release_tx.send(()).unwrap();
    blocker.wait().unwrap();
    assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)), Ok("ran"));
}
