//! Idempotency keys (receipt and adjustment ids; client order and hold
//! ids, with the number each names): a key is *claimed* by the first
//! request that carries it and *seen* only once that request's change was
//! applied.
//!
//! A second request with a key still in flight waits for the first one's
//! outcome instead of answering `duplicate` at once: when the first is
//! applied the second is a duplicate; when the first is refused (or its
//! request is dropped midway) the key is free again and the second
//! request applies it itself. So a `duplicate` answer always vouches for
//! a change that was made.

use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use tokio::sync::watch;

/// What a key is now.
#[derive(Debug)]
enum Slot<V> {
    /// A request carrying it is being applied; its outcome is sent on the
    /// channel (`Some(true)` applied, `Some(false)` refused).
    InFlight(watch::Receiver<Option<bool>>),
    /// Its change was applied, with this value (what it names).
    Seen(V),
}

/// The keys of one kind of request, each seen with a value `V` (the
/// number of what it created; `()` for receipts and adjustments).
#[derive(Debug)]
pub struct Keys<V = ()> {
    map: DashMap<Arc<str>, Slot<V>>,
}

impl<V> Default for Keys<V> {
    fn default() -> Self {
        Keys {
            map: DashMap::new(),
        }
    }
}

/// The answer of [`Keys::claim`].
#[derive(Debug)]
pub enum Claim<'a, V = ()> {
    /// The key is this request's to apply; say how it went on the guard.
    Mine(KeyGuard<'a, V>),
    /// The key's change was applied already (with this value): a
    /// duplicate or a replay.
    Seen(V),
}

/// A claimed key. Dropped without [`KeyGuard::applied`], it is released
/// (as by [`KeyGuard::refused`]).
#[derive(Debug)]
pub struct KeyGuard<'a, V = ()> {
    keys: &'a Keys<V>,
    key: Arc<str>,
    outcome: watch::Sender<Option<bool>>,
    done: bool,
}

impl Keys<()> {
    /// Keys whose changes were applied before (what recovery found).
    pub fn seen(keys: impl IntoIterator<Item = Arc<str>>) -> Keys {
        Keys::seen_with(keys.into_iter().map(|k| (k, ())))
    }
}

impl<V: Clone> Keys<V> {
    /// Keys seen before, each with its value.
    pub fn seen_with(keys: impl IntoIterator<Item = (Arc<str>, V)>) -> Keys<V> {
        Keys {
            map: keys.into_iter().map(|(k, v)| (k, Slot::Seen(v))).collect(),
        }
    }

    /// The value of a seen key (`None`: unknown or still in flight).
    pub fn get(&self, key: &str) -> Option<V> {
        match self.map.get(key).as_deref() {
            Some(Slot::Seen(v)) => Some(v.clone()),
            _ => None,
        }
    }

    /// Forgets a seen key whose value is `value` (an order past
    /// retention): the key is free again. A key in flight, or seen with
    /// another value, stays.
    pub fn forget(&self, key: &str, value: &V) -> bool
    where
        V: PartialEq,
    {
        self.map
            .remove_if(key, |_, slot| matches!(slot, Slot::Seen(v) if v == value))
            .is_some()
    }

    /// How many keys are seen or in flight.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is seen or in flight.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Claims `key`, waiting while another request holds it.
    pub async fn claim(&self, key: Arc<str>) -> Claim<'_, V> {
        loop {
            let mut waiting = match self.map.entry(key.clone()) {
                Entry::Vacant(v) => {
                    let (outcome, rx) = watch::channel(None);
                    v.insert(Slot::InFlight(rx));
                    return Claim::Mine(KeyGuard {
                        keys: self,
                        key,
                        outcome,
                        done: false,
                    });
                }
                Entry::Occupied(o) => match o.get() {
                    Slot::Seen(v) => return Claim::Seen(v.clone()),
                    Slot::InFlight(rx) => rx.clone(),
                },
            };
            // The holder sends its outcome before it lets go of the key, or
            // drops the sender: either ends the wait; then look again.
            let _ = waiting.wait_for(Option::is_some).await;
        }
    }

    /// The keys seen (applied), in no order.
    pub fn seen_keys(&self) -> Vec<Arc<str>> {
        self.map
            .iter()
            .filter(|e| matches!(e.value(), Slot::Seen(_)))
            .map(|e| e.key().clone())
            .collect()
    }
}

impl<V> KeyGuard<'_, V> {
    /// The change was applied: the key is seen from now on, with `value`.
    pub fn applied(mut self, value: V) {
        self.finish(Some(value));
    }

    /// The change was refused: the key is free again.
    pub fn refused(mut self) {
        self.finish(None);
    }

    fn finish(&mut self, applied: Option<V>) {
        if self.done {
            return;
        }
        self.done = true;
        let seen = applied.is_some();
        match applied {
            Some(v) => {
                self.keys.map.insert(self.key.clone(), Slot::Seen(v));
            }
            None => {
                self.keys.map.remove(&self.key);
            }
        }
        let _ = self.outcome.send(Some(seen));
    }
}

impl<V> Drop for KeyGuard<'_, V> {
    fn drop(&mut self) {
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn key(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn a_second_claim_waits_and_is_seen_once_the_first_is_applied() {
        let keys = Keys::<u64>::default();
        let Poll::Ready(Claim::Mine(first)) = poll_once(pin!(keys.claim(key("r-1")))) else {
            panic!("the first claim is the first request's");
        };
        let mut second = pin!(keys.claim(key("r-1")));
        assert!(poll_once(second.as_mut()).is_pending(), "in flight: wait");
        first.applied(7);
        assert!(matches!(
            poll_once(second.as_mut()),
            Poll::Ready(Claim::Seen(7))
        ));
        assert_eq!(keys.seen_keys(), vec![key("r-1")]);
        assert_eq!(keys.get("r-1"), Some(7));
    }

    #[test]
    fn a_second_claim_takes_the_key_when_the_first_is_refused_or_dropped() {
        let keys = Keys::<()>::default();
        for end in ["refused", "dropped"] {
            let Poll::Ready(Claim::Mine(first)) = poll_once(pin!(keys.claim(key("r-2")))) else {
                panic!("free key");
            };
            let mut second = pin!(keys.claim(key("r-2")));
            assert!(poll_once(second.as_mut()).is_pending());
            if end == "refused" {
                first.refused();
            } else {
                drop(first);
            }
            let Poll::Ready(Claim::Mine(second)) = poll_once(second.as_mut()) else {
                panic!("{end}: the key is free again, so the second request applies it");
            };
            assert!(keys.seen_keys().is_empty(), "{end}: nothing applied yet");
            second.refused();
        }
    }

    #[test]
    fn recovered_keys_are_seen() {
        let keys = Keys::seen([key("a-1")]);
        let claim = poll_once(pin!(keys.claim(key("a-1"))));
        assert!(matches!(claim, Poll::Ready(Claim::Seen(()))));
    }
}
