//! The one place journal payloads are encoded and decoded: a version byte,
//! then the entries in bincode 2 (serde, standard configuration).
//!
//! The journal record around it carries its own length, checksum, format
//! version and sequence number; this version byte is the payload's, so that
//! a later release can still read what this one wrote.

use orch_actors::log::LogEntry;

/// Version of the payload encoding written by this build. 2: order events
/// carry each fulfillment's ship plan (version 1 payloads are refused).
pub const CODEC_VERSION: u8 = 2;

/// Encodes the entries of one journal record.
pub fn encode(entries: &[LogEntry]) -> Vec<u8> {
    let mut out = vec![CODEC_VERSION];
    bincode::serde::encode_into_std_write(entries, &mut out, bincode::config::standard())
        .expect("encoding into a Vec cannot fail");
    out
}

/// Decodes one journal record's entries. An empty payload is a barrier and
/// holds no entries.
pub fn decode(bytes: &[u8]) -> Result<Vec<LogEntry>, String> {
    let Some((&version, body)) = bytes.split_first() else {
        return Ok(Vec::new());
    };
    if version != CODEC_VERSION {
        return Err(format!(
            "payload codec version {version} is not supported (this build reads {CODEC_VERSION})"
        ));
    }
    let (entries, used): (Vec<LogEntry>, usize) =
        bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map_err(|e| format!("payload does not decode: {e}"))?;
    if used != body.len() {
        return Err(format!("{} bytes after the entries", body.len() - used));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_actors::cell::CellEvent;
    use orch_actors::{CellKey, FacilityIdx, SkuIdx};

    #[test]
    fn round_trip_and_versions() {
        let cell = CellKey {
            sku: SkuIdx(7),
            facility: FacilityIdx(2),
        };
        let entries = vec![
            LogEntry::Received {
                cell,
                qty: 5,
                receipt_id: "r-1".into(),
            },
            LogEntry::Adjusted {
                cell,
                event: CellEvent::Adjusted { from: 5, to: 3 },
                adjustment_id: "a-1".into(),
            },
        ];
        let bytes = encode(&entries);
        assert_eq!(decode(&bytes).unwrap(), entries);
        assert_eq!(decode(&[]).unwrap(), Vec::new());
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(decode(&future).unwrap_err().contains("version 9"));
        let mut longer = bytes;
        longer.push(0);
        assert!(decode(&longer).is_err());
    }
}
