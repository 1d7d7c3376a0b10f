//! pycos `chat_chan_server.py`: a chat room over TCP whose room is a `Channel`. A client's
//! first line is its nickname; each later line is published on the channel, and every
//! connection's writer task, subscribed to the channel, passes on the lines of the others.
//! Compare `chat_sock_server`, where a room task keeps the member list by hand.
//!
//! ```text
//! cargo run --release --example chat_chan_server -- 127.0.0.1:8030
//! cargo run --release --example chat_chan_client -- 127.0.0.1:8030 alice
//! ```

#[path = "support/logging.rs"]
mod logging;

use futures::io::AsyncBufReadExt;
use rycos::Cx;
use rycos::channel::Channel;
use rycos::net::{TcpListener, TcpStream};
use std::io;
use std::sync::Arc;

/// A line said in the room: (connection id, text ready to print).
pub type Said = (u64, Arc<str>);

/// Serves one connection: reads the nickname, then relays lines both ways.
async fn client(room: Channel<Said>, id: u64, conn: TcpStream) -> io::Result<()> {
    let mut lines = rycos::io::BufReader::new(conn.clone());
    let mut nick = String::new();
    if lines.read_line(&mut nick).await? == 0 {
        return Ok(());
    }
    let nick = nick.trim().to_owned();
    let writer_conn = conn.clone();
    let writer = rycos::spawn_task(move |cx: Cx<Said>| async move {
        while let Some((from, text)) = cx.receive().await {
            if from != id && writer_conn.write_all(text.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    room.subscribe(&writer).map_err(io::Error::other)?;
    let _ = room.send((id, format!("* {nick} joined\n").into()));
    let mut line = String::new();
    while lines.read_line(&mut line).await? > 0 {
        let _ = room.send((id, format!("{nick}: {line}").into()));
        line.clear();
    }
    room.unsubscribe(&writer);
    writer.terminate();
    let _ = room.send((id, format!("* {nick} left\n").into()));
    Ok(())
}

/// Accepts clients into `room`.
pub async fn serve(listener: TcpListener, room: Channel<Said>) -> io::Result<()> {
    for id in 1.. {
        let (conn, _) = listener.accept().await?;
        rycos::spawn(client(room.clone(), id, conn));
    }
    Ok(())
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8030".into());
    rycos::block_on(async {
        let listener = TcpListener::bind(&addr)?;
        println!("chat room on {}; connect with chat_chan_client", listener.local_addr()?);
        serve(listener, Channel::new("chat").map_err(io::Error::other)?).await
    })
}
