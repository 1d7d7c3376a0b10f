//! Channels: names, transforms, hierarchies and cycle refusal, deliver(n), order under
//! concurrent senders.
mod common;
use common::*;

use rycos::channel::{Channel, ChannelError, PublishError};
use rycos::{Cx, JoinHandle, TaskRef};
use std::time::Duration;

/// A task that collects `n` messages (or stops after 5 s of silence).
fn collector<M: Send + 'static>(n: usize) -> (TaskRef<M>, JoinHandle<Vec<M>>) {
    rycos::spawn_task_joinable(move |cx: Cx<M>| async move {
        let mut got = Vec::new();
        while got.len() < n {
            match cx.receive_timeout(Duration::from_secs(5)).await {
                Ok(m) => got.push(m),
                Err(_) => break,
            }
        }
        got
    })
}

#[test]
fn names_are_unique_and_locatable() {
    let rt = rt(1);
    rt.block_on(async {
        let a = Channel::<u32>::new("names-a").unwrap();
        assert_eq!(Channel::<u32>::new("names-a").unwrap_err(), ChannelError::NameTaken("names-a".into()));
        assert_eq!(Channel::<u32>::locate("names-a").unwrap().name(), "names-a");
        assert_eq!(
            Channel::<String>::locate("names-a").unwrap_err(),
            ChannelError::WrongType("names-a".into())
        );
        assert_eq!(Channel::<u32>::locate("nobody").unwrap_err(), ChannelError::NotFound("nobody".into()));
        a.close();
        assert!(matches!(Channel::<u32>::locate("names-a"), Err(ChannelError::NotFound(_))));
        let b = Channel::<u32>::new("names-a").expect("close freed the name");
        drop(b);
        assert!(Channel::<u32>::new("names-a").is_ok(), "dropping the last handle frees the name");
    });
    // Names are per runtime.
    let other = common::rt(1);
    let _kept = rt.block_on(async { Channel::<u8>::new("per-runtime").unwrap() });
    other.block_on(async { assert!(Channel::<u8>::new("per-runtime").is_ok()) });
}

#[test]
fn a_message_without_subscribers_comes_back() {
    let rt = rt(1);
    rt.block_on(async {
        let lonely = Channel::new("lonely").unwrap();
        match lonely.send(String::from("hello?")) {
            Err(PublishError::NoSubscribers(m)) => assert_eq!(m, "hello?"),
            other => panic!("{other:?}"),
        }
        lonely.close();
        assert!(matches!(lonely.send("late".into()), Err(PublishError::Closed(_))));
        let (task, _) = collector::<String>(1);
        assert_eq!(lonely.subscribe(&task), Err(ChannelError::Closed));
    });
}

#[test]
fn transforms_change_or_drop_messages() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let evens = Channel::builder("evens")
            .transform(|n: &u32| n.is_multiple_of(2).then_some(n * 10))
            .build()
            .unwrap();
        let (task, got) = collector::<u32>(3);
        evens.subscribe(&task).unwrap();
        evens.subscribe(&task).unwrap(); // twice: still one subscription
        let counts: Vec<usize> = (0..6).map(|n| evens.send(n).unwrap()).collect();
        assert_eq!(counts, [1, 0, 1, 0, 1, 0]);
        assert_eq!(got.await.unwrap(), [0, 20, 40]);
    });
}

