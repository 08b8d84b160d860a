//! `prober: unix` against sockets this test makes in its own directory: a banner checked with
//! `expect`, and each errno of a failed connect(2) (unix(7)): ECONNREFUSED (a socket file nobody
//! listens on) is `refused`, ENOENT `socket_missing`, EACCES `permission_denied` (the `probe`
//! command run as `nobody` against a socket in a directory only root may search). And
//! `unix.tls: true` against `openssl s_server -unix` with a certificate made here: phase `tls`
//! with its version, the name checked is `tls_config.server_name` or else `localhost`, and
//! `query_response` runs inside TLS.

#[path = "support/pki.rs"]
mod pki;
mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use handshake_exporter::config::Config;
use handshake_exporter::server::encode_component;
use pki::Pki;
use support::metrics::Metrics;
use support::Server;

const CONFIG: &str = "modules:
  unix_banner:
    prober: unix
    timeout: 2s
    unix:
      query_response:
        - expect: \"^OK ([a-z]+) ready\"
          labels:
            - name: service
              value: \"${1}\"
        - send: \"QUIT\"
  unix_connect:
    prober: unix
    timeout: 2s
";

/// A fresh directory for this test's sockets (named by test and pid, removed at the end).
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("hx-unix-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the socket directory");
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn server() -> Server {
    let config = Config::from_yaml_str(CONFIG, "unix.yml").expect("config");
    Server::start(config, None, 16).await
}

async fn probe(server: &Server, module: &str, path: &Path) -> Metrics {
    let target = encode_component(&path.display().to_string());
    let resp = server
        .get(&format!("/probe?module={module}&target={target}"))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    Metrics::parse(&resp.body)
}

#[tokio::test]
async fn banner_with_expect_passes() {
    let dir = Dir::new("banner");
    let path = dir.0.join("banner.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    let peer = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut conn, _) = listener.accept().await.expect("accept");
        conn.write_all(b"OK spool ready\n").await.expect("write");
        let mut quit = [0u8; 5];
        conn.read_exact(&mut quit).await.expect("read QUIT");
        quit
    });
    let server = server().await;
    let m = probe(&server, "unix_banner", &path).await;
    m.assert_success();
    m.assert_value("probe_expect_info", &[("service", "spool")], 1.0);
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    assert!(
        m.get("probe_tcp_duration_seconds", &[("phase", "connect")])
            .is_some(),
        "{}",
        m.body
    );
    assert!(
        m.get("probe_tcp_duration_seconds", &[("phase", "query")])
            .is_some(),
        "{}",
        m.body
    );
    assert!(
        m.get("probe_tcp_duration_seconds", &[("phase", "resolve")])
            .is_none(),
        "{}",
        m.body
    );
    assert_eq!(&peer.await.unwrap(), b"QUIT\n");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_socket_nobody_listens_on_is_refused() {
    let dir = Dir::new("refused");
    let path = dir.0.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(
        path.exists(),
        "the socket file stays after its listener closed"
    );
    let server = server().await;
    let m = probe(&server, "unix_connect", &path).await;
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_missing_path_is_socket_missing() {
    let dir = Dir::new("missing");
    let server = server().await;
    let m = probe(&server, "unix_connect", &dir.0.join("absent.sock")).await;
    m.assert_failure("connect", "socket_missing", "ENOENT");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_path_is_a_400() {
    let server = server().await;
    let long = format!("/{}", "a".repeat(120));
    let resp = server
        .get(&format!("/probe?module=unix_connect&target={long}"))
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(resp.body.contains("longer than 107 bytes"), "{}", resp.body);
    server.stop().await.unwrap();
}

/// EACCES needs a user without CAP_DAC_OVERRIDE: the `probe` command runs as `nobody`
/// (setpriv(1)) against a socket whose directory only root may search.
#[test]
fn a_socket_out_of_reach_is_permission_denied() {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true: this test needs root"
        );
        eprintln!("skipping: permission_denied needs root to drop to nobody");
        return;
    }
    let dir = Dir::new("denied");
    let config = dir.0.join("unix.yml");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let private = dir.0.join("private");
    std::fs::create_dir(&private).unwrap();
    let path = private.join("root.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .args([
            "probe",
            "--output",
            "json",
            "--module",
            "unix_connect",
            "--config.file",
        ])
        .arg(&config)
        .arg(&path)
        .output()
        .expect("run setpriv");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let failure = &json["results"][0]["failure"];
    assert_eq!(failure["phase"], "connect", "{json}");
    assert_eq!(failure["class"], "permission_denied", "{json}");
    assert_eq!(failure["detail"], "EACCES", "{json}");
    assert_eq!(out.status.code(), Some(2), "{json}");
}

/// `openssl s_server -www` on a Unix socket, killed by its own PID when dropped.
struct SServer(Child);

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts s_server on `socket` with the certificate and key files; returns once it listens.
fn s_server(socket: &Path, cert: &Path, key: &Path) -> SServer {
    let mut child = Command::new("openssl")
        .arg("s_server")
        .arg("-unix")
        .arg(socket)
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .arg("-www")
        // s_server quits when its stdin ends: kept open until the child is killed.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("failed to start openssl s_server");
    let lines = BufReader::new(child.stdout.take().expect("s_server stdout")).lines();
    let ready = lines.map_while(Result::ok).any(|l| l.contains("ACCEPT"));
    assert!(ready, "openssl s_server -unix did not start listening");
    SServer(child)
}

/// Modules trusting `ca`: `default_name` (no server_name: localhost), `other_name`
/// (server_name other.example), both asking for `/` inside TLS.
fn tls_config(ca: &Path) -> String {
    let module = |name: &str, server_name: &str| {
        format!(
            "  {name}:\n    prober: unix\n    timeout: 3s\n    unix:\n      tls: true\n      \
             tls_config:\n        ca_file: {}\n{server_name}      query_response:\n        \
             - send: \"GET / HTTP/1.0\\r\\n\"\n        - expect: \"^HTTP/1.0 200\"\n",
            ca.display()
        )
    };
    format!(
        "modules:\n{}{}",
        module("default_name", ""),
        module("other_name", "        server_name: other.example\n")
    )
}

#[tokio::test]
async fn tls_over_a_unix_socket() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "openssl is needed"
        );
        return;
    }
    let dir = Dir::new("tls");
    let pki = Pki::named("unix socket CA");
    let id = pki.issue(&["localhost"], |_| {});
    let (cert, key) = (dir.0.join("server.crt"), dir.0.join("server.key"));
    std::fs::write(&cert, &id.cert_pem).expect("write the certificate");
    std::fs::write(&key, &id.key_pem).expect("write the key");
    let ca = pki.write_ca_to(dir.0.join("ca.pem"));
    let socket = dir.0.join("tls.sock");
    let _peer = s_server(&socket, &cert, &key);

    let config = Config::from_yaml_str(&tls_config(&ca), "unix-tls.yml").expect("config");
    let server = Server::start(config, None, 16).await;
    let m = probe(&server, "default_name", &socket).await;
    m.assert_success();
    assert!(
        m.get("probe_tcp_duration_seconds", &[("phase", "tls")])
            .is_some(),
        "{}",
        m.body
    );
    m.assert_value("probe_tls_version_info", &[("version", "TLS 1.3")], 1.0);

    let m = probe(&server, "other_name", &socket).await;
    m.assert_failure("tls", "tls_cert_hostname_mismatch", "");
    server.stop().await.unwrap();
}
