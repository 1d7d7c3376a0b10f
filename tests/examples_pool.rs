//! The blocking-pool examples (pipes, files, a database, stdin through the pool), run as tests.
// Each example brings its own copy of examples/support/logging.rs.
#![allow(clippy::duplicate_mod)]
mod common;
use common::*;
use std::time::Duration;

#[path = "../examples/chat_client.rs"]
mod chat_client;
#[path = "../examples/db_cursor.rs"]
mod db_cursor;
#[path = "../examples/pipe_csum.rs"]
mod pipe_csum;
#[path = "../examples/pipe_grep.rs"]
mod pipe_grep;

#[test]
fn pipe_csum_matches_sha1sum_on_the_same_bytes() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let digest = rt.block_on(pipe_csum::sha1_of(pipe_csum::generated(4))).unwrap();
    let bytes: Vec<u8> = pipe_csum::generated(4).flatten().collect();
    let path = std::env::temp_dir().join(format!("rycos-csum-{}", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let reference = std::process::Command::new("sha1sum").arg(&path).output().unwrap();
    std::fs::remove_file(&path).unwrap();
    let reference = String::from_utf8_lossy(&reference.stdout).split_whitespace().next().unwrap().to_owned();
    assert_eq!(digest.len(), 40);
    assert_eq!(digest, reference);
}

#[test]
fn pipe_grep_counts_through_three_stages() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let text: String =
        (0..3000).map(|i| format!("{i} {}\n", if i % 3 == 0 { "rycos" } else { "pycos" })).collect();
    assert_eq!(rt.block_on(pipe_grep::count_matches(text.clone(), "rycos")).unwrap(), 1000);
    assert_eq!(rt.block_on(pipe_grep::count_matches(text, "nothing-like-this")).unwrap(), 0);
}

#[test]
fn db_cursor_runs_queries_on_the_pool_while_tasks_go_on() {
    let _w = watchdog(Duration::from_secs(120));
    let (count, sum, ticks) = rt(2).block_on(db_cursor::run(200_000)).unwrap();
    assert_eq!(count, 200_000);
    assert_eq!(sum, (0..200_000u64).map(|i| i % 1000).sum());
    assert!(ticks > 0, "the ticker task ran while the database worked");
}

#[test]
fn chat_client_sends_stdin_lines_read_through_the_pool() {
    use futures::io::AsyncBufReadExt;
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = rycos::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rycos::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut lines = rycos::io::BufReader::new(conn);
            let mut got = Vec::new();
            let mut line = String::new();
            while lines.read_line(&mut line).await.unwrap() > 0 {
                got.push(std::mem::take(&mut line));
            }
            got
        });
        let conn = rycos::net::TcpStream::connect(addr).await.unwrap();
        let input = std::io::Cursor::new(b"hello\nworld\n".to_vec());
        assert_eq!(chat_client::send_lines(&conn, input).await.unwrap(), 2);
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(server.await.unwrap(), ["hello\n", "world\n"]);
    });
}
