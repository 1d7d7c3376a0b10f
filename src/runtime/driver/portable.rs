//! The reactor's system interface where there is no epoll: `polling` (kqueue, event ports,
//! `poll`). Built on Linux too, for its tests.
//!
//! `polling` reports a peer's end-of-stream as plain readability, so every readable event
//! counts as a possible end (`read_closed`): reads then never take a short read as "drained",
//! and ask the kernel once more instead.

use super::selector::Ready;
use polling::{Event, PollMode, Poller};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

pub(crate) struct Selector {
    poller: Poller,
    mode: PollMode,
}

/// The buffer one wait fills.
pub(crate) struct Events {
    inner: polling::Events,
}

impl Events {
    pub(crate) fn new() -> Events {
        Events { inner: polling::Events::new() }
    }

    /// The sources' events: (key, readiness).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, Ready)> + '_ {
        self.inner.iter().map(|event| {
            let ready =
                Ready { readable: event.readable, writable: event.writable, read_closed: event.readable };
            (event.key, ready)
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        let poller = Poller::new()?;
        let mode = if poller.supports_edge() { PollMode::Edge } else { PollMode::Level };
        Ok(Selector { poller, mode })
    }

    /// Registers `fd` for both directions under `key`. Delete it before closing it.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        // SAFETY: the reactor deletes every source before its descriptor is closed (`Async`'s
        // `Drop`), which is what `Poller::add` requires.
        unsafe { self.poller.add_with_mode(fd.as_raw_fd(), Event::all(key), self.mode) }
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.poller.delete(fd)
    }

    /// Wakes a thread blocked in [`wait`](Selector::wait), or makes its next call return.
    pub(crate) fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }

    /// Waits up to `timeout` (forever for `None`) for events, into `events`.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.inner.clear();
        self.poller.wait(&mut events.inner, timeout).map(|_| ())
    }
}
