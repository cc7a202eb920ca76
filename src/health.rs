//! `muxserve health`: one HTTP request to a running server, for a container `HEALTHCHECK` (a
//! scratch image has no curl). It owns a minimal HTTP/1.1 client and the verdict: 2xx or 3xx is
//! healthy. It never starts or touches a server of its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};

/// Where the check connects, and what it asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// The authority as written, for the Host header.
    pub host: String,
    /// The path and query.
    pub path: String,
}

/// Splits an `http://host[:port][/path]` URL.
pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("health URL {url:?} must start with http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        bail!("health URL {url:?} is not a valid http URL");
    }
    Ok(Target {
        host: host.to_string(),
        path: path.to_string(),
    })
}

/// The URL the check uses by default: the server's port from the same variables the server
/// reads (`MUXSERVE_LISTEN`, then `PORT`), on loopback, and its health path if it has one.
pub fn default_url(listen: Option<&str>, port: Option<&str>, health_path: Option<&str>) -> String {
    let addr = listen
        .and_then(|l| crate::config::parse_listen(l).ok())
        .or_else(|| {
            let port = port?.trim().parse::<u16>().ok()?;
            Some(SocketAddr::from(([0, 0, 0, 0], port)))
        })
        .unwrap_or_else(|| crate::Config::default().listen);
    let host = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        a => a.to_string(),
    };
    format!("http://{host}{}", health_path.unwrap_or("/"))
}

/// What the check sends before its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preface {
    /// Nothing: the request is the first byte.
    None,
    /// `PROXY UNKNOWN\r\n`, for a server run with `--proxy-protocol`, which closes a
    /// connection that does not begin with a PROXY header. UNKNOWN names no client, so the
    /// server keeps the real peer (PROXY protocol §2.1).
    ProxyUnknown,
}

/// Makes one GET request to `url`, after `preface`, and returns the response status.
pub fn check(url: &str, timeout: Duration, preface: Preface) -> anyhow::Result<u16> {
    let target = parse_url(url)?;
    let with_port = if target
        .host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        target.host.clone()
    } else {
        format!("{}:80", target.host)
    };
    let addr = with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", target.host))?
        .next()
        .with_context(|| format!("{} resolves to no address", target.host))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let preface = match preface {
        Preface::None => "",
        Preface::ProxyUnknown => "PROXY UNKNOWN\r\n",
    };
    write!(
        stream,
        "{preface}GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: muxserve-health\r\nConnection: close\r\n\r\n",
        target.path, target.host
    )
    .context("cannot send the request")?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() && !head[..len].contains(&b'\n') {
        let n = stream
            .read(&mut head[len..])
            .context("no response before the timeout")?;
        if n == 0 {
            break;
        }
        len += n;
    }
    parse_status(&head[..len]).with_context(|| {
        format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&head[..len])
        )
    })
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8080/healthz?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/healthz?x=1")
        );
        assert_eq!(parse_url("http://h").unwrap().path, "/");
        assert!(parse_url("https://h/").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("http://h/a b").is_err());
    }

    #[test]
    fn defaults() {
        assert_eq!(default_url(None, None, None), "http://127.0.0.1:8080/");
        assert_eq!(
            default_url(None, Some("3000"), Some("/healthz")),
            "http://127.0.0.1:3000/healthz"
        );
        assert_eq!(
            default_url(Some("[::]:81"), Some("3000"), None),
            "http://[::1]:81/"
        );
        assert_eq!(
            default_url(Some("10.0.0.5:82"), None, None),
            "http://10.0.0.5:82/"
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 x"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2"), None);
    }
}
