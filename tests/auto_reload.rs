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

/// The flags that check the config file every [`INTERVAL`].
const AUTO_RELOAD: [&str; 3] = [
    "--config.enable-auto-reload",
    "--config.auto-reload-interval",
    "1",
];

impl Exporter {
    fn start(config: &Path) -> Exporter {
        Exporter::start_with(config, &AUTO_RELOAD)
    }

    /// Starts the binary with `args` added to the listen, log and config flags.
    fn start_with(config: &Path, args: &[&str]) -> Exporter {
        let mut child = Command::new(env!("CARGO_BIN_EXE_handshake_exporter"))
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args(args)
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
        self.request("GET", path)
    }

    /// One HTTP/1.0 request without a body; status and body of the answer.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut conn = TcpStream::connect(&self.addr).expect("connect to the exporter");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        write!(
            conn,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.addr
        )
        .expect("send");
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

/// What every rejection of an empty or comment-only file says after the file name.
const NO_DOCUMENT: &str =
    "the file is empty or holds only comments, expected a map with a `modules` key";

/// The one log line of each rejected reload, checked to name `path` and the reason.
fn rejections(exporter: &Exporter, path: &Path) -> usize {
    let log = exporter.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("keeping the running config"))
        .collect();
    for line in &lines {
        let named = format!("failed to reload {}: {}:", path.display(), path.display());
        assert!(
            line.contains(&named) && line.contains(NO_DOCUMENT),
            "{line}"
        );
    }
    lines.len()
}

/// Rewrites the file in place (truncate, then write), as a non-atomic editor or `>` does: a
/// reload in between sees `text` alone.
fn rewrite_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).expect("rewrite config");
}

#[test]
fn empty_and_comment_only_files_keep_the_running_config_on_reload_and_sighup() {
    let path = scratch("empty-manual");
    write_config(&path, &module_config("kept"));
    let exporter = Exporter::start_with(&path, &[]);
    assert!(exporter.serves("kept"));
    let gauge = "handshake_exporter_config_last_reload_successful";

    // POST /-/reload of an empty file: 500 with the one-line reason, nothing swapped.
    rewrite_in_place(&path, "");
    let (status, body) = exporter.request("POST", "/-/reload");
    assert_eq!(status, 500, "{body}");
    assert_eq!(body.trim_end().lines().count(), 1, "{body}");
    assert!(
        body.contains(&format!("{}:1:1: {NO_DOCUMENT}", path.display())),
        "{body}"
    );
    assert_eq!(exporter.metric(gauge), 0.0);
    assert!(exporter.serves("kept"));
    assert_eq!(rejections(&exporter, &path), 1);

    // A good file again, then SIGHUP on a comment-only one: same outcome, logged once more.
    rewrite_in_place(&path, &module_config("kept"));
    assert_eq!(exporter.request("POST", "/-/reload").0, 200);
    assert_eq!(exporter.metric(gauge), 1.0);
    rewrite_in_place(&path, "# modules follow\n\n  # (being written)\n");
    let pid = exporter.child.id().to_string();
    let hup = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(hup.expect("run kill").success());
    exporter.wait_for(INTERVAL + SLACK, "reload gauge 0 after SIGHUP", |e| {
        e.metric(gauge) == 0.0
    });
    assert!(exporter.serves("kept"));
    assert_eq!(rejections(&exporter, &path), 2);
    let _ = std::fs::remove_dir_all(path.parent().expect("scratch dir"));
}

#[test]
fn auto_reload_of_an_empty_file_keeps_the_running_config() {
    let path = scratch("empty-auto");
    write_config(&path, &module_config("kept"));
    let exporter = Exporter::start(&path);
    assert!(exporter.serves("kept"));
    rewrite_in_place(&path, "\n");
    exporter.wait_for(INTERVAL + SLACK, "reload gauge 0", |e| {
        e.metric("handshake_exporter_config_last_reload_successful") == 0.0
    });
    assert!(exporter.serves("kept"));
    std::thread::sleep(INTERVAL * 2);
    assert_eq!(
        rejections(&exporter, &path),
        1,
        "tried once until it changes"
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("scratch dir"));
}

#[test]
fn startup_with_an_empty_file_fails_with_one_line() {
    let path = scratch("empty-start");
    for text in ["", "# nothing here yet\n"] {
        rewrite_in_place(&path, text);
        let out = Command::new(env!("CARGO_BIN_EXE_handshake_exporter"))
            .args(["--web.listen-address", "127.0.0.1:0"])
            .arg("--config.file")
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("run the exporter");
        assert!(!out.status.success(), "started on {text:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(NO_DOCUMENT)).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(&path.display().to_string()), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(path.parent().expect("scratch dir"));
}
