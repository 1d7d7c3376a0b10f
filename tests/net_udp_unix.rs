//! UDP and Unix-domain sockets.
mod common;
use common::*;
use rycos::net::{UdpSocket, UnixListener, UnixStream};
use std::time::Duration;

#[test]
fn udp_send_to_recv_from_and_connected() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let receiver = rycos::spawn(async move {
            let mut buf = [0u8; 64];
            let mut got = Vec::new();
            for _ in 0..3 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                got.push((buf[..n].to_vec(), from));
            }
            (b, got)
        });
        for m in [&b"one"[..], b"two", b"three"] {
            a.send_to(m, b_addr).await.unwrap();
        }
        let (b, got) = receiver.await.unwrap();
        let a_addr = a.local_addr().unwrap();
        assert_eq!(
            got,
            vec![(b"one".to_vec(), a_addr), (b"two".to_vec(), a_addr), (b"three".to_vec(), a_addr)]
        );
        a.connect(b_addr).unwrap();
        b.connect(a_addr).unwrap();
        a.send(b"connected").await.unwrap();
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");
        assert_eq!(a.peer_addr().unwrap(), b_addr);
    });
}

#[test]
fn unix_listener_and_streams() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let dir = std::env::temp_dir().join(format!("rycos-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    rt.block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = rycos::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let msg = conn.recv_msg().await.unwrap();
            conn.send_msg(&msg).await.unwrap();
        });
        let client = UnixStream::connect(&path).await.unwrap();
        client.send_msg(b"over a unix socket").await.unwrap();
        assert_eq!(client.recv_msg().await.unwrap(), b"over a unix socket");
        server.await.unwrap();
        let (x, y) = UnixStream::pair().unwrap();
        x.write_all(b"pair").await.unwrap();
        let mut buf = [0u8; 4];
        y.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pair");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
