//! pycos `chat_client.py`: a chat client for `chat_sock_server` whose stdin is read through the
//! blocking pool — a task waits for each line without holding a worker, and without a thread
//! of its own (compare `chat_sock_client`, which starts one).
//!
//! ```text
//! cargo run --release --example chat_sock_server -- 127.0.0.1:8020
//! cargo run --release --example chat_client -- 127.0.0.1:8020
//! ```

#[path = "support/logging.rs"]
mod logging;

#[path = "support/chat.rs"]
mod chat;

use rycos::net::TcpStream;
use std::io::{self, BufRead};

/// Sends every line of `input` to `conn`, reading each one through the blocking pool.
pub async fn send_lines<R: BufRead + Send + 'static>(conn: &TcpStream, input: R) -> io::Result<usize> {
    let mut input = Some(input);
    let mut sent = 0;
    loop {
        let mut reader = input.take().expect("the reader comes back with each line");
        let (reader, line) = rycos::blocking(move || {
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            (reader, read.map(|n| (n > 0).then_some(line)))
        })
        .await?;
        input = Some(reader);
        match line? {
            Some(line) => {
                conn.write_all(line.as_bytes()).await?;
                sent += 1;
            }
            None => return Ok(sent),
        }
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8020".into());
    rycos::block_on(async {
        let conn = TcpStream::connect(&addr).await?;
        let printer = conn.clone();
        rycos::spawn(chat::print_until_closed(printer));
        let sent = send_lines(&conn, io::BufReader::new(io::stdin())).await?;
        eprintln!("* {sent} lines sent; end of input");
        Ok(())
    })
}
