//! The monitor's JSON API: the runtime summary, the task table with 100k tasks (filter, sort,
//! pages), a task's detail, the node, the event stream (and a client that leaves in the middle
//! of it), actions only with the token from the monitor's own origin, errors and headers.

#[path = "../../tests/common/watchdog.rs"]
mod watchdog;
use watchdog::watchdog;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use rycos::net::TcpStream;
use rycos::{Cx, Handle, TaskRef};
use rycos_hyper::RycosIo;
use rycos_monitor::Monitor;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

/// One request on a fresh connection; the response with its body read.
async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (Response<()>, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(RycosIo::new(stream)).await.unwrap();
    rycos::spawn(connection);
    let mut builder = Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response: Response<Incoming> =
        sender.send_request(builder.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), body)
}

async fn get_json(addr: SocketAddr, path: &str) -> (StatusCode, Value) {
    let (response, body) = request(addr, Method::GET, path, &[]).await;
    assert_eq!(response.headers()["content-type"], "application/json", "{path}");
    (response.status(), serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body:?}")))
}

/// Waits until the snapshot lists at least `n` tasks (tasks are listed once they have waited).
fn wait_listed(rt: &rycos::Runtime, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while rt.snapshot().tasks.len() < n {
        assert!(Instant::now() < deadline, "only {} tasks listed", rt.snapshot().tasks.len());
        std::thread::yield_now();
    }
}

