//! A webhook's URL, checked once at registration:
//! `http[s]://host[:port][/path]` with a host name or IPv4 address, a port
//! 1-65535 and a path of printable ASCII (percent-encode the rest),
//! exactly [`URL_PATTERN`].
//!
//! `https` is delivered over rustls ([`super::tls`]: the web PKI roots and
//! `[webhooks] ca_file`); any other scheme is refused with a message naming
//! `url`, so a registration never fails later for a reason known now.

/// Longest URL accepted, in bytes.
pub const URL_LEN_MAX: usize = 2048;

/// The rule [`check_url`] applies, as the OpenAPI document states it.
pub const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\
    (:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?\
    (/[!-~]*)?$";

/// Checks `url`; the error says what is wrong (the caller prefixes the field).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > URL_LEN_MAX {
        return Err(format!("longer than {URL_LEN_MAX} bytes"));
    }
    let Some(rest) = strip_prefix_ci(url, "http://").or_else(|| strip_prefix_ci(url, "https://"))
    else {
        return Err("must start with http:// or https://".into());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !path.chars().all(|c| ('!'..='~').contains(&c)) {
        return Err(
            "the path must be printable ASCII without spaces (percent-encode the rest)".into(),
        );
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!(
            "host '{}' is not a host name or IPv4 address (letters, digits, '-', '_', dots between)",
            clip(host)
        ));
    }
    if let Some(p) = port {
        let ok = !p.is_empty()
            && p.len() <= 5
            && !p.starts_with('0')
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
        if !ok {
            return Err(format!("port '{}' is not 1-65535", clip(p)));
        }
    }
    Ok(())
}

fn clip(s: &str) -> String {
    crate::error::clip(s, 64)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_urls_pass_and_the_rest_say_why_not() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://example.com",
            "HTTP://a-b.example.com/x?y=1",
            "http://10.0.0.1:65535/a/b?c=d#e",
            "http://receiver_1:80/p",
            "https://example.com/hook",
            "HTTPS://10.0.0.1:8443",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("ftp://example.com", "must start with http:// or https://"),
            ("https//example.com", "must start with http://"),
            ("https://", "has no host"),
            ("http://", "has no host"),
            ("http://:80/", "has no host"),
            ("http://a..b/", "not a host name"),
            ("http://host:0/", "not 1-65535"),
            ("http://host:99999/", "not 1-65535"),
            ("http://host:x/", "not 1-65535"),
            ("http://host:080/", "not 1-65535"),
            ("http://host:/", "not 1-65535"),
            ("http://host:1:2/", "not 1-65535"),
            ("http://user:pw@host/", "not 1-65535"),
            ("http://user@host/", "not a host name"),
            ("http://host?x=1", "not a host name"),
            ("http://[::1]/", "not a host name"),
            ("http://host/a b", "printable ASCII"),
            ("http://host/\u{e9}", "printable ASCII"),
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_url(&format!("http://h/{}", "a".repeat(URL_LEN_MAX))).is_err());
    }
}
