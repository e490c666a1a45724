//! While recovery runs, the port answers: /healthz 200, /readyz and the API
//! 503 not_ready with Retry-After; once stopped, the port is free again for
//! the real server.

mod http_common;

use http_common::{build, raw};
use orch_runtime::http::recovering;

#[test]
fn answers_not_ready_while_recovering_then_frees_the_port() {
    let server = recovering::start("127.0.0.1:0").expect("bind");
    let addr = server.addr;
    let r = raw(addr, build("GET", "/healthz", &[], None));
    assert_eq!(r.status, 200);
    let r = raw(addr, build("GET", "/readyz", &[], None));
    assert_eq!((r.status, r.code().as_str()), (503, "not_ready"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let body = br#"{"order_id":"x"}"#;
    let r = raw(
        addr,
        build(
            "POST",
            "/v1/orders",
            &[("Content-Type", "application/json")],
            Some(body),
        ),
    );
    assert_eq!((r.status, r.code().as_str()), (503, "not_ready"));
    server.stop();
    std::net::TcpListener::bind(addr).expect("the port is free for the real server");
}
