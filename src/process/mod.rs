//! Child processes whose pipes are non-blocking and registered in the reactor (pycos
//! `AsyncPipe`): a task reading a child's output waits without holding a worker or a thread.
//!
//! ```no_run
//! use rycos::process::Command;
//!
//! # rycos::block_on(async {
//! let out = Command::new("sha1sum").spawn_piped()?.communicate(b"hello\n".to_vec()).await?;
//! assert!(out.status.success());
//! println!("{}", String::from_utf8_lossy(&out.stdout));
//! # std::io::Result::Ok(()) });
//! ```
//!
//! Exits are watched through a pidfd in the reactor (Linux 5.3+); elsewhere `wait` polls with a
//! short back-off.
//!
//! A [`Child`] dropped before it was waited for keeps running (unless
//! [`Command::kill_on_drop`] says otherwise) and is reaped in the background when it exits, so
//! it never stays a zombie. A [`Pipeline`] whose later stage fails to start kills and reaps the
//! stages it had started.

mod reaper;

use crate::io::Async;
use crate::io::prelude::*;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Output, Stdio};
use std::task::{Context, Poll};
use std::time::Duration;

/// A process to start: the `std::process::Command` builder, with async pipes once spawned.
pub struct Command {
    inner: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command running `program`, with stdin, stdout and stderr inherited (as in std).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { inner: std::process::Command::new(program), kill_on_drop: false }
    }

    /// Kills the child (SIGKILL) when its [`Child`] is dropped before it exited. Off by
    /// default: a dropped child runs on, and is reaped in the background when it exits.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures stdin (`Stdio::piped()` to write to it).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self
    }

    /// Configures stdout (`Stdio::piped()` to read it).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self
    }

    /// Configures stderr (`Stdio::piped()` to read it).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self
    }

    /// Starts the process.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let mut child = Child::from_std(self.inner.spawn()?)?;
        child.kill_on_drop = self.kill_on_drop;
        Ok(child)
    }

    /// Starts the process with all three streams piped.
    pub fn spawn_piped(&mut self) -> io::Result<Child> {
        self.inner.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()
    }

    /// Runs the process with no input, collecting its output.
    pub async fn output(&mut self) -> io::Result<Output> {
        self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.communicate(Vec::new()).await
    }

    /// Runs the process with inherited streams; its exit status.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }

    /// The std builder, for options not mirrored here.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }
}

impl From<std::process::Command> for Command {
    fn from(inner: std::process::Command) -> Command {
        Command { inner, kill_on_drop: false }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A running child process. Its piped streams are public fields, as in std; take them to use
/// them from other tasks.
pub struct Child {
    /// Always present; taken only by `Drop`, which hands it to the reaper.
    child: Option<std::process::Child>,
    kill_on_drop: bool,
    /// The child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    /// Readable once the child has exited (a pidfd), where the OS has them.
    exit: Option<Async<std::os::fd::OwnedFd>>,
}

impl Child {
    /// Takes over a child started with `std::process::Command`, registering its pipes.
    pub fn from_std(child: std::process::Child) -> io::Result<Child> {
        // If a pipe cannot be registered the caller gets an error and no way to reach the
        // child: it is killed and reaped.
        let mut unregistered = Unregistered(Some(child));
        let child = unregistered.0.as_mut().expect("just made");
        let stdin = child.stdin.take().map(|s| Async::new(s).map(ChildStdin)).transpose()?;
        let stdout = child.stdout.take().map(|s| Async::new(s).map(ChildStdout)).transpose()?;
        let stderr = child.stderr.take().map(|s| Async::new(s).map(ChildStderr)).transpose()?;
        let exit = rustix::process::Pid::from_raw(child.id() as i32)
            .and_then(|pid| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok())
            .and_then(|fd| Async::new(fd).ok());
        Ok(Child { child: unregistered.0.take(), kill_on_drop: false, stdin, stdout, stderr, exit })
    }

    fn std(&mut self) -> &mut std::process::Child {
        self.child.as_mut().expect("present until dropped")
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("present until dropped").id()
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) -> io::Result<()> {
        self.std().kill()
    }

    /// Kills the child when this `Child` is dropped before it exited (see
    /// [`Command::kill_on_drop`]).
    pub fn set_kill_on_drop(&mut self, kill: bool) {
        self.kill_on_drop = kill;
    }

    /// The exit status if the child has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std().try_wait()
    }

    /// Waits for the child to exit. Its stdin is closed first, so a child that reads to the end
    /// of its input can finish.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let mut backoff = Duration::from_millis(1);
        loop {
            if let Some(status) = self.std().try_wait()? {
                return Ok(status);
            }
            match &self.exit {
                Some(pidfd) => pidfd.readable().await?,
                None => {
                    crate::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
            }
        }
    }

    /// Writes `input` to stdin (then closes it) while reading stdout and stderr to their ends,
    /// then waits for the exit: no deadlock whatever the child reads or writes first. A child
    /// that exits without reading all its input is fine (the rest is discarded).
    pub async fn communicate(mut self, input: impl Into<Vec<u8>>) -> io::Result<Output> {
        let input = input.into();
        let stdin = self.stdin.take();
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                match stdin.write_all(&input).await {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                    other => other?,
                }
            }
            io::Result::Ok(())
        };
        let drain_out = read_all(stdout);
        let drain_err = read_all(stderr);
        let ((fed, out), err) =
            futures_lite::future::zip(futures_lite::future::zip(feed, drain_out), drain_err).await;
        fed?;
        let (stdout, stderr) = (out?, err?);
        let status = self.wait().await?;
        Ok(Output { status, stdout, stderr })
    }
}

