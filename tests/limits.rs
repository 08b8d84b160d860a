//! The exporter's own limits are never blamed on a target: with its descriptors used up, a probe
//! fails as `prober_error` with detail `EMFILE`, the server keeps running, and it probes normally
//! again once descriptors are free. Runs the real binary under a small `ulimit -n`, on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Descriptors the exporter may hold: a few above what it needs to start and serve.
const NOFILE: u32 = 24;

/// The exporter under a descriptor limit, killed on drop.
struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr").port()
}

fn start() -> Exporter {
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_handshake_exporter");
    let child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            // The connection cap is lifted above the limit so idle connections can use every
            // descriptor up; by default the cap keeps them from it (tests/flood.rs).
            "ulimit -n {NOFILE} && exec {bin} --web.listen-address 127.0.0.1:{port} \
             --web.max-connections 1000 --log.level error"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the exporter");
    let exporter = Exporter { child, port };
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "exporter did not start listening");
        thread::sleep(Duration::from_millis(20));
    }
    exporter
}

/// Sends one keep-alive GET on `conn` and returns the body, or `None` when nothing answers
/// within a second (the exporter could not accept the connection).
fn get(conn: &mut TcpStream, path: &str) -> Option<String> {
    conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    conn.write_all(req.as_bytes()).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

fn failure_line(body: &str) -> Option<&str> {
    body.lines().find(|l| l.starts_with("probe_failure_info{"))
}

#[test]
fn out_of_descriptors_is_prober_error_and_recovers() {
    let exporter = start();
    let closed = free_port();
    let probe = format!("/probe?module=tcp_connect&target=127.0.0.1:{closed}");
    // Every idle keep-alive connection holds one of the exporter's descriptors; the probe that
    // cannot open its socket must blame the exporter, not the target.
    let mut held = Vec::new();
    let mut exhausted = None;
    for _ in 0..NOFILE * 2 {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", exporter.port)) else {
            break;
        };
        let Some(body) = get(&mut conn, &probe) else {
            break;
        };
        let failure = failure_line(&body).unwrap_or_default().to_string();
        held.push(conn);
        if failure.contains("class=\"prober_error\"") {
            exhausted = Some(failure);
            break;
        }
        assert!(
            failure.contains("class=\"refused\""),
            "before the limit the closed port is refused: {body}"
        );
    }
    let exhausted = exhausted.expect("the descriptor limit was reached without prober_error");
    assert_eq!(
        exhausted,
        "probe_failure_info{phase=\"connect\",class=\"prober_error\",detail=\"EMFILE\"} 1"
    );

    drop(held);
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let body = TcpStream::connect(("127.0.0.1", exporter.port))
            .ok()
            .and_then(|mut c| get(&mut c, &probe));
        let failure = body.as_deref().and_then(failure_line).unwrap_or_default();
        if failure.contains("class=\"refused\"") {
            break;
        }
        assert!(
            Instant::now() < until,
            "exporter did not recover after descriptors were freed: {body:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}
