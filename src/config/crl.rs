//! `tls_config.crl_check`: certificate revocation through CRLs (RFC 5280 section 5), with the
//! keys of blackbox_exporter's CRL check (its pull request #1583, `config.CRLCheckConfig`):
//!
//! ```yaml
//! tcp:
//!   tls: true
//!   fail_if_revoked: true        # ours: a revoked certificate fails the probe
//!   tls_config:
//!     crl_check:
//!       enabled: true            # off unless set, as in blackbox_exporter
//!       fetch_timeout: 5s        # default 10s, and never past the probe's deadline
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::duration;

/// blackbox_exporter's `defaultCRLFetchTimeout`.
pub const DEFAULT_CRL_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The `crl_check:` block of a `tls_config`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CrlCheck {
    /// Fetch each presented certificate's CRL and report it (`probe_ssl_crl_*`); off by default,
    /// so a probe without it makes no extra request.
    pub enabled: bool,
    /// Longest time the CRL fetches of one probe may take, all distribution points together;
    /// `None`: [`DEFAULT_CRL_FETCH_TIMEOUT`]. The probe's deadline bounds it too.
    pub fetch_timeout: Option<Duration>,
}

impl CrlCheck {
    /// The fetch timeout in force: `fetch_timeout`, else [`DEFAULT_CRL_FETCH_TIMEOUT`].
    pub fn timeout(&self) -> Duration {
        self.fetch_timeout.unwrap_or(DEFAULT_CRL_FETCH_TIMEOUT)
    }
}

/// `crl_check` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default, deserialize_with = "super::fields::null_as_default")]
    enabled: bool,
    #[serde(default, deserialize_with = "opt_duration")]
    fetch_timeout: Option<Duration>,
}

/// A Prometheus duration (`5s`, `500ms`); zero means the default, as Go's zero value does.
fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let parsed = d.deserialize_str(super::fields::StrVisitor::new(
        "a duration such as 5s",
        |s| duration::parse_duration(s).map_err(|e| e.to_string()),
    ))?;
    Ok(Some(parsed).filter(|d: &Duration| !d.is_zero()))
}

impl<'de> Deserialize<'de> for CrlCheck {
    /// Reads `crl_check`: `enabled` and `fetch_timeout`, nothing else.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CrlVisitor)
    }
}

struct CrlVisitor;

impl<'de> Visitor<'de> for CrlVisitor {
    type Value = CrlCheck;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a crl_check map of enabled, fetch_timeout")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CrlCheck, A::Error> {
        let raw = Raw::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(CrlCheck {
            enabled: raw.enabled,
            fetch_timeout: raw.fetch_timeout,
        })
    }
}

/// `crl_check` as it was read, for the configuration page.
#[derive(Serialize)]
struct Keys {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch_timeout: Option<String>,
}

impl Serialize for CrlCheck {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Keys {
            enabled: self.enabled,
            fetch_timeout: self.fetch_timeout.map(duration::format_duration),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keys_and_rejects_others() {
        let c: CrlCheck = serde_yaml::from_str("enabled: true\nfetch_timeout: 3s\n").unwrap();
        assert!(c.enabled);
        assert_eq!(c.timeout(), Duration::from_secs(3));
        let d: CrlCheck = serde_yaml::from_str("enabled: true\n").unwrap();
        assert_eq!(d.timeout(), DEFAULT_CRL_FETCH_TIMEOUT);
        let e = serde_yaml::from_str::<CrlCheck>("enable: true\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `enable`"), "{e}");
        let e = serde_yaml::from_str::<CrlCheck>("fetch_timeout: soon\n").unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
    }
}
