//! The exporter binary run on loopback with chosen flags, a scratch directory for the files it
//! reads, and the real clients (curl, openssl s_client) the web tests talk to it with.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory under the system temp dir named after `tag` and the process id.
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("handshake-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("failed to create the scratch dir");
        Scratch(dir)
    }

    /// Writes `contents` to `name` in the directory; returns the path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("failed to write a scratch file");
        path
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound, then released for the exporter to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind a probe port");
    listener.local_addr().expect("local address").port()
}

/// The exporter as a child process; killed on drop, its log printed if the test fails.
pub struct Exporter {
    child: Child,
    /// Where it listens.
    pub port: u16,
    log: PathBuf,
}

impl Exporter {
    /// Starts the exporter (wrapped in `prefix`, e.g. `prlimit ...`, when not empty) with
    /// `args` plus `--web.listen-address 127.0.0.1:PORT`, and waits until the port accepts.
    pub fn start(scratch: &Scratch, prefix: &[&str], args: &[&str]) -> Exporter {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = args.to_vec();
        all.extend(["--web.listen-address", &listen]);
        Exporter::launch(scratch, prefix, &all, port)
    }

    /// Starts the exporter under systemd-socket-activate(1), systemd's tool that binds
    /// 127.0.0.1:PORT and passes the listening socket as systemd does for a `.socket` unit
    /// (LISTEN_FDS, sd_listen_fds(3)), with `--web.systemd-socket` and `args`; waits until the
    /// port accepts.
    #[allow(dead_code)] // used by some of the test binaries that share this module
    pub fn socket_activated(scratch: &Scratch, args: &[&str]) -> Exporter {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["--web.systemd-socket"];
        all.extend_from_slice(args);
        Exporter::launch(
            scratch,
            &["systemd-socket-activate", "-l", &listen],
            &all,
            port,
        )
    }

    /// Runs the exporter (behind `prefix`) with exactly `args`; waits until `port` accepts.
    fn launch(scratch: &Scratch, prefix: &[&str], args: &[&str], port: u16) -> Exporter {
        let log = scratch.path(&format!("exporter-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log handle");
        let binary = env!("CARGO_BIN_EXE_handshake_exporter");
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("failed to start the exporter");
        let mut exporter = Exporter { child, port, log };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("exporter exited ({status}):\n{}", exporter.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "exporter not up:\n{}",
                exporter.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        exporter
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("exporter log:\n{}", self.log());
        }
    }
}

/// Runs `program` with `args`, stdin from `input`, with a 20 s limit enforced by `timeout(1)`.
pub fn run(program: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run {program}: {e}"));
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    child
        .wait_with_output()
        .expect("failed to wait for the client")
}

/// `curl` answer: the HTTP status (0 when no HTTP answer came) and curl's exit code.
pub fn curl(args: &[&str], url: &str) -> (u16, i32, String) {
    let mut all = vec![
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ];
    all.extend_from_slice(args);
    all.push(url);
    let out = run("curl", &all, "");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (
        status,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
