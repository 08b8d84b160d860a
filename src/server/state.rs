//! What every request shares: the running configuration (swapped whole on reload), the config
//! file path, the scrape-timeout offset, the exporter's own metrics and the probe concurrency
//! limiter.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::SystemTime;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::metrics::ExporterMetrics;

/// Shared server state. Build one with [`State::new`] and hand it to [`run`](super::run) in an
/// `Arc`.
#[derive(Debug)]
pub struct State {
    config: RwLock<Arc<Config>>,
    config_file: Option<PathBuf>,
    timeout_offset: f64,
    metrics: ExporterMetrics,
    limiter: Arc<Semaphore>,
    /// Serializes reloads so two at once cannot interleave their metric updates.
    pub(super) reload_lock: Mutex<()>,
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
        let last_seen = StdMutex::new(config_file.as_deref().map(FileState::of));
        State {
            config: RwLock::new(Arc::new(config)),
            last_seen,
            config_file,
            timeout_offset,
            metrics,
            limiter: Arc::new(Semaphore::new(max_concurrency.min(Semaphore::MAX_PERMITS))),
            reload_lock: Mutex::new(()),
        }
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

    /// Replaces the configuration in force (and creates the zero series of its modules).
    pub fn set_config(&self, config: Config) {
        self.metrics
            .init_modules(config.modules.keys().map(String::as_str));
        let config = Arc::new(config);
        match self.config.write() {
            Ok(mut guard) => *guard = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
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
}
