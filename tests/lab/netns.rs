//! Low-level namespace plumbing for the lab: a namespace that removes itself ([`Netns`]),
//! running commands inside a network namespace, running a closure on a thread that entered one,
//! and removing namespaces left behind by a test process that was killed before its `Drop` ran.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{setns, CloneFlags};

/// Where `ip netns add` mounts named namespaces (ip-netns(8)).
pub const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Where `ip netns exec` looks for per-namespace files to bind-mount over `/etc` (ip-netns(8)).
pub const NETNS_ETC_DIR: &str = "/etc/netns";

/// Every namespace the lab creates starts with this, followed by `<pid>-<counter>-`.
pub const PREFIX: &str = "hxlab-";

/// A fresh name prefix `hxlab-<pid>-<n>-`, unique in this process; [`remove_stale`] knows it.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{PREFIX}{}-{}-",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// One network namespace with its loopback up, deleted (with whatever runs in it) on drop.
pub struct Netns {
    /// The name under /var/run/netns.
    pub name: String,
}

impl Netns {
    /// Creates `hxlab-<pid>-<n>-<tag>`. Panics when ip(8) fails.
    pub fn new(tag: &str) -> Netns {
        let ns = Netns {
            name: format!("{}{tag}", unique_prefix()),
        };
        run("ip", &["netns", "add", &ns.name]);
        ns.ip("link set lo up");
        ns
    }

    /// Runs one `ip` command (without the leading `ip`) inside, e.g. `"route add ..."`.
    pub fn ip(&self, command: &str) {
        ip_batch(&self.name, &format!("{command}\n"));
    }

    /// Runs `f` on a thread inside this namespace; see [`in_ns`].
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        in_ns(&self.name, f)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete(&self.name);
    }
}

/// Runs `program args...` and returns its output; panics with the command line and stderr when
/// the program cannot start or exits non-zero.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = output(program, args);
    if !out.status.success() {
        panic!(
            "command failed ({}): {} {}\nstdout: {}\nstderr: {}",
            out.status,
            program,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `program args...` and returns its raw output, whatever its exit status; panics only when
/// the program cannot be started at all.
pub fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("failed to start {program}: {e}"))
}

/// Runs `args` inside namespace `ns` through `ip netns exec` (so `/etc/netns/<ns>/` files are
/// bind-mounted over `/etc`); panics when the command fails.
pub fn run_in(ns: &str, args: &[&str]) -> String {
    let mut full = vec!["netns", "exec", ns];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Feeds `script` (one `ip` command per line, without the leading `ip`) to `ip -n <ns> -batch -`;
/// panics with the script when any line fails.
pub fn ip_batch(ns: &str, script: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("ip")
        .args(["-n", ns, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start ip: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .unwrap_or_else(|e| panic!("failed to write the ip batch: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("failed to wait for ip: {e}"));
    if !out.status.success() {
        panic!(
            "ip -n {ns} -batch failed: {}\nscript:\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `f` on a fresh thread that first entered the network namespace `ns` with setns(2)
/// (CLONE_NEWNET), and returns its result. Sockets created by `f` belong to `ns` for their whole
/// life, so they may be handed back and used from any thread. Panics of `f` are propagated.
pub fn in_ns<T, F>(ns: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = Path::new(NETNS_RUN_DIR).join(ns);
    let handle = std::thread::spawn(move || {
        let file =
            File::open(&path).unwrap_or_else(|e| panic!("failed to open {}: {e}", path.display()));
        setns(&file, CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("failed to enter {}: {e}", path.display()));
        f()
    });
    match handle.join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e),
    }
}

/// Writes sysctl values inside namespace `ns` through `/proc/sys` (which shows the network
/// namespace of the writing thread); `settings` are `("net/ipv4/ip_forward", "1")` pairs.
pub fn sysctl(ns: &str, settings: &[(&str, &str)]) {
    let owned: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    in_ns(ns, move || {
        for (key, value) in owned {
            let path = format!("/proc/sys/{key}");
            std::fs::write(&path, value).unwrap_or_else(|e| panic!("failed to write {path}: {e}"));
        }
    });
}

/// Names of all named network namespaces (`ip netns list`, first word of each line).
pub fn list() -> Vec<String> {
    let out = output("ip", &["netns", "list"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Deletes namespace `ns` and its `/etc/netns/<ns>` directory, ignoring what is already gone.
/// Processes still running inside are killed first (they can only be the lab's own).
pub fn delete(ns: &str) {
    let pids = output("ip", &["netns", "pids", ns]);
    for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<libc::pid_t>() {
            // SAFETY: kill(2) has no memory effects; the pid was listed inside our own namespace.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    let _ = output("ip", &["netns", "del", ns]);
    let _ = std::fs::remove_dir_all(Path::new(NETNS_ETC_DIR).join(ns));
}

/// Deletes lab namespaces and scratch directories whose creating process (the pid in the name)
/// no longer exists: what a killed test run left behind. Those of live processes, including
/// parallel runs, stay.
pub fn remove_stale() {
    for name in list() {
        if is_stale(&name) {
            delete(&name);
        }
    }
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            if is_stale(&entry.file_name().to_string_lossy()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether `name` is `hxlab-<pid>-...` with no process `<pid>` alive.
fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    match rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}
