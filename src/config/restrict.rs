//! Target restrictions: which targets `/probe` may connect to. Off unless configured, so a
//! blackbox_exporter file behaves as before. Our addition to the schema:
//!
//! ```yaml
//! restrictions:                 # every module
//!   denied_networks: [169.254.0.0/16, 127.0.0.0/8, "::1/128", "fe80::/10"]
//! modules:
//!   tcp_internal:
//!     prober: tcp
//!     restrictions:             # this module, on top of the global ones
//!       allowed_networks: [10.0.0.0/8]
//!       allowed_names: ["*.corp.example"]
//! ```
//!
//! Names are checked before resolution, addresses after: every address the name resolved to
//! (or the literal address) must pass, so a name cannot smuggle in a denied address. IPv4-mapped
//! IPv6 addresses are checked as the IPv4 address they carry.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use regex::Regex;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::metrics::RejectReason;

/// One `restrictions` block as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Block {
    /// When set, an address must be in one of these networks.
    allowed_networks: Vec<Network>,
    /// An address in one of these networks is refused.
    denied_networks: Vec<Network>,
    /// When set, the target must be a name matching one of these patterns.
    allowed_names: Vec<NamePattern>,
    /// A target name matching one of these patterns is refused.
    denied_names: Vec<NamePattern>,
}

/// A CIDR network (`10.0.0.0/8`, `fe80::/10`) or a single address.
#[derive(Debug, Clone)]
struct Network(IpNet);

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(super::fields::StrVisitor::new("a CIDR network", |s| {
            parse_network(s).map(Network)
        }))
    }
}

/// Parses `10.0.0.0/8`, `fe80::/10` or a bare address (a /32 or /128).
///
/// Errors: the one-line reason naming the value.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not a CIDR network such as 10.0.0.0/8 or fe80::/10"))
}

/// A host-name pattern: `*` stands for any run of characters; case does not matter.
#[derive(Debug, Clone)]
struct NamePattern {
    text: String,
    regex: Regex,
}

impl<'de> Deserialize<'de> for NamePattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(super::fields::StrVisitor::new("a host-name pattern", |s| {
            parse_name_pattern(s)
        }))
    }
}

fn parse_name_pattern(s: &str) -> Result<NamePattern, String> {
    if s.is_empty() {
        return Err("a host-name pattern must not be empty".to_string());
    }
    let body: Vec<String> = s.split('*').map(regex::escape).collect();
    let regex = Regex::new(&format!("(?i)^{}$", body.join(".*")))
        .map_err(|e| format!("host-name pattern {s:?}: {e}"))?;
    Ok(NamePattern {
        text: s.to_string(),
        regex,
    })
}

/// The restrictions in force for one module: the global block and the module's own, both of
/// which must pass.
#[derive(Debug, Clone, Default)]
pub struct Restrictions {
    blocks: Vec<Arc<Block>>,
}

