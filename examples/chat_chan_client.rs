//! pycos `chat_chan_client.py`: joins `chat_chan_server` under a nickname, sends the lines typed
//! on stdin, prints what the others say. Typed lines are published on a local channel that the
//! network sender subscribes to (and a local log, with `--log`), so more outlets can be added
//! without touching the reader.
//!
//! ```text
//! cargo run --release --example chat_chan_client -- 127.0.0.1:8030 alice [--log]
//! ```

#[path = "support/logging.rs"]
mod logging;

#[path = "support/chat.rs"]
mod chat;

use rycos::channel::Channel;
use rycos::net::TcpStream;
use rycos::{Cx, TaskRef};
use std::io::{self, BufRead};
use std::net::SocketAddr;

/// Connects as `nick`; returns the channel to publish typed lines on and the connection.
pub async fn connect(addr: SocketAddr, nick: &str) -> io::Result<(Channel<String>, TcpStream)> {
    let conn = TcpStream::connect(addr).await?;
    conn.write_all(format!("{nick}\n").as_bytes()).await?;
    let typed = Channel::<String>::new(format!("typed-{nick}")).map_err(io::Error::other)?;
    let out = conn.clone();
    let sender: TaskRef<String> = rycos::spawn_task(move |cx: Cx<String>| async move {
        while let Some(line) = cx.receive().await {
            if out.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                break;
            }
        }
    });
    typed.subscribe(&sender).map_err(io::Error::other)?;
    Ok((typed, conn))
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr =
        args.next().unwrap_or_else(|| "127.0.0.1:8030".into()).parse().map_err(io::Error::other)?;
    let nick = args.next().unwrap_or_else(|| "guest".into());
    let log = args.next().as_deref() == Some("--log");
    rycos::block_on(async {
        let (typed, conn) = connect(addr, &nick).await?;
        if log {
            let logger = rycos::spawn_task(|cx: Cx<String>| async move {
                while let Some(line) = cx.receive().await {
                    eprintln!("[sent] {line}");
                }
            });
            typed.subscribe(&logger).map_err(io::Error::other)?;
        }
        rycos::spawn(chat::print_until_closed(conn));
        // Reading stdin blocks: a plain thread does it and publishes each line.
        std::thread::spawn(move || {
            for line in io::stdin().lock().lines().map_while(Result::ok) {
                if typed.send(line).is_err() {
                    break;
                }
            }
        })
        .join()
        .expect("stdin reader");
        Ok(())
    })
}
