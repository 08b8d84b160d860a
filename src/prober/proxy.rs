//! Phase `proxy` (`tcp.proxy_url`): over the connection to the proxy, ask it for the target.
//! SOCKS5 (RFC 1928) with no authentication or username/password (RFC 1929), or HTTP CONNECT
//! (RFC 9110 section 9.3.6) with Basic `Proxy-Authorization`. The target goes to the proxy as
//! its name (`socks5h://`, `http://`) or as the address phase `resolve` found (`socks5://`).
//! The proxy's answer maps to the class with the same meaning, its
//! reply in `detail`.

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::errno::classify_stream;
use crate::config::{ProxyKind, TcpProbe};
use crate::report::{Failure, FailureClass, Phase, ProxyReply, StepLog};

/// Longest CONNECT answer header read (status line and headers), bytes.
const MAX_CONNECT_HEADER_BYTES: usize = 16 * 1024;

/// Asks the proxy of `tcp.proxy_url` over `stream` to connect to `host:port`; returns the
/// stream, now a tunnel to the target.
///
/// Errors, phase `proxy`: the reply's class (see [`socks_class`], [`http_class`]) with the
/// reply as detail; `protocol_mismatch` when the proxy does not answer in its protocol; `eof`,
/// `reset` as the stream's errors are.
pub(super) async fn open(
    mut stream: TcpStream,
    tcp: &TcpProbe,
    host: &str,
    port: u16,
    log: &mut StepLog,
) -> Result<TcpStream, Failure> {
    let Some(proxy) = &tcp.proxy_url else {
        return Ok(stream);
    };
    let user = tcp.proxy_username.as_deref();
    let pass = tcp.proxy_password.as_ref().map(|p| p.0.as_str());
    let io = |err: std::io::Error| classify_stream(Phase::Proxy, &err);
    match proxy.kind {
        ProxyKind::Socks5 => socks5(&mut stream, user, pass, host, port).await,
        ProxyKind::HttpConnect => connect(&mut stream, user, pass, host, port).await,
    }
    .map_err(|e| match e {
        Error::Io(err) => io(err),
        Error::Reply(class, reply) => Failure::new(Phase::Proxy, class, reply),
        Error::Garbled => Failure::bare(Phase::Proxy, FailureClass::ProtocolMismatch),
    })?;
    log.note(format!("proxy {proxy} opened a tunnel to {host}:{port}"));
    Ok(stream)
}

enum Error {
    Io(std::io::Error),
    Reply(FailureClass, ProxyReply),
    Garbled,
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}

/// RFC 1928: method negotiation, RFC 1929 sub-negotiation when asked, then CONNECT with the
/// target as a domain name (ATYP 3) or an IP literal (ATYP 1 or 4).
async fn socks5(
    s: &mut TcpStream,
    user: Option<&str>,
    pass: Option<&str>,
    host: &str,
    port: u16,
) -> Result<(), Error> {
    let methods: &[u8] = if user.is_some() {
        &[0x00, 0x02]
    } else {
        &[0x00]
    };
    let mut hello = vec![0x05, methods.len() as u8];
    hello.extend_from_slice(methods);
    s.write_all(&hello).await?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await?;
    match choice {
        [0x05, 0x00] => {}
        [0x05, 0x02] => {
            let (user, pass) = (user.unwrap_or(""), pass.unwrap_or(""));
            if user.len() > 255 || pass.len() > 255 {
                return Err(Error::Reply(
                    FailureClass::ProberError,
                    ProxyReply::SocksAuthFailed,
                ));
            }
            let mut auth = vec![0x01, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            s.write_all(&auth).await?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status).await?;
            if status[1] != 0 {
                return Err(Error::Reply(
                    FailureClass::AdminProhibited,
                    ProxyReply::SocksAuthFailed,
                ));
            }
        }
        [0x05, 0xff] => {
            return Err(Error::Reply(
                FailureClass::AdminProhibited,
                ProxyReply::SocksNoAcceptableMethods,
            ))
        }
        _ => return Err(Error::Garbled),
    }
    let mut request = vec![0x05, 0x01, 0x00];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            request.push(0x01);
            request.extend_from_slice(&ip.octets());
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            request.push(0x04);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) if host.len() <= 255 => {
            request.extend_from_slice(&[0x03, host.len() as u8]);
            request.extend_from_slice(host.as_bytes());
        }
        Err(_) => {
            return Err(Error::Reply(
                FailureClass::DnsError,
                ProxyReply::SocksAddressTypeNotSupported,
            ))
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    s.write_all(&request).await?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != 0x05 {
        return Err(Error::Garbled);
    }
    if head[1] != 0x00 {
        let (class, reply) = socks_class(head[1]);
        return Err(Error::Reply(class, reply));
    }
    // BND.ADDR and BND.PORT, read and dropped.
    let skip = match head[3] {
        0x01 => 4,
        0x04 => 16,
        0x03 => usize::from(s.read_u8().await?),
        _ => return Err(Error::Garbled),
    } + 2;
    let mut bound = vec![0u8; skip];
    s.read_exact(&mut bound).await?;
    Ok(())
}

