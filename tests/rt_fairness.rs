//! Fairness: message ping-pong through the LIFO slot cannot starve other tasks or timers, and a
//! worker stuck in a long poll does not strand its queue.
mod common;
use common::*;
use rycos::{Cx, Runtime, TaskRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn ping_pong_with_a_victim(workers: usize) {
    let rt = rt(workers);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    // Two tasks that keep waking each other: each wake goes to the LIFO slot.
    let (s, r) = (stop.clone(), rounds.clone());
    let pong = rt.spawn_task(|cx: Cx<TaskRef<()>>| async move {
        while let Some(ping) = cx.receive().await {
            let _ = ping.send(());
        }
    });
    rt.spawn_task(move |cx: Cx<()>| async move {
        let me = cx.me();
        while !s.load(Ordering::Relaxed) {
            pong.send(me.clone()).unwrap();
            cx.receive().await;
            r.fetch_add(1, Ordering::Relaxed);
        }
    });
    while rounds.load(Ordering::Relaxed) < 1_000 {
        std::thread::yield_now();
    }
    // A victim queued behind them, and a timer.
    let start = Instant::now();
    let victim = rt.spawn(async { 1 });
    assert_eq!(victim.join_blocking().unwrap(), 1);
    let victim_latency = start.elapsed();
    let start = Instant::now();
    rt.spawn(async { rycos::time::sleep(Duration::from_millis(5)).await }).join_blocking().unwrap();
    let timer_latency = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert!(
        victim_latency < Duration::from_secs(2),
        "victim starved for {victim_latency:?} ({workers} workers)"
    );
    assert!(
        timer_latency < Duration::from_secs(2),
        "timer starved for {timer_latency:?} ({workers} workers)"
    );
}

#[test]
fn ping_pong_does_not_starve_others_on_one_worker() {
    let _w = watchdog(Duration::from_secs(60));
    ping_pong_with_a_victim(1);
}

#[test]
fn ping_pong_does_not_starve_others_on_two_workers() {
    let _w = watchdog(Duration::from_secs(60));
    ping_pong_with_a_victim(2);
}

#[test]
fn tasks_queued_behind_a_busy_worker_are_stolen() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let release = Gate::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let r = release.clone();
    rt.spawn(async move {
        // Queue 100 tasks locally on this worker, then hog it without yielding.
        for i in 0..100u32 {
            let tx = tx.clone();
            rycos::spawn(async move { tx.send(i).unwrap() });
        }
        r.wait();
    });
    let mut got: Vec<u32> =
        (0..100).map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("stolen")).collect();
    release.open();
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(rt.metrics().worker_steals > 0, "the metrics count the steals");
}

/// Rounds of: a task (on a worker of `rt`) runs `before`, queues one task on its own worker,
/// then hogs the thread until that task has run somewhere (another worker must take it).
fn lone_task_behind_a_hog(rt: &Runtime, rounds: u32, before: impl Fn() + Clone + Send + 'static) {
    for round in 0..rounds {
        let release = Gate::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let r = release.clone();
        let before = before.clone();
        rt.spawn(async move {
            before();
            rycos::spawn(async move { tx.send(()).unwrap() });
            r.wait();
        });
        rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("round {round}: stranded"));
        release.open();
    }
}

#[test]
fn a_lone_task_queued_behind_a_hogging_worker_still_runs() {
    let _w = watchdog(Duration::from_secs(60));
    lone_task_behind_a_hog(&rt(2), 20, || {});
}

#[test]
fn the_driver_parked_beside_a_busy_worker_picks_up_a_lone_task_behind_a_hog() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let handle = rt.handle().clone();
    lone_task_behind_a_hog(&rt, 10, move || {
        // Busy here until the other worker has parked while this one is busy: the lone task
        // must then wake it, not wait for this poll to end.
        while handle.metrics().parked_workers == 0 {
            std::thread::yield_now();
        }
        // No signal says "asleep" rather than "on its way there"; this pause only makes the
        // asleep case the likely one. The test passes either way when the runtime is right.
        std::thread::sleep(Duration::from_millis(1));
    });
}

/// One link of a chain of tasks, each queuing the next as the only task on its worker (a lone
/// task, which wakes nobody while another worker watches). Once a worker has parked to watch,
/// the last link queues `last` and hogs its worker until `release` opens.
fn chain_then_hog(handle: rycos::Handle, release: Gate, last: impl FnOnce() + Send + 'static) {
    if handle.metrics().worker_watches == 0 {
        let h = handle.clone();
        rycos::spawn(async move { chain_then_hog(h, release, last) });
        // Keeps the next link queued for a while, so the other worker, parking, finds it there.
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(20) {
            std::hint::spin_loop();
        }
        return;
    }
    rycos::spawn(async move { last() });
    release.wait();
}

#[test]
fn a_watcher_takes_a_lone_task_queued_behind_a_worker_stuck_in_a_poll() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    for round in 0..5 {
        let release = Gate::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let (handle, r) = (rt.handle().clone(), release.clone());
        rt.spawn(async move { chain_then_hog(handle, r, move || tx.send(()).unwrap()) });
        rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("round {round}: stranded"));
        release.open();
    }
    assert!(rt.metrics().worker_watches > 0, "the lone tasks were watched");
}

