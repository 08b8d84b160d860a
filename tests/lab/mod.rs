//! The fault lab: three network namespaces (client — router — server) joined by veth pairs, with
//! documentation prefixes only (RFC 5737, RFC 3849), in which tests make the kernel or a real
//! peer produce each failure class and read the exporter's `/probe` answer.
//!
//! ```text
//!  client 198.51.100.2/24        router 198.51.100.1 | 203.0.113.1        server 203.0.113.2/24
//!         2001:db8:1::2/64  c0—r0        2001:db8:1::1 | 2001:db8:2::1  r1—s0  2001:db8:2::2/64
//! ```
//!
//! The server also owns 203.0.113.3 and 2001:db8:2::3 (second answers of `two.lab.test` and
//! `two6.lab.test`). More routers behind the router can be added on demand ([`Lab::chain`]).
//!
//! The client has routes only to the lab prefixes, never a default route, so nothing a test does
//! can leave the lab. Everything is removed in `Drop`, also when the test panics.
//!
//! ICMP rate limits: `icmp_ratelimit` is 0 in every namespace, but the ICMP errors the router
//! sends for its `unreachable`/`prohibit` routes and for a missing route are limited per source
//! host by the global `net.ipv4.route.error_cost`/`error_burst` (one per second, burst of five),
//! a token bucket that any other ICMP error the router sends to the same host (an iptables
//! REJECT) empties. So a lab should trigger only a few route errors and not mix them with
//! router REJECTs; each test having its own lab keeps that true.

#![allow(dead_code)]

pub mod chain;
pub mod daemon;
pub mod daemons;
pub mod delay;
pub mod dns;
pub mod exporter;
#[path = "../support/http.rs"]
pub mod http;
#[path = "../support/metrics.rs"]
pub mod metrics;
pub mod modules;
pub mod netns;
pub mod pages;
#[path = "../support/pki.rs"]
pub mod pki;
pub mod proxies;
pub mod servers;
pub mod tlsgen;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[allow(unused_imports)]
pub use exporter::Exporter;
#[allow(unused_imports)]
pub use metrics::Metrics;
#[allow(unused_imports)]
pub use servers::Peer;

/// Client address (IPv4) on the client—router link.
pub const CLIENT4: &str = "198.51.100.2";
/// Client address (IPv6) on the client—router link.
pub const CLIENT6: &str = "2001:db8:1::2";
/// Router address on the client side (IPv4): the source of ICMP errors the router sends.
pub const ROUTER4: &str = "198.51.100.1";
/// Router address on the client side (IPv6).
pub const ROUTER6: &str = "2001:db8:1::1";
/// Server address (IPv4); also the lab's DNS server.
pub const SERVER4: &str = "203.0.113.2";
/// Second server address (IPv4), the second answer of `two.lab.test`.
pub const SERVER4_B: &str = "203.0.113.3";
/// Server address (IPv6).
pub const SERVER6: &str = "2001:db8:2::2";
/// Second server address (IPv6), the second answer of `two6.lab.test`.
pub const SERVER6_B: &str = "2001:db8:2::3";
/// An address the router routes with `unreachable` (ICMP host unreachable from the router).
pub const UNREACHABLE4: &str = "203.0.113.4";
/// An address the router routes with `prohibit` (ICMP admin prohibited from the router).
pub const PROHIBITED4: &str = "203.0.113.5";
/// An address the router routes with `blackhole` (silently dropped).
pub const BLACKHOLE4: &str = "203.0.113.6";
/// An address in a prefix the client routes to the router but the router has no route for.
pub const NOROUTE4: &str = "192.0.2.1";
/// IPv6 counterpart of [`NOROUTE4`].
pub const NOROUTE6: &str = "2001:db8:3::1";

/// Skips the calling test (returns from it) when the lab cannot run here; see [`Lab::new`].
/// Test files declare `#[macro_use] mod lab;` to use it.
#[allow(unused_macros)]
macro_rules! lab_or_skip {
    () => {
        match $crate::lab::Lab::new() {
            Some(lab) => lab,
            None => return,
        }
    };
}

/// One lab: its three namespaces, a scratch directory, and a stop flag for its server threads.
pub struct Lab {
    /// Name of the client namespace (where the exporter runs).
    pub client: String,
    /// Name of the router namespace.
    pub router: String,
    /// Name of the server namespace (where peers and the DNS server run).
    pub server: String,
    /// Scratch directory for configs, certificates and logs; removed in `Drop`.
    pub dir: PathBuf,
    /// Set in `Drop`; server threads stop accepting when they see it.
    pub stop: Arc<AtomicBool>,
    /// Namespaces added after the build (see [`Lab::chain`]); removed in `Drop` too.
    pub extra_namespaces: Mutex<Vec<String>>,
}

