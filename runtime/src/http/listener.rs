//! The HTTP/1.1 listener: actix-server and actix-http's h1 service around
//! each accepted connection wrapped in [`JsonErrors`], so that the answers
//! the codec gives on its own, before any route runs, carry the JSON error
//! body too: `400` for a request it cannot parse (a request line, URI or
//! header that is not HTTP/1.1, a path over 64 KiB), `431` for a request
//! head over its 128 KiB buffer, `408` for a request that does not arrive
//! in time. Those leave actix-http without a body; the wrapper rewrites such
//! a bare 4xx/5xx answer (a head with `content-length: 0`, alone in one
//! write) into the same answer with `{"error": {"code", "message"}}`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose bare error answers get the JSON error body.
pub struct JsonErrors<T> {
    io: T,
    pending: Option<Pending>,
}

/// A rewritten answer being written in place of `replaces` bytes.
struct Pending {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<T> JsonErrors<T> {
    /// Wraps a connection.
    pub fn new(io: T) -> JsonErrors<T> {
        JsonErrors { io, pending: None }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The code and message for a status the codec answers by itself.
fn error_for(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "malformed_request",
            "request: not a valid HTTP/1.1 request (request line, URI over 64 KiB, or a header)",
        ),
        408 => (
            "request_timeout",
            "request: the request head did not arrive in time",
        ),
        413 => ("body_too_large", "body: larger than the limit"),
        431 => (
            "headers_too_large",
            "headers: the request head is larger than 128 KiB",
        ),
        s if s >= 500 => ("internal_error", "the server could not answer this request"),
        _ => ("malformed_request", "request: refused by the HTTP layer"),
    }
}

/// The rewritten answer, when `buf` is exactly one bare 4xx/5xx head.
pub fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.starts_with(b"HTTP/1.1 ") && !buf.starts_with(b"HTTP/1.0 ") {
        return None;
    }
    let end = find(buf, b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.get(9..12)?.parse().ok()?;
    if status < 400 {
        return None;
    }
    let mut bare = false;
    let mut kept: Vec<&str> = Vec::new();
    for l in lines {
        let (k, v) = l.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => bare = v.trim() == "0",
            "content-type" => return None,
            _ => kept.push(l),
        }
    }
    if !bare {
        return None;
    }
    let (code, message) = error_for(status);
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for l in kept {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match rewrite(buf) {
                Some(bytes) => {
                    this.pending = Some(Pending {
                        bytes,
                        written: 0,
                        replaces: buf.len(),
                    })
                }
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        loop {
            let Some(p) = this.pending.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            if p.written == p.bytes.len() {
                let n = p.replaces;
                this.pending = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut this.io).poll_write(cx, &p.bytes[p.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => p.written += n,
                Poll::Ready(Err(e)) => {
                    this.pending = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A listening socket as actix-web's own binds it (address reuse, a
/// backlog of 2,048), on the first address `listen` resolves to that binds.
fn bind(listen: &str) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    use std::net::ToSocketAddrs;

    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on");
    for addr in listen.to_socket_addrs()? {
        let attempt = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(2048)?;
            Ok::<_, io::Error>(std::net::TcpListener::from(socket))
        })();
        match attempt {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Binds `listen` and serves `app` (one per worker) on it over HTTP/1.1
/// with [`JsonErrors`] connections; answers the bound address.
pub fn serve<F, T, B>(
    name: &str,
    listen: &str,
    workers: usize,
    shutdown_timeout_s: u64,
    app: F,
) -> io::Result<(actix_web::dev::Server, SocketAddr)>
where
    F: Fn() -> actix_web::App<T> + Send + Clone + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};

    let listener = bind(listen)?;
    let addr = listener.local_addr()?;
    let server = actix_server::Server::build()
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(shutdown_timeout_s)
        .listen(name, listener, move || {
            let factory = app()
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            fn_service(|io: actix_rt::net::TcpStream| async move {
                let peer = io.peer_addr().ok();
                let _ = io.set_nodelay(true);
                Ok::<_, actix_http::error::DispatchError>((JsonErrors::new(io), peer))
            })
            .and_then(
                actix_http::HttpService::build().h1(map_config(factory, |_| {
                    actix_web::dev::AppConfig::default()
                })),
            )
        })?
        .run();
    Ok((server, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_errors_get_the_body_and_others_pass() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"));
        let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "malformed_request");
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(out.contains("connection: close\r\n"));
        for keep in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK",
            b"{\"a\": 1}",
        ] {
            assert_eq!(rewrite(keep), None);
        }
    }
}