#[test]
fn the_task_table_pages_filters_and_sorts_a_hundred_thousand_tasks() {
    let _w = watchdog(Duration::from_secs(120));
    const N: usize = if cfg!(debug_assertions) { 20_000 } else { 100_000 };
    let rt = runtime();
    let monitor = rycos_monitor::serve(rt.handle(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = monitor.addr();
    // N idle tasks, ten of them named and holding messages they do not read yet.
    let idle: Vec<TaskRef<u32>> = rt.block_on(async {
        (0..N)
            .map(|_| rycos::spawn_task(|cx: Cx<u32>| async move { while cx.receive().await.is_some() {} }))
            .collect()
    });
    let gate = Arc::new(rycos::sync::Event::new());
    let named: Vec<TaskRef<u32>> = (0..10)
        .map(|n| {
            let gate = gate.clone();
            rycos::task::Builder::new().name(format!("Needle-{n}")).on(rt.handle()).spawn_task(
                move |cx: Cx<u32>| async move {
                    gate.wait().await;
                    while cx.receive().await.is_some() {}
                },
            )
        })
        .collect();
    for (n, task) in named.iter().enumerate() {
        for m in 0..n as u32 {
            task.send(m).unwrap();
        }
    }
    wait_listed(&rt, N + 10);
    rt.block_on(async {
        let (status, summary) = get_json(addr, "/api/runtime").await;
        assert_eq!(status, StatusCode::OK);
        assert!(summary["live_tasks"].as_u64().unwrap() >= (N + 10) as u64, "{summary}");
        assert_eq!(summary["workers"].as_array().unwrap().len(), 2);
        assert!(summary["states"]["receiving"].as_u64().unwrap() >= N as u64, "{summary}");
        assert_eq!(summary["queued_messages"].as_u64(), Some(45), "0 + 1 + … + 9 messages queued");

        // The first page, and a later one.
        let (_, page) = get_json(addr, "/api/tasks").await;
        assert!(page["total"].as_u64().unwrap() >= (N + 10) as u64);
        assert_eq!(page["tasks"].as_array().unwrap().len(), 100, "100 rows a page by default");
        let (_, later) = get_json(addr, &format!("/api/tasks?offset={}&limit=1000", N - 1000)).await;
        assert_eq!(later["tasks"].as_array().unwrap().len(), 1000);
        assert_eq!(later["offset"].as_u64(), Some((N - 1000) as u64));
        let ids: Vec<u64> =
            later["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id by default");

        // Filter by a part of the name, any case, and by state; sort by mailbox, largest first.
        let (_, needles) = get_json(addr, "/api/tasks?name=nEEdle&sort=mailbox&order=desc").await;
        assert_eq!(needles["matched"].as_u64(), Some(10), "{needles}");
        let rows = needles["tasks"].as_array().unwrap();
        let mailboxes: Vec<u64> = rows.iter().map(|t| t["mailbox"].as_u64().unwrap()).collect();
        assert_eq!(mailboxes, (0..10).rev().collect::<Vec<u64>>());
        assert_eq!(rows[0]["name"], "Needle-9");
        assert_eq!(rows[0]["state"], "waiting");
        assert!(rows[0]["spawned_at"].as_str().unwrap().starts_with("monitor/tests/api.rs:"), "{}", rows[0]);
        let (_, waiting) = get_json(addr, "/api/tasks?state=waiting&name=needle").await;
        assert_eq!(waiting["matched"].as_u64(), Some(10));
        let (_, receiving) = get_json(addr, "/api/tasks?state=receiving&name=needle").await;
        assert_eq!(receiving["matched"].as_u64(), Some(0));

        // A task's detail, and one that is not there.
        let id = rows[0]["id"].as_u64().unwrap();
        let (status, task) = get_json(addr, &format!("/api/tasks/{id}")).await;
        assert_eq!((status, task["name"].as_str()), (StatusCode::OK, Some("Needle-9")));
        assert_eq!(task["mailbox"].as_u64(), Some(9));
        let (status, missing) = get_json(addr, "/api/tasks/999999999").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(missing["error"].is_string());

        // Bad queries are the client's mistake, said so.
        for bad in [
            "/api/tasks?sort=colour",
            "/api/tasks?state=sleepy",
            "/api/tasks?limit=many",
            "/api/tasks?order=up",
        ] {
            let (status, body) = get_json(addr, bad).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(body["error"].is_string(), "{bad}: {body}");
        }
        let (status, _) = get_json(addr, "/api/node").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no node attached");
    });
    gate.set();
    for task in idle.iter().chain(&named) {
        task.terminate();
    }
    monitor.stop();
}

#[test]
fn the_event_stream_sends_summaries_and_a_client_may_leave_in_the_middle() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = runtime();
    let monitor = rt.block_on(async {
        Monitor::builder().period(Duration::from_millis(50)).start(&Handle::current()).unwrap()
    });
    let addr = monitor.addr();
    let baseline = {
        // The monitor's own accept task, waiting.
        wait_listed(&rt, 1);
        rt.snapshot().tasks.len()
    };
    rt.block_on(async {
        for round in 0..20 {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(RycosIo::new(stream)).await.unwrap();
            let connection = rycos::spawn(connection);
            let request = Request::get("/api/events")
                .header("host", addr.to_string())
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.headers()["content-type"], "text/event-stream");
            let mut body = response.into_body();
            let mut text = String::new();
            // Three summaries: the first at once, then one a period.
            while text.matches("event: summary").count() < 3 {
                let frame = body.frame().await.expect("the stream goes on").unwrap();
                text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
            }
            let first = text.split("data: ").nth(1).unwrap().split("\n\n").next().unwrap();
            let summary: Value = serde_json::from_str(first).unwrap();
            assert!(summary["live_tasks"].as_u64().unwrap() >= 1, "{summary}");
            // Leave in the middle of the stream: half the time by dropping the body, half by
            // dropping the whole connection.
            if round % 2 == 0 {
                drop(body);
                drop(sender);
            } else {
                connection.abort();
                drop(body);
                drop(sender);
            }
        }
    });
    // Every stream's connection task on the server ends; the monitor serves on.
    let deadline = Instant::now() + Duration::from_secs(20);
    while rt.snapshot().tasks.len() > baseline {
        assert!(Instant::now() < deadline, "connection tasks left behind: {:#?}", rt.snapshot().tasks);
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, _) = rt.block_on(get_json(addr, "/api/runtime"));
    assert_eq!(status, StatusCode::OK);
    monitor.stop();
}