#[test]
fn hierarchies_sum_deliveries_and_refuse_cycles() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let top = Channel::<u64>::new("top").unwrap();
        let mid = Channel::<u64>::builder("mid").transform(|n| Some(n + 1)).build().unwrap();
        let leaf = Channel::<u64>::new("leaf").unwrap();
        top.subscribe(&mid).unwrap();
        mid.subscribe(&leaf).unwrap();
        let (t1, g1) = collector::<u64>(1);
        let (t2, g2) = collector::<u64>(1);
        let (t3, g3) = collector::<u64>(1);
        top.subscribe(&t1).unwrap();
        mid.subscribe(&t2).unwrap();
        leaf.subscribe(&t3).unwrap();

        assert_eq!(leaf.subscribe(&top), Err(ChannelError::Cycle));
        assert_eq!(mid.subscribe(&top), Err(ChannelError::Cycle));
        assert_eq!(top.subscribe(&top), Err(ChannelError::Cycle));

        assert_eq!(top.send(1).unwrap(), 3, "one task at each level");
        assert_eq!(g1.await.unwrap(), [1]);
        assert_eq!(g2.await.unwrap(), [2], "mid's transform ran");
        assert_eq!(g3.await.unwrap(), [2], "leaf got mid's transformed message");

        // The three tasks have ended: their subscriptions go at the next send.
        assert!(matches!(top.send(5), Ok(0)));
        assert_eq!(top.subscribers(), 1, "only `mid` is left");
        assert!(top.unsubscribe(&mid));
        assert!(!top.unsubscribe(&mid));
        assert!(leaf.subscribe(&top).is_ok(), "no cycle once the link is gone");
    });
}

#[derive(Debug, PartialEq)]
enum Inbox {
    Price(f64),
    Other,
}

impl From<f64> for Inbox {
    fn from(p: f64) -> Self {
        Inbox::Price(p)
    }
}

#[test]
fn tasks_with_a_wider_mailbox_type_can_subscribe() {
    let rt = rt(1);
    rt.block_on(async {
        let prices = Channel::<f64>::new("prices").unwrap();
        let (task, got) = collector::<Inbox>(2);
        prices.subscribe(&task).unwrap();
        task.send(Inbox::Other).unwrap();
        prices.send(9.5).unwrap();
        assert_eq!(got.await.unwrap(), [Inbox::Other, Inbox::Price(9.5)]);
    });
}

#[test]
fn deliver_waits_for_enough_subscribers() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<&'static str>::new("deliver").unwrap();
        match chan.deliver("early", 1, Duration::from_millis(20)).await {
            Err(PublishError::Timeout(m)) => assert_eq!(m, "early"),
            other => panic!("{other:?}"),
        }
        let waiting = {
            let chan = chan.clone();
            rycos::spawn(async move { chan.deliver("go", 3, Duration::from_secs(5)).await.unwrap() })
        };
        let mut collected = Vec::new();
        for _ in 0..3 {
            let (task, got) = collector::<&'static str>(1);
            chan.subscribe(&task).unwrap();
            collected.push(got);
        }
        assert_eq!(waiting.await.unwrap(), 3);
        for got in collected {
            assert_eq!(got.await.unwrap(), ["go"]);
        }
        let closing = {
            let chan = chan.clone();
            rycos::spawn(async move { chan.deliver("never", 10, Duration::from_secs(5)).await })
        };
        rycos::yield_now().await;
        chan.close();
        assert!(matches!(
            closing.await.unwrap(),
            Err(PublishError::Closed("never")) | Err(PublishError::Timeout(_))
        ));
    });
}

