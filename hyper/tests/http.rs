//! hyper on rycos: an HTTP/1.1 server with keep-alive and a client, the server's header timeout
//! (rycos's timer), and HTTP/2 over TLS chosen by ALPN with concurrent streams (rycos's
//! executor).

#[path = "../../tests/common/watchdog.rs"]
mod watchdog;
use watchdog::watchdog;

#[path = "../../examples/support/certs.rs"]
#[allow(dead_code)]
mod certs;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rycos::io::prelude::*;
use rycos::net::{TcpListener, TcpStream};
use rycos::tls::{TlsAcceptor, TlsConnector};
use rycos_hyper::{RycosExecutor, RycosIo, RycosTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Answers `<method> <path>` with the request body appended.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let head = format!("{} {} {:?}|", request.method(), request.uri().path(), request.version());
    let body = request.into_body().collect().await?.to_bytes();
    let mut answer = head.into_bytes();
    answer.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(answer))))
}

/// An HTTP/1.1 server: every connection it accepts is counted.
async fn http1_server(accepted: Arc<AtomicUsize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rycos::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            rycos::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(RycosTimer::new())
                    .header_read_timeout(Duration::from_millis(300))
                    .serve_connection(RycosIo::new(stream), hyper::service::service_fn(echo))
                    .await;
            });
        }
    });
    addr
}

#[test]
fn http1_keep_alive_serves_many_requests_on_one_connection() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let accepted = Arc::new(AtomicUsize::new(0));
        let addr = http1_server(accepted.clone()).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::Builder::new().handshake(RycosIo::new(stream)).await.unwrap();
        let connection = rycos::spawn(connection);
        for n in 0..100 {
            let request = Request::post(format!("/item/{n}"))
                .header("host", "localhost")
                .body(Full::new(Bytes::from(format!("body {n}"))))
                .unwrap();
            // HTTP/1: one request at a time; the connection says when the last one is done.
            sender.ready().await.unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("POST /item/{n} HTTP/1.1|body {n}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one keep-alive connection served them all");
        drop(sender);
        connection.await.unwrap().unwrap();
    });
}

#[test]
fn the_servers_header_timeout_runs_on_rycos_timers() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let addr = http1_server(Arc::new(AtomicUsize::new(0))).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Half a request, then silence: the server gives up after its 300 ms header timeout.
        stream.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n").await.unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let read = rycos::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        let waited = started.elapsed();
        assert!(read.is_ok(), "the server never closed the connection");
        assert!(waited >= Duration::from_millis(250), "closed after {waited:?}, before the timeout");
        let answer = String::from_utf8_lossy(&rest);
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    });
}

#[test]
fn http2_over_tls_is_chosen_by_alpn_and_serves_concurrent_streams() {
    let _w = watchdog(Duration::from_secs(30));
    let dir = std::env::temp_dir().join(format!("rycos-hyper-h2-{}", std::process::id()));
    let pki = certs::generate(&dir);
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let acceptor = TlsAcceptor::builder(&pki.server_chain, &pki.server_key)
            .alpn(["h2", "http/1.1"])
            .build()
            .unwrap();
        let connector =
            TlsConnector::builder().root_certificates(&pki.ca).unwrap().alpn(["h2"]).build().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rycos::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(stream).await.unwrap();
            assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]), "the server agreed on HTTP/2");
            hyper::server::conn::http2::Builder::new(RycosExecutor::new())
                .timer(RycosTimer::new())
                .serve_connection(RycosIo::new(tls), hyper::service::service_fn(echo))
                .await
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let tls = connector.connect("localhost", stream).await.unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]));
        let (sender, connection) = hyper::client::conn::http2::Builder::new(RycosExecutor::new())
            .timer(RycosTimer::new())
            .handshake(RycosIo::new(tls))
            .await
            .unwrap();
        let connection = rycos::spawn(connection);
        // Fifty requests in flight at once on the one connection.
        let requests: Vec<_> = (0..50)
            .map(|n| {
                let mut sender = sender.clone();
                rycos::spawn(async move {
                    let request = Request::post(format!("https://localhost/stream/{n}"))
                        .body(Full::new(Bytes::from(vec![b'x'; n * 100])))
                        .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    assert_eq!(response.version(), hyper::Version::HTTP_2);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    let expected = format!("POST /stream/{n} HTTP/2.0|{}", "x".repeat(n * 100));
                    assert_eq!(body, expected);
                })
            })
            .collect();
        for request in requests {
            request.await.unwrap();
        }
        drop(sender);
        connection.await.unwrap().unwrap();
        // The client has closed: the server ends too, cleanly or with the pipe broken under a
        // last frame it was writing (a settings acknowledgement, its goodbye).
        match server.await.unwrap() {
            Ok(()) => {}
            Err(e) if closed_by_peer(&e) => {}
            Err(e) => panic!("the server's connection failed: {e:?}"),
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

/// True for an I/O error that means the other side closed the connection.
fn closed_by_peer(error: &hyper::Error) -> bool {
    use std::error::Error as _;
    let io = error.source().and_then(|source| source.downcast_ref::<std::io::Error>());
    io.is_some_and(|e| {
        matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
    })
}

#[test]
fn an_executor_for_a_runtime_spawns_there_from_any_thread() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    let executor = RycosExecutor::on(rt.handle());
    let (tx, rx) = std::sync::mpsc::channel();
    // From a plain thread: no runtime is current there.
    std::thread::spawn(move || {
        hyper::rt::Executor::execute(&executor, async move {
            tx.send(rycos::runtime::Handle::try_current().is_some()).unwrap();
        });
    })
    .join()
    .unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "ran on the runtime");
}
