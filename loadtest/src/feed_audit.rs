//! The events feed and the webhook receiver, audited at the end of a run
//! against the tester's own record of what it had acknowledged
//! ([`crate::book_events`]), never against the core's counts:
//!
//! - `events_exactly_once`: every change the book recorded has its event
//!   exactly once in the feed; no change has two events; `seq` runs
//!   without a gap or a repeat; no two events share an id or an
//!   (order, `order_seq`);
//! - `events_per_order_order`: in the feed, each of the run's orders
//!   numbers its events 1, 2, 3, … in `seq` order; at the receiver each
//!   order's first arrivals came in that order with no gap among them;
//! - `no_event_for_refused`: no event names one of the run's orders that
//!   the tester never had acknowledged (refused on every try, dropped, or
//!   never sent; a placement that failed otherwise may or may not exist
//!   and is left out);
//! - `webhooks_delivered_all`: every feed event reached the receiver by
//!   the end of the drain, every delivery's signature verified, and the
//!   receiver heard of no event the feed does not hold.
//!
//! Delivery lag is measured from the moment the tester saw the change
//! acknowledged (ms precision; the envelope's `created_at` has whole
//! seconds only) to the event's first arrival at the receiver. An event
//! may arrive before the tester reads the acknowledgement (the journal
//! hands records to the feed once durable, before their callers are
//! answered): its lag counts as 0 and it is counted apart.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use orch_events::EventType;
use serde::Serialize;
use serde_json::Value;

use crate::audit::CheckResult;
use crate::book_events::{line_subject, Change, EventBookCopy};
use crate::histo::{Latency, Percentiles};
use crate::receiver::Arrivals;

/// One feed event, as much as the audit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// `evt-…`.
    pub id: String,
    /// Its position in the feed.
    pub seq: u64,
    /// The type's contract name.
    pub kind: String,
    /// Its order, if any.
    pub order_id: Option<String>,
    /// Its position among its order's events.
    pub order_seq: Option<u32>,
    /// `data.fulfillment_id` (with `#SKU` for a returned line), or empty.
    pub subject: String,
}

fn subject(kind: &str, data: &Value) -> String {
    let fid = data["fulfillment_id"].as_str().unwrap_or("");
    match kind {
        "return.received" => line_subject(fid, data["sku"].as_str().unwrap_or("")),
        k if k.starts_with("fulfillment.") => fid.to_string(),
        _ => String::new(),
    }
}

impl FeedEvent {
    /// From the in-process feed.
    pub fn of(e: &orch_events::Event) -> FeedEvent {
        FeedEvent {
            id: e.id.clone(),
            seq: e.seq,
            kind: e.kind.as_str().to_string(),
            order_id: e.order_id.as_deref().map(String::from),
            order_seq: e.order_seq,
            subject: subject(e.kind.as_str(), &e.data),
        }
    }

    /// From one envelope of `GET /v1/events`; the error names the field.
    pub fn from_json(v: &Value) -> Result<FeedEvent, String> {
        let id = v["id"].as_str().ok_or("event: no id")?;
        let seq = v["seq"]
            .as_u64()
            .ok_or_else(|| format!("event {id}: no seq"))?;
        let kind = v["type"]
            .as_str()
            .ok_or_else(|| format!("event {id}: no type"))?;
        Ok(FeedEvent {
            id: id.to_string(),
            seq,
            kind: kind.to_string(),
            order_id: v["order_id"].as_str().map(String::from),
            order_seq: v["order_seq"].as_u64().and_then(|n| u32::try_from(n).ok()),
            subject: subject(kind, &v["data"]),
        })
    }

    /// The change it reports, when it names an order and a known type.
    pub fn change(&self) -> Option<Change> {
        Some(Change {
            order_id: self.order_id.clone()?,
            kind: EventType::parse(&self.kind)?.as_str(),
            subject: self.subject.clone(),
        })
    }
}

