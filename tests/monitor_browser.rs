//! The web monitor (`rycos-monitor`) in a real browser: Debian's chromium, driven by
//! playwright-core (`monitor/tests/browser/browser.mjs`), against examples/monitor.rs's busy
//! demo. It sees the task table fill, a count change live without a reload, a filter by name,
//! and a task's detail, and saves a screenshot (`target/tmp/monitor.png`). `.ci/run` installs
//! chromium and playwright-core; where either is missing the test says so and does nothing.
mod common;
use common::*;

#[path = "../examples/monitor.rs"]
mod demo;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_monitor_page_fills_updates_live_filters_and_opens_a_task_in_a_browser() {
    let _w = watchdog(Duration::from_secs(120));
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("monitor/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (!browser_dir.join("node_modules/playwright-core").exists())
            .then_some("playwright-core (npm install in monitor/tests/browser)"),
        (!Path::new(&chromium).exists()).then_some("chromium (Debian package chromium)"),
        Command::new("node").arg("--version").output().is_err().then_some("node"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        eprintln!("SKIPPED: the browser test needs {} (.ci/run installs them)", missing.join(", "));
        return;
    }
    let rt = rt(2);
    let (nodes, monitor) = rt.block_on(async {
        let nodes = demo::start().await.unwrap();
        let monitor =
            rycos_monitor::Monitor::builder().node(&nodes.0).start(&rycos::Handle::current()).unwrap();
        (nodes, monitor)
    });
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("monitor.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .arg(browser_dir.join("browser.mjs"))
        .arg(monitor.url())
        .arg(&screenshot)
        .args(["worker-", "8"])
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser run failed:\n{stderr}\n{stdout}");
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(seen["rows"].as_u64().unwrap() > 0, "{seen}");
    assert_ne!(seen["before"], seen["after"], "the live count changed: {seen}");
    assert!(seen["spawnedAt"].as_str().unwrap().contains("examples/monitor.rs"), "{seen}");
    let png = std::fs::metadata(&screenshot).expect("the screenshot was saved");
    assert!(png.len() > 10_000, "a screenshot of {} bytes", png.len());
    monitor.stop();
    rt.block_on(async {
        nodes.0.shutdown().await;
        nodes.1.shutdown().await;
    });
}
