//! Files read and written on the blocking pool (pycos `AsyncFile`): a task waiting for a disk
//! never holds a worker.
//!
//! [`File`] implements the `futures-io` traits (`AsyncRead`, `AsyncWrite`, `AsyncSeek`), so the
//! usual extension traits (`read_to_end`, `write_all`, `seek`, `BufReader::lines`) work on it.
//! Reads go ahead in 64 KiB chunks and writes are gathered into 64 KiB chunks: one pool job per
//! chunk, not per call. Call `flush` (or `close`) to know a write reached the OS.
//!
//! ```
//! use rycos::io::prelude::*;
//!
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let path = std::env::temp_dir().join(format!("rycos-fs-doc-{}", std::process::id()));
//!     let mut file = rycos::fs::File::create(&path).await?;
//!     file.write_all(b"hello, file").await?;
//!     file.flush().await?;
//!     let mut text = String::new();
//!     rycos::fs::File::open(&path).await?.read_to_string(&mut text).await?;
//!     assert_eq!(text, "hello, file");
//!     rycos::fs::remove_file(&path).await
//! })
//! .unwrap();
//! ```

use crate::runtime::Handle;
use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};
use rycos_pool::Completion;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The size of a read-ahead or a gathered write.
const CHUNK: usize = 64 * 1024;

/// Runs `f` on the blocking pool, turning a lost job into an I/O error.
async fn unblock<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    Handle::try_current_or_default()?.blocking_pool().spawn(f).await?
}

/// Reads a whole file.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read(path)).await
}

/// Reads a whole file as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read_to_string(path)).await
}

/// Writes a whole file, replacing it.
pub async fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.into());
    unblock(move || std::fs::write(path, contents)).await
}

/// Removes a file.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_file(path)).await
}

/// A file's metadata.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::metadata(path)).await
}

/// What the pool job in flight will hand back with the file.
enum Done {
    Read(io::Result<Vec<u8>>),
    Wrote(io::Result<()>, Vec<u8>),
    Sought(io::Result<u64>),
}

enum State {
    /// The file is here; no job runs.
    Idle(Option<std::fs::File>),
    /// A job has the file.
    Busy(Completion<(std::fs::File, Done)>),
}

/// An open file whose operations run on the blocking pool.
pub struct File {
    state: State,
    /// Read ahead and not yet handed out: `read_buf[read_pos..]`.
    read_buf: Vec<u8>,
    read_pos: usize,
    /// Written by the caller and not yet handed to the OS.
    write_buf: Vec<u8>,
    /// A failed background write, reported by the next operation.
    write_error: Option<io::Error>,
    /// A seek in progress and its target (the caller may poll `poll_seek` repeatedly).
    seeking: Option<SeekFrom>,
    /// The last read job found the end of the file; the next `poll_read` reports it.
    at_end: bool,
}

