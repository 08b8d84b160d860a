//! The handshake_exporter binary: parses blackbox_exporter-style flags, loads the config, binds
//! and serves until SIGTERM or SIGINT. Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use handshake_exporter::cli::{self, ProbeArgs};
use handshake_exporter::config::Config;
use handshake_exporter::server::{self, ConnLimits, State};
use handshake_exporter::webconfig::Web;
use tokio::signal::unix::{signal, SignalKind};

/// Prometheus exporter whose TCP/TLS probes name the phase and class of every failure.
///
/// Without a command it runs the exporter; `probe` runs one probe from the terminal.
#[derive(Debug, Parser)]
#[command(
    name = "handshake_exporter",
    version,
    args_conflicts_with_subcommands = true
)]
struct Flags {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (blackbox_exporter schema); without it the builtin tcp_connect and
    /// tls_connect modules are served.
    #[arg(long = "config.file", value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Address to listen on: `:PORT` (all interfaces), `HOST:PORT` or `[IPv6]:PORT`; repeat
    /// the flag to listen on several.
    #[arg(long = "web.listen-address", default_value = ":19115")]
    listen_address: Vec<String>,
    /// Take the listening sockets from systemd socket activation (LISTEN_FDS) instead of
    /// --web.listen-address.
    #[arg(long = "web.systemd-socket")]
    systemd_socket: bool,
    /// exporter-toolkit web config: TLS, client certificates, basic auth, headers.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// HTTP connections open at once; beyond it the oldest idle one is closed. Default: half
    /// of the open-file limit left after a reserve of 64.
    #[arg(long = "web.max-connections")]
    max_connections: Option<usize>,
    /// Time a client has to send a request head or finish the TLS handshake; also how long a
    /// new HTTP/2 connection waits for its first request.
    #[arg(long = "web.header-read-timeout", default_value = "5s", value_parser = parse_interval)]
    header_read_timeout: Duration,
    /// How long a keep-alive connection stays open between requests, so a scraper reuses it
    /// from one scrape to the next.
    #[arg(long = "web.idle-timeout", default_value = "2m", value_parser = parse_interval)]
    idle_timeout: Duration,
    /// Seconds subtracted from Prometheus' scrape timeout to get a probe's deadline.
    #[arg(long = "timeout-offset", default_value_t = 0.5, value_parser = parse_offset, allow_negative_numbers = true)]
    timeout_offset: f64,
    /// Reload the config file whenever its checksum changed, checked every
    /// `--config.auto-reload-interval`.
    #[arg(long = "config.enable-auto-reload")]
    enable_auto_reload: bool,
    /// How often the config file is checked for changes: seconds (`30`) or a duration (`30s`).
    #[arg(long = "config.auto-reload-interval", default_value = "30", value_parser = parse_interval)]
    auto_reload_interval: Duration,
    /// Load the configuration, print OK or the error, and exit 0 or 1.
    #[arg(long = "config.check")]
    config_check: bool,
    /// Least severe log level written to stderr.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// Probes allowed to run at once; beyond it /probe answers 503.
    #[arg(long = "probe.max-concurrency", default_value_t = 10_000)]
    max_concurrency: usize,
    /// Probe records kept for the status page: this many successes and as many failures.
    #[arg(long = "history.limit", default_value_t = handshake_exporter::history::DEFAULT_LIMIT)]
    history_limit: usize,
    /// The URL the exporter is reachable at (e.g. `https://exporter.example:19115`), the base
    /// of the runbook links its pages give for alert rules.
    #[arg(long = "web.external-url", value_name = "URL", default_value = "")]
    external_url: String,
    /// Log line format: `logfmt` (key=value pairs) or `json` (one object per line).
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
    /// Level at which each probe's outcome is logged.
    #[arg(long = "log.prober", value_enum, default_value_t = LogLevel::Debug)]
    log_prober: LogLevel,
}

/// Commands other than serving.
#[derive(Debug, Subcommand)]
enum Command {
    /// Probe TARGET... once and print each verdict; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Probe(ProbeArgs),
}

/// `--log.format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// `ts=... level=info target=... msg="..." key=value`, as logfmt tools read it.
    Logfmt,
    /// One JSON object per line, fields flattened beside `timestamp`, `level` and `message`.
    Json,
}

/// `--log.level` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    fn filter(self) -> tracing::Level {
        match self {
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

fn parse_offset(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds >= 0")),
    }
}

/// Loads `--web.config.file` when given.
fn load_web(flags: &Flags) -> Result<Web, String> {
    match &flags.web_config_file {
        Some(path) => {
            Web::from_file(path).map_err(|err| format!("failed to load the web config: {err}"))
        }
        None => Ok(Web::disabled()),
    }
}

