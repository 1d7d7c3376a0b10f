//! pycos `pipe_csum.py`: data streams through `sha1sum` in a child process while the task goes
//! on; the child's pipes are non-blocking and wait in the reactor, not in a thread.
//!
//! ```text
//! cargo run --release --example pipe_csum -- [FILE]     # default: 64 MiB of generated data
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::io::prelude::*;
use rycos::process::Command;
use std::io;
use std::process::Stdio;

/// Streams `chunks` of data into `sha1sum` and returns its hex digest.
pub async fn sha1_of(chunks: impl Iterator<Item = Vec<u8>> + Send + 'static) -> io::Result<String> {
    let mut child = Command::new("sha1sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    // Feed from one task, read the answer in this one: neither waits for the other.
    let feeder = rycos::spawn(async move {
        for chunk in chunks {
            stdin.write_all(&chunk).await?;
        }
        stdin.close().await // end of input: sha1sum prints its sum
    });
    let mut answer = String::new();
    stdout.read_to_string(&mut answer).await?;
    feeder.await.map_err(io::Error::other)??;
    let status = child.wait().await?;
    if !status.success() {
        return Err(io::Error::other(format!("sha1sum failed: {status}")));
    }
    Ok(answer.split_whitespace().next().unwrap_or_default().to_owned())
}

/// `megabytes` MiB of a repeating byte pattern, in 64 KiB chunks.
pub fn generated(megabytes: usize) -> impl Iterator<Item = Vec<u8>> + Send + 'static {
    (0..megabytes * 16).map(|i| (0..65536).map(|j| ((i * 65536 + j) % 251) as u8).collect())
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    rycos::block_on(async {
        let digest = match std::env::args().nth(1) {
            Some(path) => {
                let data = rycos::fs::read(&path).await?;
                println!("{} bytes from {path}", data.len());
                sha1_of(std::iter::once(data)).await?
            }
            None => {
                println!("64 MiB of generated data");
                sha1_of(generated(64)).await?
            }
        };
        println!("sha1: {digest}");
        Ok(())
    })
}
