//! pycos's length-prefixed messages: round trips, limits checked before allocating, peers that
//! vanish mid-message.
mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Records the largest single allocation, to prove a claimed length is never allocated.
struct Tracking;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

#[test]
fn messages_round_trip_in_order_including_empty_and_large() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, b) = pair().await;
        let messages: Vec<Vec<u8>> =
            vec![b"".to_vec(), b"short".to_vec(), vec![7u8; 4096], vec![9u8; 4097], vec![1u8; 3 << 20]];
        let sent = messages.clone();
        let sender = rycos::spawn(async move {
            for m in &sent {
                a.send_msg(m).await.unwrap();
            }
        });
        for m in &messages {
            assert_eq!(&b.recv_msg().await.unwrap(), m);
        }
        sender.await.unwrap();
    });
}

#[test]
fn an_oversized_length_is_refused_before_allocating() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, mut b) = pair().await;
        b.set_max_message_size(1 << 20);
        // A header claiming 1 GiB, and no body.
        a.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
        let before = LARGEST.load(Ordering::Relaxed);
        let err = b.recv_msg().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        assert!(LARGEST.load(Ordering::Relaxed) < 1 << 30, "the claimed size was allocated");
        assert!(before < 1 << 30);
        // Within the limit it works on a fresh connection.
        let (c, d) = pair().await;
        c.send_msg(&[5u8; 1000]).await.unwrap();
        assert_eq!(d.recv_msg().await.unwrap(), vec![5u8; 1000]);
    });
}

#[test]
fn a_peer_vanishing_mid_message_is_unexpected_eof() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let (a, b) = pair().await;
        a.write_all(&100u32.to_be_bytes()).await.unwrap();
        a.write_all(&[1u8; 40]).await.unwrap(); // 40 of the 100 promised bytes
        drop(a);
        let err = b.recv_msg().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        let (c, d) = pair().await;
        c.write_all(&[0u8; 2]).await.unwrap(); // half a header
        drop(c);
        assert_eq!(d.recv_msg().await.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    });
}