/// A positive interval: whole seconds as blackbox_exporter takes them, or a duration (`1m30s`).
fn parse_interval(s: &str) -> Result<Duration, String> {
    let parsed = match s.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => handshake_exporter::config::parse_duration(s).map_err(|e| e.to_string())?,
    };
    if parsed.is_zero() {
        return Err(format!("{s:?} is not an interval above 0"));
    }
    Ok(parsed)
}

fn load(flags: &Flags) -> Result<Config, String> {
    match &flags.config_file {
        Some(path) => server::load_config(path)
            .map_err(|err| format!("failed to load {}: {err}", path.display())),
        None => Ok(Config::builtin()),
    }
}

/// Writes log records of `level` and above to stderr, one line each, as `format` says; the
/// records libraries write through `log` too, rustls' at debug level.
fn init_logging(level: tracing::Level, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level);
    let installed = match format {
        LogFormat::Logfmt => tracing::subscriber::set_global_default(
            builder
                .event_format(tracing_logfmt::EventsFormatter::default())
                .fmt_fields(tracing_logfmt::FieldsFormatter::default())
                .finish(),
        ),
        LogFormat::Json => {
            tracing::subscriber::set_global_default(builder.json().flatten_event(true).finish())
        }
    };
    if installed.is_ok() {
        handshake_exporter::logging::forward_library_logs(level);
    }
}

/// Parses the command line; a usage error of `probe` exits 3 (Nagios UNKNOWN), others exit as
/// clap decides (2).
fn parse_flags() -> Flags {
    match Flags::try_parse() {
        Ok(flags) => flags,
        Err(err) => {
            use clap::error::ErrorKind;
            let probing = std::env::args().nth(1).as_deref() == Some("probe");
            let help = matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            );
            if probing && !help {
                let _ = err.print();
                std::process::exit(3);
            }
            err.exit()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut flags = parse_flags();
    if let Some(Command::Probe(args)) = flags.command.take() {
        init_logging(tracing::Level::WARN, LogFormat::Logfmt);
        let code = cli::run(args, &mut std::io::stdout()).await;
        return ExitCode::from(code);
    }
    init_logging(flags.log_level.filter(), flags.log_format);

    if flags.config_check {
        return match load(&flags).and_then(|_| load_web(&flags)) {
            Ok(_) => {
                println!("OK");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        };
    }
    match serve(flags).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(flags: Flags) -> Result<(), Box<dyn std::error::Error>> {
    match server::raise_nofile_limit() {
        Ok((before, after)) => tracing::info!(before, after, "open file limit (RLIMIT_NOFILE)"),
        Err(err) => tracing::warn!(error = %err, "failed to raise the open file limit"),
    }
    let config = load(&flags)?;
    tracing::info!(
        modules = config.modules.len(),
        skipped = config.skipped.len(),
        "config loaded"
    );
    let state = Arc::new(
        State::new(
            config,
            flags.config_file.clone(),
            flags.timeout_offset,
            flags.max_concurrency,
        )
        .with_history_limit(flags.history_limit)
        .with_external_url(&flags.external_url)
        .with_prober_log_level(flags.log_prober.filter()),
    );
    let web = Arc::new(load_web(&flags)?);
    let mut limits = ConnLimits::from_rlimit();
    if let Some(max) = flags.max_connections {
        limits.max_connections = max;
    }
    limits.header_read_timeout = flags.header_read_timeout;
    limits.idle_timeout = flags.idle_timeout;
    let listeners = if flags.systemd_socket {
        server::systemd_listeners()
            .map_err(|err| format!("failed to use systemd sockets: {err}"))?
    } else {
        let mut listeners = Vec::new();
        for address in &flags.listen_address {
            let listener = server::bind(address)
                .await
                .map_err(|err| format!("failed to listen on {address}: {err}"))?;
            listeners.push(listener);
        }
        listeners
    };
    let tls = web.current().tls.is_some();
    for listener in &listeners {
        tracing::info!(tls, address = %listener.local_addr()?, "listening");
    }
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout = ?limits.header_read_timeout,
        idle_timeout = ?limits.idle_timeout,
        "connection limits"
    );
    // Read the system trust roots off the serving path, so the first TLS probe does not wait.
    tokio::task::spawn_blocking(|| {
        let roots = handshake_exporter::prober::tls::preload_system_roots();
        tracing::debug!(roots, "system trust roots loaded");
    });

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
        }
    };
    let hangup_state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = server::reload_on_sighup(hangup_state).await {
            tracing::error!(error = %err, "failed to install the SIGHUP handler");
        }
    });
    if flags.enable_auto_reload {
        tracing::info!(
            interval_seconds = flags.auto_reload_interval.as_secs_f64(),
            "automatic config reload enabled"
        );
        tokio::spawn(server::auto_reload(
            state.clone(),
            flags.auto_reload_interval,
        ));
    }
    server::serve(listeners, state, web, limits, shutdown).await?;
    Ok(())
}