#[test]
fn every_subscriber_sees_one_order_under_concurrent_senders() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        rt.block_on(async {
            const SENDERS: u32 = 4;
            const EACH: u32 = 2000;
            let chan = Channel::<(u32, u32)>::new("ordered").unwrap();
            let subscribers: Vec<_> =
                (0..3).map(|_| collector::<(u32, u32)>((SENDERS * EACH) as usize)).collect();
            for (task, _) in &subscribers {
                chan.subscribe(task).unwrap();
            }
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let chan = chan.clone();
                    rycos::spawn(async move {
                        for i in 0..EACH {
                            assert_eq!(chan.send((s, i)).unwrap(), 3);
                            if i % 64 == 0 {
                                rycos::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for s in senders {
                s.await.unwrap();
            }
            let mut seen = Vec::new();
            for (_, got) in subscribers {
                seen.push(got.await.unwrap());
            }
            for order in &seen {
                assert_eq!(order.len(), (SENDERS * EACH) as usize);
                let mut next = [0u32; SENDERS as usize];
                for &(s, i) in order {
                    assert_eq!(i, next[s as usize], "per-sender order");
                    next[s as usize] += 1;
                }
            }
            assert!(seen.windows(2).all(|w| w[0] == w[1]), "all subscribers saw the same interleaving");
        });
    });
}

#[test]
fn channel_messages_mix_with_direct_ones_without_starving_either() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let a = Channel::<(char, u32)>::new("mix-a").unwrap();
        let b = Channel::<(char, u32)>::new("mix-b").unwrap();
        let (task, got) = rycos::spawn_task_joinable(|cx: Cx<(char, u32)>| async move {
            // Wait (outside the mailbox) until everything is sent.
            cx.suspend().await;
            let mut got = Vec::new();
            for _ in 0..1020 {
                got.push(cx.receive().await.unwrap());
            }
            got
        });
        a.subscribe(&task).unwrap();
        b.subscribe(&task).unwrap();
        for i in 0..1000 {
            task.send(('d', i)).unwrap();
        }
        for i in 0..10 {
            a.send(('a', i)).unwrap();
            b.send(('b', i)).unwrap();
        }
        assert_eq!(task.pending_messages(), 1020, "pending_messages counts channel messages too");
        while !task.resume(()) {
            rycos::yield_now().await;
        }
        let got = got.await.unwrap();
        for (source, n) in [('a', 10), ('b', 10), ('d', 1000)] {
            let order: Vec<u32> = got.iter().filter(|m| m.0 == source).map(|m| m.1).collect();
            assert_eq!(order, (0..n).collect::<Vec<_>>(), "{source}: in order, none lost");
        }
    });
}

#[test]
fn channel_and_direct_messages_come_out_in_order_of_arrival() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let a = Channel::<(char, u32)>::new("arrival").unwrap();
        let (task, got) = rycos::spawn_task_joinable(|cx: Cx<(char, u32)>| async move {
            cx.suspend().await;
            let mut got = Vec::new();
            for _ in 0..1020 {
                got.push(cx.receive().await.unwrap());
            }
            got
        });
        a.subscribe(&task).unwrap();
        for i in 0..10 {
            a.send(('a', i)).unwrap();
        }
        for i in 0..1000 {
            task.send(('d', i)).unwrap();
        }
        for i in 10..20 {
            a.send(('a', i)).unwrap();
        }
        while !task.resume(()) {
            rycos::yield_now().await;
        }
        let got = got.await.unwrap();
        let kinds: String = got.iter().map(|m| m.0).collect();
        assert_eq!(kinds, format!("{}{}{}", "a".repeat(10), "d".repeat(1000), "a".repeat(10)));
    });
}

#[test]
fn unsubscribe_and_close_keep_what_was_sent_before() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<u32>::new("before").unwrap();
        let (task, got) = collector::<u32>(3);
        chan.subscribe(&task).unwrap();
        chan.send(1).unwrap();
        chan.send(2).unwrap();
        assert!(chan.unsubscribe(&task));
        assert!(matches!(chan.send(3), Err(PublishError::NoSubscribers(3))));
        chan.subscribe(&task).unwrap();
        chan.send(4).unwrap();
        chan.close();
        assert_eq!(got.await.unwrap(), [1, 2, 4]);
        drop(task);
    });
}

#[test]
fn a_waiting_subscriber_is_woken_by_every_message() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        rt.block_on(async {
            let chan = Channel::<u32>::new("wake").unwrap();
            let (task, got) = collector::<u32>(2000);
            chan.subscribe(&task).unwrap();
            for i in 0..2000 {
                assert_eq!(chan.send(i).unwrap(), 1);
                if i % 3 == 0 {
                    // Let the subscriber catch up and wait again, so that sends meet a waiter.
                    rycos::yield_now().await;
                }
            }
            assert_eq!(got.await.unwrap(), (0..2000).collect::<Vec<_>>());
        });
    });
}