impl Lab {
    /// Builds a fresh lab, or returns `None` after printing "skipping: lab tests need root" when
    /// not running as root. With `CI=true` in the environment it panics instead of skipping, so
    /// a CI job can never pass without running the lab.
    pub fn new() -> Option<Lab> {
        if !available(&["ip", "iptables", "ip6tables"], &[]) {
            return None;
        }
        let id = netns::unique_prefix();
        let dir = std::env::temp_dir().join(id.trim_end_matches('-'));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("failed to create {}: {e}", dir.display()));
        let lab = Lab {
            client: format!("{id}cli"),
            router: format!("{id}rtr"),
            server: format!("{id}srv"),
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            extra_namespaces: Mutex::new(Vec::new()),
        };
        lab.build();
        dns::serve(&lab);
        Some(lab)
    }

    /// The prefix every namespace of this lab starts with (for teardown checks).
    pub fn prefix(&self) -> &str {
        self.client.trim_end_matches("cli")
    }

    /// The lab's namespaces.
    pub fn namespaces(&self) -> [&str; 3] {
        [&self.client, &self.router, &self.server]
    }

    /// Creates the namespaces, links, addresses and routes.
    fn build(&self) {
        let no_dad = [
            ("net/ipv6/conf/all/accept_dad", "0"),
            ("net/ipv6/conf/default/accept_dad", "0"),
            ("net/ipv4/icmp_ratelimit", "0"),
            ("net/ipv6/icmp/ratelimit", "0"),
        ];
        for ns in self.namespaces() {
            netns::run("ip", &["netns", "add", ns]);
            netns::sysctl(ns, &no_dad);
        }
        let (router, server) = (&self.router, &self.server);
        // Distinct ifindexes on both ends of each veth: the kernel treats a carrier change as
        // urgent only when a device's ifindex differs from its peer's (net/core/link_watch.c);
        // otherwise the change waits up to a second and the first packets are dropped.
        netns::ip_batch(
            &self.client,
            &format!(
                "link set lo up\n\
                 link add c0 index 11 type veth peer name r0 index 12 netns {router}\n\
                 addr add {CLIENT4}/24 dev c0\n\
                 addr add {CLIENT6}/64 dev c0 nodad\n\
                 link set c0 up\n"
            ),
        );
        netns::ip_batch(
            router,
            &format!(
                "link set lo up\n\
                 link add r1 index 13 type veth peer name s0 index 14 netns {server}\n\
                 addr add {ROUTER4}/24 dev r0\n\
                 addr add {ROUTER6}/64 dev r0 nodad\n\
                 addr add 203.0.113.1/24 dev r1\n\
                 addr add 2001:db8:2::1/64 dev r1 nodad\n\
                 link set r0 up\n\
                 link set r1 up\n\
                 route add unreachable {UNREACHABLE4}/32\n\
                 route add prohibit {PROHIBITED4}/32\n\
                 route add blackhole {BLACKHOLE4}/32\n"
            ),
        );
        netns::sysctl(
            router,
            &[
                ("net/ipv4/ip_forward", "1"),
                ("net/ipv4/conf/all/forwarding", "1"),
                ("net/ipv6/conf/all/forwarding", "1"),
            ],
        );
        netns::ip_batch(
            server,
            &format!(
                "link set lo up\n\
                 addr add {SERVER4}/24 dev s0\n\
                 addr add {SERVER4_B}/24 dev s0\n\
                 addr add {SERVER6}/64 dev s0 nodad\n\
                 addr add {SERVER6_B}/64 dev s0 nodad\n\
                 link set s0 up\n\
                 route add 198.51.100.0/24 via 203.0.113.1\n\
                 route add 2001:db8:1::/64 via 2001:db8:2::1\n"
            ),
        );
        netns::ip_batch(
            &self.client,
            &format!(
                "route add 203.0.113.0/24 via {ROUTER4}\n\
                 route add 192.0.2.0/24 via {ROUTER4}\n\
                 route add 2001:db8:2::/64 via {ROUTER6}\n\
                 route add 2001:db8:3::/64 via {ROUTER6}\n"
            ),
        );
        let etc = Path::new(netns::NETNS_ETC_DIR).join(&self.client);
        std::fs::create_dir_all(&etc)
            .unwrap_or_else(|e| panic!("failed to create {}: {e}", etc.display()));
        write(&etc.join("resolv.conf"), &format!("nameserver {SERVER4}\n"));
        write(
            &etc.join("hosts"),
            &format!("127.0.0.1 localhost\n::1 localhost\n{SERVER4} hosts.lab.test\n"),
        );
    }
}

// Helpers tests call.
impl Lab {
    /// Runs a command inside namespace `ns` (`ip netns exec`) and returns its stdout; panics
    /// when it fails.
    pub fn run(&self, ns: &str, args: &[&str]) -> String {
        netns::run_in(ns, args)
    }

