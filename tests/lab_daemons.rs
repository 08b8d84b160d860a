//! `tcp.starttls` (and implicit TLS) against Debian's own daemons in the lab: postfix (SMTP),
//! dovecot (IMAP, POP3, ManageSieve, LMTP, and the implicit-TLS ports 993 and 995),
//! PostgreSQL, slapd, MariaDB, vsftpd, prosody (XMPP client and server streams) and nginx,
//! each started in the server namespace with a configuration this file writes and the lab
//! PKI's certificates. Each daemon runs three ways: a valid certificate (success and the
//! certificate metrics), an expired one (`tls_cert_expired`) and TLS switched off (the
//! documented `starttls_refused` and its `detail`). INN's nnrpd serves NNTP (STARTTLS, and
//! implicit TLS with `-S`); a lab peer speaking RFC 4642 covers the capability list without
//! STARTTLS, which nnrpd never sends. OpenSSH's sshd answers the SSH banner example module.

#[macro_use]
mod lab;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use lab::daemons::{
    chown, copy_owned, dovecot, owned_dir, postfix, run_as, sshd, Certs, Daemon, Tls,
};
use lab::modules::{config, module, tls_config, IP4};
use lab::tlsgen::{EXPIRED_NOT_AFTER, VALID_NOT_AFTER};
use lab::{Exporter, Lab, Metrics, SERVER4};

/// Every module the daemons are probed with: one per STARTTLS protocol, implicit TLS, a
/// PostgreSQL SSLRequest written by hand with `send_bytes`, and blackbox's SSH banner example.
fn modules(ca: &Path) -> String {
    let tls = tls_config(ca, None);
    let mut all: Vec<String> = [
        "smtp",
        "lmtp",
        "imap",
        "pop3",
        "ftp",
        "xmpp",
        "xmpp-server",
        "ldap",
        "postgres",
        "mysql",
        "nntp",
        "sieve",
    ]
    .iter()
    .map(|p| {
        let starttls = format!("      starttls: {p}\n");
        module(&format!("starttls_{p}"), "5s", &[IP4, &starttls, &tls])
    })
    .collect();
    all.push(module("implicit", "5s", &[IP4, "      tls: true\n", &tls]));
    all.push(module("plain_ca", "5s", &[IP4, &tls]));
    // The upgrade, then a dialogue over TLS: one query phase holds both.
    let after = "      starttls: imap\n      query_response:\n\
        \x20       - send: \"a3 CAPABILITY\\r\"\n\
        \x20       - expect: \"^a3 OK\"\n";
    all.push(module("imap_then_dialogue", "5s", &[IP4, after, &tls]));
    let by_hand = "      query_response:\n\
        \x20       - send_bytes: '\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f'\n\
        \x20       - expect_bytes: \"S\"\n\
        \x20       - starttls: true\n";
    all.push(module("postgres_by_hand", "5s", &[IP4, by_hand, &tls]));
    // blackbox_exporter's example module, its dialogue unchanged.
    let banner = "      query_response:\n        - expect: \"^SSH-2.0-\"\n\
        \x20       - send: \"SSH-2.0-blackbox-ssh-check\"\n";
    all.push(module("ssh_banner", "5s", &[IP4, banner]));
    config(&all)
}

/// The lab, its certificates and an exporter loading [`modules`].
fn setup() -> Option<(Lab, Certs)> {
    let lab = Lab::new()?;
    let certs = Certs::new(&lab);
    Some((lab, certs))
}

/// What a probe in each of the three ways must show.
fn assert_way(m: &Metrics, tls: Tls, off_detail: &str) {
    let query = m.find("probe_tcp_duration_seconds", &[("phase", "query")]);
    assert!(query.len() <= 1, "one query phase at most:\n{}", m.body);
    match tls {
        Tls::Valid => {
            m.assert_success();
            m.assert_value(
                "probe_ssl_earliest_cert_expiry",
                &[],
                VALID_NOT_AFTER as f64,
            );
            assert!(
                m.find("probe_tls_version_info", &[]).len() == 1,
                "{}",
                m.body
            );
        }
        Tls::Expired => {
            m.assert_failure("tls", "tls_cert_expired", "");
            m.assert_value(
                "probe_ssl_earliest_cert_expiry",
                &[],
                EXPIRED_NOT_AFTER as f64,
            );
        }
        Tls::Off => m.assert_failure("query", "starttls_refused", off_detail),
    }
}

