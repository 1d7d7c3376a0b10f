//! TLS: round trips with messages, ALPN, SNI and close_notify; client certificates; and the
//! failures a server must survive (unknown CA, wrong name, garbage, a peer gone mid-handshake).
#[allow(dead_code)]
#[path = "../examples/support/certs.rs"]
mod certs;
mod common;

use common::*;
use rycos::net::{TcpListener, TcpStream};
use rycos::tls::{TlsAcceptor, TlsConnector};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

fn pki(test: &str) -> certs::Pki {
    certs::generate(&std::env::temp_dir().join(format!("rycos-tls-{}-{test}", std::process::id())))
}

/// A TLS echo server (messages) that counts handshakes that succeeded and failed.
fn serve(acceptor: TlsAcceptor) -> (SocketAddr, rycos::JoinHandle<(usize, usize)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rycos::spawn(async move {
        let (mut ok, mut failed) = (0, 0);
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            match rycos::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await {
                Ok(Ok(mut tls)) => {
                    ok += 1;
                    while let Ok(msg) = tls.recv_msg().await {
                        if msg == b"stop" {
                            return (ok, failed);
                        }
                        let reply = [tls.server_name().unwrap_or("-").as_bytes(), b" ", &msg].concat();
                        tls.send_msg(&reply).await.unwrap();
                    }
                }
                Ok(Err(_)) | Err(_) => failed += 1,
            }
        }
    });
    (addr, server)
}

async fn stop(addr: SocketAddr, connector: &TlsConnector) {
    let mut tls = connector.connect("localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap();
    tls.send_msg(b"stop").await.unwrap();
}

#[test]
fn messages_alpn_sni_and_close_notify() {
    let _w = watchdog(Duration::from_secs(30));
    let pki = pki("basic");
    let rt = rt(2);
    rt.block_on(async {
        let acceptor =
            TlsAcceptor::builder(&pki.server_chain, &pki.server_key).alpn(["rycos/1"]).build().unwrap();
        let (addr, server) = serve(acceptor);
        let connector =
            TlsConnector::builder().root_certificates(&pki.ca).unwrap().alpn(["rycos/1"]).build().unwrap();
        let mut tls = connector.connect("localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"rycos/1"[..]));
        tls.send_msg(b"hello").await.unwrap();
        assert_eq!(tls.recv_msg().await.unwrap(), b"localhost hello", "the server saw the SNI name");
        let big = vec![42u8; 1 << 20];
        tls.send_msg(&big).await.unwrap();
        assert_eq!(&tls.recv_msg().await.unwrap()[10..], &big[..]);
        tls.shutdown().await.unwrap(); // close_notify: the server's recv_msg ends cleanly
        stop(addr, &connector).await;
        assert_eq!(server.await.unwrap(), (2, 0));
    });
}

#[test]
fn client_certificates_are_required_when_asked_for() {
    let _w = watchdog(Duration::from_secs(30));
    let pki = pki("mtls");
    let rt = rt(2);
    rt.block_on(async {
        let acceptor =
            TlsAcceptor::builder(&pki.server_chain, &pki.server_key).client_auth(&pki.ca).build().unwrap();
        let (addr, server) = serve(acceptor);
        // Without a client certificate: the handshake fails (on the server for sure; the client
        // learns it by its first read at the latest).
        let anonymous = TlsConnector::builder().root_certificates(&pki.ca).unwrap().build().unwrap();
        if let Ok(mut tls) = anonymous.connect("localhost", TcpStream::connect(addr).await.unwrap()).await {
            let _ = tls.send_msg(b"hi").await;
            assert!(tls.recv_msg().await.is_err(), "an anonymous client got an answer");
        }
        let with_cert = TlsConnector::builder()
            .root_certificates(&pki.ca)
            .unwrap()
            .client_certificate(&pki.client_chain, &pki.client_key)
            .build()
            .unwrap();
        let mut tls = with_cert.connect("localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap();
        tls.send_msg(b"me").await.unwrap();
        assert_eq!(tls.recv_msg().await.unwrap(), b"localhost me");
        drop(tls);
        stop(addr, &with_cert).await;
        let (ok, failed) = server.await.unwrap();
        assert_eq!((ok, failed), (2, 1));
    });
}

#[test]
fn bad_peers_get_errors_and_the_server_keeps_serving() {
    let _w = watchdog(Duration::from_secs(60));
    let pki = pki("bad");
    let rt = rt(2);
    rt.block_on(async {
        let acceptor = TlsAcceptor::builder(&pki.server_chain, &pki.server_key).build().unwrap();
        let (addr, server) = serve(acceptor);

        // A client that trusts another CA: unknown issuer.
        let stranger = TlsConnector::builder().root_certificates(&pki.other_ca).unwrap().build().unwrap();
        let err = stranger.connect("localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap_err();
        assert!(err.to_string().to_lowercase().contains("unknown"), "{err}");

        // The right CA but the wrong name.
        let good = TlsConnector::builder().root_certificates(&pki.ca).unwrap().build().unwrap();
        let err = good.connect("not-localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap_err();
        assert!(err.to_string().to_lowercase().contains("not valid for name"), "{err}");

        // Garbage instead of a ClientHello.
        let raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let _ = rycos::time::timeout(Duration::from_secs(5), raw.read(&mut buf)).await; // alert or close
        drop(raw);

        // A peer that vanishes in the middle of its ClientHello.
        let raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap(); // a record header, then nothing
        drop(raw);

        // And still a working server.
        let mut tls = good.connect("localhost", TcpStream::connect(addr).await.unwrap()).await.unwrap();
        tls.send_msg(b"still there?").await.unwrap();
        assert_eq!(tls.recv_msg().await.unwrap(), b"localhost still there?");
        drop(tls);
        stop(addr, &good).await;
        let (ok, failed) = server.await.unwrap();
        assert_eq!(ok, 2, "the good client and the stopper");
        assert_eq!(failed, 4, "unknown CA, wrong name, garbage, vanished peer");
    });
}

#[test]
fn unreadable_pem_files_are_clear_errors() {
    let pki = pki("files");
    let missing = pki.ca.with_file_name("missing.pem");
    let err = TlsAcceptor::builder(&missing, &pki.server_key).build().unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let err = TlsAcceptor::builder(&pki.server_chain, &pki.ca).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "a certificate is not a key: {err}");
    let err = TlsConnector::builder().build().unwrap_err();
    assert!(err.to_string().contains("root certificate"), "{err}");
}
