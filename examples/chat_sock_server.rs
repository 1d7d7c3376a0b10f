//! pycos `chat_sock_server.py`: a chat room over TCP. Each line a client sends goes to every
//! other client. A "room" task owns the list of members; each connection has a reader task that
//! forwards its lines to the room, and a writer task whose mailbox the room sends lines to.
//!
//! ```text
//! cargo run --release --example chat_sock_server -- 127.0.0.1:8020
//! ```

#[path = "support/logging.rs"]
mod logging;

use futures::io::AsyncBufReadExt;
use rycos::net::{TcpListener, TcpStream};
use rycos::{Cx, TaskRef};
use std::collections::HashMap;
use std::io;

/// What the room hears.
pub enum RoomMsg {
    Join { id: u64, writer: TaskRef<String> },
    Line { from: u64, text: String },
    Leave { id: u64 },
}

/// The room: relays every line to every other member.
pub fn spawn_room() -> TaskRef<RoomMsg> {
    rycos::spawn_task(|cx: Cx<RoomMsg>| async move {
        let mut members: HashMap<u64, TaskRef<String>> = HashMap::new();
        while let Some(msg) = cx.receive().await {
            match msg {
                RoomMsg::Join { id, writer } => {
                    for w in members.values() {
                        let _ = w.send(format!("* client {id} joined\n"));
                    }
                    members.insert(id, writer);
                }
                RoomMsg::Line { from, text } => {
                    for (id, w) in &members {
                        if *id != from {
                            let _ = w.send(format!("{from}: {text}"));
                        }
                    }
                }
                RoomMsg::Leave { id } => {
                    members.remove(&id);
                    for w in members.values() {
                        let _ = w.send(format!("* client {id} left\n"));
                    }
                }
            }
        }
    })
}

/// Connects one client to the room.
pub fn join(room: &TaskRef<RoomMsg>, id: u64, conn: TcpStream) {
    let writer_conn = conn.clone();
    let writer = rycos::spawn_task(move |cx: Cx<String>| async move {
        while let Some(line) = cx.receive().await {
            if writer_conn.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let _ = room.send(RoomMsg::Join { id, writer: writer.clone() });
    let room = room.clone();
    rycos::spawn(async move {
        let mut lines = rycos::io::BufReader::new(conn.clone());
        let mut line = String::new();
        while matches!(lines.read_line(&mut line).await, Ok(n) if n > 0) {
            let _ = room.send(RoomMsg::Line { from: id, text: std::mem::take(&mut line) });
        }
        let _ = room.send(RoomMsg::Leave { id });
        writer.terminate();
    });
}

/// Accepts clients into a new room.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    let room = spawn_room();
    for id in 1.. {
        let (conn, _) = listener.accept().await?;
        join(&room, id, conn);
    }
    Ok(())
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8020".into());
    rycos::block_on(async {
        let listener = TcpListener::bind(&addr)?;
        println!("chat server on {}; connect with chat_sock_client (or telnet)", listener.local_addr()?);
        serve(listener).await
    })
}