/// Runs `start` each of the three ways and probes `probes` (module, port, detail when TLS is
/// off) against the daemons it started (stopped when what it returns is dropped).
fn three_ways<D>(start: impl Fn(&Lab, &Certs, Tls) -> D, probes: &[(&str, u16, &str)]) {
    let Some((lab, certs)) = setup() else { return };
    let exporter = Exporter::start(&lab, &modules(&certs.ca));
    for tls in [Tls::Valid, Tls::Expired, Tls::Off] {
        let daemon = start(&lab, &certs, tls);
        for (module, port, off_detail) in probes {
            if tls == Tls::Off && off_detail.is_empty() {
                continue;
            }
            let m = exporter.probe(module, &format!("ok.lab.test:{port}"));
            assert_way(&m, tls, off_detail);
        }
        drop(daemon);
    }
}

#[test]
fn dovecot_imap_pop3_sieve_lmtp_and_implicit_tls() {
    three_ways(
        dovecot,
        &[
            ("starttls_imap", 143, "starttls_not_offered"),
            ("starttls_pop3", 110, "starttls_not_offered"),
            ("starttls_sieve", 4190, "starttls_not_offered"),
            ("starttls_lmtp", 24, "starttls_not_offered"),
            ("imap_then_dialogue", 143, "starttls_not_offered"),
            ("implicit", 993, ""),
            ("implicit", 995, ""),
        ],
    );
}

#[test]
fn postfix_smtp() {
    three_ways(postfix, &[("starttls_smtp", 25, "starttls_not_offered")]);
}

