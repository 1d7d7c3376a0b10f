//! hyper on rycos: an HTTP/1.1 server with a few routes, keep-alive and a header timeout —
//! hyper does the HTTP, rycos the tasks, sockets and timers (`rycos-hyper`; HTTP/2 over TLS is
//! in `hyper/tests/http.rs`).
//!
//! ```text
//! cargo run --release --example hyper_server -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/                 # hello
//! curl -d 'some body' http://127.0.0.1:3000/echo
//! curl http://127.0.0.1:3000/tasks            # the runtime's live tasks, counted
//! wrk -t1 -c100 -d10s http://127.0.0.1:3000/
//! ```
//!
//! It prints `listening on <addr>` once it accepts connections (port 0 picks a free one) and
//! serves until killed.

#[path = "support/logging.rs"]
mod logging;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use rycos::net::TcpListener;
use rycos_hyper::{RycosIo, RycosTimer};
use std::net::SocketAddr;
use std::time::Duration;

/// Answers one request.
async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from_static(b"hello from rycos\n"))),
        (&Method::POST, "/echo") => {
            let body = request.into_body().collect().await?.to_bytes();
            Response::new(Full::new(body))
        }
        (&Method::GET, "/tasks") => {
            let snapshot = rycos::Handle::current().snapshot();
            let text = format!("{} live tasks on {} workers\n", snapshot.live_tasks, snapshot.workers.len());
            Response::new(Full::new(Bytes::from(text)))
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

// Unused where a test includes this file for `serve`.
#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    logging::init();
    let addr: SocketAddr =
        std::env::args().nth(1).as_deref().unwrap_or("127.0.0.1:3000").parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not an address: {e}"))
        })?;
    let rt = rycos::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr)?;
        println!("listening on {}", listener.local_addr()?);
        serve(listener).await;
        Ok(())
    })
}

/// Serves every connection `listener` accepts, each in a task of its own.
pub async fn serve(listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: let the connections there are finish some work.
                tracing::warn!(error = %e, "accept failed");
                rycos::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        rycos::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(RycosTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(RycosIo::new(stream), hyper::service::service_fn(route))
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
