//! What every fuzz target checks besides "no panic": an error a parser returns is one
//! non-empty line, since it becomes a 400 body or a log line.

use std::fmt::Display;

/// Panics (a libFuzzer crash) unless `err` displays as one non-empty line.
pub fn assert_one_line(err: &impl Display) {
    let text = err.to_string();
    assert!(!text.is_empty(), "empty error message");
    assert!(
        !text.contains(['\n', '\r']),
        "error message spans lines: {text:?}"
    );
}
