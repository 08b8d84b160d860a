//! A connection flood cannot blind the exporter: under a low open-file limit, a hostile client
//! (127.0.0.1) keeps far more idle connections with half-sent request heads coming than the
//! exporter has descriptors, and a second client's (127.0.0.2, as Prometheus would be another
//! host) `/metrics` scrape and `/probe` still answer within a second. The same flood against a
//! cap lifted above the limit shows what the cap prevents.

#[allow(dead_code)]
mod web;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use web::{Exporter, Scratch};

/// The exporter's descriptor limit (soft and hard, so it cannot raise it).
const NOFILE: usize = 128;
/// Hostile connections kept coming: three times the descriptor limit.
const HOSTILE: usize = 3 * NOFILE;

/// A GET with `Connection: close`: the status and body, and how long the answer took.
fn timed_get(port: u16, path: &str, limit: Duration) -> (Option<(u16, String)>, Duration) {
    let start = Instant::now();
    let answer = (|| {
        // From 127.0.0.2: another client address than the flood's.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .ok()?;
        socket
            .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .ok()?;
        let mut conn: TcpStream = socket.into();
        conn.set_read_timeout(Some(limit)).ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        conn.write_all(req.as_bytes()).ok()?;
        let mut raw = String::new();
        conn.read_to_string(&mut raw).ok()?;
        let status = raw.split(' ').nth(1)?.parse().ok()?;
        let body = raw.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    })();
    (answer, start.elapsed())
}

/// The flood: `HOSTILE` connections, each sending a partial request head and nothing more; a
/// connection the exporter closes is replaced at once. Runs until `stop`.
fn flood(port: u16, stop: Arc<AtomicBool>, opened: Arc<AtomicUsize>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let open = || {
            let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
            c.write_all(b"GET /metrics HTTP/1.1\r\nHost: hostile\r\n")
                .ok()?;
            c.set_nonblocking(true).ok()?;
            opened.fetch_add(1, Ordering::Relaxed);
            Some(c)
        };
        let mut conns: Vec<Option<TcpStream>> = (0..HOSTILE).map(|_| open()).collect();
        while !stop.load(Ordering::Relaxed) {
            for slot in conns.iter_mut() {
                let closed = match slot {
                    Some(c) => {
                        matches!(c.read(&mut [0u8; 64]), Ok(0) | Err(_))
                            && {
                                // WouldBlock means still open.
                                let mut probe = [0u8; 1];
                                !matches!(c.read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                            }
                    }
                    None => true,
                };
                if closed {
                    *slot = open();
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
    })
}

fn counter(metrics: &str, line_prefix: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Starts the exporter under `NOFILE` with `extra` flags, floods it, and returns the slowest
/// /metrics and /probe answer times (`None`: a request got no answer within 1.5 s) and the
/// exporter's /metrics at the end.
fn measure(
    scratch: &Scratch,
    extra: &[&str],
    rounds: usize,
) -> (Vec<Option<Duration>>, Option<String>, usize) {
    let limit = format!("--nofile={NOFILE}:{NOFILE}");
    let mut args = vec!["--log.level", "warn"];
    args.extend_from_slice(extra);
    let exporter = Exporter::start(scratch, &["prlimit", &limit, "--"], &args);
    let target = TcpListener::bind("127.0.0.1:0").expect("probe target");
    let probe = format!(
        "/probe?module=tcp_connect&target=127.0.0.1:{}",
        target.local_addr().expect("addr").port()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let hostile = flood(exporter.port, stop.clone(), opened.clone());
    // Let the flood fill the exporter first.
    while opened.load(Ordering::Relaxed) < HOSTILE {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(300));
    let mut times = Vec::new();
    for _ in 0..rounds {
        for (path, wanted) in [
            ("/metrics", "handshake_exporter_build_info"),
            (probe.as_str(), "probe_success 1"),
        ] {
            let (answer, took) = timed_get(exporter.port, path, Duration::from_millis(1500));
            let ok = matches!(&answer, Some((200, body)) if body.contains(wanted));
            times.push(ok.then_some(took));
        }
    }
    stop.store(true, Ordering::Relaxed);
    hostile.join().expect("flood thread");
    let (last, _) = timed_get(exporter.port, "/metrics", Duration::from_secs(2));
    (
        times,
        last.map(|(_, body)| body),
        opened.load(Ordering::Relaxed),
    )
}

#[test]
fn flood_of_idle_connections_does_not_blind_metrics_or_probe() {
    let scratch = Scratch::new("flood");
    let (times, metrics, opened) = measure(&scratch, &[], 10);
    assert!(
        opened > NOFILE,
        "the flood opened only {opened} connections"
    );
    let slowest = times.iter().copied().collect::<Option<Vec<_>>>();
    let slowest = slowest
        .unwrap_or_else(|| panic!("a request got no answer under the flood: {times:?}"))
        .into_iter()
        .max()
        .expect("answers");
    println!(
        "under a flood of {opened} connections ({HOSTILE} kept coming, RLIMIT_NOFILE {NOFILE}): \
         slowest /metrics or /probe answer {:.1} ms",
        slowest.as_secs_f64() * 1000.0
    );
    assert!(
        slowest < Duration::from_secs(1),
        "slowest answer took {slowest:?}"
    );
    let metrics = metrics.expect("final /metrics");
    let evicted = counter(
        &metrics,
        "handshake_exporter_http_connections_dropped_total{reason=\"evicted\"} ",
    );
    assert!(evicted > 0, "no connection was evicted:\n{metrics}");
}

#[test]
fn without_the_cap_the_same_flood_blinds_the_exporter() {
    let scratch = Scratch::new("flood-uncapped");
    let (times, _, _) = measure(
        &scratch,
        &[
            "--web.max-connections",
            "100000",
            "--web.header-read-timeout",
            "30s",
        ],
        1,
    );
    let unanswered = times
        .iter()
        .filter(|t| t.is_none_or(|d| d >= Duration::from_secs(1)))
        .count();
    assert!(
        unanswered > 0,
        "the flood had no effect, so the other test proves nothing: {times:?}"
    );
}