impl File {
    /// Opens a file for reading.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        unblock(move || std::fs::File::open(path)).await.map(File::from_std)
    }

    /// Creates (or truncates) a file for writing.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        unblock(move || std::fs::File::create(path)).await.map(File::from_std)
    }

    /// Opens a file with `options`.
    pub async fn open_with(path: impl AsRef<Path>, options: &std::fs::OpenOptions) -> io::Result<File> {
        let (path, options) = (path.as_ref().to_owned(), options.clone());
        unblock(move || options.open(path)).await.map(File::from_std)
    }

    /// Wraps an open std file.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            state: State::Idle(Some(file)),
            read_buf: Vec::new(),
            read_pos: 0,
            write_buf: Vec::new(),
            write_error: None,
            seeking: None,
            at_end: false,
        }
    }

    /// Flushes pending writes and hands the std file back.
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        futures_lite::AsyncWriteExt::flush(&mut self).await?;
        self.discard_read_ahead().await?;
        match &mut self.state {
            State::Idle(file) => Ok(file.take().expect("an idle file is here")),
            State::Busy(_) => unreachable!("flushed above"),
        }
    }

    /// The file's metadata.
    pub async fn metadata(&mut self) -> io::Result<std::fs::Metadata> {
        self.with_file(|file| file.metadata()).await
    }

    /// Flushes pending writes and syncs data and metadata to the disk.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        futures_lite::AsyncWriteExt::flush(self).await?;
        self.with_file(|file| file.sync_all()).await
    }

    /// Truncates or extends the file (pending writes go first).
    pub async fn set_len(&mut self, len: u64) -> io::Result<()> {
        futures_lite::AsyncWriteExt::flush(self).await?;
        self.discard_read_ahead().await?;
        self.with_file(move |file| file.set_len(len)).await
    }

    /// Runs `op` on the file in the pool, once no other job has it.
    async fn with_file<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        std::future::poll_fn(|cx| self.poll_idle(cx)).await?;
        let State::Idle(slot) = &mut self.state else { unreachable!("idle above") };
        let mut file = slot.take().expect("an idle file is here");
        let (file, result) = Handle::current_or_default()
            .blocking_pool()
            .spawn(move || {
                let result = op(&mut file);
                (file, result)
            })
            .await
            .map_err(io::Error::from)?;
        self.state = State::Idle(Some(file));
        result
    }

    /// Moves the OS file position back over read-ahead bytes nobody has read, so that writes
    /// and seeks start where the caller thinks they are.
    async fn discard_read_ahead(&mut self) -> io::Result<()> {
        let unread = (self.read_buf.len() - self.read_pos) as i64;
        self.read_buf.clear();
        self.read_pos = 0;
        if unread > 0 {
            self.with_file(move |file| file.seek(SeekFrom::Current(-unread))).await?;
        }
        Ok(())
    }

    /// Waits for the job in flight, if any, and takes in its result.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Busy(job) = &mut self.state else { return Poll::Ready(Ok(())) };
        let outcome = ready!(Pin::new(job).poll(cx));
        let (file, done) = match outcome {
            Ok(pair) => pair,
            // The job was lost (the pool shut down): the file went with it.
            Err(e) => {
                self.state = State::Idle(None);
                return Poll::Ready(Err(e.into()));
            }
        };
        self.state = State::Idle(Some(file));
        match done {
            Done::Read(Ok(bytes)) => {
                self.at_end = bytes.is_empty();
                self.read_buf = bytes;
                self.read_pos = 0;
            }
            Done::Read(Err(e)) => return Poll::Ready(Err(e)),
            Done::Wrote(result, mut buf) => {
                if let Err(e) = result {
                    self.write_error = Some(e);
                }
                buf.clear();
                if self.write_buf.is_empty() {
                    self.write_buf = buf; // keep the allocation
                }
            }
            Done::Sought(result) => {
                self.seeking = None;
                return Poll::Ready(result.map(drop));
            }
        }
        Poll::Ready(Ok(()))
    }

    fn file(&mut self) -> io::Result<std::fs::File> {
        match &mut self.state {
            State::Idle(Some(_)) => {
                let State::Idle(slot) = &mut self.state else { unreachable!() };
                Ok(slot.take().expect("checked above"))
            }
            _ => Err(io::Error::other("the file was lost with a job of a pool that shut down")),
        }
    }

    fn start(
        &mut self,
        job: impl FnOnce(std::fs::File) -> (std::fs::File, Done) + Send + 'static,
    ) -> io::Result<()> {
        let file = self.file()?;
        self.state = State::Busy(Handle::current_or_default().blocking_pool().spawn(move || job(file)));
        Ok(())
    }

    fn take_write_error(&mut self) -> io::Result<()> {
        self.write_error.take().map_or(Ok(()), Err)
    }

    /// Starts writing the gathered bytes out.
    fn start_write(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.write_buf);
        self.start(move |mut file| {
            let result = file.write_all(&buf);
            (file, Done::Wrote(result, buf))
        })
    }
}

