//! Reaping children nobody waits for: a [`Child`](super::Child) dropped before it was waited for
//! is adopted here, so it never lingers as a zombie (tokio does the same).
//!
//! One thread, started with the first orphan, waits for every adopted child's exit through its
//! pidfd (Linux 5.3+) with `poll(2)`, and collects the status with `try_wait`, which waits for
//! that one child only: statuses of children the program still waits for itself are never
//! taken. An eventfd tells it of new orphans. Where pidfds are missing it looks every 100 ms.
//! With no orphans left it blocks in `poll` on the eventfd alone and uses no CPU.

use parking_lot::Mutex;
use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd, poll};
use rustix::fd::OwnedFd;
use rustix::process::{Pid, PidfdFlags, pidfd_open};
use std::process::Child;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often children without a pidfd are looked at.
const WITHOUT_PIDFD: Duration = Duration::from_millis(100);

/// Where dropped children wait for the reaper thread.
struct Inbox {
    arrivals: Mutex<Vec<Child>>,
    /// An eventfd, written to announce an arrival.
    wake: OwnedFd,
}

/// Takes `child` over: it is reaped as soon as it exits. (Kill it first if it is to end now.)
pub(super) fn adopt(mut child: Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return; // already gone, and now reaped
    }
    let Some(inbox) = inbox() else {
        // No thread could be started (out of threads or descriptors): wait right here rather
        // than leave a zombie. Only reached when the system is already failing.
        let _ = child.wait();
        return;
    };
    inbox.arrivals.lock().push(child);
    let _ = rustix::io::write(&inbox.wake, &1u64.to_ne_bytes());
}

fn inbox() -> Option<&'static Arc<Inbox>> {
    static INBOX: OnceLock<Option<Arc<Inbox>>> = OnceLock::new();
    INBOX
        .get_or_init(|| {
            let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok()?;
            let inbox = Arc::new(Inbox { arrivals: Mutex::new(Vec::new()), wake });
            let theirs = inbox.clone();
            std::thread::Builder::new().name("rycos-reaper".into()).spawn(move || run(&theirs)).ok()?;
            Some(inbox)
        })
        .as_ref()
}

/// An adopted child and, where the system has them, the descriptor that becomes readable when
/// it exits.
struct Orphan {
    child: Child,
    exit: Option<OwnedFd>,
}

fn run(inbox: &Inbox) {
    let mut orphans: Vec<Orphan> = Vec::new();
    loop {
        for child in std::mem::take(&mut *inbox.arrivals.lock()) {
            let exit =
                Pid::from_raw(child.id() as i32).and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
            orphans.push(Orphan { child, exit });
        }
        orphans.retain_mut(|orphan| matches!(orphan.child.try_wait(), Ok(None)));
        let mut fds = Vec::with_capacity(orphans.len() + 1);
        fds.push(PollFd::new(&inbox.wake, PollFlags::IN));
        fds.extend(orphans.iter().filter_map(|o| o.exit.as_ref()).map(|fd| PollFd::new(fd, PollFlags::IN)));
        let timeout = orphans
            .iter()
            .any(|o| o.exit.is_none())
            .then(|| Timespec { tv_sec: 0, tv_nsec: WITHOUT_PIDFD.as_nanos() as _ });
        let _ = poll(&mut fds, timeout.as_ref());
        let announced = fds[0].revents().contains(PollFlags::IN);
        drop(fds);
        if announced {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&inbox.wake, &mut count);
        }
    }
}
