//! Reading the YAML in two passes over the same text, so every error keeps `serde_yaml`'s line,
//! column and key path.
//!
//! Pass one ([`outline`]) reads only the top level and each module's `prober`; pass two
//! ([`tcp_modules`]) reads `prober: tcp` modules strictly and steps over the others, which are
//! only required to be maps (blackbox_exporter validates them, but we do not run them).
//! Checks that involve several keys run inside the visitor of their map, so `serde_yaml`
//! attaches that map's position and path to the error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::fields::StrVisitor;
use super::unix::UnixProbe;
use super::{duration, ConfigWarning, Module, TcpProbe};

/// Why a file without any YAML node does not load.
const EMPTY_FILE: &str =
    "the file is empty or holds only comments, expected a map with a `modules` key";

/// Keys of the top level (blackbox_exporter's `Config`).
const TOP_FIELDS: &[&str] = &["modules", "restrictions"];

/// Keys of a tcp module; the blocks of other probers are accepted and ignored, as
/// blackbox_exporter parses every block whatever the prober.
const MODULE_FIELDS: &[&str] = &[
    "prober",
    "timeout",
    "tcp",
    "restrictions",
    "http",
    "icmp",
    "dns",
    "grpc",
    "unix",
    "expect_failure",
];

/// Pass one: each module's prober, by module name.
///
/// # Errors
/// Unknown top-level keys, empty or duplicate module names, modules that are not maps or
/// have no `prober`.
pub(super) fn outline(text: &str) -> Result<BTreeMap<String, String>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .deserialize_any(TopVisitor { tcp: None })
        .map(|top| top.probers)
}

/// Pass two: the modules named in `tcp` (those also in `unix` are `prober: unix` modules, read
/// from their `unix:` block), fully read and checked.
///
/// # Errors
/// The first unknown key, malformed value or failed check in those modules.
/// Blocks a tcp module carries but does not use are added to `warnings`.
pub(super) fn tcp_modules(
    text: &str,
    tcp: &BTreeSet<String>,
    unix: &BTreeSet<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<BTreeMap<String, Module>, serde_yaml::Error> {
    let mut top = serde_yaml::Deserializer::from_str(text).deserialize_any(TopVisitor {
        tcp: Some((tcp, unix)),
    })?;
    warnings.append(&mut top.warnings);
    Ok(top.modules)
}

/// What a pass collected.
#[derive(Default)]
struct Top {
    /// Module name → prober (pass one).
    probers: BTreeMap<String, String>,
    /// Module name → tcp module (pass two).
    modules: BTreeMap<String, Module>,
    /// Ignored blocks of tcp modules (pass two).
    warnings: Vec<ConfigWarning>,
}

/// Reads the top level; `tcp` (the runnable modules, and the unix ones among them) is `None`
/// in pass one.
struct TopVisitor<'a> {
    tcp: Option<(&'a BTreeSet<String>, &'a BTreeSet<String>)>,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map with a `modules` key")
    }

    /// A document that is only `null` or `~` loads as no modules, as it does in
    /// blackbox_exporter.
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::default())
    }

    /// No YAML node at all (an empty, blank or comment-only file) is rejected, as
    /// blackbox_exporter rejects it (its decoder reports EOF): it is what a reload sees in the
    /// middle of a non-atomic rewrite, and must not replace the running modules with none.
    fn visit_none<E: de::Error>(self) -> Result<Top, E> {
        Err(E::custom(EMPTY_FILE))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top::default();
        let mut seen = [false; TOP_FIELDS.len()];
        while let Some(index) = map.next_key_seed(FieldSeed::new(TOP_FIELDS, &mut seen))? {
            if TOP_FIELDS[index] == "restrictions" {
                // Read by `restrict::read`.
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match self.tcp {
                None => top.probers = map.next_value_seed(OutlineModules)?,
                Some((tcp, unix)) => {
                    (top.modules, top.warnings) = map.next_value_seed(FullModules { tcp, unix })?
                }
            }
        }
        Ok(top)
    }
}

/// A map key that must be one of `fields` and appear once; yields its index.
struct FieldSeed<'s> {
    fields: &'static [&'static str],
    seen: &'s mut [bool],
}

impl<'s> FieldSeed<'s> {
    fn new(fields: &'static [&'static str], seen: &'s mut [bool]) -> Self {
        FieldSeed { fields, seen }
    }
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        // Checked inside the visitor so the error carries the key's own position.
        d.deserialize_str(StrVisitor::new("a key", |key| {
            let Some(index) = self.fields.iter().position(|f| *f == key) else {
                return Err(unknown_field(key, self.fields));
            };
            match self.seen.get_mut(index) {
                Some(seen) if *seen => Err(format!("duplicate field `{}`", self.fields[index])),
                Some(seen) => {
                    *seen = true;
                    Ok(index)
                }
                None => Ok(index),
            }
        }))
    }
}

/// serde's own wording for an unknown key, e.g. "unknown field `tsl`, expected one of ...".
fn unknown_field(key: &str, fields: &'static [&'static str]) -> String {
    <serde_yaml::Error as de::Error>::unknown_field(key, fields).to_string()
}

/// A module name: non-empty and not seen before in this file.
struct NameSeed<'s> {
    seen: &'s BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(StrVisitor::new("a module name", |name| {
            if name.is_empty() {
                return Err("module name must not be empty".to_string());
            }
            if self.seen.contains(name) {
                return Err(format!("duplicate module `{name}`"));
            }
            Ok(name.to_string())
        }))
    }
}

/// Pass one's `modules:` map: name → prober.
struct OutlineModules;

