//! `GET /v1/events/stream`: the feed as Server-Sent Events.
//!
//! Each event is `id: <seq>`, `event: <type>`, `data: <envelope JSON>`;
//! a comment line keeps an idle connection alive every [`KEEPALIVE`].
//!
//! Bounded per client: the body is pulled, one page of at most
//! [`STREAM_PAGE`] events at a time, only when the connection has taken
//! the previous one, so a slow client holds at most one page in memory
//! and never an unbounded buffer. A client so slow that its cursor falls
//! behind the retention is sent `event: gone` and dropped (it resumes
//! with `GET /v1/events`, which answers 410 so it knows it missed events).
//! A page older than the events in memory is read from the event store
//! on the blocking pool; a store that cannot be read ends the stream.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use futures::Stream;
use orch_events::feed::FeedError;
use orch_events::{Event, TypeSet};
use tokio::sync::watch;

use super::Events;

/// Most events per chunk written to one client.
pub const STREAM_PAGE: usize = 100;

/// How long an idle stream waits before a keep-alive comment.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// The SSE lines of one event.
pub fn sse_event(e: &Event) -> Vec<u8> {
    let mut out = format!("id: {}\nevent: {}\ndata: ", e.seq, e.kind).into_bytes();
    out.extend_from_slice(&e.to_json());
    out.extend_from_slice(b"\n\n");
    out
}

struct State {
    events: Arc<Events>,
    rx: watch::Receiver<u64>,
    after: Option<u64>,
    types: TypeSet,
    done: bool,
}

/// The body of an SSE response: the events after `after` (from the oldest
/// kept when `None`) that pass `types`, then every new one as it comes.
pub fn sse(
    events: Arc<Events>,
    after: Option<u64>,
    types: TypeSet,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let mut rx = events.subscribe();
    rx.borrow_and_update();
    let state = State {
        events,
        rx,
        after,
        types,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.events.page_async(st.after, STREAM_PAGE, st.types).await {
                Err(FeedError::Unreadable) => return None,
                Err(FeedError::Gone { oldest_after }) => {
                    st.done = true;
                    let chunk = format!(
                        "event: gone\ndata: {{\"code\":\"gone\",\"oldest_after\":{oldest_after}}}\n\n"
                    );
                    return Some((Ok(Bytes::from(chunk)), st));
                }
                Ok(page) => {
                    st.after = Some(page.next);
                    if !page.events.is_empty() {
                        let mut chunk = Vec::new();
                        for e in &page.events {
                            chunk.extend(sse_event(e));
                        }
                        return Some((Ok(Bytes::from(chunk)), st));
                    }
                }
            }
            match tokio::time::timeout(KEEPALIVE, st.rx.changed()).await {
                Ok(Ok(())) => {
                    st.rx.borrow_and_update();
                }
                Ok(Err(_)) => return None,
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st)),
            }
        }
    })
}
