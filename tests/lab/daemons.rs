//! Debian's own daemons in the lab's server namespace: each started by the test with a
//! configuration it writes into the lab's scratch directory and the lab PKI's certificates,
//! and stopped by the PID the test started (SIGTERM, then SIGKILL after 5 s) when dropped.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tlsgen::{Leaf, Pki};
use super::{netns, Lab, SERVER4};

/// How long a daemon may take to listen: postgres and mariadb on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Which certificate a daemon serves, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// The lab CA's valid leaf for ok.lab.test and 203.0.113.2.
    Valid,
    /// The lab CA's leaf that expired on 2021-01-01.
    Expired,
    /// TLS switched off in the daemon's configuration.
    Off,
}

/// The lab's certificate files: the CA, and a valid and an expired leaf with their keys.
pub struct Certs {
    /// The CA certificate, for the modules' `ca_file`.
    pub ca: PathBuf,
    valid: (PathBuf, PathBuf),
    expired: (PathBuf, PathBuf),
}

impl Certs {
    /// Issues both leaves and writes them (keys mode 0644, so daemons that drop privileges
    /// can read them; a test copies them where a daemon wants stricter modes).
    pub fn new(lab: &Lab) -> Certs {
        let pki = Pki::new();
        let ca = pki.write_ca(lab);
        let write = |name: &str, leaf: Leaf| {
            let id = pki.leaf(leaf);
            let cert = lab.file(&format!("{name}.pem"), &id.cert_pem);
            let key = lab.file(&format!("{name}-key.pem"), &id.key_pem);
            fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod key");
            (cert, key)
        };
        Certs {
            ca,
            valid: write("valid", Leaf::Valid),
            expired: write("expired", Leaf::Expired),
        }
    }

    /// The certificate and key files for `tls`; `None` for [`Tls::Off`].
    pub fn files(&self, tls: Tls) -> Option<(&Path, &Path)> {
        match tls {
            Tls::Valid => Some((&self.valid.0, &self.valid.1)),
            Tls::Expired => Some((&self.expired.0, &self.expired.1)),
            Tls::Off => None,
        }
    }
}