#[test]
fn terminating_needs_the_token_from_the_monitors_own_origin() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = runtime();
    let victim = rt.block_on(async { rycos::spawn_task(|cx: Cx<u32>| async move { cx.receive().await }) });
    wait_listed(&rt, 1);
    let path = format!("/api/tasks/{}/terminate", victim.id().as_u64());
    rt.block_on(async {
        let read_only = Monitor::builder().start(&Handle::current()).unwrap();
        let (response, _) =
            request(read_only.addr(), Method::POST, &path, &[("authorization", "Bearer anything")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "a monitor without a token is read-only");
        read_only.stop();

        let monitor = Monitor::builder().token("s3cret").start(&Handle::current()).unwrap();
        let addr = monitor.addr();
        let origin = format!("http://{addr}");
        let (response, _) = request(addr, Method::POST, &path, &[]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "no token");
        let (response, _) = request(addr, Method::POST, &path, &[("authorization", "Bearer s3cre")]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a wrong token");
        let (response, _) = request(
            addr,
            Method::POST,
            &path,
            &[("authorization", "Bearer s3cret"), ("origin", "http://evil.example")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "another site's page");
        assert!(victim.is_alive(), "nothing above touched the task");
        let (response, body) =
            request(addr, Method::POST, &path, &[("authorization", "Bearer s3cret"), ("origin", &origin)])
                .await;
        assert_eq!(response.status(), StatusCode::OK, "{body:?}");
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["terminated"], true);
        let (response, _) = request(addr, Method::GET, &path, &[]).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        monitor.stop();
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while victim.is_alive() {
        assert!(Instant::now() < deadline, "the task was not terminated");
        std::thread::yield_now();
    }
}

#[test]
fn pages_come_with_safe_headers_and_unknown_paths_are_404() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = runtime();
    rt.block_on(async {
        let monitor = Monitor::builder().start(&Handle::current()).unwrap();
        let addr = monitor.addr();
        for (path, kind) in [
            ("/", "text/html; charset=utf-8"),
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
        ] {
            let (response, body) = request(addr, Method::GET, path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()["content-type"], kind, "{path}");
            assert!(!body.is_empty());
            let csp = response.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
            assert_eq!(response.headers()["x-frame-options"], "DENY");
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        }
        let (response, body) = request(addr, Method::GET, "/", &[]).await;
        let html = String::from_utf8_lossy(&body);
        assert!(
            html.contains("<script src=\"/app.js\">")
                && !html.contains("http://")
                && !html.contains("https://"),
            "the page loads only its own files"
        );
        assert_eq!(response.status(), StatusCode::OK);
        let (response, _) = request(addr, Method::GET, "/etc/passwd", &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (response, _) = request(addr, Method::DELETE, "/api/runtime", &[]).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        monitor.stop();
    });
}

#[test]
fn with_a_node_the_monitor_shows_its_peers_and_names() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = runtime();
    rt.block_on(async {
        let node = |name: &'static str| {
            rycos::dist::Node::builder()
                .name(name)
                .listen("127.0.0.1:0".parse().unwrap())
                .secret("monitor test")
                .start()
        };
        let (a, b) = (node("a").await.unwrap(), node("b").await.unwrap());
        b.peer(a.location().addr()).await.unwrap();
        let sink = rycos::spawn_task(|cx: Cx<u64>| async move { while cx.receive().await.is_some() {} });
        a.register("sink", &sink).unwrap();
        let monitor = Monitor::builder().start(&Handle::current()).unwrap().with_node(&a);
        // `b.peer` returns once b's side is up; a's side finishes its half of the link meanwhile.
        let deadline = Instant::now() + Duration::from_secs(10);
        let node_json = loop {
            let (status, node_json) = get_json(monitor.addr(), "/api/node").await;
            assert_eq!(status, StatusCode::OK);
            if node_json["peers"][0]["state"] == "up" {
                break node_json;
            }
            assert!(Instant::now() < deadline, "the link never showed up: {node_json}");
            rycos::time::sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(node_json["location"], a.location().to_string());
        let peers = node_json["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 1, "{node_json}");
        assert_eq!(peers[0]["location"], b.location().to_string());
        assert_eq!(node_json["names"][0]["name"], "sink");
        assert_eq!(node_json["names"][0]["task"].as_u64(), Some(sink.id().as_u64()));
        let (_, summary) = get_json(monitor.addr(), "/api/runtime").await;
        assert_eq!(summary["node"]["location"], a.location().to_string(), "the summary carries the node");
        monitor.stop();
        sink.terminate();
        a.shutdown().await;
        b.shutdown().await;
    });
}