#[test]
fn a_task_that_never_waits_yields_to_others_through_the_budget() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1);
    // A task that keeps finding its mailbox full never returns Pending by itself; the budget
    // makes it yield so the victim on the same (single) worker gets to run.
    let (tx, rx) = std::sync::mpsc::channel();
    let (hog, _) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<u32>| async move {
            let me = cx.me();
            let mut received = 0u64;
            loop {
                me.send(1).unwrap();
                if cx.receive().await.is_none() {
                    break;
                }
                received += 1;
                if rx.try_recv().is_ok() {
                    return received;
                }
            }
            received
        });
    let victim = rt.spawn(async move { tx.send(()).unwrap() });
    victim.join_blocking().unwrap();
    drop(hog);
}

#[test]
fn yield_now_lets_every_queued_task_run() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1);
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = order.clone();
    // Both are spawned by one task onto the single worker's queue, so they start together.
    rt.spawn(async move {
        let a = {
            let o = o.clone();
            rycos::spawn(async move {
                for i in 0..3 {
                    o.lock().unwrap().push(('a', i));
                    rycos::yield_now().await;
                }
            })
        };
        let b = {
            let o = o.clone();
            rycos::spawn(async move {
                for i in 0..3 {
                    o.lock().unwrap().push(('b', i));
                    rycos::yield_now().await;
                }
            })
        };
        a.await.unwrap();
        b.await.unwrap();
    })
    .join_blocking()
    .unwrap();
    let order = order.lock().unwrap().clone();
    assert_eq!(order, vec![('a', 0), ('b', 0), ('a', 1), ('b', 1), ('a', 2), ('b', 2)], "yield interleaves");
}

/// Echoes a first byte on `stream` (so the client knows this task has started and waits for
/// the next), then answers one more byte with the same byte; the first of the servers sharing
/// `first` to get that byte blocks its worker until `release` opens instead (a poll that does
/// not return for a while).
async fn echo_one_byte_or_hog(stream: rycos::net::TcpStream, first: Arc<AtomicBool>, release: Gate) {
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).await.unwrap();
    stream.write_all(&byte).await.unwrap();
    stream.read_exact(&mut byte).await.unwrap();
    if first.swap(false, Ordering::SeqCst) {
        release.wait();
    }
    stream.write_all(&byte).await.unwrap();
}

/// Opens its gates when dropped, also when a failed assertion unwinds: the workers blocked on
/// them return, so the runtime can shut down and the failure is reported instead of hanging.
struct OpensOnDrop(Vec<Gate>);

impl Drop for OpensOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(Gate::open);
    }
}

/// A worker keeps the tasks its look for I/O events woke, and the other worker does not wait in
/// the reactor beside it (`Worker::sleep`): if the keeper then hangs in a poll, the other must
/// notice, take the rest of the batch, and look after the runtime's I/O.
#[test]
fn io_goes_on_when_the_worker_that_kept_a_batch_of_wake_ups_hangs() {
    use std::io::{Read, Write};
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    for round in 0..10 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients: Vec<std::net::TcpStream> =
            (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        let (release, busy) = (Gate::default(), Gate::default());
        let _opens = OpensOnDrop(vec![release.clone(), busy.clone()]);
        // The first two servers share one `first`: whichever runs first hangs its worker. The
        // third never hangs.
        let first = Arc::new(AtomicBool::new(true));
        for (i, _) in clients.iter().enumerate() {
            let stream = listener.accept().unwrap().0;
            let first = if i < 2 { first.clone() } else { Arc::new(AtomicBool::new(false)) };
            let release = release.clone();
            rt.spawn(async move {
                let stream = rycos::net::TcpStream::from_std(stream).unwrap();
                echo_one_byte_or_hog(stream, first, release).await;
            });
        }
        // Every server is waiting for its byte, its read registered with the reactor: the
        // bytes below wake them through a look for I/O events, not a first read that finds
        // its byte already there.
        for client in clients.iter_mut() {
            let mut byte = [0u8; 1];
            client.write_all(b"w").unwrap();
            client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            client
                .read_exact(&mut byte)
                .unwrap_or_else(|e| panic!("round {round}: a server did not start: {e}"));
        }
        // Both workers busy while the first two bytes arrive (so no server task is in a poll,
        // and one look finds both bytes).
        let waiting = Arc::new(AtomicU64::new(0));
        for _ in 0..2 {
            let (busy, waiting) = (busy.clone(), waiting.clone());
            rt.spawn(async move {
                waiting.fetch_add(1, Ordering::SeqCst);
                busy.wait();
            });
        }
        let started = Instant::now();
        while waiting.load(Ordering::SeqCst) < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "round {round}: the two workers did not both start"
            );
            std::thread::yield_now();
        }
        clients[0].write_all(b"a").unwrap();
        clients[1].write_all(b"b").unwrap();
        busy.open();
        // One of the two now hangs its worker; the third connection is still served.
        clients[2].write_all(b"c").unwrap();
        let mut byte = [0u8; 1];
        clients[2].set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        clients[2]
            .read_exact(&mut byte)
            .unwrap_or_else(|e| panic!("round {round}: no answer while a worker hangs: {e}"));
        assert_eq!(&byte, b"c");
        release.open();
        for (client, sent) in clients.iter_mut().zip([b"a", b"b"]) {
            client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            client
                .read_exact(&mut byte)
                .unwrap_or_else(|e| panic!("round {round}: no answer after the release: {e}"));
            assert_eq!(&byte, sent);
        }
    }
}
