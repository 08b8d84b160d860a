//! `expect_failure:`, a module key of ours: the probe checks a policy ("this port must not
//! answer", "a client without a certificate must be refused"), so it passes exactly when it
//! fails in one of the stated ways. Read strictly and checked at load, as the rest of a module.
//!
//! ```yaml
//! expect_failure:
//!   phases: [tls]                                     # any of: resolve, connect, tls, query
//!   classes: [tls_alert]                              # failure classes of docs/metrics.md
//!   details: [certificate_required, handshake_failure] # optional: errno, TLS alert or rcode names
//! ```

use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::fields::{null_as_default, StrVisitor};
use crate::report::{Detail, Failure, FailureClass, Phase};

/// The failures a policy module expects. Each list that is not empty must contain the failure's
/// value (phase, class, detail) for the failure to be the expected one; at least one of `phases`
/// and `classes` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectFailure {
    /// Phases the probe may fail in; empty: any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseName>,
    /// Classes the failure may have; empty: any. `unexpected_success` is not one of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassName>,
    /// `detail` tokens the failure may carry (an errno name, a TLS alert name, a DNS rcode);
    /// empty: any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<DetailName>,
}

impl ExpectFailure {
    /// True when `failure` is one of the expected ones.
    pub fn matches(&self, failure: &Failure) -> bool {
        let phase = self.phases.is_empty() || self.phases.iter().any(|p| p.0 == failure.phase);
        let class = self.classes.is_empty() || self.classes.iter().any(|c| c.0 == failure.class);
        let detail =
            self.details.is_empty() || self.details.iter().any(|d| d.0 == failure.detail.as_str());
        phase && class && detail
    }
}

/// A `phase` label value in `expect_failure.phases`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseName(pub Phase);

/// A `class` label value in `expect_failure.classes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassName(pub FailureClass);

/// A `detail` label value in `expect_failure.details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailName(pub &'static str);

// ---- Reading

/// `values` as `` `a`, `b` `` for error messages.
fn listed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'de> Deserialize<'de> for PhaseName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a phase name", |text| {
            Phase::ALL
                .into_iter()
                .find(|p| p.as_str() == text)
                .map(PhaseName)
                .ok_or_else(|| {
                    format!(
                        "unknown phase `{text}`, expected one of {}",
                        listed(Phase::ALL.iter().map(|p| p.as_str()))
                    )
                })
        }))
    }
}

impl<'de> Deserialize<'de> for ClassName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a failure class", |text| {
            if text == FailureClass::UnexpectedSuccess.as_str() {
                return Err(format!(
                    "`{text}` cannot be expected: it is the class of a policy probe that passed"
                ));
            }
            FailureClass::ALL
                .into_iter()
                .find(|c| c.as_str() == text)
                .map(ClassName)
                .ok_or_else(|| {
                    format!(
                        "unknown failure class `{text}`, expected a class of docs/metrics.md \
                         such as `refused`, `timeout` or `tls_alert`"
                    )
                })
        }))
    }
}

impl<'de> Deserialize<'de> for DetailName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a detail token", |text| {
            Detail::all_values()
                .find(|v| *v == text)
                .map(DetailName)
                .ok_or_else(|| {
                    format!(
                        "unknown detail `{text}`, expected an errno name (`ECONNREFUSED`), a TLS \
                         alert name (`certificate_required`) or a DNS rcode (`NXDOMAIN`)"
                    )
                })
        }))
    }
}

/// `expect_failure` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default, deserialize_with = "null_as_default")]
    phases: Vec<PhaseName>,
    #[serde(default, deserialize_with = "null_as_default")]
    classes: Vec<ClassName>,
    #[serde(default, deserialize_with = "null_as_default")]
    details: Vec<DetailName>,
}

impl<'de> Deserialize<'de> for ExpectFailure {
    /// Reads `expect_failure`; an empty block (neither `phases` nor `classes`) is rejected, since
    /// it would expect every failure, a timeout of the exporter's own making included.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ExpectVisitor)
    }
}

struct ExpectVisitor;

impl<'de> Visitor<'de> for ExpectVisitor {
    type Value = ExpectFailure;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an expect_failure map of phases, classes, details")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExpectFailure, A::Error> {
        let raw = RawExpect::deserialize(MapAccessDeserializer::new(map))?;
        if raw.phases.is_empty() && raw.classes.is_empty() {
            return Err(de::Error::custom(
                "`expect_failure` needs `phases` or `classes`: which failures pass the probe",
            ));
        }
        Ok(ExpectFailure {
            phases: raw.phases,
            classes: raw.classes,
            details: raw.details,
        })
    }
}

// ---- Writing (the effective module of `debug=true`)

impl Serialize for PhaseName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl Serialize for ClassName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl Serialize for DetailName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}
