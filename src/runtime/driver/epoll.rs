//! The reactor's system interface on Linux: one epoll instance, an eventfd that wakes it, and a
//! timerfd for waits with a deadline.
//!
//! Written on `rustix` rather than through `polling` for two things `polling` cannot give:
//!
//! - `EPOLLRDHUP`. An event says whether the peer has closed its side, apart from data
//!   arriving. Only then may a short read on a stream be taken as "drained" (the next read
//!   waits for an event instead of asking the kernel for an `EAGAIN`): with end-of-stream
//!   reported like data, a short read that took the last bytes before the end would wait for
//!   an event that never comes. One `recvfrom` per request instead of two on a keep-alive
//!   HTTP connection.
//! - One system call per look. `polling` re-arms its timerfd and its notifier around every
//!   `epoll_wait` (five calls); here a look without a deadline is one `epoll_wait`, a wait with
//!   a deadline adds one `timerfd_settime`, and the eventfd is read only when it fired.
//!
//! Everything is registered edge-triggered, once, for both directions. The timerfd keeps the
//! timers' sub-millisecond precision (`epoll_wait` alone counts in milliseconds).

use super::selector::Ready;
use rustix::event::{EventfdFlags, epoll, eventfd};
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create, timerfd_settime,
};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The key of the eventfd's events (sources are keyed by their slab index, far below).
const NOTIFY_KEY: u64 = u64::MAX;
/// The key of the timerfd's events.
const TIMER_KEY: u64 = u64::MAX - 1;

/// Events a source is registered for.
const INTEREST: epoll::EventFlags = epoll::EventFlags::IN
    .union(epoll::EventFlags::OUT)
    .union(epoll::EventFlags::RDHUP)
    .union(epoll::EventFlags::ET);

/// The epoll instance with its eventfd and timerfd.
pub(crate) struct Selector {
    epoll: OwnedFd,
    notifier: OwnedFd,
    /// True from a `notify` until the wait that sees its event: later notifications write
    /// nothing (one pending event already wakes the wait).
    notified: AtomicBool,
    timer: OwnedFd,
}

/// Most events one wait takes (the rest wait for the next).
const EVENTS_PER_WAIT: usize = 1024;

/// What one wait found: (key, flags) of each event. Copied out of `epoll::Event`s, which may
/// carry a pointer and so cannot move between threads, as a reactor's buffer must.
pub(crate) struct Events {
    list: Vec<(u64, epoll::EventFlags)>,
}

impl Events {
    pub(crate) fn new() -> Events {
        Events { list: Vec::with_capacity(EVENTS_PER_WAIT) }
    }

    /// The sources' events: (key, readiness). The eventfd's and timerfd's are left out.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, Ready)> + '_ {
        self.list.iter().filter_map(|&(key, flags)| {
            if key == NOTIFY_KEY || key == TIMER_KEY {
                return None;
            }
            use epoll::EventFlags as F;
            let ready = Ready {
                readable: flags.intersects(F::IN | F::PRI | F::RDHUP | F::HUP | F::ERR),
                writable: flags.intersects(F::OUT | F::HUP | F::ERR),
                read_closed: flags.intersects(F::RDHUP | F::HUP | F::ERR),
            };
            Some((key as usize, ready))
        })
    }

    /// The sources' events: how many.
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let notifier = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let timer =
            timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK)?;
        let edge = epoll::EventFlags::IN | epoll::EventFlags::ET;
        epoll::add(&epoll, &notifier, epoll::EventData::new_u64(NOTIFY_KEY), edge)?;
        epoll::add(&epoll, &timer, epoll::EventData::new_u64(TIMER_KEY), edge)?;
        Ok(Selector { epoll, notifier, notified: AtomicBool::new(false), timer })
    }

    /// Registers `fd` for both directions under `key`. Delete it before closing it.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        epoll::add(&self.epoll, fd, epoll::EventData::new_u64(key as u64), INTEREST)?;
        Ok(())
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.epoll, fd)?;
        Ok(())
    }

    /// Wakes a thread blocked in [`wait`](Selector::wait), or makes its next call return.
    pub(crate) fn notify(&self) -> io::Result<()> {
        if self.notified.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        match rustix::io::write(&self.notifier, &1u64.to_ne_bytes()) {
            // The counter is full (2^64 - 2 unread notifications): the eventfd is readable,
            // which is all a notification has to achieve.
            Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => {
                self.notified.store(false, Ordering::Release);
                Err(e.into())
            }
            Ok(_) => Ok(()),
        }
    }

    /// Waits up to `timeout` (forever for `None`) for events, into `events`.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let epoll_timeout = match timeout {
            Some(Duration::ZERO) => Some(Timespec { tv_sec: 0, tv_nsec: 0 }),
            Some(timeout) => {
                self.arm_timer(timeout)?;
                None
            }
            None => None,
        };
        let mut buffer = [MaybeUninit::<epoll::Event>::uninit(); EVENTS_PER_WAIT];
        let (found, _) = epoll::wait(&self.epoll, &mut buffer, epoll_timeout.as_ref())?;
        events.list.clear();
        events.list.extend(found.iter().map(|event| (event.data.u64(), event.flags)));
        if events.list.iter().any(|&(key, _)| key == NOTIFY_KEY) {
            // Drained before the flag is cleared: while the flag is set, either the eventfd is
            // readable or this wait is returning (and its caller looks for work next). The swap
            // reads the last `notify`'s write (acquire), so that caller sees the work the
            // notification was about.
            let mut counter = [0u8; 8];
            let drained = rustix::io::read(&self.notifier, &mut counter);
            self.notified.swap(false, Ordering::AcqRel);
            match drained {
                Ok(_) | Err(rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Makes the timerfd fire once, `timeout` from now. An earlier setting it replaces may have
    /// fired already: that event only makes one wait return early, as any spurious wake-up.
    fn arm_timer(&self, timeout: Duration) -> io::Result<()> {
        // A year is "never" to a runtime's timers, and fits every `time_t`.
        let timeout = timeout.min(Duration::from_secs(365 * 24 * 3600));
        let value = Itimerspec {
            it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: Timespec {
                tv_sec: timeout.as_secs() as _,
                // A zero value would disarm the timer; a nanosecond is as good as nothing.
                tv_nsec: timeout.subsec_nanos().max(u32::from(timeout.as_secs() == 0)) as _,
            },
        };
        timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &value)?;
        Ok(())
    }
}
