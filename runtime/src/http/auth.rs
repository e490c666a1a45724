//! Bearer-token check for `/v1`, compared in constant time.

use actix_web::http::header::{HeaderMap, AUTHORIZATION};

/// Compares two byte strings in time that depends only on their lengths
/// (and not on where they differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Fold over the longer length so that a length mismatch takes as long as
    // a content mismatch; the length difference itself is folded in.
    let n = a.len().max(b.len());
    let mut diff: u64 = (a.len() ^ b.len()) as u64;
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    // Keep the optimizer from short-circuiting the loop.
    std::hint::black_box(diff) == 0
}

/// Whether the headers carry `Authorization: Bearer <token>`.
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(v) = headers.get(AUTHORIZATION) else {
        return false;
    };
    let v = v.as_bytes();
    let scheme = b"bearer ";
    if v.len() < scheme.len() || !v[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return false;
    }
    let given = v[scheme.len()..].trim_ascii();
    constant_time_eq(given, token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
