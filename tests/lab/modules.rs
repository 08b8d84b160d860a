//! Module configurations for the lab's exporters, one line per module, so a test file names only
//! what its modules change. The YAML is blackbox_exporter's schema, which both exporters load.

use std::path::Path;

/// `tcp` lines: IPv4 first (falling back to IPv6, the default).
pub const IP4: &str = "      preferred_ip_protocol: ip4\n";
/// `tcp` lines: IPv4 only.
pub const IP4_ONLY: &str = "      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n";
/// `tcp` lines: IPv6 first (falling back to IPv4).
pub const IP6: &str = "      preferred_ip_protocol: ip6\n";
/// `tcp` lines: IPv6 only.
pub const IP6_ONLY: &str = "      preferred_ip_protocol: ip6\n      ip_protocol_fallback: false\n";

/// One `prober: tcp` module `name` with `timeout` (`"2s"`), whose `tcp:` block is the
/// concatenation of `tcp` (YAML lines indented six spaces, such as [`IP4`]).
pub fn module(name: &str, timeout: &str, tcp: &[&str]) -> String {
    format!(
        "  {name}:\n    prober: tcp\n    timeout: {timeout}\n    tcp:\n{}",
        tcp.concat()
    )
}

/// A configuration file holding `modules`.
pub fn config(modules: &[String]) -> String {
    modules
        .iter()
        .fold("modules:\n".to_string(), |all, m| all + m)
}

/// `tls_config` lines trusting `ca_file`, checking `server_name` when given.
pub fn tls_config(ca_file: &Path, server_name: Option<&str>) -> String {
    let name = server_name.map_or(String::new(), |n| format!("        server_name: {n}\n"));
    format!(
        "      tls_config:\n        ca_file: {}\n{name}",
        ca_file.display()
    )
}

/// `tls: true` lines that accept any certificate (`insecure_skip_verify`).
pub const TLS_ANY: &str =
    "      tls: true\n      tls_config:\n        insecure_skip_verify: true\n";

/// `path_trace` lines: enabled, up to 8 hops.
pub const TRACE: &str = "      path_trace:\n        enabled: true\n        max_hops: 8\n";

/// `tls: true` lines trusting `ca_file`, checking `server_name` when given.
pub fn tls(ca_file: &Path, server_name: Option<&str>) -> String {
    format!("      tls: true\n{}", tls_config(ca_file, server_name))
}
