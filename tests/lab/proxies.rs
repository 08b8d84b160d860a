//! Real proxies in the lab's server namespace, started from a config the test writes:
//! danted (SOCKS5, RFC 1928) on 203.0.113.2:1080, microsocks (SOCKS5 with an RFC 1929 login) on
//! 203.0.113.2:1081, squid (HTTP CONNECT) on 203.0.113.2:3128 and tinyproxy on
//! 203.0.113.2:8888. Each stops when its [`Daemon`] is dropped.

use std::process::Command;

use super::daemon::Daemon;
use super::{Lab, SERVER4};

/// danted without authentication; `settings` are more server settings (e.g.
/// `timeout.connect: 1\n`), `rules` its `socks pass` / `socks block` lines, in order (a final
/// `socks block` of everything else is added).
pub fn dante(lab: &Lab, settings: &str, rules: &str) -> Daemon {
    let conf = lab.file(
        "danted.conf",
        &format!(
            "logoutput: stderr\ninternal: {SERVER4} port = 1080\nexternal: {SERVER4}\n\
             clientmethod: none\nsocksmethod: none\nuser.privileged: root\n\
             user.unprivileged: nobody\n{settings}client pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n\
             {rules}socks block {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n"
        ),
    );
    let pid = lab.dir.join("danted.pid");
    let (conf, pid) = (conf.display().to_string(), pid.display().to_string());
    let args = ["-f", conf.as_str(), "-p", pid.as_str()];
    Daemon::start(
        lab,
        &lab.server,
        "danted",
        "danted",
        &args,
        "203.0.113.2:1080",
    )
}

/// microsocks accepting only `user` with `password` (RFC 1929).
pub fn microsocks(lab: &Lab, user: &str, password: &str) -> Daemon {
    let args = ["-i", SERVER4, "-p", "1081", "-u", user, "-P", password];
    let listen = "203.0.113.2:1081";
    Daemon::start(lab, &lab.server, "microsocks", "microsocks", &args, listen)
}

/// squid with `rules` (`acl`, `auth_param` and `http_access` lines) and no cache.
pub fn squid(lab: &Lab, rules: &str) -> Daemon {
    let dir = lab.dir.display();
    let conf = lab.file(
        "squid.conf",
        &format!(
            "http_port {SERVER4}:3128\n{rules}cache deny all\npid_filename {dir}/squid.pid\n\
             access_log none\ncache_log {dir}/squid-cache.log\ncoredump_dir {dir}\n\
             shutdown_lifetime 0 seconds\n"
        ),
    );
    let conf = conf.display().to_string();
    let args = ["-N", "-f", conf.as_str()];
    Daemon::start(
        lab,
        &lab.server,
        "squid",
        "squid",
        &args,
        "203.0.113.2:3128",
    )
}

/// The `auth_param` and `acl` lines that make squid ask for `user` / `password` (Basic, through
/// basic_ncsa_auth over an htpasswd file whose APR1 hash `openssl passwd -apr1` makes); the
/// ACL's name is `login`.
pub fn squid_login(lab: &Lab, user: &str, password: &str) -> String {
    let hash = Command::new("openssl")
        .args(["passwd", "-apr1", password])
        .output()
        .expect("failed to run openssl passwd");
    assert!(hash.status.success(), "openssl passwd failed");
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
    let users = lab.file("squid.users", &format!("{user}:{hash}\n"));
    format!(
        "auth_param basic program /usr/lib/squid/basic_ncsa_auth {}\n\
         auth_param basic realm lab\nacl login proxy_auth REQUIRED\n",
        users.display()
    )
}

/// tinyproxy allowing CONNECT to `ports` only (others 403).
pub fn tinyproxy(lab: &Lab, ports: &[u16]) -> Daemon {
    let mut conf = format!(
        "User nobody\nGroup nogroup\nPort 8888\nListen {SERVER4}\nTimeout 5\nMaxClients 16\n"
    );
    for port in ports {
        conf.push_str(&format!("ConnectPort {port}\n"));
    }
    let conf = lab.file("tinyproxy.conf", &conf).display().to_string();
    let args = ["-d", "-c", conf.as_str()];
    Daemon::start(
        lab,
        &lab.server,
        "tinyproxy",
        "tinyproxy",
        &args,
        "203.0.113.2:8888",
    )
}

/// Points the server namespace (the proxies') at the lab's DNS server, with a hosts file of
/// localhost only: the proxies then resolve the lab zone, but not `hosts.lab.test`, which only
/// the client's hosts file names. Removed with the namespace.
pub fn resolve_in_server(lab: &Lab) {
    let etc = std::path::Path::new(super::netns::NETNS_ETC_DIR).join(&lab.server);
    std::fs::create_dir_all(&etc).expect("failed to create the server's /etc/netns directory");
    std::fs::write(etc.join("resolv.conf"), format!("nameserver {SERVER4}\n"))
        .expect("failed to write the server's resolv.conf");
    std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n::1 localhost\n")
        .expect("failed to write the server's hosts");
}
