//! Prometheus durations: a value or a one-line error, and what parses prints back to itself.

#![no_main]

use handshake_exporter::config::{format_duration, parse_duration};
use handshake_exporter_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match parse_duration(text) {
        Ok(duration) => assert_eq!(parse_duration(&format_duration(duration)), Ok(duration)),
        Err(err) => assert_one_line(&err),
    }
});
