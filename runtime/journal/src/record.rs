//! The record codec: one journal record in, bytes out, and back.
//!
//! Layout (all integers little endian):
//!
//! ```text
//! offset  size  field
//! 0       4     len      bytes after the 8-byte header (version + seq + payload)
//! 4       4     crc32c   over every byte after this field (version + seq + payload)
//! 8       1     version  FORMAT_VERSION
//! 9       8     seq      sequence number, >= 1
//! 17      len-9 payload  opaque bytes
//! ```
//!
//! The codec knows nothing about what a payload means.

/// Format version written into every record. A reader refuses records
/// of any other version ([`Decoded::Unsupported`]; recovery reports it as
/// corrupt with the version in the reason, and never cuts it).
pub const FORMAT_VERSION: u8 = 1;

/// Bytes of the fixed header: `len` and `crc32c`.
pub const HEADER_LEN: usize = 8;

/// Bytes covered by `len` that are not payload: `version` and `seq`.
pub const BODY_PREFIX_LEN: usize = 9;

/// Total bytes a record takes on disk in addition to its payload.
pub const RECORD_OVERHEAD: usize = HEADER_LEN + BODY_PREFIX_LEN;

/// Largest payload accepted by the journal (64 MiB). Larger appends fail
/// with [`crate::JournalError::TooLarge`]; a decoded `len` implying a larger
/// payload is treated as corruption.
pub const MAX_PAYLOAD_LEN: usize = 64 << 20;

/// Bytes a record with a payload of `payload_len` bytes takes on disk.
pub fn encoded_len(payload_len: usize) -> usize {
    RECORD_OVERHEAD + payload_len
}

/// Appends the encoding of record `seq` with `payload` to `buf`.
///
/// # Panics
///
/// If the payload is longer than [`MAX_PAYLOAD_LEN`]; the journal checks
/// this before a record reaches the codec.
pub fn encode(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_PAYLOAD_LEN,
        "journal payload of {} bytes exceeds MAX_PAYLOAD_LEN",
        payload.len()
    );
    let start = buf.len();
    let len = (BODY_PREFIX_LEN + payload.len()) as u32;
    buf.reserve(encoded_len(payload.len()));
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0; 4]); // crc, patched below
    buf.push(FORMAT_VERSION);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c(&buf[start + HEADER_LEN..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What [`decode`] found at the start of a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete record whose checksum and version are good.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Its payload, borrowed from the input.
        payload: &'a [u8],
        /// Bytes the whole record takes (header included): the offset of
        /// the next record relative to this one.
        len: usize,
    },
    /// The slice ends before the record does (an incomplete write).
    Torn,
    /// A complete record with a good checksum but another format version
    /// (written by a newer build): never cut, always an error.
    Unsupported {
        /// The version byte found.
        version: u8,
    },
    /// The bytes are not a valid record (bad length or checksum).
    Corrupt {
        /// Why, for the error message.
        reason: String,
    },
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes the record at the start of `buf`.
///
/// An empty slice is [`Decoded::Torn`]; callers stop at the end of their
/// data before calling.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_LEN {
        return Decoded::Torn;
    }
    let len = u32_at(buf, 0) as usize;
    if len < BODY_PREFIX_LEN {
        return Decoded::Corrupt {
            reason: format!("record length {len} is below the minimum of {BODY_PREFIX_LEN}"),
        };
    }
    if len > BODY_PREFIX_LEN + MAX_PAYLOAD_LEN {
        return Decoded::Corrupt {
            reason: format!(
                "record length {len} exceeds the maximum of {}",
                BODY_PREFIX_LEN + MAX_PAYLOAD_LEN
            ),
        };
    }
    let total = HEADER_LEN + len;
    if buf.len() < total {
        return Decoded::Torn;
    }
    let stored = u32_at(buf, 4);
    let body = &buf[HEADER_LEN..total];
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Decoded::Corrupt {
            reason: format!("checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        };
    }
    let version = body[0];
    if version != FORMAT_VERSION {
        return Decoded::Unsupported { version };
    }
    Decoded::Record {
        seq: u64_at(body, 1),
        payload: &body[BODY_PREFIX_LEN..],
        len: total,
    }
}

