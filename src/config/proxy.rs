//! `tcp.proxy_url` (with `proxy_username`, `proxy_password`): the key names of
//! blackbox_exporter PR #1564. A tcp module reaches its target through a SOCKS5 proxy
//! (RFC 1928, username/password RFC 1929) or an HTTP proxy's CONNECT method (RFC 9110 section
//! 9.3.6). Who resolves the target's name follows curl's schemes: `socks5://` resolves it here,
//! in phase `resolve`, and sends the proxy an address; `socks5h://` and `http://` send the name
//! and the proxy resolves it.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};

use super::fields::StrVisitor;

/// How the proxy is asked to open the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS5 CONNECT (RFC 1928): `socks5://` or `socks5h://` ([`ProxyUrl::resolves_locally`]
    /// tells them apart).
    Socks5,
    /// HTTP `CONNECT host:port` (RFC 9110 section 9.3.6): `http://`.
    HttpConnect,
}

/// A parsed `proxy_url`: `socks5://HOST:PORT`, `socks5h://HOST:PORT` or `http://HOST:PORT`
/// (IPv6 literals in brackets), with no path, user info or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// SOCKS5 or HTTP CONNECT.
    pub kind: ProxyKind,
    /// The proxy's name or IP literal (without brackets), resolved in phase `resolve`.
    pub host: String,
    /// The proxy's TCP port.
    pub port: u16,
    /// `socks5://` (curl's convention): the target's name is resolved by the exporter in phase
    /// `resolve` and the proxy gets an address (ATYP 1 or 4). `false` for `socks5h://` and
    /// `http://`: the proxy gets the name and resolves it.
    pub resolves_locally: bool,
    /// The URL as written, shown by `debug=true`.
    text: String,
}

impl ProxyUrl {
    /// Parses a `proxy_url`.
    ///
    /// # Errors
    /// A one-line reason: an unknown scheme, no port, user info, a path, or a bad host.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let (kind, resolves_locally, rest) = if let Some(rest) = text.strip_prefix("socks5://") {
            (ProxyKind::Socks5, true, rest)
        } else if let Some(rest) = text.strip_prefix("socks5h://") {
            (ProxyKind::Socks5, false, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (ProxyKind::HttpConnect, false, rest)
        } else {
            return Err(format!(
                "unsupported proxy_url `{text}`: expected socks5://HOST:PORT, socks5h://HOST:PORT or http://HOST:PORT"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            return Err(format!(
                "proxy_url `{text}` carries credentials: use proxy_username and proxy_password"
            ));
        }
        if rest.contains(['/', '?', '#']) {
            return Err(format!(
                "proxy_url `{text}` must be only scheme, host and port"
            ));
        }
        let target = crate::prober::Target::parse(rest)
            .map_err(|_| format!("proxy_url `{text}` needs HOST:PORT with a port 1-65535"))?;
        Ok(ProxyUrl {
            kind,
            host: target.host,
            port: target.port,
            resolves_locally,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ProxyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a proxy URL", ProxyUrl::parse))
    }
}

impl Serialize for ProxyUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// `proxy_password`: never printed (`debug=true` shows `<secret>`).
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}
