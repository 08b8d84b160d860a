//! The probe engine: one orchestrator walks the phases `resolve` → `connect` → `tls` → `query`
//! under one deadline and returns a [`ProbeReport`]. Each phase lives in its own module; nothing
//! else in the crate touches sockets.

pub mod connect;
pub mod query;
pub mod resolve;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Module;
use crate::report::ProbeReport;

/// `host:port` of a probe target. `host` is a name or an IP literal without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// DNS name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port, 1..=65535.
    pub port: u16,
}

/// One probe to run: what, how, and by when.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// The target.
    pub target: Target,
    /// The module's name, for logs.
    pub module_name: String,
    /// The module's settings.
    pub module: Arc<Module>,
    /// The deadline, counted from the probe's start.
    pub timeout: Duration,
}