impl AsyncRead for File {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.read_pos < this.read_buf.len() {
                let n = buf.len().min(this.read_buf.len() - this.read_pos);
                buf[..n].copy_from_slice(&this.read_buf[this.read_pos..this.read_pos + n]);
                this.read_pos += n;
                return Poll::Ready(Ok(n));
            }
            // Takes in a finished job; a read fills the buffer or reports the end.
            ready!(this.poll_idle(cx))?;
            if this.read_pos < this.read_buf.len() {
                continue;
            }
            if std::mem::take(&mut this.at_end) {
                return Poll::Ready(Ok(0));
            }
            if !this.write_buf.is_empty() {
                ready!(Pin::new(&mut *this).poll_flush(cx))?;
            }
            this.take_write_error()?;
            let want = buf.len().max(CHUNK);
            let mut spare = std::mem::take(&mut this.read_buf);
            this.start(move |mut file| {
                spare.clear();
                spare.resize(want, 0);
                let result = file.read(&mut spare).map(|n| {
                    spare.truncate(n);
                    spare
                });
                (file, Done::Read(result))
            })?;
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_idle(cx))?;
        this.take_write_error()?;
        if this.read_pos < this.read_buf.len() {
            // Unread read-ahead: step the OS position back first.
            let unread = (this.read_buf.len() - this.read_pos) as i64;
            this.read_buf.clear();
            this.read_pos = 0;
            this.seeking = None;
            this.start(move |mut file| {
                let result = file.seek(SeekFrom::Current(-unread));
                (file, Done::Sought(result))
            })?;
            ready!(this.poll_idle(cx))?;
        }
        this.read_buf.clear();
        this.read_pos = 0;
        this.at_end = false;
        if this.write_buf.len() >= CHUNK {
            this.start_write()?;
            ready!(this.poll_idle(cx))?;
            this.take_write_error()?;
        }
        this.write_buf.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_idle(cx))?;
        if !this.write_buf.is_empty() {
            this.start_write()?;
            ready!(this.poll_idle(cx))?;
        }
        Poll::Ready(this.take_write_error())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(self: Pin<&mut Self>, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if this.seeking.is_none() {
            ready!(Pin::new(&mut *this).poll_flush(cx))?;
            // The OS position is ahead of the caller's by the unread read-ahead.
            let unread = (this.read_buf.len() - this.read_pos) as i64;
            let target = match pos {
                SeekFrom::Current(offset) => SeekFrom::Current(offset - unread),
                other => other,
            };
            this.read_buf.clear();
            this.read_pos = 0;
            this.at_end = false;
            this.seeking = Some(target);
            this.start(move |mut file| {
                let result = file.seek(target);
                (file, Done::Sought(result))
            })?;
        }
        // The seek's result comes back through `poll_idle`; keep the position it reached.
        let State::Busy(job) = &mut this.state else {
            return Poll::Ready(Err(io::Error::other("seek state lost")));
        };
        let (file, done) = ready!(Pin::new(job).poll(cx)).map_err(io::Error::from)?;
        this.state = State::Idle(Some(file));
        this.seeking = None;
        match done {
            Done::Sought(result) => Poll::Ready(result),
            _ => unreachable!("the job in flight is the seek"),
        }
    }
}

/// Bytes written but not flushed are not lost: they go to the OS in the background (after the
/// job in flight, if any). Errors then have nobody to go to; `flush` or `close` first to see them.
impl Drop for File {
    fn drop(&mut self) {
        let unwritten = std::mem::take(&mut self.write_buf);
        let state = std::mem::replace(&mut self.state, State::Idle(None));
        let pool = || Handle::current_or_default().blocking_pool().clone();
        match state {
            State::Idle(Some(mut file)) if !unwritten.is_empty() => {
                pool().spawn(move || file.write_all(&unwritten)).detach();
            }
            State::Busy(in_flight) if !unwritten.is_empty() => {
                pool()
                    .spawn(move || {
                        if let Ok((mut file, _)) = in_flight.wait() {
                            let _ = file.write_all(&unwritten);
                        }
                    })
                    .detach();
            }
            // A job in flight finishes on its own (its completion is let go, not cancelled).
            State::Busy(in_flight) => in_flight.detach(),
            State::Idle(_) => {}
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("busy", &matches!(self.state, State::Busy(_)))
            .field("read_ahead", &(self.read_buf.len() - self.read_pos))
            .field("unwritten", &self.write_buf.len())
            .finish()
    }
}
