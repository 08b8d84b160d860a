//! The exporter under test, run inside the lab's client namespace (`ip netns exec`, so it sees
//! the lab's resolv.conf and hosts), scraped from inside that namespace with the tests' HTTP
//! client; answers are parsed with the tests' metrics parser.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Percent-encodes `s` for a query string (every byte outside RFC 3986's unreserved set).
pub use handshake_exporter::server::encode_component as encode;

use super::http::blocking_get;
use super::metrics::Metrics;
use super::Lab;

/// Where the exporter listens inside the client namespace; each lab has its own loopback, so a
/// fixed port never collides between parallel tests.
pub const LISTEN: &str = "127.0.0.1:19115";

/// Where blackbox_exporter listens inside the client namespace, next to ours.
pub const BLACKBOX_LISTEN: &str = "127.0.0.1:19116";

/// Debian's blackbox_exporter (package prometheus-blackbox-exporter, which CI installs).
pub const BLACKBOX_BIN: &str = "/usr/bin/prometheus-blackbox-exporter";

/// A running exporter; killed in `Drop` (its log is printed when the test is failing).
pub struct Exporter<'a> {
    lab: &'a Lab,
    child: Child,
    log: PathBuf,
    listen: &'static str,
}

impl<'a> Exporter<'a> {
    /// Writes `config` (blackbox_exporter YAML) to the lab directory, starts the exporter with
    /// it in the client namespace and waits (up to 20 s) until `/-/healthy` answers 200.
    pub fn start(lab: &'a Lab, config: &str) -> Exporter<'a> {
        let program = env!("CARGO_BIN_EXE_handshake_exporter");
        Exporter::spawn(lab, "exporter", &[program], LISTEN, config, &[])
    }

    /// As [`Exporter::start`], with `args` added to the command line.
    pub fn start_with_args(lab: &'a Lab, config: &str, args: &[&str]) -> Exporter<'a> {
        let program = env!("CARGO_BIN_EXE_handshake_exporter");
        Exporter::spawn(lab, "exporter", &[program], LISTEN, config, args)
    }

    /// As [`Exporter::start`], under an open-file limit (soft and hard, `RLIMIT_NOFILE`) of
    /// `nofile`, set by prlimit(1).
    pub fn start_with_nofile(lab: &'a Lab, config: &str, nofile: u64) -> Exporter<'a> {
        let program = env!("CARGO_BIN_EXE_handshake_exporter");
        let limit = format!("--nofile={nofile}:{nofile}");
        let command = ["prlimit", &limit, "--", program];
        Exporter::spawn(lab, "exporter", &command, LISTEN, config, &[])
    }

    /// Starts blackbox_exporter ([`BLACKBOX_BIN`]) with `config` in the client namespace, on
    /// [`BLACKBOX_LISTEN`]. Returns `None` after printing "skipping: ..." when it is not
    /// installed; with `CI=true` it panics instead, since CI installs it.
    pub fn blackbox(lab: &'a Lab, config: &str) -> Option<Exporter<'a>> {
        if !std::path::Path::new(BLACKBOX_BIN).is_file() {
            let why =
                format!("{BLACKBOX_BIN} is not installed (package prometheus-blackbox-exporter)");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true forbids skipping the comparison");
            }
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping: {why}");
            return None;
        }
        Some(Exporter::spawn(
            lab,
            "blackbox",
            &[BLACKBOX_BIN],
            BLACKBOX_LISTEN,
            config,
            &[],
        ))
    }

    /// Writes `config` as `<name>.yml`, runs `command` (the program, or a wrapper and the
    /// program) in the client namespace with the flags both exporters share plus `args`,
    /// logging to `<name>.log`, and waits until it is healthy.
    fn spawn(
        lab: &'a Lab,
        name: &str,
        command: &[&str],
        listen: &'static str,
        config: &str,
        args: &[&str],
    ) -> Exporter<'a> {
        let config_path = lab.file(&format!("{name}.yml"), config);
        let log = lab.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("failed to create the exporter log");
        let err = out.try_clone().expect("failed to clone the log handle");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.client])
            .args(command)
            .args(["--web.listen-address", listen, "--log.level", "debug"])
            .arg("--config.file")
            .arg(&config_path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", command.join(" ")));
        let mut exporter = Exporter {
            lab,
            child,
            log,
            listen,
        };
        exporter.wait_healthy();
        exporter
    }

    /// Polls `/-/healthy`; panics with the log when the process exits or 20 s pass.
    fn wait_healthy(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exporter exited early ({status}); log:\n{}", self.log());
            }
            if let Ok((200, _)) =
                get_from(self.lab, self.listen, "/-/healthy", Duration::from_secs(2))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("exporter not healthy after 20s; log:\n{}", self.log());
    }

    /// Scrapes `/probe?module=<module>&target=<target>` and parses the answer; panics when the
    /// HTTP exchange fails or the status is not 200. The body is printed (see `--nocapture`).
    pub fn probe(&self, module: &str, target: &str) -> Metrics {
        self.probe_with(module, target, &[])
    }

    /// As [`Exporter::probe`], with `extra` URL parameters (e.g. `hostname`).
    pub fn probe_with(&self, module: &str, target: &str, extra: &[(&str, &str)]) -> Metrics {
        let mut path = format!("/probe?module={}&target={}", encode(module), encode(target));
        for (name, value) in extra {
            path.push_str(&format!("&{}={}", encode(name), encode(value)));
        }
        let (status, body) = get_from(self.lab, self.listen, &path, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}; log:\n{}", self.log()));
        println!("GET {path} -> {status}\n{body}");
        assert_eq!(status, 200, "GET {path} answered {status}:\n{body}");
        Metrics::parse(&body)
    }

    /// The exporter's process id (`ip netns exec` runs it in place, so the child is the
    /// exporter itself), e.g. to read its `/proc/PID/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exporter's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Exporter<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- exporter log ---\n{}", self.log());
        }
    }
}

/// A GET to the exporter from inside the client namespace; returns status and body.
pub fn get(lab: &Lab, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    get_from(lab, LISTEN, path, timeout)
}

/// Probes with `debug=true`: the metrics and the step log (everything before the metrics).
pub fn probe_debug(lab: &Lab, module: &str, target: &str) -> (Metrics, String) {
    let path = format!("/probe?module={module}&target={target}&debug=true");
    let (status, body) = get(lab, &path, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("GET {path} failed: {e}"));
    println!("GET {path} -> {status}\n{body}");
    assert_eq!(status, 200, "GET {path}:\n{body}");
    let log = body
        .split("Metrics that would have been returned")
        .next()
        .unwrap_or_default()
        .to_string();
    (Metrics::parse(&body), log)
}

/// Like [`get`], to the exporter listening on `listen`.
pub fn get_from(
    lab: &Lab,
    listen: &'static str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let path = path.to_string();
    let addr = listen.parse().expect("a socket address");
    let scrape_timeout = [("x-prometheus-scrape-timeout-seconds", "10")];
    let answer = lab.in_client(move || blocking_get(addr, &path, &scrape_timeout, timeout))?;
    Ok((answer.status, answer.body))
}