impl<'de> DeserializeSeed<'de> for OutlineModules {
    type Value = BTreeMap<String, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OutlineModules {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of module name to module")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut names = BTreeSet::new();
        let mut probers = BTreeMap::new();
        while let Some(name) = map.next_key_seed(NameSeed { seen: &names })? {
            let prober = map.next_value_seed(ProberOnly)?;
            names.insert(name.clone());
            probers.insert(name, prober);
        }
        Ok(probers)
    }
}

/// A module read only for its `prober`.
struct ProberOnly;

impl<'de> DeserializeSeed<'de> for ProberOnly {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ProberOnly {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a module: a map with a `prober` key")
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Err(de::Error::missing_field("prober"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut prober = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "prober" {
                prober = map.next_value::<Option<ProberName>>()?.map(|p| p.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match prober {
            Some(prober) if !prober.is_empty() => Ok(prober),
            _ => Err(de::Error::missing_field("prober")),
        }
    }
}

/// The probers blackbox_exporter master knows (`config/config.go`, `Module.UnmarshalYAML`):
/// any other `prober` value is a load error there (blackbox_exporter #1521), and here.
pub(super) const KNOWN_PROBERS: &[&str] =
    &["http", "tcp", "icmp", "dns", "grpc", "unix", "websocket"];

/// A `prober` value: one of [`KNOWN_PROBERS`], checked inside the visitor so the error carries
/// the value's own line, column and key (`modules.NAME.prober`). `""` reads as "not given".
struct ProberName(String);

impl<'de> Deserialize<'de> for ProberName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a prober name", |name| {
            if name.is_empty() || KNOWN_PROBERS.contains(&name) {
                return Ok(ProberName(name.to_string()));
            }
            let known = KNOWN_PROBERS
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(format!(
                "unknown prober `{}`, expected one of {known}",
                super::error::one_line(name)
            ))
        }))
    }
}

/// Pass two's `modules:` map: tcp modules read strictly, the others stepped over.
struct FullModules<'a> {
    tcp: &'a BTreeSet<String>,
    unix: &'a BTreeSet<String>,
}

/// Tcp modules by name, and the warnings reading them gave.
type Modules = (BTreeMap<String, Module>, Vec<ConfigWarning>);

impl<'de> DeserializeSeed<'de> for FullModules<'_> {
    type Value = Modules;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FullModules<'_> {
    type Value = Modules;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of module name to module")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Modules::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut modules, mut warnings) = Modules::default();
        while let Some(name) = map.next_key::<String>()? {
            if self.tcp.contains(&name) {
                let seed = ModuleSeed {
                    name: &name,
                    unix: self.unix.contains(&name),
                    warnings: &mut warnings,
                };
                let module = map.next_value_seed(seed)?;
                modules.insert(name, module);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((modules, warnings))
    }
}

/// One `prober: tcp` module; `name` is only used in the `warnings` it adds.
struct ModuleSeed<'n> {
    name: &'n str,
    /// A `prober: unix` module: its settings are in `unix:`, and `tcp:` is ignored.
    unix: bool,
    warnings: &'n mut Vec<ConfigWarning>,
}

impl<'de> DeserializeSeed<'de> for ModuleSeed<'_> {
    type Value = Module;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Module, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ModuleSeed<'_> {
    type Value = Module;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a module: a map with a `prober` key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Module, A::Error> {
        let mut seen = [false; MODULE_FIELDS.len()];
        let mut module = Module {
            prober: String::new(),
            timeout: None,
            tcp: TcpProbe::default(),
            restrictions: None,
            expect_failure: None,
        };
        while let Some(index) = map.next_key_seed(FieldSeed::new(MODULE_FIELDS, &mut seen))? {
            match MODULE_FIELDS[index] {
                "prober" => module.prober = map.next_value()?,
                "timeout" => module.timeout = map.next_value::<Option<Timeout>>()?.map(|t| t.0),
                "tcp" if !self.unix => {
                    module.tcp = map.next_value::<Option<TcpProbe>>()?.unwrap_or_default();
                    check_starttls(&module.tcp).map_err(de::Error::custom)?;
                }
                "unix" if self.unix => {
                    let unix = map.next_value::<Option<UnixProbe>>()?;
                    module.tcp = unix.map(|u| u.0).unwrap_or_default();
                }
                "expect_failure" => module.expect_failure = map.next_value()?,
                // Read by `restrict::read`.
                "restrictions" => {
                    map.next_value::<IgnoredAny>()?;
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    self.warnings.push(ConfigWarning::IgnoredBlock {
                        module: self.name.to_string(),
                        block: other.to_string(),
                    });
                }
            }
        }
        Ok(module)
    }
}

/// `tcp.starttls` upgrades the connection itself, so neither `tls: true` nor a `starttls`
/// step may upgrade it again.
fn check_starttls(tcp: &TcpProbe) -> Result<(), String> {
    let Some(protocol) = tcp.starttls else {
        return Ok(());
    };
    if tcp.tls {
        return Err(format!(
            "`starttls: {protocol}` and `tls: true` are mutually exclusive: the upgrade starts TLS"
        ));
    }
    if tcp.query_response.iter().any(|s| s.starttls) {
        return Err(format!(
            "`starttls: {protocol}` already starts TLS: remove `starttls: true` from query_response"
        ));
    }
    Ok(())
}

/// A module `timeout`: a Prometheus duration greater than zero.
struct Timeout(Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a duration such as `5s`", |text| {
            let positive = || format!("must be greater than zero, got `{text}`");
            if text.starts_with('-') {
                return Err(positive());
            }
            match duration::parse_duration(text) {
                Ok(value) if value.is_zero() => Err(positive()),
                Ok(value) => Ok(Timeout(value)),
                Err(err) => Err(err.to_string()),
            }
        }))
    }
}
