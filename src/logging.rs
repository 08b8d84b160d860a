//! What the exporter's own log lines may carry of what others control, and where the log
//! records of libraries go.
//!
//! A log line is written once per request or probe, so whatever a client or a probed peer puts
//! into one (a user name, a target, a host name, a banner, a certificate field) is cut to
//! [`LOG_VALUE_MAX_BYTES`] by [`clip`], with the real length shown: a client repeating a
//! 300 KB user name grows the log by a few hundred bytes per request, not by 300 KB.
//!
//! rustls writes `log` records (through the `log` crate) when a peer misbehaves: a warning per
//! TLS warning alert received, a line per fatal alert sent. A peer must not be able to fill the
//! log at the default level, so [`forward_library_logs`] passes rustls' records on at debug.

use std::borrow::Cow;
use std::fmt;

/// Longest part of a client- or peer-controlled value a log line shows, in bytes (256: a
/// whole DNS name, RFC 1035 section 2.3.4, fits).
pub const LOG_VALUE_MAX_BYTES: usize = 256;

/// `value` as it goes into a log line: control characters escaped (`\n`, `\u{1b}`), and when
/// longer than [`LOG_VALUE_MAX_BYTES`], its first bytes (cut at a character boundary)
/// followed by `…[N bytes]` with its real length N.
pub fn clip(value: &str) -> Clipped<'_> {
    Clipped(value)
}

/// A value shown in a log line as [`clip`] says.
#[derive(Debug, Clone, Copy)]
pub struct Clipped<'a>(&'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if value.len() <= LOG_VALUE_MAX_BYTES {
            return f.write_str(&crate::config::one_line(value));
        }
        let mut end = LOG_VALUE_MAX_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let shown: Cow<'_, str> = crate::config::one_line(&value[..end]);
        write!(f, "{shown}…[{} bytes]", value.len())
    }
}

/// Crates whose `log` records are lowered to debug: what they report is caused by a peer.
const PEER_TRIGGERED: &[&str] = &["rustls", "tokio_rustls"];

/// Sends the `log` crate's records to the installed `tracing` subscriber, those of rustls at
/// debug level at most (a warning there means a peer sent something odd, not that the exporter
/// is unwell). Records above `level` are dropped early. Call once, after the subscriber is
/// installed; a second call changes nothing.
pub fn forward_library_logs(level: tracing::Level) {
    if log::set_logger(&LibraryLog).is_ok() {
        log::set_max_level(level_filter(level));
    }
}

/// The `log` level filter that lets through what `level` does.
fn level_filter(level: tracing::Level) -> log::LevelFilter {
    match level {
        tracing::Level::ERROR => log::LevelFilter::Error,
        tracing::Level::WARN => log::LevelFilter::Warn,
        tracing::Level::INFO => log::LevelFilter::Info,
        tracing::Level::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// The `log` level a record of `target` is written at.
fn lowered(target: &str, level: log::Level) -> log::Level {
    let peer_triggered = PEER_TRIGGERED.iter().any(|name| {
        target
            .strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    if peer_triggered {
        level.max(log::Level::Debug)
    } else {
        level
    }
}

/// The `log` logger: each record becomes a `tracing` event, at the level [`lowered`] gives.
struct LibraryLog;

impl log::Log for LibraryLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = lowered(record.target(), record.level());
        let record = log::Record::builder()
            .args(*record.args())
            .level(level)
            .target(record.target())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        // The only error is a failed write to stderr, which has nowhere to go.
        let _ = tracing_log::format_trace(&record);
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_stay_whole_and_long_ones_show_their_length() {
        assert_eq!(clip("alice").to_string(), "alice");
        assert_eq!(clip("a\nb").to_string(), "a\\nb");
        let long = "é".repeat(200_000);
        let shown = clip(&long).to_string();
        assert!(shown.ends_with("…[400000 bytes]"), "{shown}");
        let kept = shown.trim_end_matches("…[400000 bytes]");
        assert_eq!(kept, "é".repeat(LOG_VALUE_MAX_BYTES / 2));
    }

    #[test]
    fn rustls_records_go_to_debug_and_others_keep_their_level() {
        use log::Level;
        assert_eq!(lowered("rustls::common_state", Level::Warn), Level::Debug);
        assert_eq!(lowered("tokio_rustls", Level::Error), Level::Debug);
        assert_eq!(lowered("rustls", Level::Trace), Level::Trace);
        assert_eq!(lowered("rustlsx", Level::Warn), Level::Warn);
        assert_eq!(lowered("hickory_proto", Level::Warn), Level::Warn);
    }
}