#[test]
fn postgresql_ssl_request_and_send_bytes() {
    let Some((lab, certs)) = setup() else { return };
    let exporter = Exporter::start(&lab, &modules(&certs.ca));
    let dir = owned_dir(&lab, "postgres", "postgres");
    let data = dir.join("data");
    let initdb = postgres_bin("initdb");
    run_as(
        "postgres",
        &[
            &initdb,
            "-D",
            &data.display().to_string(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
    );
    for tls in [Tls::Valid, Tls::Expired, Tls::Off] {
        let mut args = vec![
            postgres_bin("postgres"),
            "-D".into(),
            data.display().to_string(),
            "-c".into(),
            format!("listen_addresses={SERVER4}"),
            "-c".into(),
            format!("unix_socket_directories={}", dir.display()),
        ];
        match certs.files(tls) {
            Some(files) => {
                let (cert, key) = copy_owned(&dir, files, "postgres");
                args.extend(["-c".into(), "ssl=on".into()]);
                args.extend(["-c".into(), format!("ssl_cert_file={}", cert.display())]);
                args.extend(["-c".into(), format!("ssl_key_file={}", key.display())]);
            }
            None => args.extend(["-c".into(), "ssl=off".into()]),
        }
        let mut command = vec!["runuser", "-u", "postgres", "--"];
        command.extend(args.iter().map(String::as_str));
        let daemon = Daemon::spawn(&lab, "postgres", &command).listening(&lab, 5432);
        let m = exporter.probe("starttls_postgres", "ok.lab.test:5432");
        assert_way(&m, tls, "N");
        if tls != Tls::Expired {
            cli_starttls_postgres(&lab, &certs, tls);
        }
        let by_hand = exporter.probe("postgres_by_hand", "ok.lab.test:5432");
        match tls {
            Tls::Off => {
                by_hand.assert_failure("query", "expect_mismatch", "");
                by_hand.assert_value("probe_failed_due_to_bytes", &[], 1.0);
            }
            _ => assert_way(&by_hand, tls, ""),
        }
        drop(daemon);
    }
}

/// `handshake_exporter probe --starttls postgres` in the client namespace: exit 0 and the
/// certificate's days with TLS on, exit 2 (CRITICAL) and the refusal with TLS off.
fn cli_starttls_postgres(lab: &Lab, certs: &Certs, tls: Tls) {
    let config = lab.file("cli.yml", &modules(&certs.ca));
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.client])
        .arg(env!("CARGO_BIN_EXE_handshake_exporter"))
        .args(["probe", "--config.file"])
        .arg(&config)
        .args([
            "--module",
            "plain_ca",
            "--starttls",
            "postgres",
            "ok.lab.test:5432",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("failed to run the probe command");
    let text = String::from_utf8_lossy(&out.stdout);
    match tls {
        Tls::Off => {
            assert_eq!(out.status.code(), Some(2), "{text}");
            assert!(
                text.contains("FAILED in query: starttls_refused (N)"),
                "{text}"
            );
        }
        _ => {
            assert_eq!(out.status.code(), Some(0), "{text}");
            assert!(text.contains("module plain_ca+starttls=postgres"), "{text}");
            assert!(text.contains("OK: every phase passed"), "{text}");
        }
    }
}

/// The path of a PostgreSQL program of the installed major version.
fn postgres_bin(name: &str) -> String {
    let mut versions: Vec<_> = fs::read_dir("/usr/lib/postgresql")
        .expect("postgresql installed (/usr/lib/postgresql)")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    versions.sort();
    let dir = versions.last().expect("a postgresql version");
    dir.join("bin").join(name).display().to_string()
}

#[test]
fn slapd_starttls_extended_operation() {
    three_ways(
        |lab, certs, tls| {
            let dir = lab.dir.join(format!("slapd-{tls:?}"));
            fs::create_dir_all(&dir).unwrap();
            let d = dir.display();
            let tls_lines = certs.files(tls).map_or(String::new(), |(cert, key)| {
                format!(
                    "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                    cert.display(),
                    key.display()
                )
            });
            let conf = format!(
                "include /etc/ldap/schema/core.schema\npidfile {d}/slapd.pid\n\
                 argsfile {d}/slapd.args\n{tls_lines}database ldif\nsuffix \"dc=lab,dc=test\"\n\
                 directory {d}\n"
            );
            let conf = lab.file(&format!("slapd-{tls:?}.conf"), &conf);
            let url = format!("ldap://{SERVER4}:389/");
            let conf = conf.display().to_string();
            Daemon::spawn(lab, "slapd", &["slapd", "-f", &conf, "-h", &url, "-d", "0"])
                .listening(lab, 389)
        },
        &[("starttls_ldap", 389, "protocolError")],
    );
}

#[test]
fn mariadb_ssl_request() {
    three_ways(
        |lab, certs, tls| {
            let dir = owned_dir(lab, &format!("mariadb-{tls:?}"), "mysql");
            let mut args = vec![
                "mariadbd".to_string(),
                "--no-defaults".into(),
                format!("--datadir={}", dir.display()),
                format!("--socket={}/sock", dir.display()),
                format!("--pid-file={}/pid", dir.display()),
                "--port=3306".into(),
                format!("--bind-address={SERVER4}"),
                "--user=mysql".into(),
                "--skip-grant-tables".into(),
            ];
            match certs.files(tls) {
                Some(files) => {
                    let (cert, key) = copy_owned(&dir, files, "mysql");
                    args.push(format!("--ssl-cert={}", cert.display()));
                    args.push(format!("--ssl-key={}", key.display()));
                }
                None => args.push("--skip-ssl".into()),
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Daemon::spawn(lab, "mariadb", &args).listening(lab, 3306)
        },
        &[("starttls_mysql", 3306, "starttls_not_offered")],
    );
}

#[test]
fn vsftpd_auth_tls() {
    three_ways(
        |lab, certs, tls| {
            let empty = lab.dir.join("vsftpd-empty");
            fs::create_dir_all(&empty).unwrap();
            let ssl = certs
                .files(tls)
                .map_or("ssl_enable=NO\n".to_string(), |(cert, key)| {
                    format!(
                        "ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\n",
                        cert.display(),
                        key.display()
                    )
                });
            let conf = format!(
                "listen=YES\nlisten_address={SERVER4}\nlisten_port=21\nbackground=NO\n\
                 anonymous_enable=NO\nlocal_enable=YES\nsecure_chroot_dir={}\n\
                 seccomp_sandbox=NO\nxferlog_enable=NO\n{ssl}",
                empty.display()
            );
            let conf = lab.file(&format!("vsftpd-{tls:?}.conf"), &conf);
            Daemon::spawn(lab, "vsftpd", &["vsftpd", &conf.display().to_string()])
                .listening(lab, 21)
        },
        &[("starttls_ftp", 21, "530")],
    );
}

#[test]
fn prosody_client_and_server_streams() {
    three_ways(
        |lab, certs, tls| {
            let dir = owned_dir(lab, &format!("prosody-{tls:?}"), "prosody");
            let d = dir.display();
            let (tls_module, ssl) = match certs.files(tls) {
                Some((cert, key)) => (
                    "\"tls\", ",
                    format!(
                        "  ssl = {{ certificate = \"{}\", key = \"{}\" }}\n",
                        cert.display(),
                        key.display()
                    ),
                ),
                None => ("", String::new()),
            };
            let conf = format!(
                "pidfile = \"{d}/pid\"\ndata_path = \"{d}\"\nrun_as_root = true\n\
                 log = {{ info = \"{d}/log\" }}\ninterfaces = {{ \"{SERVER4}\" }}\n\
                 c2s_ports = {{ 5222 }}\ns2s_ports = {{ 5269 }}\nc2s_direct_tls_ports = {{}}\n\
                 modules_enabled = {{ {tls_module}\"saslauth\", \"dialback\", \"disco\" }}\n\
                 VirtualHost \"ok.lab.test\"\n{ssl}"
            );
            let conf = lab.file(&format!("prosody-{tls:?}.cfg.lua"), &conf);
            Daemon::spawn(
                lab,
                "prosody",
                &["prosody", "-F", "--config", &conf.display().to_string()],
            )
            .listening(lab, 5222)
            .listening(lab, 5269)
        },
        &[
            // prosody requires encryption on client streams: with nothing left to offer, it
            // ends the stream ("No stream features to proceed with").
            ("starttls_xmpp", 5222, "stream_error"),
            ("starttls_xmpp-server", 5269, "starttls_not_offered"),
        ],
    );
}

#[test]
fn nginx_implicit_tls() {
    three_ways(
        |lab, certs, tls| {
            let dir = lab.dir.join(format!("nginx-{tls:?}"));
            fs::create_dir_all(&dir).unwrap();
            let d = dir.display();
            let listen = match certs.files(tls) {
                Some((cert, key)) => format!(
                    "listen {SERVER4}:443 ssl;\nssl_certificate {};\nssl_certificate_key {};\n",
                    cert.display(),
                    key.display()
                ),
                None => format!("listen {SERVER4}:443;\n"),
            };
            let conf = format!(
                "daemon off;\nmaster_process on;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {d};\n\
                 proxy_temp_path {d};\nfastcgi_temp_path {d};\nuwsgi_temp_path {d};\n\
                 scgi_temp_path {d};\nserver {{\n{listen}return 204;\n}}\n}}\n"
            );
            let conf = lab.file(&format!("nginx-{tls:?}.conf"), &conf);
            Daemon::spawn(
                lab,
                "nginx",
                &[
                    "nginx",
                    "-p",
                    &d.to_string(),
                    "-c",
                    &conf.display().to_string(),
                ],
            )
            .listening(lab, 443)
        },
        &[("implicit", 443, "")],
    );
}

#[test]
fn plain_http_and_ssh_are_protocol_mismatch() {
    let Some((lab, certs)) = setup() else { return };
    let exporter = Exporter::start(&lab, &modules(&certs.ca));
    let dir = lab.dir.join("nginx-plain");
    fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d};\nproxy_temp_path {d};\n\
         fastcgi_temp_path {d};\nuwsgi_temp_path {d};\nscgi_temp_path {d};\n\
         server {{\nlisten {SERVER4}:443;\nreturn 204;\n}}\n}}\n"
    );
    let conf = lab.file("nginx-plain.conf", &conf);
    let _nginx = Daemon::spawn(
        &lab,
        "nginx",
        &[
            "nginx",
            "-p",
            &d.to_string(),
            "-c",
            &conf.display().to_string(),
        ],
    )
    .listening(&lab, 443);
    exporter
        .probe("implicit", "ok.lab.test:443")
        .assert_failure("tls", "protocol_mismatch", "");
    // STARTTLS modules aimed at OpenSSH's sshd: its banner is no greeting of theirs.
    let _sshd = sshd(&lab, 2222);
    for module in [
        "starttls_smtp",
        "starttls_imap",
        "starttls_xmpp",
        "starttls_mysql",
    ] {
        let m = exporter.probe(module, "ok.lab.test:2222");
        m.assert_failure("query", "protocol_mismatch", "");
    }
}