/// The `webhooks` figures of a run with the receiver.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookFigures {
    /// The URL registered.
    pub url: String,
    /// Feed events it should have received (every type).
    pub feed_events: u64,
    /// Feed events it received at least once.
    pub delivered: u64,
    /// Deliveries with a valid signature, repeats included.
    pub deliveries: u64,
    /// Deliveries of an event already received.
    pub repeats: u64,
    /// Deliveries refused for their signature (401).
    pub bad_signatures: u64,
    /// Feed events not received by the end of the drain.
    pub outstanding: u64,
    /// Distinct events received per second, between the first and the
    /// last first arrival.
    pub events_per_s: f64,
    /// That window, s.
    pub window_s: f64,
    /// First arrival − the tester's acknowledgement of the change.
    pub lag_ms: Percentiles,
    /// Events that arrived before the tester read their acknowledgement
    /// (their lag counts as 0).
    pub arrived_before_ack: u64,
    /// How long before the acknowledgement those arrived.
    pub early_ms: Percentiles,
    /// How long the end of the run waited for the last deliveries, s.
    pub drain_s: f64,
}

/// The `events` section of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventFigures {
    /// Events of the run in the feed (from the registration's cursor on).
    pub feed_events: u64,
    /// Changes the tester recorded that each must have one event.
    pub changes_checked: u64,
    /// Orders refused on every try, which must have none.
    pub refused_orders: u64,
    /// The receiver's figures (`None`: `--no-webhooks`).
    pub webhooks: Option<WebhookFigures>,
}

/// What the feed audit looks at.
pub struct FeedAuditInput<'a> {
    /// The feed from the run's start to its end, in `seq` order.
    pub feed: &'a [FeedEvent],
    /// The tester's record of changes and refusals.
    pub book: &'a EventBookCopy,
    /// The run's order id prefix (other clients' orders are not checked).
    pub prefix: &'a str,
    /// What the receiver recorded (`None`: no receiver).
    pub receiver: Option<&'a Arrivals>,
}

