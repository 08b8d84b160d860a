//! The probe engine: one orchestrator walks the phases `resolve` → `connect` → `tls` → `query`
//! under one deadline and returns a [`ProbeReport`]. Each phase lives in its own module; nothing
//! else in the crate touches sockets.

pub mod addresses;
pub mod connect;
pub mod errno;
pub mod icmp;
mod orchestrate;
mod policy;
pub mod proxy;
pub mod query;
pub mod resolve;
pub mod runtime;
pub mod sockets;
pub mod starttls;
pub mod tls;
pub mod trace;
pub mod unix;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use crate::config::Module;
use crate::report::{Failure, Phase};

pub use orchestrate::probe;

/// Runs `step` until `deadline`; a step still running then is a `timeout` of `phase`.
pub(crate) async fn within<T>(
    deadline: Instant,
    phase: Phase,
    step: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    timeout_at(deadline, step)
        .await
        .unwrap_or_else(|_| Err(Failure::timeout(phase)))
}

/// `host:port` of a probe target. `host` is a name or an IP literal without brackets; for a
/// `prober: unix` module it is the socket path and `port` is 0 ([`Target::unix_path`]).
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

/// Why a `target` parameter was rejected; the text is the one-line reason a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Empty parameter.
    #[error("target is empty")]
    Empty,
    /// No `:PORT` part.
    #[error("target {0:?} has no port: use HOST:PORT, [IPv6]:PORT")]
    MissingPort(String),
    /// Port not a number in 1..=65535.
    #[error("target {0:?} has an invalid port: it must be 1..65535")]
    BadPort(String),
    /// Empty host, or an IPv6 literal without brackets or with bad brackets.
    #[error("target {0:?} has an invalid host: use HOST:PORT, [IPv6]:PORT")]
    BadHost(String),
    /// A `prober: unix` target that cannot be a socket path.
    #[error("target {0:?} is not a Unix socket path: {1}")]
    BadPath(String, &'static str),
}

/// Longest Unix socket path: `sun_path` holds 108 bytes with the terminating NUL (unix(7)).
pub const MAX_UNIX_PATH_BYTES: usize = 107;

impl Target {
    /// A `prober: unix` target: the socket path as given (blackbox_exporter 0.28 dials the
    /// target as it is), in `host`, with `port` 0.
    ///
    /// Errors: [`TargetError::BadPath`] for an empty path, one with a NUL byte, or one longer
    /// than [`MAX_UNIX_PATH_BYTES`].
    pub fn unix_path(s: &str) -> Result<Target, TargetError> {
        let bad = |why| Err(TargetError::BadPath(s.to_string(), why));
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if s.contains('\0') {
            return bad("it contains a NUL byte");
        }
        if s.len() > MAX_UNIX_PATH_BYTES {
            return bad("it is longer than 107 bytes (sun_path, unix(7))");
        }
        Ok(Target {
            host: s.to_string(),
            port: 0,
        })
    }
}

impl Target {
    /// Parses `HOST:PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
    ///
    /// Errors: [`TargetError`] for an empty target, a missing port, a port outside 1..=65535,
    /// an empty host, or an IPv6 literal without brackets.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| TargetError::BadHost(s.to_string()))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(TargetError::BadHost(s.to_string()));
            }
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| TargetError::MissingPort(s.to_string()))?;
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| TargetError::MissingPort(s.to_string()))?;
            if host.contains(':') {
                return Err(TargetError::BadHost(s.to_string()));
            }
            (host, port)
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(TargetError::BadHost(s.to_string()));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| TargetError::BadPort(s.to_string()))?;
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}