#[test]
fn inn_nnrpd_starttls_and_implicit_tls() {
    three_ways(
        nnrpd,
        &[
            // nnrpd always lists STARTTLS; without a certificate it answers 580.
            ("starttls_nntp", 119, "580"),
            ("implicit", 563, ""),
        ],
    );
}

/// INN's reader daemon nnrpd standalone (`-D -f`) on 203.0.113.2:119 with STARTTLS, and a
/// second one with implicit TLS (`-S`) on 563 when `tls` is not off; an inn.conf of the test
/// (`INNCONF`) puts every path under the scratch directory, owned by `news` (nnrpd drops to
/// it). nnrpd refuses readers without an overview database, which makehistory(8) builds from
/// the empty spool; it refuses a key file others can read (0600 here).
fn nnrpd(lab: &Lab, certs: &Certs, tls: Tls) -> (Daemon, Option<Daemon>) {
    let dir = owned_dir(lab, &format!("inn-{tls:?}"), "news");
    let d = dir.display();
    for sub in ["etc", "db", "run", "log", "tmp", "spool", "over"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).unwrap();
        chown(&path, "news");
    }
    for file in ["active", "newsgroups"] {
        let path = dir.join("db").join(file);
        fs::copy(Path::new("/usr/lib/news/examples").join(file), &path).unwrap();
        chown(&path, "news");
    }
    fs::copy("/etc/news/storage.conf", dir.join("etc/storage.conf")).unwrap();
    let readers = "auth \"lab\" {\n hosts: \"*\"\n default: \"<lab>\"\n}\n\
                   access \"lab\" {\n users: \"*\"\n newsgroups: \"*\"\n access: \"R\"\n}\n";
    fs::write(dir.join("etc/readers.conf"), readers).unwrap();
    let tls_lines = certs.files(tls).map_or(String::new(), |files| {
        let (cert, key) = copy_owned(&dir, files, "news");
        format!(
            "tlscertfile: {}\ntlskeyfile: {}\n",
            cert.display(),
            key.display()
        )
    });
    let conf = lab.file(
        &format!("inn-{tls:?}.conf"),
        &format!(
            "domain: lab.test\npathhost: news.lab.test\nmta: \"/usr/sbin/sendmail -oi -oem %s\"\n\
             ovmethod: tradindexed\nhismethod: hisv6\npathnews: /usr/lib/news\npathetc: {d}/etc\n\
             pathdb: {d}/db\npathrun: {d}/run\npathlog: {d}/log\npathtmp: {d}/tmp\n\
             pathspool: {d}/spool\npathoverview: {d}/over\n{tls_lines}"
        ),
    );
    let innconf = format!("INNCONF={}", conf.display());
    run_as(
        "news",
        &["env", &innconf, "/usr/lib/news/bin/makehistory", "-O", "-x"],
    );
    let start = |port: &str, implicit: bool| {
        let mut args = vec!["env", &innconf, "/usr/lib/news/bin/nnrpd", "-D", "-f", "-n"];
        args.extend(["-4", SERVER4, "-p", port]);
        if implicit {
            args.push("-S");
        }
        Daemon::spawn(lab, &format!("nnrpd-{port}"), &args).listening(lab, port.parse().unwrap())
    };
    let starttls = start("119", false);
    let implicit = certs.files(tls).map(|_| start("563", true));
    (starttls, implicit)
}

