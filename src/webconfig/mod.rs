//! `--web.config.file`: HTTPS, client certificates, basic authentication, security headers and
//! the request rate limit, in Prometheus exporter-toolkit's file format.
//!
//! [`Web`] holds the settings in force. The toolkit reads its file on every request; here the
//! file and the certificate, key and CA files it names are checked for a change at most once a
//! second (on new connections and requests), and a change is loaded at once. A new file that
//! does not load is logged and the last good settings stay.

pub mod auth;
pub mod config;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{HeaderName, HeaderValue};
use rustls::ServerConfig;

use crate::config::ConfigError;
pub use auth::{basic_credentials, AuthOutcome, Authenticator};
pub use config::WebConfig;
pub use tls::server_config;

/// How often the files are checked for a change at most.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A loaded web config, ready to serve.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The TLS server configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// Headers added to every answer.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// User name to bcrypt hash; empty: no authentication.
    pub users: std::collections::BTreeMap<String, String>,
    /// Token bucket: one token per `interval`, `burst` at most; `None` when off.
    pub rate_limit: Option<(Duration, u32)>,
    /// The files this came from, with their state when read (change detection).
    files: Vec<(PathBuf, Option<Stamp>)>,
}

/// What identifies a file's content cheaply: modification time, size and inode.
type Stamp = (SystemTime, u64, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Loads the web config at `path` and everything it names: the YAML is checked, the
/// certificate, key and CA files are read and the TLS configuration is built.
///
/// Errors: [`ConfigError::Read`] when the file cannot be read; [`ConfigError::Invalid`]
/// (`file:line:column: key: what`) for a problem in it or in a file it names.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let mut files = vec![(path.to_path_buf(), stamp(path))];
    let config = WebConfig::load_file(path)?;
    let tls_cfg = &config.tls_server_config;
    for file in [
        &tls_cfg.cert_file,
        &tls_cfg.key_file,
        &tls_cfg.client_ca_file,
    ]
    .into_iter()
    .flatten()
    {
        files.push((file.clone(), stamp(file)));
    }
    let tls = if config.tls_enabled() {
        let built = tls::server_config(tls_cfg, config.http_server_config.http2);
        match built {
            Ok(server) => Some(Arc::new(server)),
            Err((key, message)) => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                return Err(config::invalid_at(
                    &text,
                    &path.display().to_string(),
                    key,
                    &message,
                ));
            }
        }
    } else {
        None
    };
    let headers = config
        .http_server_config
        .headers
        .iter()
        .filter_map(|(name, value)| {
            // Both were checked at load; a failure here cannot happen.
            Some((
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect();
    let limit = &config.rate_limit;
    Ok(Settings {
        tls,
        headers,
        users: config.basic_auth_users,
        rate_limit: (!limit.interval.is_zero()).then_some((limit.interval, limit.burst)),
        files,
    })
}

/// The web settings in force, kept current with their files; one per server.
#[derive(Debug, Default)]
pub struct Web {
    path: Option<PathBuf>,
    current: RwLock<Arc<Settings>>,
    /// When the files were last looked at.
    checked: Mutex<Option<Instant>>,
    /// Credentials checks and their cache.
    pub auth: Authenticator,
    /// Tokens left and when they were counted.
    bucket: Mutex<Option<(f64, Instant)>>,
}

impl Web {
    /// No web config: plain HTTP, no authentication, no extra headers.
    pub fn disabled() -> Web {
        Web::default()
    }

    /// The settings of the web config at `path`, watched for changes from now on.
    ///
    /// Errors: as [`load`].
    pub fn from_file(path: &Path) -> Result<Web, ConfigError> {
        let settings = load(path)?;
        Ok(Web {
            path: Some(path.to_path_buf()),
            current: RwLock::new(Arc::new(settings)),
            ..Web::default()
        })
    }

    /// The settings in force, after loading the files again if one of them changed (checked
    /// at most once a second). A failed load is logged and the last good settings stay.
    pub fn current(&self) -> Arc<Settings> {
        if let Some(path) = &self.path {
            if self.due() {
                self.refresh(path);
            }
        }
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a check is due; marks it done.
    fn due(&self) -> bool {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match *checked {
            Some(at) if now.duration_since(at) < CHECK_INTERVAL => false,
            _ => {
                *checked = Some(now);
                true
            }
        }
    }

    fn refresh(&self, path: &Path) {
        let old = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let changed = old.files.iter().any(|(file, seen)| stamp(file) != *seen);
        if !changed {
            return;
        }
        let next = match load(path) {
            Ok(settings) => {
                tracing::info!(file = %path.display(), tls = settings.tls.is_some(), "web config reloaded");
                settings
            }
            Err(err) => {
                tracing::error!(
                    "failed to reload the web config: {err}; keeping the last good one"
                );
                // Remember what was seen so the same broken state is reported once.
                let files = old
                    .files
                    .iter()
                    .map(|(file, _)| (file.clone(), stamp(file)))
                    .collect();
                Settings {
                    files,
                    ..(*old).clone()
                }
            }
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }

    /// Takes a token from the rate limiter of `settings`; `false` when the bucket is empty
    /// (the answer is then 429, as the toolkit's).
    pub fn take_token(&self, settings: &Settings) -> bool {
        let Some((interval, burst)) = settings.rate_limit else {
            return true;
        };
        let burst = f64::from(burst.max(1));
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (tokens, at) = bucket.unwrap_or((burst, now));
        let refill = now.duration_since(at).as_secs_f64() / interval.as_secs_f64();
        let tokens = (tokens + refill).min(burst);
        if tokens >= 1.0 {
            *bucket = Some((tokens - 1.0, now));
            true
        } else {
            *bucket = Some((tokens, now));
            false
        }
    }
}
