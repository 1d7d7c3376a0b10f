//! What the reactor waits on: epoll on Linux (`epoll.rs`), `polling` elsewhere
//! (`portable.rs`). Both offer the same few calls — add, delete, notify, wait — and describe an
//! event the same way ([`Ready`]).

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use super::epoll::{Events, Selector};
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use super::portable::{Events, Selector};

/// What one event says about a source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its side (or the socket failed): reading will reach the end without
    /// another event. A backend that cannot tell says so on every readable event.
    pub(crate) read_closed: bool,
}

/// The same tests for both backends.
#[cfg(test)]
macro_rules! selector_tests {
    ($module:ident, $backend:path, tells_end_from_data: $tells:expr) => {
        mod $module {
            use std::io::Write;
            use std::net::{Shutdown, TcpListener, TcpStream};
            use std::os::fd::AsFd;
            use std::sync::Arc;
            use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use std::time::{Duration, Instant};
            use $backend::{Events, Selector};

            fn pair() -> (TcpStream, TcpStream) {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().unwrap();
                server.set_nonblocking(true).unwrap();
                (client, server)
            }

            /// Waits until an event for `key` arrives (at most 10 s) and returns what it said,
            /// merged over the events of the waits it took.
            fn wait_for(selector: &Selector, key: usize) -> super::Ready {
                let mut events = Events::new();
                let mut seen = super::Ready::default();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    selector.wait(&mut events, Some(Duration::from_millis(100))).unwrap();
                    for (k, ready) in events.iter() {
                        if k == key {
                            seen.readable |= ready.readable;
                            seen.writable |= ready.writable;
                            seen.read_closed |= ready.read_closed;
                        }
                    }
                    if seen.readable {
                        return seen;
                    }
                }
                panic!("no readable event for key {key} in 10 s");
            }

            #[test]
            fn data_is_readable_and_the_peers_end_is_told_apart_where_the_backend_can() {
                let selector = Selector::new().unwrap();
                let (mut client, server) = pair();
                selector.add(server.as_fd(), 7).unwrap();
                client.write_all(b"hello").unwrap();
                let ready = wait_for(&selector, 7);
                assert!(ready.readable);
                assert_eq!(ready.read_closed, !$tells, "data alone is not the end");
                client.shutdown(Shutdown::Write).unwrap();
                let ready = wait_for(&selector, 7);
                assert!(ready.readable && ready.read_closed, "the end must be told: {ready:?}");
                selector.delete(server.as_fd()).unwrap();
            }

            #[test]
            fn a_notification_before_the_wait_makes_it_return_once() {
                let selector = Selector::new().unwrap();
                let mut events = Events::new();
                selector.notify().unwrap();
                selector.notify().unwrap();
                let begun = Instant::now();
                selector.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
                assert!(begun.elapsed() < Duration::from_secs(10), "the notification was lost");
                assert_eq!(events.iter().count(), 0, "a notification is no source's event");
                // Consumed: the next wait lasts its whole timeout.
                let begun = Instant::now();
                selector.wait(&mut events, Some(Duration::from_millis(50))).unwrap();
                assert!(begun.elapsed() >= Duration::from_millis(50));
            }

            #[test]
            fn no_notification_is_lost_across_many_waits() {
                // 20,000 rounds: the waiter asks for a notification and waits until it sees
                // the flag the notifier sets before notifying, the notification racing with the
                // waiter entering its wait. A lost one leaves the waiter in its 10 s wait.
                let selector = Arc::new(Selector::new().unwrap());
                let flag = Arc::new(AtomicBool::new(false));
                let (ask, asked) = std::sync::mpsc::channel::<()>();
                let (s, f) = (selector.clone(), flag.clone());
                let rounds = 20_000;
                let notifier = std::thread::spawn(move || {
                    while asked.recv().is_ok() {
                        f.store(true, SeqCst);
                        s.notify().unwrap();
                    }
                });
                let mut events = Events::new();
                for round in 0..rounds {
                    ask.send(()).unwrap();
                    while !flag.load(SeqCst) {
                        let begun = Instant::now();
                        selector.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
                        assert!(begun.elapsed() < Duration::from_secs(10), "round {round}: lost");
                    }
                    flag.store(false, SeqCst);
                }
                drop(ask);
                notifier.join().unwrap();
            }

            #[test]
            fn a_timed_wait_lasts_at_least_its_timeout() {
                let selector = Selector::new().unwrap();
                let mut events = Events::new();
                for micros in [300u64, 1_500, 20_000] {
                    let timeout = Duration::from_micros(micros);
                    let begun = Instant::now();
                    selector.wait(&mut events, Some(timeout)).unwrap();
                    assert!(begun.elapsed() >= timeout, "{:?} < {timeout:?}", begun.elapsed());
                }
                // A zero timeout only looks.
                selector.wait(&mut events, Some(Duration::ZERO)).unwrap();
                assert_eq!(events.iter().count(), 0);
            }
        }
    };
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
selector_tests!(epoll_backend, super::super::epoll, tells_end_from_data: true);
#[cfg(test)]
selector_tests!(portable_backend, super::super::portable, tells_end_from_data: false);
