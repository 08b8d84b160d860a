//! `--config.enable-auto-reload`: the real binary watching its config file every second. A
//! changed file is served within the interval, a broken one keeps the running config and sets
//! the reload gauge to 0 (tried once, not at every check), an unchanged one is not reloaded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);
/// Slack on top of the interval for a loaded machine.
const SLACK: Duration = Duration::from_secs(2);

fn module_config(name: &str) -> String {
    format!("modules:\n  {name}:\n    prober: tcp\n    timeout: 1s\n")
}

/// Replaces the file in one rename, as editors and config management do.
fn write_config(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, path).expect("rename config");
}

struct Exporter {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    fn start(config: &Path) -> Exporter {
        let mut child = Command::new(env!("CARGO_BIN_EXE_handshake_exporter"))
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args([
                "--config.enable-auto-reload",
                "--config.auto-reload-interval",
                "1",
            ])
            .args(["--log.level", "debug"])
            .arg("--config.file")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start exporter");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let addr = collect_log(stderr, log.clone());
        Exporter { child, addr, log }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut conn = TcpStream::connect(&self.addr).expect("connect to the exporter");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        write!(conn, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).expect("send");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("read answer");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_string())
    }

    /// The value of an unlabelled sample on `/metrics`.
    fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{body}"))
    }

    fn serves(&self, module: &str) -> bool {
        let (status, body) = self.get(&format!("/probe?module={module}&target=127.0.0.1:9"));
        assert!(
            status == 200 || body.contains("unknown module"),
            "unexpected answer {status}: {body}"
        );
        status == 200
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Polls `ok` every 50 ms for at most `within`; returns how long it took.
    fn wait_for(&self, within: Duration, what: &str, ok: impl Fn(&Exporter) -> bool) -> Duration {
        let start = Instant::now();
        while start.elapsed() < within {
            if ok(self) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what} not seen within {within:?}; log:\n{}", self.log());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies stderr into `log` on a thread; returns the address from the "listening" line.
fn collect_log(stderr: ChildStderr, log: Arc<Mutex<String>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening") {
                if let Some(addr) = line.split("address=").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("exporter did not report its listening address")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "handshake-auto-reload-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join("exporter.yml")
}

#[test]
fn auto_reload_follows_the_file_checksum() {
    let path = scratch("follow");
    write_config(&path, &module_config("first"));
    let exporter = Exporter::start(&path);
    assert!(exporter.serves("first"));
    let stamp = exporter.metric("handshake_exporter_config_last_reload_success_timestamp_seconds");

    // Unchanged: several checks pass without a reload.
    std::thread::sleep(INTERVAL * 3 + INTERVAL / 2);
    assert_eq!(
        exporter.metric("handshake_exporter_config_last_reload_success_timestamp_seconds"),
        stamp,
        "an unchanged file was reloaded; log:\n{}",
        exporter.log()
    );
    assert!(
        !exporter.log().contains("config reloaded"),
        "{}",
        exporter.log()
    );
    assert!(
        exporter.log().contains("config file unchanged"),
        "{}",
        exporter.log()
    );

    // Changed: the new module is served within the interval.
    write_config(&path, &module_config("second"));
    let took = exporter.wait_for(INTERVAL + SLACK, "module second", |e| e.serves("second"));
    println!("new module served {took:?} after the change");
    assert!(!exporter.serves("first"));
    assert_eq!(
        exporter.metric("handshake_exporter_config_last_reload_successful"),
        1.0
    );

    // Broken: the running config stays and the gauge goes to 0, once.
    write_config(
        &path,
        "modules:\n  third:\n    prober: tcp\n    tcp:\n      tsl: true\n",
    );
    exporter.wait_for(INTERVAL + SLACK, "reload gauge 0", |e| {
        e.metric("handshake_exporter_config_last_reload_successful") == 0.0
    });
    assert!(exporter.serves("second"));
    assert!(!exporter.serves("third"));
    std::thread::sleep(INTERVAL * 3);
    let log = exporter.log();
    assert_eq!(
        log.matches("keeping the running config").count(),
        1,
        "a broken file is tried once until it changes; log:\n{log}"
    );
    assert!(log.contains("unknown field `tsl`"), "{log}");

    // Fixed again: reloaded, gauge back to 1.
    write_config(&path, &module_config("fourth"));
    exporter.wait_for(INTERVAL + SLACK, "module fourth", |e| e.serves("fourth"));
    assert_eq!(
        exporter.metric("handshake_exporter_config_last_reload_successful"),
        1.0
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("scratch dir"));
}
