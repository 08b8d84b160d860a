//! The TLS target of the benchmark: a TLS 1.3 server on loopback that completes each handshake
//! and closes, counting completed handshakes. A connection to STATS_PORT answers
//! "HTTP/1.0 200 OK" with that count, so a round's successful tls_connect probes are the
//! count's difference around the round.
//!
//!   tls_peer ADDR PORT STATS_PORT CERT KEY THREADS
//!
//! rustls (aws-lc-rs), the same library and crypto as the exporter's client side, so the server's
//! share of each handshake is small and the same for both exporters. No session tickets and no
//! session cache: every probe is a full handshake. A cargo example of the crate:
//! `cargo build --release --example tls_peer` (bench/run.sh does).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::NoServerSessionStorage;
use rustls::{ServerConfig, ServerConnection};

static SERVED: AtomicU64 = AtomicU64::new(0);

fn config(cert: &str, key: &str) -> Result<Arc<ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key {key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| format!("server config: {e}"))?;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// Runs one handshake to its end; true when it completed.
fn handshake(config: &Arc<ServerConfig>, mut sock: TcpStream) -> bool {
    let Ok(mut conn) = ServerConnection::new(config.clone()) else {
        return false;
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut sock).is_err() {
            return false;
        }
    }
    true
}

fn serve(listener: &TcpListener, config: &Arc<ServerConfig>) {
    for sock in listener.incoming().flatten() {
        if handshake(config, sock) {
            SERVED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Answers every connection to the stats port with the served count. The request is read
/// first: closing a socket with unread data sends RST instead of FIN (tcp(7)), which can make
/// the client lose the answer.
fn stats(listener: TcpListener) {
    for mut sock in listener.incoming().flatten() {
        let _ = sock.read(&mut [0u8; 1024]);
        let n = SERVED.load(Ordering::Relaxed);
        let _ = write!(
            sock,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{n}\n"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: tls_peer ADDR PORT STATS_PORT CERT KEY THREADS");
        std::process::exit(2);
    }
    let run = || -> Result<(), String> {
        let config = config(&args[4], &args[5])?;
        let bind = |port: &str| {
            TcpListener::bind(format!("{}:{port}", args[1]))
                .map_err(|e| format!("cannot listen on {}:{port}: {e}", args[1]))
        };
        let listener = Arc::new(bind(&args[2])?);
        let stats_listener = bind(&args[3])?;
        thread::spawn(move || stats(stats_listener));
        let threads: usize = args[6].parse().map_err(|_| "THREADS must be a number")?;
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (listener, config) = (listener.clone(), config.clone());
                thread::spawn(move || serve(&listener, &config))
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("tls_peer: {e}");
        std::process::exit(1);
    }
}
