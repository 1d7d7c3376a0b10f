//! TCP streams: every operation, partial reads and writes, half close, reset, close waking
//! waiters, timeouts, and the futures-io traits.
mod common;
use common::*;
use rycos::net::{TcpListener, TcpStream};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::{Duration, Instant};

#[test]
fn read_write_exact_and_peek() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        rt.block_on(async {
            let (a, b) = pair().await;
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
            a.write_all(b"hello world").await.unwrap();
            let mut peeked = [0u8; 5];
            let n = b.peek(&mut peeked).await.unwrap();
            assert_eq!(&peeked[..n], &b"hello"[..n]);
            let mut buf = [0u8; 11];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello world");
            assert_eq!(b.write(b"x").await.unwrap(), 1);
            let mut one = [0u8; 1];
            assert_eq!(a.read(&mut one).await.unwrap(), 1);
        });
    });
}

#[test]
fn large_transfers_go_through_partial_writes_and_reads() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    rt.block_on(async {
        let (a, b) = pair().await;
        let data: Vec<u8> = (0..8u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let expected = data.clone();
        // Far more than the socket buffers: the writer must wait for the reader many times.
        let writer = rycos::spawn(async move {
            a.write_all(&data).await.unwrap();
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut received = Vec::with_capacity(expected.len());
        let mut buf = vec![0u8; 7919]; // odd size: reads end in the middle of writes
        let mut reads = 0;
        loop {
            let n = b.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            reads += 1;
            received.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert!(reads > 100, "expected many partial reads, got {reads}");
        assert!(received == expected, "bytes arrived changed or out of order");
    });
}

#[test]
fn half_close_lets_the_other_side_finish() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, b) = pair().await;
        a.write_all(b"request").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = b.read(&mut buf).await.unwrap();
            if n == 0 {
                break; // end of stream, but b can still write
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"request");
        b.write_all(b"response").await.unwrap();
        drop(b);
        let mut reply = [0u8; 8];
        a.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"response");
        let err = a.read_exact(&mut reply).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

#[test]
fn a_reset_peer_is_an_error_not_a_hang() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, b) = pair().await;
        // Linger 0: closing sends RST instead of FIN.
        socket2::SockRef::from(b.get_ref()).set_linger(Some(Duration::ZERO)).unwrap();
        a.write_all(b"unread").await.unwrap();
        drop(b);
        let mut buf = [0u8; 16];
        let mut outcome = a.read(&mut buf).await;
        // The RST may arrive as an error on the read, or after an end-of-stream; a write then
        // fails too. Either way it ends, with an error, promptly.
        if matches!(outcome, Ok(0)) {
            outcome = a.write_all(&[0u8; 1 << 16]).await.map(|_| 0);
        }
        let err = outcome.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe), "{err:?}");
    });
}

#[test]
fn close_wakes_a_task_waiting_on_the_socket() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, _b) = pair().await;
        let reader = a.clone();
        let mut buf = [0u8; 8];
        let mut read = std::pin::pin!(reader.read(&mut buf));
        // Nothing was sent: the read registers and waits.
        assert!(futures::poll!(read.as_mut()).is_pending());
        a.close();
        let err = read.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        assert_eq!(a.write(b"x").await.unwrap_err().kind(), ErrorKind::NotConnected);
    });
}

#[test]
fn operations_can_be_bounded_with_timeout() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, _b) = pair().await;
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let r = rycos::time::timeout(Duration::from_millis(30), a.read(&mut buf)).await;
        assert!(r.is_err(), "nothing was sent");
        assert!(start.elapsed() >= Duration::from_millis(30));
        // The stream still works after a timed-out read.
        _b.write_all(b"late").await.unwrap();
        a.read_exact(&mut buf[..4]).await.unwrap();
        assert_eq!(&buf[..4], b"late");
    });
}

#[test]
fn connect_errors_and_timeouts() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        // Nobody listens on this port any more.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = TcpStream::connect(port).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        // A listener with a full backlog drops further SYNs: the connect hangs until the timeout.
        let listener = TcpListener::bind_with_backlog("127.0.0.1:0", 0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        let start = Instant::now();
        let mut timed_out = false;
        for _ in 0..16 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(200)).await {
                Ok(c) => held.push(c),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "the backlog never filled");
        assert!(start.elapsed() < Duration::from_secs(10));
    });
}

#[test]
fn futures_io_traits_and_buffered_lines() {
    use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (mut a, b) = pair().await;
        a.write_all(b"line one\nline two\n").await.unwrap();
        a.flush().await.unwrap();
        let mut reader = rycos::io::BufReader::new(b.clone());
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line one\n");
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line two\n");
        AsyncWriteExt::close(&mut a).await.unwrap();
        drop(a);
        let mut rest = Vec::new();
        (&b).read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn incoming_yields_each_connection() {
    use futures::StreamExt;
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..5).map(|_| rycos::spawn(TcpStream::connect(addr))).collect();
        let accepted: Vec<_> = listener.incoming().take(5).collect().await;
        assert_eq!(accepted.into_iter().filter(|c| c.is_ok()).count(), 5);
        for c in clients {
            c.await.unwrap().unwrap();
        }
    });
}

/// Regression: data immediately followed by the peer's FIN. The readiness event of the FIN can
/// arrive before the short read that drains the data; the next read must still see the end of
/// the stream rather than wait for an event that will never come.
#[test]
fn a_short_read_followed_by_end_of_stream_does_not_hang() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        for _ in 0..200 {
            let (a, b) = pair().await;
            a.write_all(&[3u8; 100]).await.unwrap();
            a.shutdown(Shutdown::Write).unwrap();
            let mut buf = [0u8; 1000];
            let mut total = 0;
            loop {
                match b.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => total += n,
                }
            }
            assert_eq!(total, 100);
        }
    });
}

/// The same, made certain: the reactor takes the event that announces both the data and the
/// peer's end *before* the short read that drains the data (the task sleeps, so the only worker
/// parks in the reactor, which finds the event waiting). That short read must not mark the
/// socket drained: the end is still to be read and no other event will announce it.
#[test]
fn a_short_read_after_the_end_was_announced_still_reaches_the_end() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    for _ in 0..20 {
        let result = rt.block_on(rt.spawn(async {
            let listener = rycos::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            std::io::Write::write_all(&mut client, b"hello").unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            rycos::time::sleep(Duration::from_millis(1)).await;
            let mut buf = [0u8; 64];
            assert_eq!(server.read(&mut buf).await.unwrap(), 5, "one short read takes the data");
            rycos::time::timeout(Duration::from_secs(5), server.read(&mut buf)).await
        }));
        let end = result.unwrap().expect("the end of the stream was never read: the reader waits");
        assert_eq!(end.unwrap(), 0);
    }
}
