//! Helpers for tests/delay_line.rs: network namespaces made and removed by the test, a way to run
//! code inside one, and the root check. The delay line itself is in `line.rs`.

pub mod line;

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use nix::sched::{setns, CloneFlags};

/// Whether this test can run here: root, `ip` and `/dev/net/tun`. When not, prints why the test
/// is skipped and returns false, except under `CI=true`, where a skip would hide a broken lab and
/// the test fails instead.
pub fn lab_available(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let tun = std::path::Path::new("/dev/net/tun").exists();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if root && tun && ip {
        return true;
    }
    let why = format!("needs root, ip(8) and /dev/net/tun (root={root}, tun={tun}, ip={ip})");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; CI=true, so this is a failure, not a skip");
    }
    // Straight to the process's stderr: the test harness captures only the print macros, and a
    // skip must be visible in a normal run.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping {test}: {why}");
    false
}

/// A network namespace named `hxdl-<pid>-<n>-<tag>`, deleted on drop.
pub struct Netns {
    /// The name under /run/netns.
    pub name: String,
}

impl Netns {
    /// Creates the namespace with its loopback up. Panics when ip(8) fails.
    pub fn new(tag: &str) -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "hxdl-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run_ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `ip -n <name> <args>`; panics with ip's message when it fails.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all);
    }

    /// Runs `f` on a new thread that entered this namespace (setns(2) with CLONE_NEWNET changes
    /// only the calling thread), and returns its result. Sockets and TUN devices `f` creates
    /// belong to the namespace for their whole life, whichever thread uses them later.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || {
            let fd = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            setns(&fd, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
        .join()
        .expect("thread inside the namespace panicked")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run_ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}
