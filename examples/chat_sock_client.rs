//! pycos `chat_sock_client.py`: sends the lines typed on stdin to `chat_sock_server` and prints
//! what the others say. Reading stdin blocks, so it happens on a plain thread that hands each
//! line to a task (the blocking-pool issue brings a pool for that).
//!
//! ```text
//! cargo run --release --example chat_sock_client -- 127.0.0.1:8020
//! ```

#[path = "support/logging.rs"]
mod logging;

#[path = "support/chat.rs"]
mod chat;

use rycos::net::TcpStream;
use std::io::{self, BufRead};

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8020".into());
    rycos::block_on(async {
        let conn = TcpStream::connect(&addr).await?;
        let printer = conn.clone();
        rycos::spawn(chat::print_until_closed(printer));
        let sender = rycos::spawn_task(move |cx: rycos::Cx<String>| async move {
            while let Some(line) = cx.receive().await {
                conn.write_all(line.as_bytes()).await?;
            }
            io::Result::Ok(())
        });
        std::thread::spawn(move || {
            for line in io::stdin().lock().lines().map_while(Result::ok) {
                if sender.send(format!("{line}\n")).is_err() {
                    break;
                }
            }
        })
        .join()
        .expect("stdin reader");
        Ok(())
    })
}
