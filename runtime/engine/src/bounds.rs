//! Bounds on what one actor keeps as history, shared by every engine.

/// Why a scan that would add to an order's timeline is refused once the
/// order keeps `max` entries (`[limits] order_events_max`); `None` while
/// there is room. Duplicates are answered before this, so a retry of an
/// applied scan still answers `duplicate`.
pub fn timeline_full(len: usize, max: u32) -> Option<String> {
    (len >= max as usize).then(|| {
        format!(
            "order_events_max: the order keeps {len} timeline entries, the most allowed ({max})"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_until_the_bound() {
        assert_eq!(timeline_full(15, 16), None);
        let why = timeline_full(16, 16).expect("full");
        assert!(why.starts_with("order_events_max:"), "{why}");
    }
}
