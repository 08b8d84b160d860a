//! `/`: build, uptime, modules, links and the recent probes; `/config`: the configuration in
//! force, one section per module.

use std::time::Duration;

use maud::{html, Markup};

use super::{class_cell, layout, seconds, utc};
use crate::config::Module;
use crate::report::Expectation;
use crate::server::State;

/// The exporter's version and the git revision it was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const REVISION: &str = env!("HANDSHAKE_EXPORTER_REVISION");

/// The status page.
pub(super) fn landing(state: &State) -> Markup {
    let config = state.config();
    let records = state.history().recent();
    let limit = state.history().limit();
    let uptime = Duration::from_secs(state.uptime().as_secs());
    let body = html! {
        dl.facts {
            dt { "Version" } dd { (VERSION) " (revision " (REVISION) ")" }
            dt { "Uptime" } dd { (humantime::format_duration(uptime).to_string()) }
            dt { "Pages" } dd {
                a href="metrics" { "metrics" } " · "
                a href="config" { "configuration" } " · "
                a href="runbooks/" { "runbooks" } " · "
                a href="-/healthy" { "health" }
            }
        }
        h2 { "Modules" }
        @if config.modules.is_empty() {
            p { "No tcp module is configured." }
        }
        ul {
            @for (name, module) in &config.modules {
                li {
                    a href=(format!("config#module-{name}")) { (name) }
                    " — " (describe(module))
                }
            }
            @for (name, prober) in &config.skipped {
                li { (name) " — skipped: prober " (prober) " is not supported" }
            }
        }
        h2 { "Recent probes" }
        p.note {
            "Newest first. The last " (limit) " successes and the last " (limit)
            " failures are kept apart, so successes never push failures out. Probe by hand: "
            code { "probe?target=HOST:PORT&module=NAME" }
        }
        @if records.is_empty() {
            p { "No probe has run yet." }
        } @else {
            div.scroll {
                table.cards.probes {
                    thead { tr {
                        th { "Time (UTC)" } th { "Module" } th { "Target" } th { "Result" }
                        th { "Phase" } th { "Class" } th { "Detail" } th { "Duration" } th { "Log" }
                    } }
                    tbody {
                        @for record in &records {
                            @let report = &record.report;
                            tr.(if report.success() { "success" } else { "failure" }) {
                                td.nowrap data-label="Time" { (utc(record.time)) }
                                td data-label="Module" { (record.module_name) }
                                td data-label="Target" { (record.target) }
                                @match (&report.failure, report.expectation) {
                                    (None, Some(Expectation::Met(failure))) => {
                                        td.ok data-label="Result" { "failed as expected" }
                                        td data-label="Phase" { (failure.phase.as_str()) }
                                        td data-label="Class" { (class_cell(failure.class, "")) }
                                        td data-label="Detail" { (failure.detail.as_str()) }
                                    }
                                    (None, _) => {
                                        td.ok data-label="Result" { "success" }
                                        td {} td {} td {}
                                    }
                                    (Some(failure), _) => {
                                        td.failed data-label="Result" { "failed" }
                                        td data-label="Phase" { (failure.phase.as_str()) }
                                        td data-label="Class" { (class_cell(failure.class, "")) }
                                        td data-label="Detail" { (failure.detail.as_str()) }
                                    }
                                }
                                td data-label="Duration" { (seconds(report.duration)) }
                                td.nowrap { a href=(format!("logs?id={}", record.id)) { "log #" (record.id) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("handshake_exporter", body)
}

/// One line on what a module does: `tcp, TLS, timeout 5s`.
fn describe(module: &Module) -> String {
    let mut parts = vec![module.prober.clone()];
    if module.tcp.tls {
        parts.push("TLS".into());
    }
    if module.tcp.query_response.iter().any(|s| s.starttls) {
        parts.push("STARTTLS".into());
    }
    if let Some(protocol) = module.tcp.starttls {
        parts.push(format!("STARTTLS {protocol}"));
    }
    if module.tcp.tls
        || module.tcp.starttls.is_some()
        || module.tcp.query_response.iter().any(|s| s.starttls)
    {
        parts.push(format!("TLS stack {}", module.tcp.tls_config.stack()));
    }
    if !module.tcp.query_response.is_empty() {
        parts.push(format!("{} query steps", module.tcp.query_response.len()));
    }
    if module.tcp.path_trace.enabled {
        parts.push("path trace".into());
    }
    if module.expect_failure.is_some() {
        parts.push("expects failure".into());
    }
    match module.timeout {
        Some(t) => parts.push(format!("timeout {}", humantime::format_duration(t))),
        None => parts.push("timeout from the scrape".into()),
    }
    parts.join(", ")
}

/// The configuration page.
pub(super) fn config(state: &State) -> Markup {
    let config = state.config();
    let source = match state.config_file() {
        Some(path) => path.display().to_string(),
        None => "builtin modules (no --config.file)".to_string(),
    };
    let body = html! {
        p { a href="./" { "status" } }
        p { "Source: " code { (source) } ". Defaults are filled in; " code { "expect" }
            " patterns show as compiled." }
        @for (name, module) in &config.modules {
            section id=(format!("module-{name}")) {
                h2 { (name) }
                pre { code { (module.to_yaml()) } }
            }
        }
        @if !config.skipped.is_empty() {
            h2 { "Skipped modules" }
            ul {
                @for (name, prober) in &config.skipped {
                    li { (name) ": prober " (prober) " is not supported, only tcp and unix" }
                }
            }
        }
    };
    layout("Configuration", body)
}

#[cfg(test)]
mod tests {
    use super::describe;
    use crate::config::Config;

    /// The module list names the TLS stack of each TLS module, and of no other.
    #[test]
    fn modules_name_their_tls_stack() {
        let text = "modules:\n\
            \x20 old:\n    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        min_version: TLS10\n\
            \x20 new:\n    prober: tcp\n    tcp:\n      tls: true\n\
            \x20 plain:\n    prober: tcp\n";
        let config = Config::from_yaml_str(text, "inline.yml").expect("loads");
        assert!(describe(&config.modules["old"]).contains("TLS stack openssl"));
        assert!(describe(&config.modules["new"]).contains("TLS stack rustls"));
        assert!(!describe(&config.modules["plain"]).contains("stack"));
    }
}
