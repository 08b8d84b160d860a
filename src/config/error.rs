//! The error a configuration load returns, and the translation of `serde_yaml` errors into one
//! line that names the file, line, column and key path.

use std::io;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("failed to read {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The text is not a valid configuration. Displays as `file:line:column: key.path: what`,
    /// e.g. `blackbox.yml:7:7: modules.tcp_connect.tcp: unknown field `tsl`, expected ...`.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// The file name the text came from.
        origin: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column of the offending key or value.
        column: usize,
        /// The key path (`modules.NAME.tcp...`) and what is wrong with it.
        message: String,
    },
}

/// Builds [`ConfigError::Invalid`] from a `serde_yaml` error on `text`, moving the position that
/// `serde_yaml` appends (`... at line L column C`) to the front.
pub(crate) fn invalid(origin: &str, text: &str, err: &serde_yaml::Error) -> ConfigError {
    let shown = err.to_string();
    let (line, column, message) = match err.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = match shown.find(&suffix) {
                Some(at) => format!("{}{}", &shown[..at], &shown[at + suffix.len()..]),
                None => shown,
            };
            (loc.line(), loc.column(), message)
        }
        None => {
            let (line, column) = second_document(text).unwrap_or((1, 1));
            (line, column, shown)
        }
    };
    ConfigError::Invalid {
        origin: origin.to_string(),
        line,
        column,
        message,
    }
}

/// Position of a second `---` document marker, the usual reason an error has no location.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut seen_content = false;
    for (index, line) in text.lines().enumerate() {
        if line.starts_with("---") && seen_content {
            return Some((index + 1, 1));
        }
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            seen_content = true;
        }
    }
    None
}
