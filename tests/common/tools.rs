//! Real clients the tests drive (`ab`, `wrk`), found on the machine (`.ci/run` installs them).

/// Runs `program` with `args` and returns what it printed; `None` (said loudly) if it is not
/// installed. A failing run fails the test.
pub fn run_tool(program: &str, args: &[String]) -> Option<String> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(out.status.success(), "{program} failed: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: `{program}` is not installed (.ci/run installs it: apache2-utils, wrk)");
            None
        }
        Err(e) => panic!("{program}: {e}"),
    }
}

/// The value after `name` on the first line of `report` that starts with it.
pub fn field<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} in {report}"))
}

/// One second of `wrk` (one thread, `connections` connections) against `url`: the requests it
/// completed, after checking it saw no socket errors and no answer but 2xx; `None` without wrk.
pub fn wrk(url: &str, connections: usize) -> Option<u64> {
    let args =
        ["-t", "1", "-c", &connections.to_string(), "-d", "1s", "--timeout", "5s", url].map(String::from);
    let report = run_tool("wrk", &args)?;
    assert!(!report.contains("Socket errors") && !report.contains("Non-2xx"), "{report}");
    let requests = report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    Some(requests)
}
