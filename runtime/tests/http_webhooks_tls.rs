//! `https` webhooks: a receiver on 127.0.0.1 with a certificate of a
//! private CA (rcgen), the CA in `[webhooks] ca_file`: the event arrives
//! over TLS, signed; a core without the CA refuses the receiver's
//! certificate (the attempt fails as a connect error, nothing arrives).

mod http_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use http_common::{config, order, TestServer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

/// A CA and a certificate it signed for 127.0.0.1: (CA PEM, cert, key).
fn certs() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "orchestrator test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    (
        ca_cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// A TLS receiver: every request's head and body go to the channel, each
/// answered 200. Answers its port.
fn receiver(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, mpsc::Receiver<String>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut tcp) = conn else { return };
            let (config, tx) = (config.clone(), tx.clone());
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let Ok(mut tls) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::Stream::new(&mut tls, &mut tcp);
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&raw).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if raw.len() >= end + 4 + len {
                            let _ = tx.send(text);
                            let _ = s.write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            );
                            let _ = s.flush();
                            return;
                        }
                    }
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => raw.extend_from_slice(&buf[..k]),
                    }
                }
            });
        }
    });
    (port, rx)
}

/// A core with `ca_file` (or none), a webhook to the receiver on `port`,
/// and one order placed.
fn core_and_order(ca_file: Option<String>, port: u16) -> TestServer {
    let mut cfg = config();
    cfg.runtime.wave_tick_ms = 3_600_000;
    cfg.webhooks.ca_file = ca_file;
    let t = TestServer::with(cfg);
    let r = t.put(
        "/v1/webhooks/wh-tls",
        &json!({"url": format!("https://127.0.0.1:{port}/hook"), "secret": "s3cret",
                "types": ["order.placed"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let sku = t.cfg.network.skus[0].clone();
    let (_f, lat, lon) = t.stocked(&sku, 1).expect("a stocked SKU");
    let r = t.post(
        "/v1/orders",
        &order("o-tls", lat, lon, &[(sku.as_str(), 1)]),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    t
}

#[test]
fn https_webhooks_are_delivered_to_a_receiver_of_the_configured_ca() {
    let (ca_pem, cert, key) = certs();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();

    let (port, rx) = receiver(cert.clone(), key.clone_key());
    let t = core_and_order(Some(ca_file.display().to_string()), port);
    let got = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the event arrives over TLS");
    assert!(got.starts_with("POST /hook HTTP/1.1"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("webhook-signature: v1,"),
        "{got}"
    );
    let body = &got[got.find("\r\n\r\n").unwrap() + 4..];
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["type"], "order.placed");
    assert_eq!(event["order_id"], "o-tls");
    drop(t);

    // Without the CA the receiver's certificate is not trusted: nothing
    // arrives, and the endpoint counts failures.
    let (port, rx) = receiver(cert, key);
    let t = core_and_order(None, port);
    let mut failures = 0;
    for _ in 0..100 {
        let list = t.get("/v1/webhooks").json();
        failures = list["webhooks"][0]["failures_in_row"].as_u64().unwrap_or(0);
        if failures > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(failures > 0, "the untrusted receiver fails the attempt");
    assert!(
        rx.try_recv().is_err(),
        "nothing delivered to an untrusted receiver"
    );
}
