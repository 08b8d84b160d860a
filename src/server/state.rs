//! What every request shares: the running configuration (swapped whole on reload), the config
//! file path, the scrape-timeout offset, the exporter's own metrics, the probe concurrency
//! limiter and the thread probes run on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::{Instant, SystemTime};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::history::{History, DEFAULT_LIMIT};
use crate::metrics::ExporterMetrics;
use crate::prober::runtime::ProbeRuntime;
use crate::prober::{probe, ProbeRequest};
use crate::report::ProbeReport;

/// Shared server state. Build one with [`State::new`] and hand it to [`run`](super::run) in an
/// `Arc`.
#[derive(Debug)]
pub struct State {
    config: RwLock<Arc<Config>>,
    config_file: Option<PathBuf>,
    timeout_offset: f64,
    metrics: ExporterMetrics,
    limiter: Arc<Semaphore>,
    /// The probe threads; `None` when they could not start, and probes run on the caller's runtime.
    probes: Option<ProbeRuntime>,
    /// Serializes reloads so two at once cannot interleave their metric updates.
    pub(super) reload_lock: Mutex<()>,
    history: History,
    started: Instant,
    external_url: String,
    prober_log_level: tracing::Level,
    /// The config file as the last load or reload attempt found it, for automatic reloads.
    pub(super) last_seen: StdMutex<Option<FileState>>,
}

/// The config file's content as an automatic reload compares it: its SHA-256, or unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileState {
    /// The file could not be read.
    Unreadable,
    /// SHA-256 (FIPS 180-4) of the file's bytes.
    Sha256([u8; 32]),
}

impl FileState {
    /// Reads `path` and hashes it; blocks while reading.
    pub(super) fn of(path: &Path) -> FileState {
        use sha2::{Digest, Sha256};
        match std::fs::read(path) {
            Ok(bytes) => FileState::Sha256(Sha256::digest(&bytes).into()),
            Err(_) => FileState::Unreadable,
        }
    }
}

impl State {
    /// State serving `config`, which counts as a successful load (the reload gauge starts at 1).
    ///
    /// `config_file` is what `/-/reload`, SIGHUP and automatic reloads read again (`None`: the
    /// builtin modules, nothing to reload); it is read once here to take its checksum. `timeout_offset` is subtracted from the scrape-timeout header, in
    /// seconds (blackbox_exporter's `--timeout-offset`); a negative or non-finite value counts
    /// as 0. At most `max_concurrency` probes run at once; `/probe` answers 503 beyond.
    ///
    /// Starts the probe threads from the calling thread (so probes use its network namespace).
    pub fn new(
        config: Config,
        config_file: Option<PathBuf>,
        timeout_offset: f64,
        max_concurrency: usize,
    ) -> State {
        let metrics = ExporterMetrics::new();
        metrics.reload_succeeded(SystemTime::now());
        metrics.init_modules(config.modules.keys().map(String::as_str));
        let timeout_offset = if timeout_offset.is_finite() && timeout_offset > 0.0 {
            timeout_offset
        } else {
            0.0
        };
        let lag = metrics.scheduling_lag();
        let probes = ProbeRuntime::start(move |d| lag.observe(d.as_secs_f64()))
            .map_err(|err| {
                tracing::warn!(error = %err, "failed to start the probe threads: probes share the server's");
            })
            .ok();
        let last_seen = StdMutex::new(config_file.as_deref().map(FileState::of));
        State {
            config: RwLock::new(Arc::new(config)),
            last_seen,
            config_file,
            timeout_offset,
            metrics,
            limiter: Arc::new(Semaphore::new(max_concurrency.min(Semaphore::MAX_PERMITS))),
            probes,
            reload_lock: Mutex::new(()),
            history: History::new(DEFAULT_LIMIT),
            started: Instant::now(),
            external_url: String::new(),
            prober_log_level: tracing::Level::DEBUG,
        }
    }

    /// The same state keeping `limit` successes and `limit` failures in its probe history
    /// (`--history.limit`); 0 keeps none.
    pub fn with_history_limit(mut self, limit: usize) -> State {
        self.history = History::new(limit);
        self
    }

    /// The same state with `url` (`--web.external-url`, e.g. `https://exporter.example:19115`)
    /// as the base of the links its pages give for use elsewhere; a trailing `/` is dropped.
    pub fn with_external_url(mut self, url: &str) -> State {
        self.external_url = url.trim_end_matches('/').to_string();
        self
    }

    /// The same state logging each probe's outcome at `level` (`--log.prober`; default debug).
    pub fn with_prober_log_level(mut self, level: tracing::Level) -> State {
        self.prober_log_level = level;
        self
    }

    /// The recent probes.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Time since the state was built (the exporter's uptime).
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// `--web.external-url` without a trailing `/`; empty when not set.
    pub fn external_url(&self) -> &str {
        &self.external_url
    }

    /// The level each probe's outcome is logged at.
    pub fn prober_log_level(&self) -> tracing::Level {
        self.prober_log_level
    }

    /// The configuration now in force. A reload swaps it whole; a probe keeps the one it began
    /// with.
    pub fn config(&self) -> Arc<Config> {
        // A poisoned lock still holds a whole `Arc`: the writer only ever assigns one.
        match self.config.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the configuration in force (and creates the zero series of its modules); the
    /// prober forgets the TLS clients it built for the old one.
    pub fn set_config(&self, config: Config) {
        self.metrics
            .init_modules(config.modules.keys().map(String::as_str));
        let config = Arc::new(config);
        match self.config.write() {
            Ok(mut guard) => *guard = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        // The TLS clients built from the old modules read their files as they were.
        crate::prober::tls::forget_clients();
    }

    /// The file reloads read, `None` when serving the builtin modules.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// Seconds subtracted from the scrape-timeout header, never negative.
    pub fn timeout_offset(&self) -> f64 {
        self.timeout_offset
    }

    /// The exporter's own metrics.
    pub fn metrics(&self) -> &ExporterMetrics {
        &self.metrics
    }

    /// A probe slot, or `None` when the concurrency limit is reached. The slot frees on drop.
    pub fn try_probe_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.limiter.clone().try_acquire_owned().ok()
    }

    /// Runs `connection` (an accepted HTTP connection) on a probe thread, where its probes
    /// run too; on the caller's runtime when the probe threads could not start.
    pub fn spawn_connection<F>(&self, connection: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        match &self.probes {
            Some(rt) => rt.spawn(connection),
            None => {
                tokio::spawn(connection);
            }
        }
    }

    /// Runs one probe on a probe thread (on the caller's runtime if that thread could not
    /// start) and returns its report.
    pub async fn run_probe(&self, req: ProbeRequest) -> ProbeReport {
        match &self.probes {
            Some(rt) => rt.probe(req).await,
            // Boxed: inline, the whole probe future would sit in every request's future.
            None => Box::pin(probe(req)).await,
        }
    }
}
