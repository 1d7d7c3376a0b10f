//! Child processes: early exits, children that never read, big outputs on both streams at
//! once, pipelines, streaming through a child.
mod common;
use common::*;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use rycos::process::{Command, Pipeline};
use std::time::Duration;

fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

#[test]
fn a_child_that_exits_early_reports_its_status_and_the_rest_of_the_input_is_discarded() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let out = rt.block_on(async {
        sh("head -c 10 >/dev/null; exit 3").spawn_piped().unwrap().communicate(vec![b'x'; 4 << 20]).await
    });
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_child_that_never_reads_its_stdin_does_not_deadlock_communicate() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let out = rt.block_on(async {
        sh("sleep 0.2; echo done; echo oops >&2")
            .spawn_piped()
            .unwrap()
            .communicate(vec![b'x'; 4 << 20])
            .await
    });
    let out = out.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"done\n");
    assert_eq!(out.stderr, b"oops\n");
}

#[test]
fn large_outputs_on_stdout_and_stderr_at_the_same_time() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let out = rt.block_on(async {
        sh("(head -c 8000000 /dev/zero | tr '\\0' a) & (head -c 6000000 /dev/zero | tr '\\0' b >&2); wait")
            .output()
            .await
    });
    let out = out.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 8_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'a'));
    assert_eq!(out.stderr.len(), 6_000_000);
    assert!(out.stderr.iter().all(|&b| b == b'b'));
}

#[test]
fn a_pipeline_of_three_stages() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let input: String =
        (0..10_000).map(|i| format!("line {i} {}\n", if i % 7 == 0 { "seven" } else { "other" })).collect();
    let out = rt.block_on(async {
        let mut grep = Command::new("grep");
        grep.arg("seven");
        let mut wc = Command::new("wc");
        wc.arg("-l");
        Pipeline::new().stage(Command::new("cat")).stage(grep).stage(wc).run(input.into_bytes()).await
    });
    let out = out.unwrap();
    assert!(out.success(), "{:?}", out.statuses);
    assert_eq!(out.statuses.len(), 3);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        (0..10_000).filter(|i| i % 7 == 0).count().to_string()
    );
}

#[test]
fn streaming_through_a_child_line_by_line() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let mut cat = Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = cat.stdin.take().unwrap();
        let mut lines = futures::io::BufReader::new(cat.stdout.take().unwrap()).lines();
        for i in 0..100 {
            stdin.write_all(format!("ping {i}\n").as_bytes()).await.unwrap();
            stdin.flush().await.unwrap();
            use futures::StreamExt;
            assert_eq!(lines.next().await.unwrap().unwrap(), format!("ping {i}"));
        }
        drop(stdin);
        assert!(cat.wait().await.unwrap().success());
    });
}

#[test]
fn wait_kill_and_missing_programs() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(sleeper.try_wait().unwrap().is_none());
        sleeper.kill().unwrap();
        let status = sleeper.wait().await.unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));

        let err = Command::new("/nonexistent/program").spawn().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);

        // Many children waited for at once, each by its own task, without a thread each.
        let waits: Vec<_> = (0..50)
            .map(|i| {
                rycos::spawn(async move { sh(&format!("exit {}", i % 5)).status().await.unwrap().code() })
            })
            .collect();
        for (i, w) in waits.into_iter().enumerate() {
            assert_eq!(w.await.unwrap(), Some(i as i32 % 5));
        }
    });
}

#[test]
fn reading_a_child_s_output_in_pieces() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let mut child =
            sh("printf abc; sleep 0.05; printf def").stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut all = String::new();
        stdout.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "abcdef");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn communicate_collects_a_large_output_whole() {
    // 48 MiB through `cat`: quadratic reading (futures-lite's read_to_end re-zeroed the spare
    // room after every pipe-sized chunk) took tens of seconds for this; the watchdog is generous
    // for a slow CI machine, and the assertion is about the bytes.
    let _w = watchdog(Duration::from_secs(60));
    let rt = common::rt(2);
    let input: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
    let out = rt
        .block_on(async { Command::new("cat").spawn_piped().unwrap().communicate(input.clone()).await })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "the bytes came back in order");
}

/// The state letter of process `pid` (`R`, `S`, `Z` for a zombie…), `None` once it is gone
/// (exited and reaped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the comm may hold spaces and parentheses; the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits (bounded) until `pid` is gone. Nothing signals "reaped by someone else", so this looks.
fn wait_until_gone(pid: u32) -> Result<(), char> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match process_state(pid) {
            None => return Ok(()),
            Some(state) if std::time::Instant::now() > deadline => return Err(state),
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Children of this process whose command line holds `marker`.
fn children_with(marker: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid =
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid.as_deref() == Some(&me) && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_dropped_child_is_reaped_in_the_background_not_left_a_zombie() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = common::rt(2);
    rt.block_on(async {
        // Exits at once; nobody waits for it.
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        drop(child);
        assert_eq!(wait_until_gone(pid), Ok(()), "the exited child was reaped");

        // Still running when dropped: it runs on (no kill_on_drop), and is reaped once it ends.
        let child = sh("read line").stdin(std::process::Stdio::piped()).spawn().unwrap();
        let pid = child.id();
        drop(child); // closes its stdin too: `read` ends, the shell exits
        assert_eq!(wait_until_gone(pid), Ok(()), "reaped after it exited on its own");
    });
}

#[test]
fn kill_on_drop_kills_a_dropped_child_and_the_default_lets_it_run() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = common::rt(2);
    rt.block_on(async {
        let killed = Command::new("sleep").arg("30.101").kill_on_drop(true).spawn().unwrap();
        let pid = killed.id();
        drop(killed);
        assert_eq!(wait_until_gone(pid), Ok(()), "killed and reaped");

        let kept = Command::new("sleep").arg("30.102").spawn().unwrap();
        let pid = kept.id();
        drop(kept);
        // Time for a wrong kill to land: "still running" can only be seen by looking later.
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(process_state(pid), Some('S' | 'R')), "runs on: {:?}", process_state(pid));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid as i32).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        assert_eq!(wait_until_gone(pid), Ok(()), "and is reaped when it ends");
    });
}

#[test]
fn a_pipeline_whose_later_stage_cannot_start_kills_and_reaps_the_earlier_ones() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = common::rt(2);
    rt.block_on(async {
        let mut first = Command::new("sleep");
        first.arg("30.103");
        let mut second = Command::new("cat");
        second.arg("-");
        let missing = Command::new("/nonexistent/rycos-stage");
        let err =
            Pipeline::new().stage(first).stage(second).stage(missing).run(b"x".to_vec()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(err.to_string().contains("stage 2"), "{err}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !children_with("30.103").is_empty() {
            assert!(std::time::Instant::now() < deadline, "the first stage is still there");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}
