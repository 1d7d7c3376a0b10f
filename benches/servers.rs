//! What the server benchmarks (`echo.rs`, `http.rs`) share: a server runs in a child process
//! of the benchmark (this program with `--serve`), prints its address, serves until its stdin
//! closes, then prints the CPU time it used; and the no-runtime "ceiling" server that shows
//! what the kernel allows.

use std::io::{Read, Write};
use std::process::Child;
use std::sync::Arc;

/// The address the server printed first.
pub fn read_addr(child: &mut Child) -> std::net::SocketAddr {
    read_line(child).parse().expect("an address")
}

/// The next line the server prints. Unbuffered on purpose: the server prints two lines at
/// different times, and a buffered reader dropped after the first could swallow the second.
pub fn read_line(child: &mut Child) -> String {
    let stdout = child.stdout.as_mut().expect("piped");
    let mut line = Vec::new();
    let mut byte = [0u8];
    while stdout.read(&mut byte).expect("the server's output") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).expect("text").trim().to_string()
}

/// Tells a server started by this process to stop, and returns the CPU time it used (µs).
pub fn stop(mut child: Child) -> f64 {
    // Closing its stdin tells the server to report its CPU time and exit.
    drop(child.stdin.take());
    let cpu_us = read_line(&mut child).parse::<f64>().expect("the server's CPU time");
    let _ = child.wait();
    cpu_us
}

/// A listening socket with a large backlog, for every server.
pub fn listener() -> std::net::TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().expect("addr").into()).expect("bind");
    socket.listen(16_384).expect("listen");
    socket.set_nonblocking(true).expect("non-blocking");
    socket.into()
}

/// In the server: prints the address, and arranges that when the parent closes our stdin the
/// CPU time used is printed and the process exits.
pub fn announce(listener: &std::net::TcpListener) {
    println!("{}", listener.local_addr().expect("address"));
    std::io::stdout().flush().expect("flush");
    std::thread::spawn(|| {
        let _ = std::io::stdin().lines().count();
        println!("{}", cpu_time_us());
        std::io::stdout().flush().expect("flush");
        std::process::exit(0);
    });
}

/// User + system CPU time of this process so far, in microseconds.
pub fn cpu_time_us() -> f64 {
    // SAFETY: `getrusage` only writes the struct it is given, which is plain data and may
    // start zeroed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// What the ceiling server writes back for the bytes one `read` brought in (appended to the
/// second argument); false to close the connection.
pub type Answer = fn(&[u8], &mut Vec<u8>) -> bool;

/// The ceiling: a server with no runtime. Each of `threads` threads runs a level-triggered
/// epoll loop over the connections it accepted itself (the listener is in every thread's epoll
/// with `EPOLLEXCLUSIVE`, so the kernel wakes one per connection): one `read` and one `write`
/// per exchange, and `answer` in between. It takes shortcuts a real server cannot: a write
/// that would block closes the connection (a small answer into an idle send buffer never
/// blocks), and a request cut across two reads is not put back together.
pub fn serve_epoll(listener: std::net::TcpListener, threads: usize, answer: Answer) {
    use rustix::event::epoll;
    use std::collections::HashMap;
    use std::os::fd::{AsFd, AsRawFd};
    const LISTENER: u64 = u64::MAX;
    let listener = Arc::new(listener);
    let threads: Vec<_> = (0..threads)
        .map(|_| {
            let listener = listener.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
                let exclusive = epoll::EventFlags::IN | epoll::EventFlags::EXCLUSIVE;
                epoll::add(&poll, listener.as_fd(), epoll::EventData::new_u64(LISTENER), exclusive)?;
                let mut connections: HashMap<u64, std::net::TcpStream> = HashMap::new();
                let mut events = Vec::with_capacity(1024);
                let mut buf = vec![0u8; 16 * 1024];
                let mut out = Vec::with_capacity(16 * 1024);
                loop {
                    events.clear();
                    match epoll::wait(&poll, rustix::buffer::spare_capacity(&mut events), None) {
                        Ok(_) | Err(rustix::io::Errno::INTR) => {} // a signal (strace attaching, say)
                        Err(e) => return Err(e.into()),
                    }
                    for event in &events {
                        let key = event.data.u64();
                        if key == LISTENER {
                            while let Ok((tcp, _)) = listener.accept() {
                                tcp.set_nonblocking(true)?;
                                tcp.set_nodelay(true)?;
                                let key = tcp.as_raw_fd() as u64;
                                epoll::add(
                                    &poll,
                                    tcp.as_fd(),
                                    epoll::EventData::new_u64(key),
                                    epoll::EventFlags::IN,
                                )?;
                                connections.insert(key, tcp);
                            }
                            continue;
                        }
                        let Some(tcp) = connections.get_mut(&key) else { continue };
                        let finished = match tcp.read(&mut buf) {
                            Ok(0) => true,
                            Ok(n) => {
                                out.clear();
                                !answer(&buf[..n], &mut out) || tcp.write_all(&out).is_err()
                            }
                            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                        };
                        if finished {
                            // Closing the descriptor takes it out of the epoll set.
                            connections.remove(&key);
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("epoll thread").expect("epoll loop");
    }
}
