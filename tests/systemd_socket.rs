//! Socket activation (`--web.systemd-socket`) with systemd's own tool, systemd-socket-activate(1):
//! it binds the port as deploy/systemd/handshake_exporter.socket makes systemd do and passes the
//! listening socket to the real binary (LISTEN_FDS, LISTEN_PID; sd_listen_fds(3)). curl gets its
//! answers through that socket, over HTTP and over HTTPS with basic auth; without a socket from
//! systemd the flag is a clear one-line error.
//!
//! Needs systemd-socket-activate (Debian package `systemd`). Without it the tests print a skip
//! line, except with CI=true, where they fail.

#[path = "support/pki.rs"]
mod pki;
#[allow(dead_code)]
mod web;

use std::process::Command;

use pki::Pki;
use rcgen::ExtendedKeyUsagePurpose;
use web::{curl, Exporter, Scratch};

/// Whether systemd-socket-activate can run here; panics under CI=true when it cannot.
fn have_socket_activate() -> bool {
    let found = Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-socket-activate not found (Debian package systemd) and CI=true forbids skipping"
        );
        eprintln!("SKIP: systemd-socket-activate not found (Debian package systemd)");
    }
    found
}

/// The `listening` lines of the exporter's log.
fn listening(exporter: &Exporter) -> Vec<String> {
    exporter
        .log()
        .lines()
        .filter(|line| line.contains("listening"))
        .map(str::to_string)
        .collect()
}

#[test]
fn serves_http_on_the_socket_systemd_passes() {
    if !have_socket_activate() {
        return;
    }
    let scratch = Scratch::new("systemd-socket-http");
    let exporter = Exporter::socket_activated(&scratch, &[]);
    let url = format!("http://127.0.0.1:{}", exporter.port);
    let (status, code, err) = curl(&[], &format!("{url}/metrics"));
    assert_eq!((status, code), (200, 0), "{err}");
    // A probe of a closed loopback port answers too: the whole server runs on that socket.
    let (status, code, err) = curl(
        &[],
        &format!("{url}/probe?module=tcp_connect&target=127.0.0.1:9"),
    );
    assert_eq!((status, code), (200, 0), "{err}");
    // The one socket it serves is the one it was given; the default :19115 is not bound.
    let lines = listening(&exporter);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{}", exporter.port)),
        "{lines:?}"
    );
}

#[test]
fn serves_https_with_basic_auth_on_the_socket_systemd_passes() {
    if !have_socket_activate() {
        return;
    }
    let scratch = Scratch::new("systemd-socket-https");
    let pki = Pki::named("socket activation CA");
    let server = pki.issue(&["127.0.0.1"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
    });
    scratch.file("server.crt", &server.cert_pem);
    scratch.file("server.key", &server.key_pem);
    let ca = scratch.file("ca.crt", &pki.ca_pem);
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let web = scratch.file(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {hash}\n"
        ),
    );
    let exporter =
        Exporter::socket_activated(&scratch, &["--web.config.file", web.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/metrics", exporter.port);
    let ca = ca.to_str().unwrap();
    let (status, code, err) = curl(&["--cacert", ca, "-u", "prometheus:s3cret"], &url);
    assert_eq!((status, code), (200, 0), "{err}");
    let (status, _, err) = curl(&["--cacert", ca], &url);
    assert_eq!(status, 401, "{err}");
    let (status, code, _) = curl(&[], &url.replace("https:", "http:"));
    assert_eq!(
        status, 0,
        "plain HTTP to the HTTPS socket got an HTTP answer (curl exit {code})"
    );
    let lines = listening(&exporter);
    assert!(
        lines.len() == 1 && lines[0].contains("tls=true"),
        "{lines:?}"
    );
}

#[test]
fn without_a_socket_from_systemd_the_flag_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_handshake_exporter"))
        .arg("--web.systemd-socket")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .output()
        .expect("run the exporter");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("systemd"))
        .unwrap_or_else(|| panic!("no error naming systemd: {stderr}"));
    assert!(
        line.contains(
            "failed to use systemd sockets: no TCP socket passed by systemd (LISTEN_FDS)"
        ),
        "{stderr}"
    );
}
