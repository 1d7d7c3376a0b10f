//! examples/hyper_server.rs, run as a test: its routes through hyper's client on rycos, many
//! requests on one keep-alive connection, and `wrk` as a real client.
mod common;
use common::*;

#[path = "../examples/hyper_server.rs"]
mod hyper_server;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use rycos::net::{TcpListener, TcpStream};
use rycos_hyper::RycosIo;
use std::time::Duration;

fn start(rt: &rycos::Runtime) -> std::net::SocketAddr {
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0").unwrap() });
    let addr = listener.local_addr().unwrap();
    rt.spawn(hyper_server::serve(listener));
    addr
}

#[test]
fn the_hyper_example_answers_its_routes_on_one_keep_alive_connection() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = start(&rt);
    rt.block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(RycosIo::new(stream)).await.unwrap();
        rycos::spawn(connection);
        let mut get = async |path: &str| {
            sender.ready().await.unwrap();
            let request =
                Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status();
            (status, response.into_body().collect().await.unwrap().to_bytes())
        };
        assert_eq!(get("/").await, (StatusCode::OK, Bytes::from("hello from rycos\n")));
        let (status, body) = get("/tasks").await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).contains("live tasks on 2 workers"), "{body:?}");
        assert_eq!(get("/nowhere").await.0, StatusCode::NOT_FOUND);
        for _ in 0..50 {
            assert_eq!(get("/").await.0, StatusCode::OK);
        }
        sender.ready().await.unwrap();
        let echo = Request::post("/echo")
            .header("host", "localhost")
            .body(Full::new(Bytes::from("some body")))
            .unwrap();
        let response = sender.send_request(echo).await.unwrap();
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "some body");
    });
}

#[test]
fn the_hyper_example_serves_wrk() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let addr = start(&rt);
    if let Some(requests) = common::tools::wrk(&format!("http://{addr}/"), 50) {
        assert!(requests > 100, "{requests} requests");
    }
}