/// Looks for a valid record starting anywhere in `buf[from..]` whose
/// sequence number is at least `min_seq` (and plausibly close to it).
/// Returns its offset within `buf` and its seq.
///
/// Recovery uses this to tell a torn tail (nothing valid after the bad
/// bytes) from corruption in the middle (good records after the bad one).
pub(crate) fn find_valid_after(buf: &[u8], from: usize, min_seq: u64) -> Option<(usize, u64)> {
    let end = buf.len();
    if end < RECORD_OVERHEAD {
        return None;
    }
    // Each record takes at least RECORD_OVERHEAD bytes, so a record found
    // `d` bytes later cannot carry a seq much larger than min_seq + d / 17.
    let max_seq = min_seq.saturating_add((end.saturating_sub(from) / RECORD_OVERHEAD) as u64 + 1);
    for off in from..=end - RECORD_OVERHEAD {
        if buf[off + HEADER_LEN] != FORMAT_VERSION {
            continue;
        }
        let len = u32_at(buf, off) as usize;
        if !(BODY_PREFIX_LEN..=BODY_PREFIX_LEN + MAX_PAYLOAD_LEN).contains(&len)
            || off + HEADER_LEN + len > end
        {
            continue;
        }
        let seq = u64_at(buf, off + HEADER_LEN + 1);
        if seq < min_seq || seq > max_seq {
            continue;
        }
        if let Decoded::Record { seq, .. } = decode(&buf[off..]) {
            return Some((off, seq));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, b"hello");
        encode(&mut buf, 2, b"");
        assert_eq!(buf.len(), encoded_len(5) + encoded_len(0));
        let Decoded::Record { seq, payload, len } = decode(&buf) else {
            panic!("first record")
        };
        assert_eq!((seq, payload, len), (1, &b"hello"[..], encoded_len(5)));
        let Decoded::Record { seq, payload, len } = decode(&buf[len..]) else {
            panic!("second record")
        };
        assert_eq!((seq, payload, len), (2, &b""[..], RECORD_OVERHEAD));
    }

    #[test]
    fn layout_is_as_documented() {
        let mut buf = Vec::new();
        encode(&mut buf, 0x0102_0304_0506_0708, b"xy");
        assert_eq!(&buf[0..4], &11u32.to_le_bytes());
        assert_eq!(&buf[4..8], &crc32c::crc32c(&buf[8..]).to_le_bytes());
        assert_eq!(buf[8], FORMAT_VERSION);
        assert_eq!(&buf[9..17], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&buf[17..], b"xy");
    }

    #[test]
    fn every_prefix_is_torn_and_every_flip_is_corrupt_or_torn() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, b"payload bytes");
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Decoded::Torn, "cut at {cut}");
        }
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x40;
            assert!(
                !matches!(decode(&bad), Decoded::Record { .. }),
                "flip at {at} not detected"
            );
        }
    }

    #[test]
    fn other_version_is_refused() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, b"p");
        buf[8] = 2;
        let crc = crc32c::crc32c(&buf[8..]);
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&buf), Decoded::Unsupported { version: 2 });
    }

    #[test]
    fn zeros_are_corrupt() {
        assert!(matches!(decode(&[0; 32]), Decoded::Corrupt { .. }));
    }

    #[test]
    fn finds_a_valid_record_after_garbage() {
        let mut buf = vec![0xAB; 13];
        encode(&mut buf, 5, b"abc");
        assert_eq!(find_valid_after(&buf, 0, 5), Some((13, 5)));
        assert_eq!(find_valid_after(&buf, 0, 6), None);
        assert_eq!(find_valid_after(&buf, 14, 5), None);
    }
}
