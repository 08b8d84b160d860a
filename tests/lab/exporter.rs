//! The exporter under test, run inside the lab's client namespace (`ip netns exec`, so it sees
//! the lab's resolv.conf and hosts), and a client that scrapes `/probe` from inside that
//! namespace. Also a small parser for the text exposition format with assertion helpers that
//! print the whole answer when they fail.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        Exporter::spawn(lab, "exporter", program, LISTEN, config, &[])
    }

    /// As [`Exporter::start`], with `args` added to the command line.
    pub fn start_with_args(lab: &'a Lab, config: &str, args: &[&str]) -> Exporter<'a> {
        let program = env!("CARGO_BIN_EXE_handshake_exporter");
        Exporter::spawn(lab, "exporter", program, LISTEN, config, args)
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
            BLACKBOX_BIN,
            BLACKBOX_LISTEN,
            config,
            &[],
        ))
    }

    /// Writes `config` as `<name>.yml`, runs `program` in the client namespace with the flags
    /// both exporters share plus `args`, logging to `<name>.log`, and waits until it is healthy.
    fn spawn(
        lab: &'a Lab,
        name: &str,
        program: &str,
        listen: &'static str,
        config: &str,
        args: &[&str],
    ) -> Exporter<'a> {
        let config_path = lab.file(&format!("{name}.yml"), config);
        let log = lab.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("failed to create the exporter log");
        let err = out.try_clone().expect("failed to clone the log handle");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.client, program])
            .args(["--web.listen-address", listen, "--log.level", "debug"])
            .arg("--config.file")
            .arg(&config_path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {program}: {e}"));
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

/// An HTTP/1.0 GET to the exporter from inside the client namespace; returns status and body.
/// HTTP/1.0 keeps the body unchunked and the connection closing after it.
pub fn get(lab: &Lab, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    get_from(lab, LISTEN, path, timeout)
}

/// Like [`get`], to the exporter listening on `listen`.
pub fn get_from(
    lab: &Lab,
    listen: &'static str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {listen}\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"
    );
    let raw = lab.in_client(move || -> std::io::Result<Vec<u8>> {
        let addr = listen.parse().expect("a socket address");
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    })?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
/// Percent-encodes `s` for a query string (every byte outside RFC 3986's unreserved set).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One sample of the text exposition format.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels by name.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// A parsed `/probe` answer.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The raw text, for failure messages.
    pub body: String,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

/// The labels of `probe_failure_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `phase` label.
    pub phase: String,
    /// `class` label.
    pub class: String,
    /// `detail` label.
    pub detail: String,
}

/// Parses `name{a="b",c="d"} value [timestamp]` lines, skipping comments; malformed lines are
/// skipped too (the assertions then fail naming the whole body).
fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let (labels, rest) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, rest)
        }
        None => {
            let (name, rest) = line.split_once(' ')?;
            (name, BTreeMap::new(), rest)
        }
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `a="b",c="d"}` (after the opening brace); returns the labels and what follows `}`.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (key, rest) = s.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        s = &rest[end + 1..];
    }
}

impl Metrics {
    /// Parses a text-format answer.
    pub fn parse(body: &str) -> Metrics {
        Metrics {
            body: body.to_string(),
            samples: body.lines().filter_map(parse_line).collect(),
        }
    }

    /// Samples named `name` whose labels include every `(key, value)` of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the first sample named `name` with these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).first().map(|s| s.value)
    }

    /// The value of the first sample named `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name, &[])
    }

    /// The labels of the `probe_failure_info` series, if exactly one exists; panics when there
    /// are several (the contract allows one).
    pub fn failure(&self) -> Option<Failure> {
        let found = self.find("probe_failure_info", &[]);
        assert!(
            found.len() <= 1,
            "several probe_failure_info series:\n{}",
            self.body
        );
        let labels = &found.first()?.labels;
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        Some(Failure {
            phase: get("phase"),
            class: get("class"),
            detail: get("detail"),
        })
    }
}
