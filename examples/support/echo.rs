//! The echo server of the networking examples and benchmarks (pycos `echo_server`).

use rycos::net::{TcpListener, TcpStream};
use std::io;
use std::time::Duration;

/// Accepts connections forever, echoing each on its own task.
pub async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                drop(rycos::spawn(echo(conn)));
            }
            Err(e) if is_fd_exhaustion(&e) => {
                // Out of file descriptors: nothing frees one by accepting faster. Wait for
                // connections to close, then accept again.
                rycos::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// Sends back everything it receives until the peer closes.
pub async fn echo(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}

/// `EMFILE` / `ENFILE`: the process or the system is out of file descriptors.
pub fn is_fd_exhaustion(e: &io::Error) -> bool {
    let emfile = rustix::io::Errno::MFILE.raw_os_error();
    let enfile = rustix::io::Errno::NFILE.raw_os_error();
    matches!(e.raw_os_error(), Some(code) if code == emfile || code == enfile)
}