#[test]
fn sshd_answers_the_ssh_banner_example() {
    let Some((lab, certs)) = setup() else { return };
    let exporter = Exporter::start(&lab, &modules(&certs.ca));
    let _sshd = sshd(&lab, 22);
    let m = exporter.probe("ssh_banner", "ok.lab.test:22");
    m.assert_success();
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    // Nothing answers on another port.
    exporter
        .probe("ssh_banner", "ok.lab.test:23")
        .assert_failure("connect", "refused", "ECONNREFUSED");
}

#[test]
fn nntp_starttls_against_a_lab_peer() {
    let Some((lab, certs)) = setup() else { return };
    let exporter = Exporter::start(&lab, &modules(&certs.ca));
    for tls in [Tls::Valid, Tls::Expired, Tls::Off] {
        let port = 1190 + tls as u16;
        serve_nntp(&lab, &certs, tls, port);
        let m = exporter.probe("starttls_nntp", &format!("ok.lab.test:{port}"));
        assert_way(&m, tls, "starttls_not_offered");
    }
}

/// An NNTP server of RFC 3977 and RFC 4642 on 203.0.113.2:`port`, for one connection:
/// greeting 200, CAPABILITIES (with STARTTLS unless TLS is off), STARTTLS → 382 and a TLS
/// handshake with the certificate of `tls`.
fn serve_nntp(lab: &Lab, certs: &Certs, tls: Tls, port: u16) {
    let addr = format!("{SERVER4}:{port}");
    let listener = lab.in_server(move || TcpListener::bind(addr).expect("bind nntp peer"));
    let config = certs.files(tls).map(|(cert, key)| {
        let id = lab::tlsgen::Identity::from_pem(
            &fs::read_to_string(cert).unwrap(),
            &fs::read_to_string(key).unwrap(),
        );
        lab::tlsgen::server_config(&id, &[], None)
    });
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut out = stream;
        let _ = out.write_all(b"200 news.lab.test InterNetNews server ready\r\n");
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let reply: &[u8] = match line.trim_end() {
                "CAPABILITIES" if config.is_some() => {
                    b"101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n"
                }
                "CAPABILITIES" => b"101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n",
                "STARTTLS" => b"382 Continue with TLS negotiation\r\n",
                _ => b"500 What?\r\n",
            };
            let _ = out.write_all(reply);
            if line.trim_end() == "STARTTLS" {
                let Some(config) = config else { return };
                let mut conn = rustls::ServerConnection::new(config).expect("tls");
                while conn.is_handshaking() {
                    if conn.complete_io(&mut out).is_err() {
                        return;
                    }
                }
                return;
            }
            line.clear();
        }
    });
}

/// The module file these tests probe with is one a user can check: `--config.check` is clean.
#[test]
fn the_module_file_passes_config_check() {
    let dir = std::env::temp_dir().join(format!("lab-daemons-check-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let file = dir.join("modules.yml");
    fs::write(&file, modules(&ca)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handshake_exporter"))
        .arg(format!("--config.file={}", file.display()))
        .arg("--config.check")
        .output()
        .expect("failed to run the exporter");
    let _ = fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "OK");
}