/// A daemon the test started; stopped by its PID when dropped.
pub struct Daemon {
    name: String,
    pid: i32,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Runs `args` in the lab's server namespace (`ip netns exec`, which execs the program, so
    /// the child's PID is the daemon's), its output in `NAME.log` in the scratch directory.
    pub fn spawn(lab: &Lab, name: &str, args: &[&str]) -> Daemon {
        let log = lab.dir.join(format!("{name}.log"));
        let out = fs::File::create(&log).expect("daemon log");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.server])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {name}: {e}"));
        Daemon {
            name: name.to_string(),
            pid: child.id() as i32,
            child: Some(child),
            log,
        }
    }

    /// A daemon that forks itself into the background: runs `args` to the end, then reads
    /// its PID from `pid_file`.
    pub fn forking(lab: &Lab, name: &str, args: &[&str], pid_file: &Path) -> Daemon {
        let mut starter = Daemon::spawn(lab, name, args);
        let status = starter.child.take().map(|mut c| c.wait());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let pid = fs::read_to_string(pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            if let Some(pid) = pid {
                starter.pid = pid;
                return starter;
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} wrote no {} ({status:?}); its log:\n{}",
                    pid_file.display(),
                    starter.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the daemon accepts connections on 203.0.113.2:`port`; panics with its log
    /// when it does not within 30 s or exits first.
    pub fn listening(mut self, lab: &Lab, port: u16) -> Daemon {
        let addr: SocketAddr = format!("{SERVER4}:{port}").parse().expect("address");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let up = netns::in_ns(&lab.server, move || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            });
            if up {
                return self;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "{} is not listening on {addr} ({exited:?}); its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a PID this test started; it touches no memory.
        let alive = |pid| unsafe { libc::kill(pid, 0) } == 0;
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(child) = self.child.as_mut() {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
            } else if !alive(self.pid) {
                return;
            }
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                if let Some(child) = self.child.as_mut() {
                    let _ = child.wait();
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A directory `name` in the scratch directory owned by `user` (mode 0700), for daemons that
/// refuse other modes or drop privileges.
pub fn owned_dir(lab: &Lab, name: &str, user: &str) -> PathBuf {
    let dir = lab.dir.join(name);
    fs::create_dir_all(&dir).expect("daemon dir");
    chown(&dir, user);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

/// Copies `cert` and `key` into `dir` owned by `user`, the key mode 0600 (postgres' rule).
pub fn copy_owned(dir: &Path, files: (&Path, &Path), user: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    fs::copy(files.0, &cert).expect("copy cert");
    fs::copy(files.1, &key).expect("copy key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod key");
    chown(&cert, user);
    chown(&key, user);
    (cert, key)
}

/// `chown user:` of `path`.
pub fn chown(path: &Path, user: &str) {
    netns::run("chown", &[&format!("{user}:"), &path.display().to_string()]);
}

/// Runs `args` as `user` (runuser(1)) to the end; panics with its output when it fails.
pub fn run_as(user: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", user, "--"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("failed to run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Dovecot serving IMAP (143), POP3 (110), ManageSieve (4190) and LMTP (24) on 203.0.113.2,
/// and IMAPS (993) and POP3S (995) when `tls` is not off.
pub fn dovecot(lab: &Lab, certs: &Certs, tls: Tls) -> Daemon {
    let dir = lab.dir.join(format!("dovecot-{tls:?}"));
    fs::create_dir_all(&dir).unwrap();
    let conf = lab.file(
        &format!("dovecot-{tls:?}.conf"),
        &dovecot_conf(&dir, certs, tls),
    );
    Daemon::spawn(
        lab,
        "dovecot",
        &["dovecot", "-F", "-c", &conf.display().to_string()],
    )
    .listening(lab, 143)
    .listening(lab, 4190)
}

/// dovecot.conf (2.3) serving IMAP, POP3, ManageSieve and LMTP on 203.0.113.2, with the
/// implicit-TLS ports when TLS is on.
fn dovecot_conf(dir: &Path, certs: &Certs, tls: Tls) -> String {
    let d = dir.display();
    let (ssl, implicit) = match certs.files(tls) {
        Some((cert, key)) => (
            format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                cert.display(),
                key.display()
            ),
            true,
        ),
        None => ("ssl = no\ndisable_plaintext_auth = no\n".to_string(), false),
    };
    let imaps = if implicit {
        "inet_listener imaps {\n port = 993\n ssl = yes\n}\n"
    } else {
        ""
    };
    let pop3s = if implicit {
        "inet_listener pop3s {\n port = 995\n ssl = yes\n}\n"
    } else {
        ""
    };
    format!(
        "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/log\n\
         instance_name = lab-dovecot-{pid}\nprotocols = imap pop3 sieve lmtp\nlisten = {SERVER4}\n\
         {ssl}auth_mechanisms = plain\n\
         passdb {{\n driver = static\n args = password=lab\n}}\n\
         userdb {{\n driver = static\n args = uid=dovecot gid=dovecot home={d}/home\n}}\n\
         mail_location = maildir:{d}/mail\n\
         service imap-login {{\ninet_listener imap {{\n port = 143\n}}\n{imaps}}}\n\
         service pop3-login {{\ninet_listener pop3 {{\n port = 110\n}}\n{pop3s}}}\n\
         service managesieve-login {{\ninet_listener sieve {{\n port = 4190\n}}\n}}\n\
         service lmtp {{\ninet_listener lmtp {{\n port = 24\n}}\n}}\n\
         service anvil {{\n chroot =\n}}\n",
        pid = std::process::id()
    )
}

/// Postfix's SMTP server on 203.0.113.2:25, with STARTTLS (`smtpd_tls_security_level =
/// may`) unless `tls` is off; its master forks, so it is stopped by the PID it writes.
pub fn postfix(lab: &Lab, certs: &Certs, tls: Tls) -> Daemon {
    let dir = lab.dir.join(format!("postfix-{tls:?}"));
    let queue = dir.join("queue");
    let data = dir.join("data");
    fs::create_dir_all(&queue).unwrap();
    fs::create_dir_all(&data).unwrap();
    chown(&data, "postfix");
    fs::copy("/etc/postfix/master.cf", dir.join("master.cf")).unwrap();
    let tls_lines = match certs.files(tls) {
        Some((cert, key)) => format!(
            "smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n\
                     smtpd_tls_security_level = may\n",
            cert.display(),
            key.display()
        ),
        None => "smtpd_tls_security_level = none\n".to_string(),
    };
    let main = format!(
        "compatibility_level = 3.6\nqueue_directory = {}\ndata_directory = {}\n\
                 mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mx.lab.test\n\
                 mydestination =\ninet_interfaces = {SERVER4}\ninet_protocols = ipv4\n\
                 alias_maps =\nalias_database =\n{tls_lines}",
        queue.display(),
        data.display()
    );
    fs::write(dir.join("main.cf"), main).unwrap();
    let dir_arg = dir.display().to_string();
    Daemon::forking(
        lab,
        "postfix",
        &["postfix", "-c", &dir_arg, "start"],
        &queue.join("pid/master.pid"),
    )
    .listening(lab, 25)
}

/// OpenSSH's sshd on 203.0.113.2:`port`, in the foreground (`-D -e`, its log on stderr), with
/// an Ed25519 host key ssh-keygen makes in the scratch directory (the package's keys in
/// /etc/ssh are not used). sshd wants its privilege separation directory /run/sshd, which
/// only its service creates: the daemon gets a private mount namespace (unshare(1)) with a
/// tmpfs on /run holding it, so the machine's /run is left alone. `unshare` and `sh` exec, so
/// the PID started is sshd's.
pub fn sshd(lab: &Lab, port: u16) -> Daemon {
    let dir = lab.dir.join(format!("sshd-{port}"));
    fs::create_dir_all(&dir).expect("sshd dir");
    let key = dir.join("host_ed25519");
    netns::run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "lab",
            "-f",
            &key.display().to_string(),
        ],
    );
    let conf = lab.file(
        &format!("sshd-{port}.conf"),
        &format!(
            "Port {port}\nListenAddress {SERVER4}\nHostKey {}\nPidFile {}/sshd.pid\n\
             UsePAM no\nPasswordAuthentication no\n",
            key.display(),
            dir.display()
        ),
    );
    let start = "mount -t tmpfs -o mode=0755 lab-sshd /run && mkdir -m 0755 /run/sshd && \
                 exec /usr/sbin/sshd -D -e -f \"$0\"";
    Daemon::spawn(
        lab,
        "sshd",
        &[
            "unshare",
            "-m",
            "sh",
            "-c",
            start,
            &conf.display().to_string(),
        ],
    )
    .listening(lab, port)
}