    /// Adds one iptables rule in `ns`, e.g. `"-A INPUT -p tcp --dport 81 -j DROP"`.
    pub fn iptables(&self, ns: &str, rule: &str) {
        let mut args = vec!["iptables", "-w"];
        args.extend(rule.split_whitespace());
        netns::run_in(ns, &args);
    }

    /// Adds one ip6tables rule in `ns`.
    pub fn ip6tables(&self, ns: &str, rule: &str) {
        let mut args = vec!["ip6tables", "-w"];
        args.extend(rule.split_whitespace());
        netns::run_in(ns, &args);
    }

    /// Runs one `ip` command (without the leading `ip`) in namespace `ns`, e.g.
    /// `"route del 192.0.2.0/24"`.
    pub fn ip(&self, ns: &str, command: &str) {
        netns::ip_batch(ns, &format!("{command}\n"));
    }

    /// Runs `f` on a thread inside the client namespace; see [`netns::in_ns`].
    pub fn in_client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        netns::in_ns(&self.client, f)
    }

    /// Runs `f` on a thread inside the server namespace; see [`netns::in_ns`].
    pub fn in_server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        netns::in_ns(&self.server, f)
    }

    /// Starts `peer` listening on `addr` (e.g. `"203.0.113.2:22"`) in the server namespace; it
    /// runs until the lab is dropped.
    pub fn serve(&self, addr: &str, peer: Peer) {
        servers::serve(self, addr, peer);
    }

    /// Starts `peer` listening on `addr` in the client namespace, next to the exporter (a
    /// loopback peer, e.g. `"127.0.0.1:8443"` for target `localhost:8443`).
    pub fn serve_client(&self, addr: &str, peer: Peer) {
        servers::serve_in(self, &self.client, addr, peer);
    }

    /// Listens on `addr` in the server namespace and drops every TCP segment to its port there
    /// (iptables or ip6tables `DROP`), so a connect stays silent.
    pub fn drop_syns(&self, addr: &str) {
        self.serve(addr, Peer::Silent);
        let port = addr.rsplit(':').next().unwrap_or_default();
        let rule = format!("-A INPUT -p tcp --dport {port} -j DROP");
        if addr.starts_with('[') {
            self.ip6tables(&self.server, &rule);
        } else {
            self.iptables(&self.server, &rule);
        }
    }

    /// Starts an SSH banner peer ([`servers::SSH_BANNER`]) on `addr` in the server namespace.
    pub fn serve_ssh(&self, addr: &str) {
        self.serve(addr, Peer::Banner(servers::SSH_BANNER.into()));
    }

    /// Writes `contents` to `name` in the lab's scratch directory and returns the path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        write(&path, contents);
        path
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let extra = std::mem::take(
            self.extra_namespaces
                .get_mut()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for ns in &extra {
            netns::delete(ns);
        }
        for ns in self.namespaces() {
            netns::delete(ns);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One scenario in a fresh lab: a CA written to the lab's `ca.pem`, an exporter loading
/// `config(ca.pem)`, the peer `serve` makes (from the CA) on `addr`, and one probe of `module`
/// against `addr`. `None` when the lab cannot run here.
pub fn probe_peer(
    config: impl FnOnce(&Path) -> String,
    module: &str,
    addr: &str,
    serve: impl FnOnce(&tlsgen::Pki) -> Peer,
) -> Option<Metrics> {
    let lab = Lab::new()?;
    let pki = tlsgen::Pki::new();
    let exporter = Exporter::start(&lab, &config(&pki.write_ca(&lab)));
    lab.serve(addr, serve(&pki));
    Some(exporter.probe(module, addr))
}

/// Whether a namespace test can run here: root, the `tools` on the PATH and the `files`
/// (e.g. `/dev/net/tun`). Removes what killed test runs left behind. When it cannot run,
/// prints "skipping: why" and returns false, or panics under `CI=true`, so a CI job can never
/// pass without running it.
pub fn available(tools: &[&str], files: &[&str]) -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    let missing = if euid != 0 {
        Some("lab tests need root".to_string())
    } else if let Some(tool) = tools.iter().find(|t| which(t).is_none()) {
        Some(format!("lab tests need {tool} (iproute2, iptables)"))
    } else {
        files
            .iter()
            .find(|f| !Path::new(f).exists())
            .map(|f| format!("lab tests need {f}"))
    };
    match missing {
        None => {
            netns::remove_stale();
            true
        }
        Some(why) => {
            skip(&why);
            false
        }
    }
}

/// Prints "skipping: `why`", or panics when `CI=true`.
pub fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}, and CI=true forbids skipping it");
    }
    // Straight to the process's stderr: the test harness captures only the print macros, and
    // a skip must be visible in a normal run.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping: {why}");
}

/// The path of `tool` in `PATH` (plus the sbin directories), if any.
fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

/// Writes a file or panics naming it.
fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", path.display()));
}
