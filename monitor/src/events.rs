//! `GET /api/events`: a server-sent event stream with a `summary` (what `/api/runtime` says) at
//! once and then every period. The page's live updates; a client that goes away ends it (hyper
//! drops the body with the connection), and so does stopping the monitor.

use crate::server::{Body, Shared};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Response;
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) fn stream(shared: Arc<Shared>) -> Response<Body> {
    let interval = {
        let _in_runtime = shared.runtime.enter();
        rycos::time::interval(shared.period)
    };
    let mut response = Response::new(Summaries { shared, interval }.boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

/// The stream's body: one summary event per tick (the first tick is at once).
struct Summaries {
    shared: Arc<Shared>,
    interval: rycos::time::Interval,
}

impl hyper::body::Body for Summaries {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.shared.is_stopped() {
            return Poll::Ready(None);
        }
        std::task::ready!(this.interval.poll_tick(cx));
        if this.shared.is_stopped() {
            return Poll::Ready(None);
        }
        let summary = serde_json::to_string(&this.shared.summary()).expect("the summary serialises");
        let event = format!("event: summary\ndata: {summary}\n\n");
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(event)))))
    }
}
