//! `Builder::pin_workers`: each worker runs on one CPU of its own; without it, workers may run
//! on every CPU the process may use.
mod common;
use common::*;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// The CPUs the calling thread may run on, from `/proc/thread-self/status`.
fn allowed_cpus_of_this_thread() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("a Cpus_allowed_list line")
        .trim();
    let mut cpus = Vec::new();
    for range in list.split(',') {
        match range.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()),
            None => cpus.push(range.parse().unwrap()),
        }
    }
    cpus
}

/// The allowed CPUs seen from inside a task on each of the runtime's two workers. The tasks
/// wait for each other, so they cannot both run on the same worker.
fn allowed_cpus_of_both_workers(rt: &rycos::Runtime) -> Vec<Vec<usize>> {
    let meet = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let meet = meet.clone();
            rt.spawn(async move {
                let cpus = allowed_cpus_of_this_thread();
                meet.wait(); // blocks the worker on purpose: the other task needs the other one
                cpus
            })
        })
        .collect();
    tasks.into_iter().map(|t| t.join_blocking().unwrap()).collect()
}

#[test]
fn pinned_workers_each_run_on_one_cpu_of_their_own() {
    let _w = watchdog(Duration::from_secs(10));
    let process_cpus = allowed_cpus_of_this_thread();
    let rt = rycos::Runtime::builder().worker_threads(2).pin_workers(true).build().unwrap();
    let seen = allowed_cpus_of_both_workers(&rt);
    for cpus in &seen {
        assert_eq!(cpus.len(), 1, "a pinned worker may run on exactly one CPU, got {cpus:?}");
        assert!(process_cpus.contains(&cpus[0]), "pinned to {cpus:?}, outside {process_cpus:?}");
    }
    if process_cpus.len() >= 2 {
        assert_ne!(seen[0], seen[1], "two workers pinned to the same CPU");
    }
    // The runtime works as usual.
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..100u64).map(|i| rycos::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

#[test]
fn unpinned_workers_may_run_on_every_cpu_of_the_process() {
    let _w = watchdog(Duration::from_secs(10));
    let process_cpus = allowed_cpus_of_this_thread();
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    for cpus in allowed_cpus_of_both_workers(&rt) {
        assert_eq!(cpus, process_cpus);
    }
}
