//! What the chat clients share: printing what the server sends.
#![allow(dead_code)] // a test that includes a client example may not print

use futures::io::AsyncBufReadExt;
use rycos::net::TcpStream;

/// Prints every line the server sends; when it closes the connection, says so and ends the
/// program (the stdin side may be blocked in a read that nothing else would end).
pub async fn print_until_closed(conn: TcpStream) {
    let mut lines = rycos::io::BufReader::new(conn);
    let mut line = String::new();
    while matches!(lines.read_line(&mut line).await, Ok(n) if n > 0) {
        print!("{line}");
        line.clear();
    }
    println!("* the server closed the connection");
    std::process::exit(0);
}
