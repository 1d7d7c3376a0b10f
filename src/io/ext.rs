//! [`AsyncReadExt`]: the reading helpers of `futures-lite`, with a `read_to_end` and a
//! `read_to_string` that stay linear in the size of what they read.
//!
//! `futures-lite`'s `read_to_end` zero-fills the whole spare capacity of the vector again every
//! time the reader returns `Pending`, which for a pipe is once per pipe-sized chunk: reading
//! 256 MiB that way zeroed terabytes and took minutes. Here the zeroed tail is kept across
//! `Pending` (the vector's length runs ahead of the bytes read, and is cut back when the future
//! completes or is dropped), so every byte of capacity is zeroed once.

use futures_io::AsyncRead;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// Extension methods for every [`AsyncRead`] (import [`rycos::io::prelude`](super::prelude)
/// for them and the writing, seeking and buffered-reading ones together).
///
/// ```
/// use rycos::io::prelude::*;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut child = rycos::process::Command::new("echo").arg("hello").spawn_piped()?;
///     let mut text = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut text).await?;
///     assert_eq!(text, "hello\n");
///     assert!(child.wait().await?.success());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads some bytes into `buf`; how many (0 at the end of the stream).
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> futures_lite::io::ReadFuture<'a, Self>
    where
        Self: Unpin,
    {
        futures_lite::AsyncReadExt::read(self, buf)
    }

    /// Fills `buf` exactly; `UnexpectedEof` if the stream ends first.
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> futures_lite::io::ReadExactFuture<'a, Self>
    where
        Self: Unpin,
    {
        futures_lite::AsyncReadExt::read_exact(self, buf)
    }

    /// Reads to the end of the stream, appending to `buf`; how many bytes it read. Linear in
    /// what it reads, however often the reader makes it wait.
    ///
    /// Cancel-safe in the std sense: dropped midway, `buf` keeps what was read so far.
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadToEnd<'a, Self>
    where
        Self: Unpin,
    {
        let filled = buf.len();
        ReadToEnd { reader: self, buf, start: filled, filled }
    }

    /// Reads to the end of the stream, appending to `buf`, which must be valid UTF-8 in the
    /// end: if it is not, `buf` is left as it was and the error is `InvalidData`.
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> ReadToString<'a, Self>
    where
        Self: Unpin,
    {
        let bytes = std::mem::take(buf).into_bytes();
        let start = bytes.len();
        ReadToString { reader: self, target: buf, bytes, start, filled: start }
    }

    /// A reader that ends after `limit` bytes.
    fn take(self, limit: u64) -> futures_lite::io::Take<Self>
    where
        Self: Sized,
    {
        futures_lite::AsyncReadExt::take(self, limit)
    }

    /// This reader, then `next`.
    fn chain<R: AsyncRead>(self, next: R) -> futures_lite::io::Chain<Self, R>
    where
        Self: Sized,
    {
        futures_lite::AsyncReadExt::chain(self, next)
    }

    /// The bytes of this reader as a stream.
    fn bytes(self) -> futures_lite::io::Bytes<Self>
    where
        Self: Sized,
    {
        futures_lite::AsyncReadExt::bytes(self)
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// The most spare room zeroed ahead of the data: 1 MiB, many times what one read returns from
/// a pipe or a socket.
const ZEROED_WINDOW: usize = 1 << 20;

/// Reads into `buf[*filled..]`, growing it, until the end of the stream. `buf.len()` may run
/// ahead of `*filled` with zeroed bytes, which the next poll reuses instead of zeroing again.
fn poll_read_to_end<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut Vec<u8>,
    filled: &mut usize,
) -> Poll<io::Result<()>> {
    loop {
        if *filled == buf.len() {
            // Capacity doubles (amortized), but only a window of it is zeroed at a time: room
            // zeroed and never read into is touched memory for nothing (a whole doubling, when
            // the data ends just after one).
            if buf.len() == buf.capacity() {
                buf.reserve(32);
            }
            let window = buf.len().clamp(32, ZEROED_WINDOW);
            buf.resize((buf.len() + window).min(buf.capacity()), 0);
        }
        match ready!(Pin::new(&mut *reader).poll_read(cx, &mut buf[*filled..])) {
            Ok(0) => return Poll::Ready(Ok(())),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Future of [`AsyncReadExt::read_to_end`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadToEnd<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut Vec<u8>,
    start: usize,
    /// Bytes of `buf` that hold data (the rest of its length is zeroed spare room).
    filled: usize,
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToEnd<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = ready!(poll_read_to_end(this.reader, cx, this.buf, &mut this.filled));
        this.buf.truncate(this.filled);
        Poll::Ready(done.map(|()| this.filled - this.start))
    }
}

impl<R: ?Sized> Drop for ReadToEnd<'_, R> {
    fn drop(&mut self) {
        self.buf.truncate(self.filled);
    }
}

/// Future of [`AsyncReadExt::read_to_string`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadToString<'a, R: ?Sized> {
    reader: &'a mut R,
    /// Empty while reading: its bytes are in `bytes`, and go back when the future ends.
    target: &'a mut String,
    bytes: Vec<u8>,
    start: usize,
    filled: usize,
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToString<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = ready!(poll_read_to_end(this.reader, cx, &mut this.bytes, &mut this.filled));
        let read = this.filled - this.start;
        let valid = std::str::from_utf8(&this.bytes[this.start..this.filled]).is_ok();
        // What was read is kept only if it is text; `Drop` hands the bytes back.
        if !valid {
            this.filled = this.start;
        }
        Poll::Ready(match (done, valid) {
            (Err(e), _) => Err(e),
            (Ok(()), true) => Ok(read),
            (Ok(()), false) => {
                Err(io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
            }
        })
    }
}

