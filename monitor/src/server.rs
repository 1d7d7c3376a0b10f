//! The monitor's HTTP side: accepting connections, routing, the checks on actions.

use crate::api::{Node, Summary, Task, TaskQuery};
use crate::{assets, events};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use rycos::dist::NodeSnapshot;
use rycos::{Handle, TaskId};
use rycos_hyper::{RycosIo, RycosTimer};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What every connection of one monitor shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) runtime: Handle,
    token: Option<String>,
    pub(crate) node: Mutex<Option<rycos::dist::Node>>,
    pub(crate) period: Duration,
    stopped: AtomicBool,
    /// Wakes the accept loop and the event streams when the monitor stops.
    pub(crate) stop_event: rycos::sync::Event,
}

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

impl Shared {
    pub(crate) fn new(
        runtime: Handle,
        token: Option<String>,
        node: Mutex<Option<rycos::dist::Node>>,
        period: Duration,
    ) -> Shared {
        Shared {
            runtime,
            token,
            node,
            period,
            stopped: AtomicBool::new(false),
            stop_event: rycos::sync::Event::new(),
        }
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stop_event.set();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    fn node_snapshot(&self) -> Option<NodeSnapshot> {
        let node = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone();
        node.map(|node| node.snapshot())
    }

    /// The runtime summary, with the node's if one is attached.
    pub(crate) fn summary(&self) -> Summary {
        Summary::of(&self.runtime.snapshot(), self.node_snapshot().as_ref())
    }
}

/// Accepts connections until the monitor stops; each is served by a task of its own.
pub(crate) async fn accept_loop(shared: std::sync::Arc<Shared>, listener: rycos::net::TcpListener) {
    loop {
        let stopped = async {
            shared.stop_event.wait().await;
            None
        };
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, stopped).await;
        let stream = match accepted {
            None => return,
            Some(Ok((stream, _))) => stream,
            Some(Err(e)) => {
                // Out of descriptors, say: the connections there are may finish meanwhile.
                tracing::warn!(target: "rycos::monitor", error = %e, "accept failed");
                rycos::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        rycos::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(RycosTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(RycosIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(target: "rycos::monitor", error = %e, "a connection ended with an error");
            }
        });
    }
}

/// Answers one request.
async fn route(shared: &std::sync::Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let method = request.method().clone();
    let mut response = match (&method, path.as_str()) {
        (&Method::GET, "/" | "/index.html") => asset("text/html; charset=utf-8", assets::INDEX),
        (&Method::GET, "/app.js") => asset("text/javascript; charset=utf-8", assets::SCRIPT),
        (&Method::GET, "/style.css") => asset("text/css; charset=utf-8", assets::STYLE),
        (&Method::GET, "/favicon.svg" | "/favicon.ico") => asset("image/svg+xml", assets::ICON),
        (&Method::GET, "/api/runtime") => json(StatusCode::OK, &shared.summary()),
        (&Method::GET, "/api/tasks") => match TaskQuery::parse(&query) {
            Ok(query) => json(StatusCode::OK, &query.page(&shared.runtime.snapshot().tasks)),
            Err(e) => error(StatusCode::BAD_REQUEST, &e),
        },
        (&Method::GET, "/api/node") => match shared.node_snapshot() {
            Some(node) => json(StatusCode::OK, &Node::of(&node)),
            None => error(StatusCode::NOT_FOUND, "no node is attached to this monitor"),
        },
        (&Method::GET, "/api/events") => events::stream(shared.clone()),
        (_, path) if path.starts_with("/api/tasks/") => task_route(shared, &method, path, &request),
        (
            _,
            "/" | "/index.html" | "/app.js" | "/style.css" | "/favicon.svg" | "/api/runtime" | "/api/tasks"
            | "/api/node" | "/api/events",
        ) => error(StatusCode::METHOD_NOT_ALLOWED, "only GET here"),
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    };
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

/// `/api/tasks/{id}` and `/api/tasks/{id}/terminate`.
fn task_route(shared: &Shared, method: &Method, path: &str, request: &Request<Incoming>) -> Response<Body> {
    let rest = &path["/api/tasks/".len()..];
    let (id, action) = match rest.split_once('/') {
        Some((id, action)) => (id, Some(action)),
        None => (rest, None),
    };
    let Some(id) = id.parse::<u64>().ok().and_then(TaskId::from_u64) else {
        return error(StatusCode::NOT_FOUND, "not a task id");
    };
    match (method, action) {
        (&Method::GET, None) => {
            let snapshot = shared.runtime.snapshot();
            match snapshot.tasks.iter().find(|t| t.id == id) {
                Some(task) => json(StatusCode::OK, &Task::of(task)),
                None => error(StatusCode::NOT_FOUND, "no such task (it ended, or has not waited yet)"),
            }
        }
        (&Method::POST, Some("terminate")) => {
            if let Err(refused) = authorize(shared, request) {
                return refused;
            }
            match shared.runtime.task(id) {
                Some(task) => {
                    let terminated = task.terminate();
                    tracing::info!(target: "rycos::monitor", task = %id, "terminated through the monitor");
                    json(StatusCode::OK, &serde_json::json!({ "terminated": terminated }))
                }
                None => error(StatusCode::NOT_FOUND, "no such task (it ended, or has not waited yet)"),
            }
        }
        (_, None | Some("terminate")) => error(StatusCode::METHOD_NOT_ALLOWED, "not with this method"),
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// An action is allowed with the monitor's token from a page of the monitor itself.
#[allow(clippy::result_large_err)]
fn authorize(shared: &Shared, request: &Request<Incoming>) -> Result<(), Response<Body>> {
    let Some(token) = &shared.token else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "this monitor is read-only (start it with a token to allow actions)",
        ));
    };
    // A browser sends `Origin` with every POST: it must be this host (no other site's page may
    // act here, even if the user's browser has the token).
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same = host.is_some_and(|host| origin == format!("http://{host}"));
        if !same {
            return Err(error(StatusCode::FORBIDDEN, "a request from another origin"));
        }
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return Err(error(StatusCode::UNAUTHORIZED, "a missing or wrong token"));
    }
    Ok(())
}

/// Compares without stopping at the first difference (the time taken does not say how much of
/// a guess was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut differ = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        differ |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    differ == 0
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed_unsync());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("the API's types serialise");
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        use super::constant_time_eq as eq;
        assert!(eq(b"secret", b"secret"));
        assert!(!eq(b"secret", b"secreT"));
        assert!(!eq(b"secret", b"secret!"));
        assert!(!eq(b"", b"x"));
        assert!(eq(b"", b""));
    }
}
