//! Per-sender FIFO order, with many senders on every worker, and across the sender and
//! receiver being on different threads.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn per_sender_fifo_with_many_concurrent_senders() {
    let _w = watchdog(Duration::from_secs(60));
    each_flavor(|rt| {
        const SENDERS: usize = 50;
        const EACH: u64 = 2_000;
        let (receiver, result) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(
            |cx: rycos::Cx<(usize, u64)>| async move {
                let mut next = vec![0u64; SENDERS];
                let mut count = 0;
                while let Some((sender, seq)) = cx.receive().await {
                    assert_eq!(seq, next[sender], "sender {sender} out of order");
                    next[sender] += 1;
                    count += 1;
                }
                count
            },
        );
        for s in 0..SENDERS {
            let r = receiver.clone();
            rt.spawn(async move {
                for seq in 0..EACH {
                    r.send((s, seq)).unwrap();
                    if seq % 100 == 0 {
                        rycos::yield_now().await;
                    }
                }
            });
        }
        drop(receiver);
        assert_eq!(result.join_blocking().unwrap(), SENDERS as u64 * EACH);
    });
}

#[test]
fn plain_threads_can_send_in_order() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (receiver, result) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(
        |cx: rycos::Cx<(u8, u32)>| async move {
            let mut last = [None::<u32>; 4];
            let mut n = 0u32;
            while let Some((t, seq)) = cx.receive().await {
                assert!(last[t as usize].is_none_or(|l| l + 1 == seq));
                last[t as usize] = Some(seq);
                n += 1;
            }
            n
        },
    );
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let r = receiver.clone();
            std::thread::spawn(move || {
                for seq in 0..10_000 {
                    r.send((t, seq)).unwrap();
                }
            })
        })
        .collect();
    drop(receiver);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(result.join_blocking().unwrap(), 40_000);
}
