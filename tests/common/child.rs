//! Child processes of a test binary: the binary started again on one of its own ignored tests
//! (a `child_*` entry), talked to by lines on its stdin and stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `child_*` entry. Killed (SIGKILL) when dropped.
pub struct TestChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl TestChild {
    /// Starts the ignored test `entry` of this binary with `env` set.
    pub fn start(entry: &str, env: &[(&str, String)]) -> TestChild {
        TestChild::start_with(Command::new(std::env::current_exe().unwrap()), entry, env)
    }

    /// Like [`start`](TestChild::start), through `command`, which runs this binary (inside a
    /// network namespace, say).
    pub fn start_with(mut command: Command, entry: &str, env: &[(&str, String)]) -> TestChild {
        command
            .args(["--ignored", "--exact", entry, "--nocapture", "--test-threads=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Read to the end, always: a child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; go on draining.
                }
            }
        });
        TestChild { child, stdin, lines }
    }

    /// What follows `marker` on the next line that contains it (the harness prints its own
    /// words on the line of a child's first output, so markers are found, not matched).
    pub fn expect(&mut self, marker: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, rest)) = line.split_once(marker) {
                        return rest.trim().to_owned();
                    }
                }
                Err(e) => panic!("no line with {marker:?} from the child within {limit:?} ({e})"),
            }
        }
    }

    /// Writes one line to the child's stdin.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What every `child_*` entry starts with: the process ends when its stdin does (the parent
/// ended, even by its watchdog), and each line before that goes to `line`.
pub fn follow_stdin(mut line: impl FnMut(String) + Send + 'static) {
    std::thread::spawn(move || {
        for text in std::io::stdin().lines() {
            match text {
                Ok(text) => line(text),
                Err(_) => break,
            }
        }
        std::process::exit(3);
    });
}
