//! The TLS client configuration of `https` deliveries: rustls on the ring
//! provider, the web PKI roots (`webpki-roots`, built in, so nothing is
//! read from the host's trust store) and, when `[webhooks] ca_file` names
//! one, the root certificates of that PEM file too (a private CA).
//!
//! What it never does: turn certificate checks off; an endpoint whose
//! certificate does not chain to these roots fails its attempts (counted
//! as `connect_error`) and is retried like any other failure.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The client configuration; `Err` names `webhooks.ca_file` and what is
/// wrong with it (unreadable, no certificate, a certificate rustls refuses).
pub fn client_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("webhooks.ca_file: cannot read {path}: {e}"))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| format!("webhooks.ca_file: {path}: not PEM certificates: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("webhooks.ca_file: {path}: a certificate is refused: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "webhooks.ca_file: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("webhooks: TLS client: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_ca_file_is_refused_naming_the_key() {
        assert!(client_config(None).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = client_config(Some(missing.to_str().unwrap())).unwrap_err();
        assert!(e.starts_with("webhooks.ca_file: cannot read"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(Some(empty.to_str().unwrap())).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        assert!(client_config(Some(good.to_str().unwrap())).is_ok());
    }
}
