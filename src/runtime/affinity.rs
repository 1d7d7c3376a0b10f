//! Pinning worker threads to CPUs ([`Builder::pin_workers`](super::Builder::pin_workers)).
//!
//! Why a runtime would pin: Linux places a woken thread near its waker when the CPUs look
//! busy, and then keeps a busy thread where it is while it is "cache hot". On the 2-vCPU
//! machine of our benchmarks that put both workers of a runtime on one CPU, with the other
//! idle, for whole 10 ms runs in about one process in five (seen with `sched_getcpu`; tokio's
//! workers get the same treatment). Pinned workers cannot be stacked that way; the price is
//! that a pinned worker cannot move off a CPU that other programs keep busy, which is why it
//! is not the default.

use std::io;

/// The CPUs this thread may run on, in ascending order.
pub(super) fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = rustix::thread::sched_getaffinity(None)?;
    let cpus: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU).filter(|&cpu| set.is_set(cpu)).collect();
    if cpus.is_empty() {
        return Err(io::Error::other("this thread may run on no CPU at all"));
    }
    Ok(cpus)
}

/// Restricts the calling thread to `cpu`.
pub(super) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}
