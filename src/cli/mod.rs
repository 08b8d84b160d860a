//! `handshake_exporter probe`: runs the probe engine once, without a server, on one or more
//! targets at once, and prints for each a per-phase table, a verdict in plain words and the first
//! checks of the class's runbook. Exit codes follow the Nagios plugin convention (Monitoring
//! Plugins Development Guidelines, "Plugin Return Codes"): 0 OK, 1 WARNING (a certificate expires
//! within `--warn-days`), 2 CRITICAL (a probe failed), 3 UNKNOWN (bad usage or configuration).

mod output;
mod verdict;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};

use crate::config::{parse_duration, Config, StarttlsProtocol};
use crate::prober::{probe, ProbeRequest, Target};
use crate::report::ProbeReport;

pub use verdict::{verdict, Outcome, Status};

/// Timeout when neither `--timeout` nor the module sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `probe` subcommand's arguments.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Configuration file (blackbox_exporter schema); without it the builtin tcp_connect and
    /// tls_connect modules are used.
    #[arg(long = "config.file", value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// Module to probe with (default tcp_connect).
    #[arg(long, value_name = "NAME", conflicts_with = "tls")]
    pub module: Option<String>,
    /// Probe with the tls_connect module: TCP, then a TLS handshake.
    #[arg(long)]
    pub tls: bool,
    /// Speak PROTOCOL's STARTTLS upgrade before the TLS handshake (smtp, lmtp, imap, pop3, ftp,
    /// xmpp, xmpp-server, ldap, postgres, mysql, nntp, sieve), as `tcp.starttls` does; with
    /// `--module`, added to that module (which must not start TLS itself), else to tcp_connect.
    #[arg(long, value_name = "PROTOCOL", value_parser = StarttlsProtocol::parse, conflicts_with = "tls")]
    pub starttls: Option<StarttlsProtocol>,
    /// Deadline of each probe, a Prometheus duration (`5s`, `1m30s`); default: the module's
    /// timeout, else 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// WARNING (exit 1) when a certificate of the chain expires within this many days.
    #[arg(long = "warn-days", value_name = "DAYS", default_value_t = 14.0)]
    pub warn_days: f64,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Targets, `HOST:PORT` or `[IPv6]:PORT`; a socket path for a `prober: unix` module.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Per-phase table, verdict and first checks, for a person at a terminal.
    Text,
    /// The full reports as one JSON document (fields in README, "The probe command").
    Json,
    /// One line per target in the Nagios plugin format, with performance data.
    Nagios,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the timeout must be above 0".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// Runs the command; returns the exit code (0 to 3, the worst of all targets).
///
/// Output goes to `out`; a usage or configuration problem is one line on stderr and code 3.
pub async fn run(args: ProbeArgs, out: &mut impl Write) -> u8 {
    let (name, module, targets, timeout) = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(reason) => {
            eprintln!("UNKNOWN: {reason}");
            return Status::Unknown.code();
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (raw, target)) in targets.into_iter().enumerate() {
        let request = ProbeRequest {
            target,
            module_name: name.clone(),
            module: module.clone(),
            timeout,
        };
        tasks.spawn(async move { (i, raw, probe(request).await) });
    }
    let mut results: Vec<(usize, String, ProbeReport)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(err) => {
                eprintln!("UNKNOWN: a probe task failed: {err}");
                return Status::Unknown.code();
            }
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    let now = unix_now();
    let outcomes: Vec<Outcome> = results
        .into_iter()
        .map(|(_, target, report)| Outcome::new(target, name.clone(), report, args.warn_days, now))
        .collect();
    let worst = outcomes
        .iter()
        .map(|o| o.status)
        .max()
        .unwrap_or(Status::Unknown);
    let text = match args.output {
        OutputFormat::Text => output::text(&outcomes, use_colour()),
        OutputFormat::Json => output::json(&outcomes, worst),
        OutputFormat::Nagios => output::nagios(&outcomes),
    };
    if out.write_all(text.as_bytes()).is_err() {
        return Status::Unknown.code();
    }
    worst.code()
}

/// The module (name and settings, timeout applied) and the parsed targets, or why not.
#[allow(clippy::type_complexity)]
fn prepare(
    args: &ProbeArgs,
) -> Result<
    (
        String,
        Arc<crate::config::Module>,
        Vec<(String, Target)>,
        Duration,
    ),
    String,
> {
    let config = match &args.config_file {
        Some(path) => Config::load_file(path).map_err(|err| err.to_string())?,
        None => Config::builtin(),
    };
    let name = match (&args.module, args.tls) {
        (Some(name), _) => name.clone(),
        (None, true) => "tls_connect".to_string(),
        (None, false) => "tcp_connect".to_string(),
    };
    let module = match config.modules.get(&name) {
        Some(module) => module.clone(),
        None => {
            let known: Vec<&str> = config.modules.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown module {name:?}; modules: {}",
                known.join(", ")
            ));
        }
    };
    let (name, module) = match args.starttls {
        Some(protocol) => with_starttls(name, &module, protocol)?,
        None => (name, module),
    };
    let timeout = args.timeout.or(module.timeout).unwrap_or(DEFAULT_TIMEOUT);
    let parse = match module.prober.as_str() {
        crate::config::UNIX_PROBER => Target::unix_path,
        _ => Target::parse,
    };
    let targets = args
        .targets
        .iter()
        .map(|raw| {
            parse(raw)
                .map(|t| (raw.clone(), t))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    if !(args.warn_days.is_finite() && args.warn_days >= 0.0) {
        return Err(format!(
            "--warn-days {} is not a number of days >= 0",
            args.warn_days
        ));
    }
    Ok((name, module, targets, timeout))
}

/// `module` upgraded with `protocol`'s STARTTLS, named `NAME+starttls=PROTOCOL`. A module that
/// already starts TLS (`tls: true`, a `starttls` step) cannot be upgraded again.
fn with_starttls(
    name: String,
    module: &crate::config::Module,
    protocol: StarttlsProtocol,
) -> Result<(String, Arc<crate::config::Module>), String> {
    let tcp = &module.tcp;
    if tcp.tls || tcp.query_response.iter().any(|s| s.starttls) {
        return Err(format!(
            "module {name:?} already starts TLS; --starttls needs a plain module"
        ));
    }
    let mut upgraded = module.clone();
    upgraded.tcp.starttls = Some(protocol);
    Ok((format!("{name}+starttls={protocol}"), Arc::new(upgraded)))
}

/// Colours only for a terminal, and never when `NO_COLOR` is set to a non-empty value
/// (no-color.org).
fn use_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
