//! The sampler of the timing benchmark (bench/timing.sh): in one run, it alternates a reference
//! measurement of the far target with the exporter's measurement of the same target, so both see
//! the same link and the same machine load.
//!
//!   timing_probe EXPORTER TCP_TARGET TLS_TARGET CA_FILE SECONDS LABEL
//!
//! Two threads for SECONDS each, writing `LABEL<TAB>series<TAB>microseconds` lines on stdout:
//! - connect: a blocking connect(2) timed right around the syscall (`ref_connect`), then
//!   `/probe?module=tcp_far` to the same target (`connect`: the probe's connect phase, `rtt`:
//!   its `probe_tcp_rtt_seconds`);
//! - tls: a blocking rustls handshake over a fresh connection, timed from the first ClientHello
//!   byte's preparation to the end (`ref_tls`), then `/probe?module=tls_far` (`tls`: the probe's
//!   tls phase). Both verify the chain against CA_FILE for the name `localhost`.
//!
//! A probe that did not succeed is written as series `failed`. A cargo example of the crate,
//! as tls_peer.rs: `cargo build --release --example timing_probe` (bench/build.sh does).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// Pause between two samples of one thread, so samples do not queue behind each other.
const PAUSE: Duration = Duration::from_millis(15);

type Out = Arc<Mutex<std::io::Stdout>>;

fn emit(out: &Out, label: &str, series: &str, value: Duration) {
    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(o, "{label}\t{series}\t{:.1}", value.as_secs_f64() * 1e6);
}

/// The value of the first sample line starting with `prefix` (name and labels) in a /probe
/// answer, in seconds.
fn sample(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
}

/// GET /probe with the given module and target; the answer's body.
fn probe(exporter: &str, module: &str, target: &str) -> Option<String> {
    let mut s = TcpStream::connect(exporter).ok()?;
    let req = format!(
        "GET /probe?module={module}&target={target} HTTP/1.1\r\nHost: {exporter}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn connect_loop(exporter: &str, target: SocketAddr, until: Instant, label: &str, out: &Out) {
    let want = "probe_tcp_duration_seconds{phase=\"connect\"} ";
    while Instant::now() < until {
        let t = Instant::now();
        let conn = TcpStream::connect(target);
        let took = t.elapsed();
        match conn {
            Ok(_) => emit(out, label, "ref_connect", took),
            Err(_) => emit(out, label, "failed", took),
        }
        let body = probe(exporter, "tcp_far", &target.to_string()).unwrap_or_default();
        match (
            sample(&body, "probe_success "),
            sample(&body, want),
            sample(&body, "probe_tcp_rtt_seconds "),
        ) {
            (Some(1.0), Some(c), Some(rtt)) => {
                emit(out, label, "connect", Duration::from_secs_f64(c));
                emit(out, label, "rtt", Duration::from_secs_f64(rtt));
            }
            _ => emit(out, label, "failed", Duration::ZERO),
        }
        thread::sleep(PAUSE);
    }
}

/// One reference handshake: connect (untimed), then the handshake timed to its end.
fn reference_tls(config: &Arc<ClientConfig>, target: SocketAddr) -> Option<Duration> {
    let mut sock = TcpStream::connect(target).ok()?;
    sock.set_nodelay(true).ok()?;
    let t = Instant::now();
    let name = ServerName::try_from("localhost").ok()?;
    let mut conn = ClientConnection::new(config.clone(), name).ok()?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).ok()?;
    }
    Some(t.elapsed())
}

fn tls_loop(
    exporter: &str,
    target: SocketAddr,
    config: &Arc<ClientConfig>,
    until: Instant,
    label: &str,
    out: &Out,
) {
    let want = "probe_tcp_duration_seconds{phase=\"tls\"} ";
    while Instant::now() < until {
        match reference_tls(config, target) {
            Some(took) => emit(out, label, "ref_tls", took),
            None => emit(out, label, "failed", Duration::ZERO),
        }
        let body = probe(exporter, "tls_far", &target.to_string()).unwrap_or_default();
        match (sample(&body, "probe_success "), sample(&body, want)) {
            (Some(1.0), Some(v)) => emit(out, label, "tls", Duration::from_secs_f64(v)),
            _ => emit(out, label, "failed", Duration::ZERO),
        }
        thread::sleep(PAUSE);
    }
}

fn client_config(ca_file: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| format!("{ca_file}: {e}"))? {
        let cert = cert.map_err(|e| format!("{ca_file}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{ca_file}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: timing_probe EXPORTER TCP_TARGET TLS_TARGET CA_FILE SECONDS LABEL");
        std::process::exit(2);
    }
    let run = || -> Result<(), String> {
        let exporter = args[1].clone();
        let tcp: SocketAddr = args[2].parse().map_err(|_| "TCP_TARGET: ADDR:PORT")?;
        let tls: SocketAddr = args[3].parse().map_err(|_| "TLS_TARGET: ADDR:PORT")?;
        let config = client_config(&args[4])?;
        let seconds: f64 = args[5].parse().map_err(|_| "SECONDS: a number")?;
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        let label = args[6].clone();
        let out: Out = Arc::new(Mutex::new(std::io::stdout()));
        let (e2, l2, o2) = (exporter.clone(), label.clone(), out.clone());
        let tls_thread = thread::spawn(move || tls_loop(&e2, tls, &config, until, &l2, &o2));
        connect_loop(&exporter, tcp, until, &label, &out);
        tls_thread.join().map_err(|_| "tls thread panicked")?;
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("timing_probe: {e}");
        std::process::exit(1);
    }
}