#[test]
fn subscribers_that_ended_are_not_counted() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<u32>::new("ended").unwrap();
        let (stays, stays_got) = collector::<u32>(2);
        let (leaves, leaves_got) = collector::<u32>(1);
        chan.subscribe(&stays).unwrap();
        chan.subscribe(&leaves).unwrap();
        assert_eq!(chan.send(1).unwrap(), 2);
        assert_eq!(leaves_got.await.unwrap(), [1]);
        // The task has ended (its join handle said so): no later send counts it.
        assert_eq!(chan.subscribers(), 1);
        assert_eq!(chan.send(2).unwrap(), 1);
        assert_eq!(stays_got.await.unwrap(), [1, 2]);
        assert!(matches!(chan.send(3), Err(PublishError::NoSubscribers(3))));
    });
}

#[test]
fn a_subscription_alone_does_not_keep_a_waiting_subscriber_alive_once_the_channel_goes() {
    let _w = watchdog(Duration::from_secs(10));
    each_flavor(|rt| {
        rt.block_on(async {
            for close in [false, true] {
                let chan = Channel::<u32>::new("goes").unwrap();
                let (task, done) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
                    let mut got = Vec::new();
                    // `None`: no sender is left, the channel's subscription included.
                    while let Some(m) = cx.receive().await {
                        got.push(m);
                    }
                    got
                });
                chan.subscribe(&task).unwrap();
                drop(task);
                chan.send(7).unwrap();
                rycos::yield_now().await; // the subscriber most likely waits again now
                if close {
                    chan.close();
                }
                drop(chan);
                assert_eq!(done.await.unwrap(), [7], "close: {close}");
            }
        });
    });
}

/// A task with a bounded mailbox that takes one message each time it is resumed and reports it.
fn slow_bounded_subscriber(capacity: usize) -> (TaskRef<u32>, std::sync::mpsc::Receiver<u32>) {
    let (got_tx, got) = std::sync::mpsc::channel();
    let task =
        rycos::task::Builder::new().mailbox_capacity(capacity).spawn_task(move |cx: Cx<u32>| async move {
            loop {
                cx.suspend().await;
                match cx.receive().await {
                    Some(m) => got_tx.send(m).unwrap(),
                    None => return,
                }
            }
        });
    (task, got)
}

fn resume(task: &TaskRef<u32>) {
    while !task.resume(()) {
        std::thread::yield_now();
    }
}

#[test]
fn send_skips_a_full_bounded_subscriber_and_does_not_count_it() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<u32>::new("bounded-send").unwrap();
        let (slow, got) = slow_bounded_subscriber(10);
        let (fast, fast_got) = collector::<u32>(100_000);
        chan.subscribe(&slow).unwrap();
        chan.subscribe(&fast).unwrap();
        let counts: Vec<usize> = (0..100_000).map(|n| chan.send(n).unwrap()).collect();
        assert!(counts[..10].iter().all(|&c| c == 2), "room for 10 in the bounded mailbox");
        assert!(counts[10..].iter().all(|&c| c == 1), "then only the unbounded subscriber counts");
        assert_eq!(slow.pending_messages(), 10, "the slow subscriber holds its capacity, no more");
        assert!(matches!(slow.send(7), Err(rycos::SendError::Full(7))), "as a direct send sees it");
        assert_eq!(fast_got.await.unwrap(), (0..100_000).collect::<Vec<_>>());
        for expected in 0..10 {
            resume(&slow);
            assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), expected);
        }
        // Room again: the next message gets in.
        assert_eq!(chan.send(100_000).unwrap(), 1);
        resume(&slow);
        assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), 100_000);
        slow.terminate();
    });
}

