//! Helpers for the tests of the status pages and the `probe` command: the module file they share
//! and readers of the probe table of `/`.

use std::path::Path;

/// Modules trusting the lab CA at `ca`: `tcp4` (2 s), `trace4` (3 s with the path trace), `tls`
/// (server name ok.lab.test) and `tls_any` (no verification).
pub fn triage_config(ca: &Path) -> String {
    use super::modules::{config, module, tls, IP4, TLS_ANY, TRACE};
    config(&[
        module("tcp4", "2s", &[IP4]),
        module("trace4", "3s", &[IP4, TRACE]),
        module("tls", "2s", &[IP4, &tls(ca, Some("ok.lab.test"))]),
        module("tls_any", "2s", &[IP4, TLS_ANY]),
    ])
}

/// The first row of the probe table of `landing` that holds `needle` (as HTML text).
pub fn row<'d>(landing: &'d str, needle: &str) -> &'d str {
    let table = landing.split("<tbody>").nth(1).expect("no probe table");
    table
        .split("<tr")
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row holds {needle:?} in:\n{table}"))
}

/// The `logs?id=N` link of `row`, as a path (`/logs?id=N`).
pub fn log_link(row: &str) -> String {
    let start = row.find("logs?id=").expect("row without log link");
    let end = row[start..].find('"').expect("unterminated link") + start;
    format!("/{}", &row[start..end])
}

/// (success rows, failure rows) of the probe table.
pub fn row_counts(landing: &str) -> (usize, usize) {
    (
        landing.matches("<tr class=\"success\"").count(),
        landing.matches("<tr class=\"failure\"").count(),
    )
}
