//! handshake_exporter: a Prometheus exporter whose TCP and TLS probes say where (phase) and why
//! (class) a connection failed. See `docs/metrics.md` for the metric contract.

pub mod cli;
pub mod config;
pub mod history;
pub mod logging;
pub mod metrics;
pub mod prober;
pub mod report;
pub mod runbooks;
pub mod server;
pub mod sys;
pub mod web;
pub mod webconfig;
