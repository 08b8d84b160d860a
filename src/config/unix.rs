//! The `unix:` block of a `prober: unix` module (blackbox_exporter 0.28's `UnixProbe`):
//! `query_response`, `tls` and `tls_config`, read strictly. The dialogue runs over the socket as
//! over TCP, after a rustls handshake with `tls: true` (the name: `tls_config.server_name`, else
//! `localhost`). `starttls` steps and the OpenSSL stack (`tls_config.stack: openssl`, or a
//! `min_version`/`max_version` below TLS 1.2) are not spoken over a Unix socket here: load
//! errors rather than probes that could never pass.

use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::fields::null_as_default;
use super::{QueryResponse, TcpProbe, TlsConfig, TlsStack};

/// A `unix:` block, held as the [`TcpProbe`] settings the dialogue reads (the others keep
/// their defaults and are not used).
pub(super) struct UnixProbe(pub(super) TcpProbe);

/// `unix:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnix {
    #[serde(default, deserialize_with = "null_as_default")]
    query_response: Vec<QueryResponse>,
    #[serde(default, deserialize_with = "null_as_default")]
    tls: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    tls_config: TlsConfig,
}

impl<'de> Deserialize<'de> for UnixProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UnixVisitor)
    }
}

struct UnixVisitor;

impl<'de> Visitor<'de> for UnixVisitor {
    type Value = UnixProbe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a unix map of query_response, tls, tls_config")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<UnixProbe, A::Error> {
        let raw = RawUnix::deserialize(MapAccessDeserializer::new(map))?;
        if raw.tls && raw.tls_config.stack() != TlsStack::Rustls {
            return Err(de::Error::custom(
                "tls_config: the OpenSSL stack (stack: openssl, or a TLS version below TLS12) is not supported over a Unix socket by this exporter",
            ));
        }
        if let Some(i) = raw.query_response.iter().position(|s| s.starttls) {
            return Err(de::Error::custom(format!(
                "query_response[{i}]: `starttls` is not supported over a Unix socket by this exporter"
            )));
        }
        Ok(UnixProbe(TcpProbe {
            query_response: raw.query_response,
            tls: raw.tls,
            tls_config: raw.tls_config,
            ..TcpProbe::default()
        }))
    }
}