#[test]
fn deliver_waits_for_room_in_a_full_subscriber_and_keeps_the_channel_order() {
    let _w = watchdog(Duration::from_secs(60));
    each_flavor(|rt| {
        rt.block_on(async {
            const MESSAGES: u32 = 2_000;
            let chan = Channel::<u32>::new("bounded-deliver").unwrap();
            // Receives everything, but its mailbox holds only 2.
            let (task, got) = rycos::task::Builder::new().mailbox_capacity(2).spawn_task_joinable(
                |cx: Cx<u32>| async move {
                    let mut got = Vec::new();
                    while let Some(m) = cx.receive().await {
                        got.push(m);
                        if got.len() % 7 == 0 {
                            rycos::yield_now().await; // slower than the publisher
                        }
                    }
                    got
                },
            );
            chan.subscribe(&task).unwrap();
            drop(task); // the subscription is its last sender: close ends it
            let publisher = {
                let chan = chan.clone();
                rycos::spawn(async move {
                    for n in 0..MESSAGES {
                        assert_eq!(
                            chan.deliver(n, 1, Duration::from_secs(20)).await.unwrap(),
                            1,
                            "message {n}"
                        );
                    }
                })
            };
            publisher.await.unwrap();
            chan.close();
            assert_eq!(got.await.unwrap(), (0..MESSAGES).collect::<Vec<_>>(), "all of them, in order");
        });
    });
}

#[test]
fn a_send_never_overtakes_a_delivery_waiting_for_a_full_subscriber() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<u32>::new("bounded-order").unwrap();
        let (slow, got) = slow_bounded_subscriber(1);
        chan.subscribe(&slow).unwrap();
        assert_eq!(chan.send(0).unwrap(), 1);
        let mut waiting = std::pin::pin!(chan.deliver(1, 1, Duration::from_secs(20)));
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "full: the delivery waits for room");
        assert_eq!(chan.send(2).unwrap(), 0, "full: a send skips the subscriber");
        resume(&slow);
        assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), 0);
        // The freed slot belongs to the waiting delivery, which has not run yet.
        assert_eq!(chan.send(3).unwrap(), 0, "a send must not take the delivery's slot");
        assert!(matches!(futures::poll!(waiting.as_mut()), std::task::Poll::Ready(Ok(1))));
        resume(&slow);
        assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
        slow.terminate();
    });
}

#[test]
fn a_delivery_to_a_subscriber_that_stays_full_ends_at_the_limit_uncounted() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::<u32>::new("bounded-limit").unwrap();
        let (slow, got) = slow_bounded_subscriber(1);
        let (fast, fast_got) = collector::<u32>(2);
        chan.subscribe(&slow).unwrap();
        chan.subscribe(&fast).unwrap();
        assert_eq!(chan.send(0).unwrap(), 2);
        let start = std::time::Instant::now();
        assert_eq!(chan.deliver(1, 2, Duration::from_millis(50)).await.unwrap(), 1, "only the unbounded one");
        assert!(start.elapsed() >= Duration::from_millis(50), "it waited for room until the limit");
        assert_eq!(fast_got.await.unwrap(), [0, 1]);
        // The withdrawn delivery left no claim on the mailbox: the freed slot is free for anyone.
        resume(&slow);
        assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), 0);
        assert_eq!(chan.send(2).unwrap(), 1);
        resume(&slow);
        assert_eq!(got.recv_timeout(Duration::from_secs(5)).unwrap(), 2);
        slow.terminate();
    });
}

#[test]
fn a_panicking_transform_drops_that_message_and_spares_the_sender() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let picky = Channel::builder("picky")
            .transform(|n: &u32| {
                assert_ne!(*n, 3, "three is right out");
                Some(*n)
            })
            .build()
            .unwrap();
        let top = Channel::<u32>::new("picky-top").unwrap();
        top.subscribe(&picky).unwrap();
        let (below, below_got) = collector::<u32>(5);
        let (beside, beside_got) = collector::<u32>(6);
        picky.subscribe(&below).unwrap();
        top.subscribe(&beside).unwrap();
        assert_eq!(picky.send(3).unwrap(), 0, "dropped, not an error");
        let sender = {
            let top = top.clone();
            rycos::spawn(async move { (0..6).map(|n| top.send(n).unwrap()).collect::<Vec<_>>() })
        };
        assert_eq!(sender.await.unwrap(), [2, 2, 2, 1, 2, 2], "the sending task was not harmed");
        assert_eq!(below_got.await.unwrap(), [0, 1, 2, 4, 5], "only the panicking message is lost");
        assert_eq!(beside_got.await.unwrap(), [0, 1, 2, 3, 4, 5], "and only for that channel");
        assert!(!picky.is_closed());
    });
}
