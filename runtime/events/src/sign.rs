//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>`
//! over `"{id}.{timestamp}.{body}"`, the exact body bytes sent.
//!
//! The key is the registered secret's UTF-8 bytes (the contract's choice;
//! Standard Webhooks' own `whsec_` secrets are base64 keys, which
//! [`signature_with_key`] takes as they are).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The three headers of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`: the event id, the same on every retry.
    pub id: String,
    /// `webhook-timestamp`: Unix seconds of this attempt.
    pub timestamp: u64,
    /// `webhook-signature`: `v1,<base64>`.
    pub signature: String,
}

/// Signs one attempt of `body` for an endpoint whose secret is `secret`.
pub fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> SignedHeaders {
    SignedHeaders {
        id: id.to_string(),
        timestamp,
        signature: signature_with_key(secret.as_bytes(), id, timestamp, body),
    }
}

/// `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn signature_with_key(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp, body)))
}

fn keyed(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

fn mac(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> [u8; 32] {
    keyed(key, id, timestamp, body)
        .finalize()
        .into_bytes()
        .into()
}

/// Whether `header` (one or more space-separated `v1,<base64>` entries, as
/// Standard Webhooks allows during secret rotation) holds a valid signature
/// of `body`. Compared in constant time.
pub fn verify(secret: &str, id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().any(|entry| {
        let given = entry
            .strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok());
        given.is_some_and(|given| {
            keyed(secret.as_bytes(), id, timestamp, body)
                .verify_slice(&given)
                .is_ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mut h = HmacSha256::new_from_slice(b"Jefe").unwrap();
        h.update(b"what do ya want for nothing?");
        let hex: String = h
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_webhooks_published_vector() {
        // The Standard Webhooks specification's example: secret
        // whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw (base64 key after the prefix).
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature_with_key(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn contract_key_is_the_secrets_utf8_bytes() {
        // Computed independently with Python's hmac module.
        let body = br#"{"id":"evt-000000000001234","seq":1234,"type":"fulfillment.shipped"}"#;
        let h = sign(
            "whsec-orchestrator-test",
            "evt-000000000001234",
            1_795_771_702,
            body,
        );
        assert_eq!(
            h.signature,
            "v1,7ZaA1C9fp8BDu8FxdWAzDIioFljEGQ1v5KNyQ+0AWiE="
        );
        assert_eq!(h.id, "evt-000000000001234");
        assert!(verify(
            "whsec-orchestrator-test",
            &h.id,
            h.timestamp,
            body,
            &format!("v1,bm9wZQ== {}", h.signature)
        ));
        assert!(!verify("other", &h.id, h.timestamp, body, &h.signature));
        assert!(!verify(
            "whsec-orchestrator-test",
            &h.id,
            h.timestamp + 1,
            body,
            &h.signature
        ));
        assert!(!verify(
            "whsec-orchestrator-test",
            &h.id,
            h.timestamp,
            b"{}",
            &h.signature
        ));
        assert!(!verify(
            "whsec-orchestrator-test",
            &h.id,
            h.timestamp,
            body,
            "v1,???"
        ));
    }
}
