//! Writing a module back as YAML in the schema it was read from, for `/probe?debug=true`:
//! the `Serialize` impls and `serialize_with` helpers of the config types.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::{duration, AddressRule, IpProtocol, TlsVersion};

/// A timeout as a Prometheus duration string (`5s`, `1m30s`).
pub(super) fn timeout<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.serialize_str(&duration::format_duration(*value)),
        None => s.serialize_none(),
    }
}

/// An `expect` regex as the pattern it was compiled from.
pub(super) fn regex<S: Serializer>(value: &Option<regex::Regex>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(re) => s.serialize_str(re.as_str()),
        None => s.serialize_none(),
    }
}

/// Whether a bool is `false`, to leave unset flags out of a step.
pub(super) fn is_false(value: &bool) -> bool {
    !*value
}

impl Serialize for IpProtocol {
    /// `ip4` or `ip6`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for TlsVersion {
    /// `TLS10` to `TLS13`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for AddressRule {
    /// `all` or `any`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