/// The checks and the figures.
#[derive(Debug, Clone, Default)]
pub struct FeedAudit {
    /// The new invariants.
    pub checks: Vec<CheckResult>,
    /// The report's `events` section.
    pub figures: EventFigures,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Whether `c` may have no event: a wave the floor heard can name the
/// fulfillment of an order whose cancel the tester had acknowledged (the
/// facility released it before it learned of the cancel); the order then
/// refuses the wave and rightly reports no release.
fn may_be_absent(c: &Change, book: &EventBookCopy) -> bool {
    c.kind == "fulfillment.released"
        && book.changes.keys().any(|o| {
            o.order_id == c.order_id && o.kind == "order.cancelled" && o.subject.is_empty()
        })
}

fn exactly_once(feed: &[FeedEvent], book: &EventBookCopy) -> CheckResult {
    let mut bad = Vec::new();
    for w in feed.windows(2) {
        if w[1].seq != w[0].seq + 1 {
            bad.push(format!(
                "seq {} follows seq {}: a gap or a repeat",
                w[1].seq, w[0].seq
            ));
        }
    }
    let mut ids = HashSet::new();
    let mut positions = HashSet::new();
    let mut counts: HashMap<Change, u32> = HashMap::new();
    for e in feed {
        if !ids.insert(e.id.as_str()) {
            bad.push(format!("event id {} twice", e.id));
        }
        if let (Some(o), Some(n)) = (&e.order_id, e.order_seq) {
            if !positions.insert((o.as_str(), n)) {
                bad.push(format!("order {o} has two events at order_seq {n}"));
            }
        }
        if let Some(c) = e.change() {
            *counts.entry(c).or_default() += 1;
        }
    }
    let mut changes = Vec::new();
    for c in book.changes.keys() {
        match counts.get(c).copied().unwrap_or(0) {
            1 => {}
            0 if may_be_absent(c, book) => {}
            0 => changes.push(format!(
                "{} {} {}: acknowledged, no event in the feed",
                c.order_id, c.kind, c.subject
            )),
            n => changes.push(format!(
                "{} {} {}: {n} events for one acknowledged change",
                c.order_id, c.kind, c.subject
            )),
        }
    }
    for (c, n) in &counts {
        if *n > 1 && !book.changes.contains_key(c) {
            changes.push(format!(
                "{} {} {}: {n} events for one change",
                c.order_id, c.kind, c.subject
            ));
        }
    }
    bad.extend(sorted(changes));
    CheckResult::new(
        "events_exactly_once",
        &format!(
            "{} changes the tester saw acknowledged (placements, cancels, floor steps, waves heard) \
             against {} feed events: each exactly one event; seq without gap or repeat; ids and \
             (order, order_seq) unique",
            book.changes.len(),
            feed.len()
        ),
        bad,
    )
}

fn per_order_order(feed: &[FeedEvent], prefix: &str, receiver: Option<&Arrivals>) -> CheckResult {
    let mut bad = Vec::new();
    let mut next: HashMap<&str, u32> = HashMap::new();
    for e in feed {
        let (Some(o), Some(n)) = (&e.order_id, e.order_seq) else {
            continue;
        };
        if !o.starts_with(prefix) {
            continue;
        }
        let want = next.entry(o).or_insert(1);
        if n != *want {
            bad.push(format!(
                "feed: order {o}'s event {} ({}) has order_seq {n}, expected {want}",
                e.id, e.kind
            ));
        }
        *want = n + 1;
    }
    let mut arrived = 0;
    if let Some(r) = receiver {
        let mut late = Vec::new();
        for (o, seqs) in r.per_order.iter().filter(|(o, _)| o.starts_with(prefix)) {
            arrived += 1;
            if let Some(i) = seqs
                .iter()
                .enumerate()
                .position(|(i, &n)| n as usize != i + 1)
            {
                late.push(format!(
                    "receiver: order {o}'s first arrivals {:?}: arrival {} should be order_seq {}",
                    &seqs[..seqs.len().min(12)],
                    i + 1,
                    i + 1
                ));
            }
        }
        bad.extend(sorted(late));
    }
    CheckResult::new(
        "events_per_order_order",
        &format!(
            "{} orders in the feed: order_seq 1, 2, 3, ... in seq order; {}",
            next.len(),
            match receiver {
                Some(_) => format!(
                    "{arrived} orders at the receiver: first arrivals in order_seq order, no gap"
                ),
                None => "no receiver (--no-webhooks)".into(),
            }
        ),
        bad,
    )
}

fn no_event_for_refused(feed: &[FeedEvent], book: &EventBookCopy, prefix: &str) -> CheckResult {
    let placed = book.placed();
    let mut named: HashMap<&str, (&str, u32)> = HashMap::new();
    for e in feed {
        let Some(o) = e.order_id.as_deref() else {
            continue;
        };
        if o.starts_with(prefix) && !placed.contains(o) && !book.failed.contains(o) {
            named.entry(o).or_insert((e.kind.as_str(), 0)).1 += 1;
        }
    }
    let bad = named
        .into_iter()
        .map(|(o, (kind, n))| {
            let why = if book.refused.contains(o) {
                "refused on every try"
            } else {
                "never acknowledged (dropped or not sent)"
            };
            format!("order {o}, {why}: {n} events in the feed, the first {kind}")
        })
        .collect();
    CheckResult::new(
        "no_event_for_refused",
        &format!(
            "{} orders refused on every try (429 / Busy), and every other order of the run the \
             tester never had acknowledged: no event names them ({} placements that failed \
             otherwise left out)",
            book.refused.len(),
            book.failed.len()
        ),
        sorted(bad),
    )
}

fn delivered_all(feed: &[FeedEvent], r: &Arrivals) -> CheckResult {
    let mut bad = Vec::new();
    let mut ids = HashSet::new();
    for e in feed {
        ids.insert(e.id.as_str());
        if !r.by_id.contains_key(&e.id) {
            bad.push(format!("{} ({}): not received", e.id, e.kind));
        }
    }
    bad.extend(r.bad_examples.iter().map(|b| format!("bad signature: {b}")));
    for _ in r.bad_examples.len() as u64..r.bad_signatures {
        bad.push("bad signature".into());
    }
    let mut strays: Vec<String> = r
        .by_id
        .keys()
        .filter(|id| !ids.contains(id.as_str()))
        .map(|id| format!("{id}: received, not in the feed"))
        .collect();
    strays.sort();
    bad.extend(strays);
    CheckResult::new(
        "webhooks_delivered_all",
        &format!(
            "{} feed events each received at least once by the end of the drain; {} deliveries, \
             every signature valid",
            feed.len(),
            r.deliveries + r.bad_signatures
        ),
        bad,
    )
}

fn figures(feed: &[FeedEvent], book: &EventBookCopy, r: &Arrivals) -> WebhookFigures {
    let lag = Latency::default();
    let early = Latency::default();
    let mut before_ack = 0;
    let mut delivered = 0;
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for e in feed {
        let Some(a) = r.by_id.get(&e.id) else {
            continue;
        };
        delivered += 1;
        first = Some(first.map_or(a.first_at, |f| f.min(a.first_at)));
        last = Some(last.map_or(a.first_at, |l| l.max(a.first_at)));
        let acked = e
            .change()
            .and_then(|c| book.changes.get(&c).copied().flatten());
        if let Some(at) = acked {
            if a.first_at < at {
                before_ack += 1;
                early.record(at.duration_since(a.first_at));
            }
            lag.record(a.first_at.saturating_duration_since(at));
        }
    }
    let window = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f),
        _ => Duration::ZERO,
    };
    let round = |x: f64| (x * 10.0).round() / 10.0;
    WebhookFigures {
        url: String::new(),
        feed_events: feed.len() as u64,
        delivered,
        deliveries: r.deliveries,
        repeats: r.repeats(),
        bad_signatures: r.bad_signatures,
        outstanding: feed.len() as u64 - delivered,
        events_per_s: if window.is_zero() {
            0.0
        } else {
            round(delivered as f64 / window.as_secs_f64())
        },
        window_s: (window.as_secs_f64() * 1000.0).round() / 1000.0,
        lag_ms: lag.percentiles(),
        arrived_before_ack: before_ack,
        early_ms: early.percentiles(),
        drain_s: 0.0,
    }
}

