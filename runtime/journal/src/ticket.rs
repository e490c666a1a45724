//! [`Ticket`]: the caller's handle on an append or flush.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::JournalError;

/// Resolves to the sequence number of an append (the last one, for
/// [`crate::Journal::append_batch`]; the last acknowledged one, for
/// [`crate::Journal::flush`]) once it is durable in the journal's
/// [`crate::Mode`], or to the error that kept it from being written.
///
/// `await` it from async code, or call [`Ticket::wait`] from a plain
/// thread. Dropping a ticket does not cancel the append.
#[must_use = "a ticket resolves when the record is durable; dropping it ignores the outcome"]
#[derive(Debug)]
pub struct Ticket(Inner);

#[derive(Debug)]
enum Inner {
    Ready(Option<Result<u64, JournalError>>),
    Pending(oneshot::Receiver<Result<u64, JournalError>>),
}

impl Ticket {
    pub(crate) fn ready(result: Result<u64, JournalError>) -> Ticket {
        Ticket(Inner::Ready(Some(result)))
    }

    pub(crate) fn pending(rx: oneshot::Receiver<Result<u64, JournalError>>) -> Ticket {
        Ticket(Inner::Pending(rx))
    }

    /// Blocks the calling thread until the ticket resolves.
    ///
    /// # Panics
    ///
    /// Must not be called from inside an async runtime (a tokio or actix
    /// worker thread): it would block that thread, and it is built on
    /// `tokio::sync::oneshot::Receiver::blocking_recv`, which panics there
    /// when the ticket is still pending. `.await` the ticket in async code.
    pub fn wait(self) -> Result<u64, JournalError> {
        match self.0 {
            Inner::Ready(r) => r.unwrap_or(Err(JournalError::Closed)),
            Inner::Pending(rx) => rx.blocking_recv().unwrap_or(Err(JournalError::Closed)),
        }
    }
}

impl Future for Ticket {
    type Output = Result<u64, JournalError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Inner::Ready(r) => Poll::Ready(r.take().expect("Ticket polled after completion")),
            Inner::Pending(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(JournalError::Closed))),
        }
    }
}