impl<R: ?Sized> Drop for ReadToString<'_, R> {
    /// Puts the text back into the caller's string, cut at the last complete character (only a
    /// read dropped midway can end inside one).
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.truncate(self.filled);
        *self.target = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).expect("cut at a character boundary")
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `chunk` bytes per read and is `Pending` before every read, like a pipe
    /// that is slower than its reader.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
        ready: bool,
        reads: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if !std::mem::replace(&mut self.ready, false) {
                self.ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            self.reads += 1;
            Poll::Ready(Ok(n))
        }
    }

    fn trickle(data: &[u8], chunk: usize) -> Trickle {
        Trickle { data: data.to_vec(), at: 0, chunk, ready: false, reads: 0 }
    }

    #[test]
    fn read_to_end_appends_everything_across_pendings() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut reader = trickle(&data, 777);
        let mut buf = b"head".to_vec();
        let read = futures_lite::future::block_on(reader.read_to_end(&mut buf)).unwrap();
        assert_eq!(read, data.len());
        assert_eq!(&buf[..4], b"head");
        assert_eq!(&buf[4..], &data[..]);
    }

    /// Scribbles over the whole buffer it is offered before every `Pending` (allowed: a reader
    /// may write anywhere in `buf`), and records whether the next offer was zeroed again.
    struct Scribbler {
        left: usize,
        pending_next: bool,
        offers_zeroed_again: usize,
        offers_after_pending: usize,
    }

    impl AsyncRead for Scribbler {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if std::mem::replace(&mut self.pending_next, false) {
                buf.fill(0xAA);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if buf.iter().all(|&b| b == 0) && buf.len() > 1 {
                self.offers_zeroed_again += 1;
            }
            self.offers_after_pending += 1;
            self.pending_next = true;
            let n = buf.len().min(self.left).min(100);
            buf[..n].fill(1);
            self.left -= n;
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn read_to_end_never_zeroes_the_same_room_twice() {
        // futures-lite's read_to_end zeroes the whole spare capacity again after every Pending,
        // which made reading a pipe quadratic. Here the room handed out after a Pending is the
        // room from before, as the reader left it.
        let mut reader =
            Scribbler { left: 100_000, pending_next: true, offers_zeroed_again: 0, offers_after_pending: 0 };
        let mut buf = Vec::new();
        let read = futures_lite::future::block_on(reader.read_to_end(&mut buf)).unwrap();
        assert_eq!(read, 100_000);
        assert!(buf.iter().all(|&b| b == 1), "only the bytes read are kept");
        assert!(reader.offers_after_pending > 1000);
        // Only offers of room freshly added by growth are zeroed (a handful of doublings).
        assert!(reader.offers_zeroed_again <= 16, "{} offers were zeroed again", reader.offers_zeroed_again);
    }

    #[test]
    fn a_read_to_end_dropped_midway_keeps_what_it_read() {
        let data = vec![9u8; 10_000];
        let mut reader = trickle(&data, 1000);
        let mut buf = Vec::new();
        {
            let mut reading = std::pin::pin!(reader.read_to_end(&mut buf));
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            for _ in 0..6 {
                assert!(reading.as_mut().poll(&mut cx).is_pending());
            }
        }
        assert_eq!(reader.reads, 5, "five reads in six polls");
        assert_eq!(buf.len(), reader.at, "what they read, and no zeroed tail");
        assert!(buf.iter().all(|&b| b == 9));
    }

    #[test]
    fn read_to_string_keeps_valid_text_and_refuses_the_rest() {
        let mut reader = trickle("grüße, 世界".as_bytes(), 3);
        let mut text = String::from("> ");
        futures_lite::future::block_on(reader.read_to_string(&mut text)).unwrap();
        assert_eq!(text, "> grüße, 世界");

        let mut reader = trickle(&[b'o', b'k', 0xff, b'!'], 2);
        let mut text = String::from("before");
        let err = futures_lite::future::block_on(reader.read_to_string(&mut text)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(text, "before", "left as it was");
    }
}