/// Runs the feed checks (and the receiver's, with one).
pub fn feed_audit(i: FeedAuditInput<'_>) -> FeedAudit {
    let mut checks = vec![
        exactly_once(i.feed, i.book),
        per_order_order(i.feed, i.prefix, i.receiver),
        no_event_for_refused(i.feed, i.book, i.prefix),
    ];
    let webhooks = i.receiver.map(|r| {
        checks.push(delivered_all(i.feed, r));
        figures(i.feed, i.book, r)
    });
    FeedAudit {
        checks,
        figures: EventFigures {
            feed_events: i.feed.len() as u64,
            changes_checked: i.book.changes.len() as u64,
            refused_orders: i.book.refused.len() as u64,
            webhooks,
        },
    }
}

/// Whether every change of `book` has at least one event in `feed` (the
/// feed follows acknowledgements by a moment: the end of the run reads it
/// again until this holds or it stops growing).
pub fn covers(feed: &[FeedEvent], book: &EventBookCopy) -> bool {
    let found: HashSet<Change> = feed.iter().filter_map(FeedEvent::change).collect();
    book.changes
        .keys()
        .all(|c| found.contains(c) || may_be_absent(c, book))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::Arrival;

    const P: &str = "lt-1-x-";

    fn ev(seq: u64, kind: &str, order: &str, order_seq: u32, subject: &str) -> FeedEvent {
        FeedEvent {
            id: format!("evt-{seq:015}"),
            seq,
            kind: kind.into(),
            order_id: Some(format!("{P}{order}")),
            order_seq: Some(order_seq),
            subject: subject.replace('@', P),
        }
    }

    fn change(order: &str, kind: &'static str, subject: &str) -> Change {
        Change {
            order_id: format!("{P}{order}"),
            kind,
            subject: subject.replace('@', P),
        }
    }

    /// Two orders: `a` placed, routed, picked; `b` placed and cancelled.
    fn clean(t0: Instant) -> (Vec<FeedEvent>, EventBookCopy, Arrivals) {
        let feed = vec![
            ev(11, "order.placed", "a", 1, ""),
            ev(12, "fulfillment.routed", "a", 2, "@a/1"),
            ev(13, "order.placed", "b", 1, ""),
            ev(14, "fulfillment.routed", "b", 2, "@b/1"),
            ev(15, "order.cancelled", "b", 3, ""),
            ev(16, "fulfillment.picked", "a", 3, "@a/1"),
        ];
        let mut book = EventBookCopy::default();
        for (o, k, s) in [
            ("a", "order.placed", ""),
            ("a", "fulfillment.routed", "@a/1"),
            ("b", "order.placed", ""),
            ("b", "fulfillment.routed", "@b/1"),
            ("b", "order.cancelled", ""),
            ("a", "fulfillment.picked", "@a/1"),
        ] {
            book.changes.insert(change(o, k, s), Some(t0));
        }
        book.refused.insert(format!("{P}r"));
        let mut arrivals = Arrivals::default();
        for (i, e) in feed.iter().enumerate() {
            arrivals.by_id.insert(
                e.id.clone(),
                Arrival {
                    seq: e.seq,
                    first_at: t0 + Duration::from_millis(2 * (i as u64 + 1)),
                    repeats: 0,
                },
            );
            arrivals
                .per_order
                .entry(e.order_id.clone().unwrap())
                .or_default()
                .push(e.order_seq.unwrap());
            arrivals.deliveries += 1;
        }
        (feed, book, arrivals)
    }

    fn run(feed: &[FeedEvent], book: &EventBookCopy, r: &Arrivals) -> FeedAudit {
        feed_audit(FeedAuditInput {
            feed,
            book,
            prefix: P,
            receiver: Some(r),
        })
    }

    fn check<'a>(a: &'a FeedAudit, name: &str) -> &'a CheckResult {
        a.checks.iter().find(|c| c.name == name).unwrap()
    }

    fn failed(a: &FeedAudit) -> Vec<&str> {
        a.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn a_clean_run_passes_and_gives_lag_and_rate() {
        let t0 = Instant::now();
        let (feed, book, r) = clean(t0);
        let a = run(&feed, &book, &r);
        assert!(failed(&a).is_empty(), "{:?}", a.checks);
        assert_eq!(a.checks.len(), 4);
        let w = a.figures.webhooks.unwrap();
        assert_eq!((w.delivered, w.outstanding, w.feed_events), (6, 0, 6));
        assert_eq!(w.lag_ms.count, 6);
        assert!(
            (w.lag_ms.max - 12.0).abs() < 0.05,
            "the last arrived 12 ms after its ack: {:?}",
            w.lag_ms
        );
        assert_eq!(w.window_s, 0.01);
        assert_eq!(w.events_per_s, 600.0);
        assert_eq!((w.arrived_before_ack, w.early_ms.count), (0, 0));
        // One arrival 3 ms before the tester read its acknowledgement.
        let (feed, mut book, r) = clean(t0);
        book.changes.insert(
            change("a", "order.placed", ""),
            Some(r.by_id[&feed[0].id].first_at + Duration::from_millis(3)),
        );
        let w = run(&feed, &book, &r).figures.webhooks.unwrap();
        assert_eq!((w.arrived_before_ack, w.early_ms.count), (1, 1));
        assert!((w.early_ms.max - 3.0).abs() < 0.01, "{:?}", w.early_ms);
        assert_eq!(w.lag_ms.count, 6, "counted as 0 in the lag");
        assert!(covers(&feed, &book));
    }

    #[test]
    fn an_event_missing_from_the_feed_fails_exactly_once_and_coverage() {
        let t0 = Instant::now();
        let (mut feed, book, r) = clean(t0);
        // The audit's copy loses the cancel (and the feed's seq runs on).
        feed.remove(4);
        let a = run(&feed, &book, &r);
        let c = check(&a, "events_exactly_once");
        assert!(!c.passed);
        assert!(
            c.examples
                .iter()
                .any(|e| e.contains("order.cancelled") && e.contains("no event")),
            "{:?}",
            c.examples
        );
        assert!(
            c.examples.iter().any(|e| e.contains("gap")),
            "{:?}",
            c.examples
        );
        assert!(!covers(&feed, &book));
        // The receiver heard an event the feed does not hold.
        assert!(!check(&a, "webhooks_delivered_all").passed);
    }

    #[test]
    fn a_wave_heard_for_a_cancelled_order_needs_no_release_event() {
        let t0 = Instant::now();
        let (feed, mut book, r) = clean(t0);
        // The floor heard b/1 released; b's cancel came first at its order.
        book.changes
            .insert(change("b", "fulfillment.released", "@b/1"), Some(t0));
        let a = run(&feed, &book, &r);
        assert!(
            check(&a, "events_exactly_once").passed,
            "{:?}",
            check(&a, "events_exactly_once").examples
        );
        assert!(covers(&feed, &book));
        // Not for an order that was not cancelled.
        book.changes
            .insert(change("a", "fulfillment.released", "@a/1"), Some(t0));
        let a = run(&feed, &book, &r);
        assert!(!check(&a, "events_exactly_once").passed);
        assert!(!covers(&feed, &book));
    }

    #[test]
    fn a_change_twice_in_the_feed_fails_exactly_once() {
        let t0 = Instant::now();
        let (mut feed, book, mut r) = clean(t0);
        let mut again = ev(17, "order.placed", "a", 4, "");
        again.id = "evt-000000000000017".into();
        feed.push(again.clone());
        r.by_id.insert(
            again.id.clone(),
            Arrival {
                seq: 17,
                first_at: t0,
                repeats: 0,
            },
        );
        r.per_order.get_mut(&format!("{P}a")).unwrap().push(4);
        let a = run(&feed, &book, &r);
        assert_eq!(failed(&a), vec!["events_exactly_once"], "{:?}", a.checks);
        assert!(check(&a, "events_exactly_once").examples[0].contains("2 events"));
    }

    #[test]
    fn shuffled_arrivals_fail_per_order_order() {
        let t0 = Instant::now();
        let (feed, book, mut r) = clean(t0);
        r.per_order.get_mut(&format!("{P}b")).unwrap().swap(1, 2);
        let a = run(&feed, &book, &r);
        assert_eq!(failed(&a), vec!["events_per_order_order"]);
        assert!(check(&a, "events_per_order_order").examples[0].contains("receiver"));
        // A gap among the first arrivals fails too.
        let (feed, book, mut r) = clean(t0);
        r.per_order.get_mut(&format!("{P}b")).unwrap().remove(0);
        assert_eq!(
            failed(&run(&feed, &book, &r)),
            vec!["events_per_order_order"]
        );
        // And a feed whose order_seq skips.
        let (mut feed, book, r) = clean(t0);
        feed[5].order_seq = Some(4);
        let a = run(&feed, &book, &r);
        assert!(failed(&a).contains(&"events_per_order_order"));
        assert!(check(&a, "events_per_order_order").examples[0].starts_with("feed"));
    }

    #[test]
    fn an_event_for_a_refused_order_fails_no_event_for_refused() {
        let t0 = Instant::now();
        let (mut feed, book, _) = clean(t0);
        feed.push(ev(17, "order.placed", "r", 1, ""));
        let a = feed_audit(FeedAuditInput {
            feed: &feed,
            book: &book,
            prefix: P,
            receiver: None,
        });
        assert_eq!(failed(&a), vec!["no_event_for_refused"]);
        let c = check(&a, "no_event_for_refused");
        assert!(
            c.examples[0].contains("refused on every try"),
            "{:?}",
            c.examples
        );
        assert!(a.figures.webhooks.is_none() && a.checks.len() == 3);
        // Forgetting the refusal still catches it: no acknowledgement.
        let mut forgot = book.clone();
        forgot.refused.clear();
        let a = feed_audit(FeedAuditInput {
            feed: &feed,
            book: &forgot,
            prefix: P,
            receiver: None,
        });
        assert!(check(&a, "no_event_for_refused").examples[0].contains("never acknowledged"));
        // Another client's order is not the run's business.
        let mut other = feed.clone();
        other.last_mut().unwrap().order_id = Some("someone-else".into());
        let a = feed_audit(FeedAuditInput {
            feed: &other,
            book: &book,
            prefix: P,
            receiver: None,
        });
        assert!(check(&a, "no_event_for_refused").passed);
    }

    #[test]
    fn an_event_not_received_or_a_bad_signature_fails_delivered_all() {
        let t0 = Instant::now();
        let (feed, book, mut r) = clean(t0);
        r.by_id.remove(&feed[5].id);
        let a = run(&feed, &book, &r);
        assert_eq!(failed(&a), vec!["webhooks_delivered_all"]);
        assert_eq!(a.figures.webhooks.as_ref().unwrap().outstanding, 1);
        let (feed, book, mut r) = clean(t0);
        r.bad_signatures = 2;
        r.bad_examples = vec!["webhook-id x".into()];
        let a = run(&feed, &book, &r);
        let c = check(&a, "webhooks_delivered_all");
        assert_eq!((c.passed, c.violations), (false, 2));
    }

    #[test]
    fn events_are_read_from_json_envelopes() {
        let v = serde_json::json!({"id": "evt-000000000000009", "seq": 9, "type": "return.received",
            "created_at": "2026-11-27T09:28:22Z", "order_id": "o", "order_seq": 7,
            "data": {"fulfillment_id": "o/1", "sku": "S", "qty": 1}});
        let e = FeedEvent::from_json(&v).unwrap();
        assert_eq!(e.subject, "o/1#S");
        assert_eq!(e.change().unwrap().kind, "return.received");
        let mut no_seq = v.clone();
        no_seq["seq"] = Value::Null;
        assert!(FeedEvent::from_json(&no_seq).unwrap_err().contains("seq"));
        let facility = serde_json::json!({"id": "evt-1", "seq": 1, "type": "facility.status_changed",
            "order_id": null, "order_seq": null, "data": {"facility_id": "DC-01"}});
        assert_eq!(FeedEvent::from_json(&facility).unwrap().change(), None);
    }
}