async fn read_all<R: AsyncRead + Unpin>(stream: Option<R>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut stream) = stream {
        stream.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("id", &self.id()).finish_non_exhaustive()
    }
}

impl Drop for Child {
    /// A child not waited for is killed if asked (`kill_on_drop`), and reaped in the background
    /// when it exits.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        if self.kill_on_drop {
            let _ = child.kill();
        }
        reaper::adopt(child);
    }
}

/// A std child during `Child::from_std`: killed and reaped if registering its pipes fails.
struct Unregistered(Option<std::process::Child>);

impl Drop for Unregistered {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            reaper::adopt(child);
        }
    }
}

macro_rules! pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        pub struct $name(Async<$std>);

        impl $name {
            /// The std pipe back (blocking again is up to the caller).
            pub fn into_std(self) -> io::Result<$std> {
                let std = self.0.into_inner();
                rustix::io::ioctl_fionbio(&std, false)?;
                Ok(std)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

pipe!(
    /// A child's stdin: `futures-io` `AsyncWrite`; drop it to close the pipe.
    ChildStdin,
    std::process::ChildStdin
);
pipe!(
    /// A child's stdout: `futures-io` `AsyncRead`.
    ChildStdout,
    std::process::ChildStdout
);
pipe!(
    /// A child's stderr: `futures-io` `AsyncRead`.
    ChildStderr,
    std::process::ChildStderr
);

impl AsyncWrite for ChildStdin {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl AsyncRead for ChildStdout {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// Processes chained stdout to stdin, like `a | b | c` in a shell. The OS connects the stages
/// directly; the pipeline's input goes to the first stage and its output comes from the last.
///
/// ```no_run
/// use rycos::process::{Command, Pipeline};
///
/// # rycos::block_on(async {
/// let mut grep = Command::new("grep");
/// grep.arg("rycos");
/// let out = Pipeline::new()
///     .stage(Command::new("cat"))
///     .stage(grep)
///     .stage({ let mut wc = Command::new("wc"); wc.arg("-l"); wc })
///     .run(b"rycos\npycos\nrycos\n".to_vec())
///     .await?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
/// # std::io::Result::Ok(()) });
/// ```
#[derive(Debug, Default)]
pub struct Pipeline {
    stages: Vec<Command>,
}

/// What a [`Pipeline`] produced: the last stage's output and every stage's exit status.
#[derive(Debug)]
pub struct PipelineOutput {
    /// The last stage's stdout.
    pub stdout: Vec<u8>,
    /// Each stage's exit status, first to last.
    pub statuses: Vec<ExitStatus>,
}

impl PipelineOutput {
    /// True if every stage exited successfully.
    pub fn success(&self) -> bool {
        self.statuses.iter().all(ExitStatus::success)
    }
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Appends a stage reading the previous stage's output.
    pub fn stage(mut self, command: Command) -> Pipeline {
        self.stages.push(command);
        self
    }

    /// Starts every stage: the first one's stdin and the last one's stdout are piped to us,
    /// stderr is inherited. Returns the children, first to last. If a stage fails to start,
    /// the stages already started are killed and reaped, and the error says which stage failed.
    pub fn spawn(self) -> io::Result<Vec<Child>> {
        let count = self.stages.len();
        let mut started = Stages(Vec::with_capacity(count));
        let mut previous: Option<std::process::ChildStdout> = None;
        for (i, mut command) in self.stages.into_iter().enumerate() {
            let stdin = match previous.take() {
                Some(out) => Stdio::from(out),
                None => Stdio::piped(),
            };
            command.inner.stdin(stdin).stdout(Stdio::piped());
            let program = command.inner.get_program().to_string_lossy().into_owned();
            let failed =
                |e: io::Error| io::Error::new(e.kind(), format!("pipeline stage {i} ({program}): {e}"));
            let mut child = command.inner.spawn().map_err(failed)?;
            if i + 1 < count {
                previous = child.stdout.take();
            }
            let mut child = Child::from_std(child).map_err(failed)?;
            child.kill_on_drop = command.kill_on_drop;
            started.0.push(child);
        }
        Ok(started.into_children())
    }

    /// Runs the pipeline on `input`; collects the last stage's output and every status. If it
    /// fails midway (an I/O error), every stage still running is killed and reaped.
    pub async fn run(self, input: impl Into<Vec<u8>>) -> io::Result<PipelineOutput> {
        let mut children = Stages(self.spawn()?);
        let Some(mut last) = children.0.pop() else {
            return Ok(PipelineOutput { stdout: Vec::new(), statuses: Vec::new() });
        };
        // The last stage is consumed by `communicate`; if that fails it is dropped there, so it
        // is killed with the others.
        last.kill_on_drop = true;
        let stdin = match children.0.first_mut() {
            Some(first) => first.stdin.take(),
            None => last.stdin.take(),
        };
        let output = {
            last.stdin = stdin;
            last.communicate(input)
        };
        let output = output.await?;
        let mut statuses = Vec::with_capacity(children.0.len() + 1);
        for child in &mut children.0 {
            statuses.push(child.wait().await?);
        }
        statuses.push(output.status);
        drop(children.into_children());
        Ok(PipelineOutput { stdout: output.stdout, statuses })
    }
}

/// The stages of a pipeline being started or run: if this is dropped instead of handed out
/// (an error), every stage is killed and reaped.
struct Stages(Vec<Child>);

impl Stages {
    fn into_children(mut self) -> Vec<Child> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Stages {
    fn drop(&mut self) {
        for child in &mut self.0 {
            child.kill_on_drop = true;
        }
    }
}
