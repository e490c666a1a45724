//! A bounded memory of idempotency ids (receipts, adjustments): the most
//! recent `max` ids, the oldest forgotten first. A retry of an id older
//! than that applies again; the bound is the configured retention.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// Remembered ids, at most `max`.
#[derive(Debug, Clone, Default)]
pub struct SeenIds {
    max: usize,
    set: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

impl SeenIds {
    /// Remembers up to `max` ids (0 remembers nothing).
    pub fn new(max: usize) -> SeenIds {
        SeenIds {
            max,
            ..SeenIds::default()
        }
    }

    /// Whether `id` was remembered.
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Remember `id`, forgetting the oldest beyond the bound.
    pub fn insert(&mut self, id: Arc<str>) {
        if self.max == 0 || !self.set.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.max {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_the_bound() {
        let mut s = SeenIds::new(2);
        s.insert("a".into());
        s.insert("b".into());
        s.insert("a".into());
        assert_eq!(s.len(), 2);
        s.insert("c".into());
        assert!(!s.contains("a"));
        assert!(s.contains("b") && s.contains("c"));
        assert_eq!(s.len(), 2);
    }
}