/// A refused target: the counter's reason and the one-line 403 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The `reason` label of `handshake_exporter_probes_rejected_total`.
    pub reason: RejectReason,
    /// What was refused and by which rule.
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Restrictions {
    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Checks the target host as given (a name, or an IP literal): denied names, then allowed
    /// names (an IP literal never matches an allowed name), then a literal's address.
    ///
    /// Errors: the [`Rejection`] of the first rule that refuses.
    pub fn check_host(&self, host: &str) -> Result<(), Rejection> {
        let literal = host.parse::<IpAddr>().ok();
        for block in &self.blocks {
            if let Some(p) = block.denied_names.iter().find(|p| p.regex.is_match(host)) {
                return Err(Rejection {
                    reason: RejectReason::DeniedName,
                    message: format!("target {host} refused: matches denied name {:?}", p.text),
                });
            }
            let allowed =
                literal.is_none() && block.allowed_names.iter().any(|p| p.regex.is_match(host));
            if !block.allowed_names.is_empty() && !allowed {
                return Err(Rejection {
                    reason: RejectReason::NameNotAllowed,
                    message: format!("target {host} refused: not an allowed name"),
                });
            }
        }
        match literal {
            Some(ip) => self.check_addresses(host, &[ip]),
            None => Ok(()),
        }
    }

    /// Checks every address `host` resolved to.
    ///
    /// Errors: the [`Rejection`] of the first address in a denied network or outside the
    /// allowed ones.
    pub fn check_addresses(&self, host: &str, ips: &[IpAddr]) -> Result<(), Rejection> {
        for ip in ips {
            let ip = ip.to_canonical();
            for block in &self.blocks {
                if let Some(net) = block.denied_networks.iter().find(|n| n.0.contains(&ip)) {
                    return Err(Rejection {
                        reason: RejectReason::DeniedNetwork,
                        message: format!(
                            "target {host} refused: {ip} is in denied network {}",
                            net.0
                        ),
                    });
                }
                if !block.allowed_networks.is_empty()
                    && !block.allowed_networks.iter().any(|n| n.0.contains(&ip))
                {
                    return Err(Rejection {
                        reason: RejectReason::NetworkNotAllowed,
                        message: format!("target {host} refused: {ip} is in no allowed network"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The restrictions of each module in `text`: the global block plus the module's own; modules
/// without either are absent. A lenient pass: everything but `restrictions` is stepped over
/// (the strict passes check the rest).
///
/// # Errors
/// A malformed `restrictions` block, with its line, column and key path.
pub(super) fn read(text: &str) -> Result<BTreeMap<String, Restrictions>, serde_yaml::Error> {
    let file: Option<File> = serde_yaml::from_str(text)?;
    let Some(file) = file else {
        return Ok(BTreeMap::new());
    };
    let global = file.restrictions.map(Arc::new);
    let mut out = BTreeMap::new();
    for (name, module) in file.modules {
        let blocks: Vec<Arc<Block>> = global
            .iter()
            .cloned()
            .chain(module.restrictions.map(Arc::new))
            .collect();
        if !blocks.is_empty() {
            out.insert(name, Restrictions { blocks });
        }
    }
    Ok(out)
}

/// The file, read for `restrictions` only.
#[derive(Default, Deserialize)]
#[serde(default)]
struct File {
    restrictions: Option<Block>,
    #[serde(deserialize_with = "modules")]
    modules: BTreeMap<String, ModuleRestrictions>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ModuleRestrictions {
    restrictions: Option<Block>,
}

/// `modules:` where a module that is not a map (an error of the strict pass) counts as empty.
fn modules<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ModuleRestrictions>, D::Error> {
    struct Modules;
    impl<'de> Visitor<'de> for Modules {
        type Value = BTreeMap<String, ModuleRestrictions>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of modules")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let module = map.next_value::<Option<ModuleRestrictions>>()?;
                out.insert(name, module.unwrap_or_default());
            }
            Ok(out)
        }
    }
    d.deserialize_any(Modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restrictions(yaml: &str) -> Restrictions {
        read(yaml).unwrap().remove("m").unwrap_or_default()
    }

    #[test]
    fn denied_networks_apply_to_literals_and_resolved_names() {
        let r = restrictions(
            "restrictions:\n  denied_networks: [169.254.0.0/16, '::1']\nmodules:\n  m: {prober: tcp}\n",
        );
        let err = r.check_host("169.254.169.254").unwrap_err();
        assert_eq!(err.reason, RejectReason::DeniedNetwork);
        assert_eq!(
            err.message,
            "target 169.254.169.254 refused: 169.254.169.254 is in denied network 169.254.0.0/16"
        );
        let mapped: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
        assert!(r.check_addresses("x", &[mapped]).is_err());
        assert!(r.check_addresses("x", &["::1".parse().unwrap()]).is_err());
        assert!(r.check_host("example.com").is_ok());
        assert!(r
            .check_addresses("example.com", &["192.0.2.1".parse().unwrap()])
            .is_ok());
    }

    #[test]
    fn module_rules_add_to_global_ones() {
        let r = restrictions(
            "restrictions:\n  denied_names: ['*.internal']\nmodules:\n  m:\n    prober: tcp\n    \
             restrictions:\n      allowed_names: ['*.Example.com']\n      allowed_networks: [192.0.2.0/24]\n",
        );
        assert_eq!(
            r.check_host("db.internal").unwrap_err().reason,
            RejectReason::DeniedName
        );
        assert_eq!(
            r.check_host("other.org").unwrap_err().reason,
            RejectReason::NameNotAllowed
        );
        assert_eq!(
            r.check_host("192.0.2.1").unwrap_err().reason,
            RejectReason::NameNotAllowed
        );
        assert!(r.check_host("www.example.COM").is_ok());
        let outside = r.check_addresses("www.example.com", &["198.51.100.1".parse().unwrap()]);
        assert_eq!(outside.unwrap_err().reason, RejectReason::NetworkNotAllowed);
    }

    #[test]
    fn bad_values_name_their_position() {
        let err = read("restrictions:\n  denied_networks: [10.0.0.0/33]\n").unwrap_err();
        assert!(err.to_string().contains("is not a CIDR network"), "{err}");
        assert_eq!(err.location().map(|l| l.line()), Some(2));
        let err = read("restrictions:\n  allowed_nets: []\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `allowed_nets`"),
            "{err}"
        );
    }
}
