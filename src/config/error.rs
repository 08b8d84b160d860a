//! The error a configuration load returns, and the translation of `serde_yaml` errors into one
//! line that names the file, line, column and key path.

use std::borrow::Cow;
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
        message: one_line(&message).into_owned(),
    }
}

/// `text` with line breaks and other control characters escaped (`\n`, `\u{1b}`), so a message
/// that quotes a user's key or value stays one line in a log or a 400 body.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text.contains(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                c if c.is_control() => c.escape_debug().to_string(),
                c => c.to_string(),
            })
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(one_line("plain `key`, é"), "plain `key`, é");
        assert_eq!(one_line("a\nb\r\tc\u{1b}[31m"), "a\\nb\\r\\tc\\u{1b}[31m");
    }

    #[test]
    fn a_key_with_a_line_break_gives_a_one_line_error() {
        let text = "modules:\n  m:\n    prober: tcp\n    tcp:\n      \"a\\nb\": 1\n";
        let err = crate::config::Config::from_yaml_str(text, "x.yml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.yml:5:7: modules.m.tcp: unknown field `a\\nb`"),
            "{err}"
        );
    }
}