/// The class of a SOCKS5 reply field other than 0 (RFC 1928 section 6): 2 (not allowed by the
/// ruleset) `admin_prohibited`, 3 `network_unreachable`, 4 `host_unreachable`, 5 `refused`,
/// 6 (TTL expired) `timeout`; 1, 7, 8 and unassigned values say the proxy failed: `prober_error`
/// is not theirs to claim, so they are `protocol_mismatch`.
pub fn socks_class(reply: u8) -> (FailureClass, ProxyReply) {
    match reply {
        2 => (FailureClass::AdminProhibited, ProxyReply::SocksNotAllowed),
        3 => (
            FailureClass::NetworkUnreachable,
            ProxyReply::SocksNetworkUnreachable,
        ),
        4 => (
            FailureClass::HostUnreachable,
            ProxyReply::SocksHostUnreachable,
        ),
        5 => (FailureClass::Refused, ProxyReply::SocksConnectionRefused),
        6 => (FailureClass::Timeout, ProxyReply::SocksTtlExpired),
        7 => (
            FailureClass::ProtocolMismatch,
            ProxyReply::SocksCommandNotSupported,
        ),
        8 => (
            FailureClass::ProtocolMismatch,
            ProxyReply::SocksAddressTypeNotSupported,
        ),
        _ => (
            FailureClass::ProtocolMismatch,
            ProxyReply::SocksGeneralFailure,
        ),
    }
}

/// `CONNECT host:port HTTP/1.1`, then the answer's status line and headers.
async fn connect(
    s: &mut TcpStream,
    user: Option<&str>,
    pass: Option<&str>,
    host: &str,
    port: u16,
) -> Result<(), Error> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(user) = user {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", pass.unwrap_or("")));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).await?;
    // Read byte by byte through a small buffer that is never read past the header: bytes
    // after it belong to the tunnel.
    let mut reader = BufReader::with_capacity(1, &mut *s);
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n\r\n") {
        let room = MAX_CONNECT_HEADER_BYTES.saturating_sub(header.len());
        if room == 0 {
            return Err(Error::Garbled);
        }
        // Each line is read within what is left of the bound: a proxy that never sends a
        // newline stops at the bound too, not only one that sends too many lines.
        let mut line = (&mut reader).take(room as u64);
        if line.read_until(b'\n', &mut header).await? == 0 {
            return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    let text = std::str::from_utf8(&header).map_err(|_| Error::Garbled)?;
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|h| h.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(Error::Garbled)?;
    match http_class(status) {
        None => Ok(()),
        Some((class, reply)) => Err(Error::Reply(squid_errno(text).unwrap_or(class), reply)),
    }
}

/// The class squid states for a failed connect in its `X-Squid-Error: ERR_CONNECT_FAIL <errno>`
/// header (squid's error page codes, the errno of its own connect(2)), which tells a silent
/// target (ETIMEDOUT) from a refusing one behind the same 503.
fn squid_errno(header: &str) -> Option<FailureClass> {
    let value = header.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-squid-error")
            .then_some(value.trim())
    })?;
    let errno: i32 = value
        .strip_prefix("ERR_CONNECT_FAIL ")?
        .trim()
        .parse()
        .ok()?;
    match errno {
        libc::ECONNREFUSED => Some(FailureClass::Refused),
        libc::ETIMEDOUT => Some(FailureClass::Timeout),
        libc::EHOSTUNREACH => Some(FailureClass::HostUnreachable),
        libc::ENETUNREACH => Some(FailureClass::NetworkUnreachable),
        _ => None,
    }
}

/// The class of a CONNECT answer's status (RFC 9110 section 15); `None` for 2xx, the tunnel
/// is open. 403 (the proxy's policy) and 407 (credentials missing or refused)
/// `admin_prohibited`; 502 and 503 (the proxy could not reach the target) `refused` unless
/// squid's `X-Squid-Error` names the errno ([`squid_errno`]); 504 `timeout`; any other
/// `protocol_mismatch`.
pub fn http_class(status: u16) -> Option<(FailureClass, ProxyReply)> {
    match status {
        200..=299 => None,
        403 => Some((FailureClass::AdminProhibited, ProxyReply::Http403)),
        407 => Some((FailureClass::AdminProhibited, ProxyReply::Http407)),
        502 => Some((FailureClass::Refused, ProxyReply::Http502)),
        503 => Some((FailureClass::Refused, ProxyReply::Http503)),
        504 => Some((FailureClass::Timeout, ProxyReply::Http504)),
        _ => Some((FailureClass::ProtocolMismatch, ProxyReply::HttpOther)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_connect_answer_without_line_ends_stops_at_the_header_bound() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A proxy whose status line never ends: it writes until the probe side goes away.
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let chunk = vec![b'X'; 4096];
            let mut sent = conn.write_all(b"HTTP/1.1 200 ").await;
            while sent.is_ok() {
                sent = conn.write_all(&chunk).await;
            }
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let answer = connect(&mut stream, None, None, "target.test", 443);
        let answer = tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .expect("the answer is cut at the bound, not read while the proxy sends");
        assert!(matches!(answer, Err(Error::Garbled)));
    }
}
