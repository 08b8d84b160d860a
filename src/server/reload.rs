//! Reloading `--config.file` on `POST /-/reload`, on SIGHUP, and with
//! `--config.enable-auto-reload` whenever the file's checksum changed (blackbox_exporter 0.28's
//! automatic reload). A failed reload keeps the running configuration; either way the outcome
//! shows in `handshake_exporter_config_last_reload_successful`.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::StatusCode;
use tokio::signal::unix::{signal, SignalKind};

use super::state::FileState;
use super::{text, Reply, State};
use crate::config::{Config, ConfigError};

/// Why a reload did not happen; the text is what `POST /-/reload` answers and what is logged.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The exporter serves its builtin modules: there is no file to read again.
    #[error("failed to reload: no --config.file given, the builtin modules are served")]
    NoConfigFile,
    /// The file could not be read or is invalid; the running configuration stays.
    #[error("failed to reload {path}: {source}")]
    Load {
        /// The config file path.
        path: String,
        /// What was wrong with it: file, line, column and key.
        #[source]
        source: ConfigError,
    },
    /// The task reading the file died (a panic); the running configuration stays.
    #[error("failed to reload {path}: loader task failed: {source}")]
    Loader {
        /// The config file path.
        path: String,
        /// How the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Reads and validates the config file at `path`, and logs its warnings; the one place the
/// exporter loads a file.
///
/// Errors: [`ConfigError`], whose text is the one-line reason the file was rejected.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let config = Config::load_file(path)?;
    for warning in &config.warnings {
        tracing::warn!(file = %path.display(), "{warning}");
    }
    Ok(config)
}

impl State {
    /// Loads the config file again and swaps it in. On failure the running configuration stays,
    /// the reason is logged and the reload gauge goes to 0; on success it goes to 1 with the time.
    ///
    /// Errors: [`ReloadError::NoConfigFile`] without `--config.file` (metrics untouched),
    /// [`ReloadError::Load`] when the file is unreadable or invalid.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let Some(path) = self.config_file().map(Path::to_path_buf) else {
            return Err(ReloadError::NoConfigFile);
        };
        let _serial = self.reload_lock.lock().await;
        let shown = path.display().to_string();
        // Reading a file blocks: keep it off the request workers.
        let loaded =
            tokio::task::spawn_blocking(move || (FileState::of(&path), load_config(&path)));
        let loaded = match loaded.await {
            Ok((seen, loaded)) => {
                *self.last_seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen);
                loaded.map_err(|source| ReloadError::Load {
                    path: shown.clone(),
                    source,
                })
            }
            Err(source) => Err(ReloadError::Loader {
                path: shown.clone(),
                source,
            }),
        };
        match loaded {
            Ok(config) => {
                let modules = config.modules.len();
                self.set_config(config);
                self.metrics().reload_succeeded(SystemTime::now());
                tracing::info!(file = %shown, modules, "config reloaded");
                Ok(())
            }
            Err(err) => {
                self.metrics().reload_failed();
                tracing::error!("{err}; keeping the running config");
                Err(err)
            }
        }
    }
}

impl State {
    /// Reloads as [`State::reload`] does, but only when the config file's SHA-256 differs from
    /// what the last load or reload attempt read (or the file turned readable or unreadable).
    /// A broken file is thus tried once, not at every check, until it changes again.
    ///
    /// Returns whether a reload ran. Errors: as [`State::reload`].
    pub async fn reload_if_changed(&self) -> Result<bool, ReloadError> {
        let Some(path) = self.config_file().map(Path::to_path_buf) else {
            return Err(ReloadError::NoConfigFile);
        };
        let now = match tokio::task::spawn_blocking(move || FileState::of(&path)).await {
            Ok(now) => now,
            Err(_) => FileState::Unreadable,
        };
        let seen = *self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen == Some(now) {
            tracing::debug!("config file unchanged, no reload");
            return Ok(false);
        }
        tracing::info!("config file changed, reloading");
        self.reload().await.map(|()| true)
    }
}

/// Checks the config file every `interval` and reloads it when its checksum changed, forever
/// (`--config.enable-auto-reload`). Without a config file it logs once and returns.
pub async fn auto_reload(state: Arc<State>, interval: Duration) {
    if state.config_file().is_none() {
        tracing::warn!("automatic reload enabled without --config.file: nothing to watch");
        return;
    }
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        // Failures are logged and counted by `reload` itself.
        let _ = state.reload_if_changed().await;
    }
}

/// Answers `POST /-/reload`: 200 on success, 400 without a config file, 500 with the reason when
/// the file was rejected.
pub(super) async fn handle(state: &State) -> Reply {
    match state.reload().await {
        Ok(()) => text(StatusCode::OK, "config reloaded"),
        Err(err @ ReloadError::NoConfigFile) => text(StatusCode::BAD_REQUEST, &err.to_string()),
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// Reloads the configuration on every SIGHUP, forever.
///
/// Errors: only when the SIGHUP handler cannot be installed.
pub async fn reload_on_sighup(state: Arc<State>) -> io::Result<()> {
    let mut hangups = signal(SignalKind::hangup())?;
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP received, reloading config");
        if let Err(err @ ReloadError::NoConfigFile) = state.reload().await {
            tracing::warn!("{err}");
        }
    }
    Ok(())
}
