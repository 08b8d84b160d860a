//! The exporter's own limits are never blamed on a target: with its descriptors used up, a probe
//! fails as `prober_error` with detail `EMFILE`, the server keeps running, and it probes normally
//! again once descriptors are free. Runs the real binary under a small `ulimit -n`, on loopback.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use support::http::Conn;
use support::metrics::Metrics;

/// Descriptors the exporter may hold: a few above what it needs to start and serve.
const NOFILE: u32 = 24;

/// The exporter under a descriptor limit, killed on drop.
struct Exporter {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the exporter on `127.0.0.1:0` and reads the address it bound from its `listening`
/// log line; the rest of its log is drained on a thread.
fn start() -> Exporter {
    let bin = env!("CARGO_BIN_EXE_handshake_exporter");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            // The connection cap is lifted above the limit so idle connections can use every
            // descriptor up; by default the cap keeps them from it (tests/flood.rs).
            "ulimit -n {NOFILE} && exec {bin} --web.listen-address 127.0.0.1:0 \
             --web.max-connections 1000 --log.level info"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the exporter");
    let stderr = child.stderr.take().expect("piped stderr");
    let addr = listening_address(stderr);
    Exporter { child, addr }
}

/// Reads log lines until the one saying where the server listens; panics at EOF.
fn listening_address(stderr: ChildStderr) -> SocketAddr {
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.expect("exporter log");
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("address="))
            .filter(|_| line.contains("listening"))
        {
            let addr = addr.parse().expect("a socket address");
            std::thread::spawn(move || lines.for_each(drop));
            return addr;
        }
    }
    panic!("the exporter exited before listening");
}

/// Opens a keep-alive connection and probes once on it; `None` when the exporter cannot accept
/// or answer within a second. Returns the connection (it holds a descriptor of the exporter)
/// and the `probe_failure_info` class and detail.
async fn probe(addr: SocketAddr, closed: u16) -> Option<(Conn, String, String)> {
    let path = format!("/probe?module=tcp_connect&target=127.0.0.1:{closed}");
    let exchange = async {
        let mut conn = Conn::open(addr).await.ok()?;
        let answer = conn.get(&path).await.ok()?;
        let failure = Metrics::parse(&answer.body).failure()?;
        Some((conn, failure.class, failure.detail))
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn out_of_descriptors_is_prober_error_and_recovers() {
    let exporter = start();
    let (_reserved, closed) = support::closed_port();
    // Every idle keep-alive connection holds one of the exporter's descriptors; the probe that
    // cannot open its socket must blame the exporter, not the target.
    let mut held = Vec::new();
    let mut exhausted = None;
    for _ in 0..NOFILE * 2 {
        let Some((conn, class, detail)) = probe(exporter.addr, closed).await else {
            break;
        };
        held.push(conn);
        if class == "prober_error" {
            exhausted = Some(detail);
            break;
        }
        assert_eq!(
            class, "refused",
            "before the limit the closed port is refused"
        );
    }
    let exhausted = exhausted.expect("the descriptor limit was reached without prober_error");
    assert_eq!(exhausted, "EMFILE");

    drop(held);
    // The exporter recovers as soon as it sees the descriptors closed; give it 5 s.
    let recovered = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match probe(exporter.addr, closed).await {
                Some((_, class, _)) if class == "refused" => return,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await;
    assert!(
        recovered.is_ok(),
        "exporter did not recover after descriptors were freed"
    );
}
