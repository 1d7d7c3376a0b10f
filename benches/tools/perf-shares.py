#!/usr/bin/env python3
"""Where a server's CPU time goes, by who asked for it: the kernel's send and receive paths, the
event loop's waits, the runtime's own code, the HTTP library, the allocator.

    perf record -g -p <server pid> -o rycos.data -- sleep 5     # while the load runs
    python3 benches/tools/perf-shares.py rycos.data tokio.data

Each sample is put in the first group whose pattern matches its stack (kernel frames first,
then the leaf's symbol for user space). BENCHMARKS.md ("HTTP") uses it to bound what any
runtime could gain on hyper's hello world: the runtime's share of tokio's server.
"""
import collections
import re
import subprocess
import sys

# Kernel samples, by the system call (or wait) in their stack.
KERNEL = [
    ("kernel: send (and loopback delivery)", r"\b(__sys_sendto|do_writev|__sys_sendmsg|tcp_sendmsg)\b"),
    ("kernel: receive", r"\b(__sys_recvfrom|do_readv|__sys_recvmsg|tcp_recvmsg)\b"),
    ("kernel: epoll wait", r"\b(do_epoll_wait|do_epoll_pwait|ep_poll)\b"),
    ("kernel: futex (park/unpark)", r"\b(do_futex|futex_wait|futex_wake)\b"),
    ("kernel: eventfd/timerfd", r"\b(eventfd_\w+|timerfd_\w+|do_timerfd_settime)\b"),
    ("kernel: scheduler", r"\b(schedule|finish_task_switch\S*|__schedule)\b"),
    ("kernel: softirq (network)", r"\b(net_rx_action|handle_softirqs)\b"),
    ("kernel: memory", r"\b(do_madvise|__x64_sys_madvise|do_user_addr_fault|exc_page_fault)\b"),
]

# User-space samples, by the leaf's symbol.
USER = [
    ("user: runtime", r"tokio::|rycos::|<F as rycos|crossbeam|parking_lot|polling::|mio::"),
    ("user: HTTP (hyper, http, httparse, bytes)", r"hyper|http::|httparse|bytes::|http_body|want::"),
    ("user: allocator and memcpy", r"malloc|free|memmove|memcpy|memset|_int_|arena|tcache"),
    ("user: libc system-call stubs and clock", r"__send|__libc_recv|writev|epoll|syscall|clock_gettime|futex|__GI_"),
]


def shares(path):
    script = subprocess.run(
        ["perf", "script", "-i", path, "-F", "ip,sym,dso"], capture_output=True, text=True, check=True
    ).stdout
    counts, total = collections.Counter(), 0
    for sample in script.split("\n\n"):
        frames = [line.strip() for line in sample.strip().splitlines() if line.strip()]
        if not frames:
            continue
        total += 1
        leaf = frames[0]
        if "kernel" in leaf:
            stack = " ".join(frames)
            group = next((name for name, pattern in KERNEL if re.search(pattern, stack)), "kernel: other")
        else:
            symbol = leaf.split(" ", 1)[1] if " " in leaf else leaf
            group = next((name for name, pattern in USER if re.search(pattern, symbol)), "user: other")
        counts[group] += 1
    return counts, total


def main():
    results = [(path, *shares(path)) for path in sys.argv[1:]]
    groups = sorted({g for _, counts, _ in results for g in counts})
    print(f"{'':44}" + "".join(f"{path[-20:]:>22}" for path, _, _ in results))
    for group in groups:
        row = "".join(f"{100 * counts[group] / total:>21.1f}%" for _, counts, total in results)
        print(f"{group:44}{row}")
    print(f"{'samples':44}" + "".join(f"{total:>22}" for _, _, total in results))


if __name__ == "__main__":
    main()
