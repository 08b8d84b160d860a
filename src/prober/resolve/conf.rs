//! The host's resolver configuration — resolv.conf(5), hosts(5) and the `hosts:` line of
//! nsswitch.conf(5) — read the way glibc and Go read it, and re-read when a file changes.
//!
//! Every probe takes the current [`Snapshot`] (an `Arc`), so a reload never disturbs a probe in
//! flight: it finishes with the configuration it started with. Changes are noticed as Go's
//! resolver notices them (`net/dnsclient_unix.go`): at most once per [`RECHECK_INTERVAL`], a
//! `stat(2)` of each file; only a changed file is read again. A file that cannot be read any more
//! keeps the last configuration that could, and the failure is logged once.

use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::{Hosts, TokioResolver};

/// Where the host keeps its resolver configuration (resolv.conf(5)).
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// Where the host keeps its static names (hosts(5)).
pub const HOSTS: &str = "/etc/hosts";
/// Where the host says in which order to ask hosts(5) and DNS (nsswitch.conf(5)).
pub const NSSWITCH_CONF: &str = "/etc/nsswitch.conf";
/// How often, at most, the files are checked for changes: Go's resolver uses 5 s.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(5);

/// glibc reads at most this many `nameserver` lines (`MAXNS`, resolv.conf(5)).
const MAX_NAMESERVERS: usize = 3;

/// The resolver settings of one reading of resolv.conf, plus the resolver built from them.
pub struct DnsConf {
    /// The resolver that sends the queries (search list empty: candidates are built by the
    /// caller and always queried fully qualified), or why none could be built.
    pub resolver: Result<TokioResolver, String>,
    /// The last `search` or `domain` line's domains, in order.
    pub search: Vec<Name>,
    /// `options ndots:N`: a name with at least this many dots is tried as given first.
    pub ndots: usize,
    /// `options no-tld-query`: a name without dots is never tried as given.
    pub no_tld_query: bool,
    /// One line describing the settings, for logs.
    pub summary: String,
}

/// A source of names in nsswitch.conf(5)'s `hosts:` line that the exporter follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `files`: hosts(5).
    Files,
    /// `dns` (or `resolve`, systemd-resolved, reached through the same resolv.conf): DNS.
    Dns,
}

/// What one probe resolves with: the files as they were when the probe started.
pub struct Snapshot {
    /// From resolv.conf.
    pub dns: Arc<DnsConf>,
    /// From hosts; empty when the file does not exist.
    pub hosts: Arc<Hosts>,
    /// From nsswitch.conf's `hosts:` line: the sources, in the order to ask them.
    pub order: Arc<Vec<Source>>,
}

/// The process-wide configuration, read from [`RESOLV_CONF`], [`HOSTS`] and [`NSSWITCH_CONF`].
pub fn system() -> &'static SystemConf {
    static SYSTEM: OnceLock<SystemConf> = OnceLock::new();
    SYSTEM.get_or_init(|| SystemConf::new(Paths::default(), RECHECK_INTERVAL))
}

/// The three files the host's name resolution reads.
#[derive(Debug, Clone)]
pub struct Paths {
    /// resolv.conf(5), [`RESOLV_CONF`] by default.
    pub resolv_conf: PathBuf,
    /// hosts(5), [`HOSTS`] by default.
    pub hosts: PathBuf,
    /// nsswitch.conf(5), [`NSSWITCH_CONF`] by default.
    pub nsswitch_conf: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            resolv_conf: RESOLV_CONF.into(),
            hosts: HOSTS.into(),
            nsswitch_conf: NSSWITCH_CONF.into(),
        }
    }
}

/// resolv.conf, hosts and nsswitch.conf, watched for changes.
pub struct SystemConf {
    paths: Paths,
    interval: Duration,
    state: Mutex<Option<State>>,
}

/// The files as last read, and when they were last checked.
struct State {
    snapshot: Arc<Snapshot>,
    checked: Instant,
    dns: Watched<DnsConf>,
    hosts: Watched<Hosts>,
    order: Watched<Vec<Source>>,
}

/// One file: its stamp when last read, and what was read from it.
struct Watched<T> {
    path: PathBuf,
    stamp: Stamp,
    value: Arc<T>,
    parse: fn(&Path, &str) -> T,
}

impl<T> Watched<T> {
    /// Reads `path` with `parse`; a missing file parses as empty, an unreadable one gives
    /// `unreadable(reason)` and is logged.
    fn first(path: &Path, parse: fn(&Path, &str) -> T, unreadable: fn(String) -> T) -> Self {
        let stamp = Stamp::of(path);
        let value = match std::fs::read_to_string(path) {
            Ok(text) => parse(path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => parse(path, ""),
            Err(e) => {
                let reason = format!("cannot read {}: {e}", path.display());
                tracing::error!("{reason}");
                unreadable(reason)
            }
        };
        Watched {
            path: path.to_path_buf(),
            stamp,
            value: Arc::new(value),
            parse,
        }
    }

    /// Reads the file again if its stamp changed; keeps the value when it cannot be read.
    /// Returns whether the value was replaced.
    fn recheck(&mut self) -> bool {
        let stamp = Stamp::of(&self.path);
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                tracing::info!("{} changed, read again", self.path.display());
                self.value = Arc::new((self.parse)(&self.path, &text));
                true
            }
            Err(e) => {
                tracing::warn!(
                    "{} changed but cannot be read ({e}): keeping what was last read from it",
                    self.path.display()
                );
                false
            }
        }
    }
}

/// What `stat(2)` said of a file: enough to see a rewrite in place or a replacement by rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    /// The file exists: device, inode, size, mtime and ctime (seconds and nanoseconds).
    Present([i64; 7]),
    /// `stat` failed with this errno (ENOENT when the file is missing).
    Failed(Option<i32>),
}

impl Stamp {
    fn of(path: &Path) -> Stamp {
        match std::fs::metadata(path) {
            // The casts only pack the fields for comparison; equality is all that matters.
            Ok(m) => Stamp::Present([
                m.dev() as i64,
                m.ino() as i64,
                m.size() as i64,
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            ]),
            Err(e) => Stamp::Failed(e.raw_os_error()),
        }
    }
}

impl SystemConf {
    /// Watches the files of `paths`, checking them at most once per `interval`. Nothing is
    /// read before the first [`SystemConf::current`].
    pub fn new(paths: Paths, interval: Duration) -> Self {
        SystemConf {
            paths,
            interval,
            state: Mutex::new(None),
        }
    }

    /// The configuration to resolve with now.
    ///
    /// The first call reads the files; later calls `stat` them when `interval` has passed since
    /// the last check, and read again only a file whose stamp changed. A missing file at the
    /// first read counts as empty (glibc: resolver defaults, no static names, `files dns`); a
    /// file that cannot be read later keeps what was last read from it. Never fails: a
    /// resolv.conf that could never be read yields a [`DnsConf`] whose `resolver` is `Err`
    /// with the reason, hosts and nsswitch.conf fall back to empty and `files dns`.
    pub fn current(&self) -> Arc<Snapshot> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let state = match guard.as_mut() {
            None => guard.insert(self.first_read(now)),
            Some(state) if now.duration_since(state.checked) >= self.interval => {
                state.checked = now;
                state.recheck();
                state
            }
            Some(state) => state,
        };
        state.snapshot.clone()
    }

    fn first_read(&self, now: Instant) -> State {
        let dns = Watched::first(&self.paths.resolv_conf, parse_resolv, unusable);
        let hosts = Watched::first(&self.paths.hosts, parse_hosts, |_| Hosts::default());
        let order = Watched::first(&self.paths.nsswitch_conf, parse_nsswitch, |_| {
            DEFAULT_ORDER.to_vec()
        });
        tracing::info!(
            "resolver configuration: {}; hosts sources {:?}",
            dns.value.summary,
            order.value
        );
        let snapshot = Arc::new(Snapshot {
            dns: dns.value.clone(),
            hosts: hosts.value.clone(),
            order: order.value.clone(),
        });
        State {
            snapshot,
            checked: now,
            dns,
            hosts,
            order,
        }
    }
}

impl State {
    /// Reads again whichever file changed; a new snapshot only when something was replaced.
    fn recheck(&mut self) {
        let dns = self.dns.recheck();
        if dns {
            tracing::info!("resolver configuration now: {}", self.dns.value.summary);
        }
        let hosts = self.hosts.recheck();
        let order = self.order.recheck();
        if order {
            tracing::info!("hosts sources now: {:?}", self.order.value);
        }
        if dns || hosts || order {
            self.snapshot = Arc::new(Snapshot {
                dns: self.dns.value.clone(),
                hosts: self.hosts.value.clone(),
                order: self.order.value.clone(),
            });
        }
    }
}

/// resolv.conf(5) text to settings and a resolver; lines the parser rejects are logged with
/// file and line, and skipped as glibc skips them.
fn parse_resolv(path: &Path, text: &str) -> DnsConf {
    let (parsed, errors) = resolv_conf::Config::parse_with_errors(text.as_bytes());
    for err in errors {
        tracing::warn!("{}: {err}; line ignored", path.display());
    }
    dns_conf(&parsed)
}

/// Where nsswitch.conf says nothing (no file, no `hosts:` line, no source we follow): hosts
/// first, then DNS, as Go's resolver assumes.
const DEFAULT_ORDER: [Source; 2] = [Source::Files, Source::Dns];

/// The sources of nsswitch.conf(5)'s `hosts:` line that the exporter follows, in order.
///
/// `files` is hosts(5); `dns` and `resolve` (systemd-resolved, whose stub the resolv.conf
/// names) are DNS. Other sources (`myhostname`, `mdns4_minimal`, ...) and `[STATUS=action]`
/// items are skipped: every source is tried until one has the name.
fn parse_nsswitch(path: &Path, text: &str) -> Vec<Source> {
    let Some(line) = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .find_map(|l| l.trim_start().strip_prefix("hosts:"))
    else {
        return DEFAULT_ORDER.to_vec();
    };
    let mut order = Vec::new();
    let mut in_action = false;
    for word in line.split_whitespace() {
        if word.starts_with('[') || in_action {
            in_action = !word.ends_with(']');
            continue;
        }
        let source = match word {
            "files" => Source::Files,
            "dns" | "resolve" => Source::Dns,
            _ => continue,
        };
        if !order.contains(&source) {
            order.push(source);
        }
    }
    if order.is_empty() {
        tracing::warn!(
            "{}: the hosts line names neither files nor dns; using files then dns",
            path.display()
        );
        return DEFAULT_ORDER.to_vec();
    }
    order
}

/// Settings and resolver from a parsed resolv.conf.
///
/// glibc's rules: at most three nameservers, none means the local machine (127.0.0.1 and ::1);
/// the last of `search`/`domain` wins; `timeout` is capped to 1..=30 s and `attempts` to 1..=5,
/// `ndots` to 15. Without `rotate` the nameservers are asked in file order, with it in turn.
fn dns_conf(parsed: &resolv_conf::Config) -> DnsConf {
    let servers: Vec<IpAddr> = parsed
        .get_nameservers_or_local()
        .iter()
        .take(MAX_NAMESERVERS)
        .map(IpAddr::from)
        .collect();
    let search: Vec<Name> = parsed
        .get_last_search_or_domain()
        .filter(|d| d.as_str() != "--")
        .filter_map(|d| Name::from_str_relaxed(d).ok())
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .collect();
    let ndots = parsed.ndots.min(15) as usize;
    let timeout = Duration::from_secs(u64::from(parsed.timeout.clamp(1, 30)));
    let attempts = parsed.attempts.clamp(1, 5) as usize;
    let summary = format!(
        "nameservers {servers:?}, search [{}], ndots {ndots}, timeout {}s, attempts {attempts}{}{}",
        search
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        timeout.as_secs(),
        if parsed.rotate { ", rotate" } else { "" },
        if parsed.no_tld_query {
            ", no-tld-query"
        } else {
            ""
        },
    );
    let config = ResolverConfig::from_parts(
        None,
        Vec::new(),
        servers
            .iter()
            .map(|ip| NameServerConfig::udp_and_tcp(*ip))
            .collect(),
    );
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let opts = builder.options_mut();
    // A probe must see the DNS as it is now, not as it was at the last scrape.
    opts.cache_size = 0;
    opts.timeout = timeout;
    opts.attempts = attempts;
    opts.edns0 = parsed.edns0;
    // Static names are looked up by the caller, once per target (hosts(5) is not searched).
    opts.use_hosts_file = ResolveHosts::Never;
    // One server at a time, in file order or in turn, as glibc's res_send does.
    opts.num_concurrent_reqs = 1;
    opts.server_ordering_strategy = if parsed.rotate {
        ServerOrderingStrategy::RoundRobin
    } else {
        ServerOrderingStrategy::UserProvidedOrder
    };
    DnsConf {
        resolver: builder.build().map_err(|e| e.to_string()),
        search,
        ndots,
        no_tld_query: parsed.no_tld_query,
        summary,
    }
}

/// A configuration whose every query fails with `dns_error`, saying `reason`.
fn unusable(reason: String) -> DnsConf {
    DnsConf {
        resolver: Err(reason.clone()),
        search: Vec::new(),
        ndots: 1,
        no_tld_query: false,
        summary: reason,
    }
}

/// hosts(5) text to static names; unparsable lines are skipped (as glibc does).
fn parse_hosts(path: &Path, text: &str) -> Hosts {
    let mut hosts = Hosts::default();
    if let Err(e) = hosts.read_hosts_conf(text.as_bytes()) {
        tracing::warn!("{}: {e}", path.display());
    }
    hosts
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::RecordType;

    use super::*;

    /// A scratch directory for one test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("resolv-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a scratch directory");
            Scratch(dir)
        }
        fn write(&self, file: &str, text: &str) -> PathBuf {
            let path = self.0.join(file);
            std::fs::write(&path, text).expect("a scratch file");
            path
        }
        /// The three files in this directory (written or not).
        fn paths(&self) -> Paths {
            Paths {
                resolv_conf: self.0.join("resolv.conf"),
                hosts: self.0.join("hosts"),
                nsswitch_conf: self.0.join("nsswitch.conf"),
            }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn search(snapshot: &Snapshot) -> Vec<String> {
        snapshot
            .dns
            .search
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[tokio::test]
    async fn options_follow_resolv_conf() {
        let dir = Scratch::new("options");
        dir.write(
            "resolv.conf",
            "domain first.test\nsearch a.test b.test\noptions ndots:5 timeout:0 attempts:9 rotate no-tld-query\nnameserver 192.0.2.1\n",
        );
        let conf = SystemConf::new(dir.paths(), Duration::ZERO).current();
        assert_eq!(search(&conf), ["a.test.", "b.test."]);
        assert_eq!(conf.dns.ndots, 5);
        assert!(conf.dns.no_tld_query);
        assert!(conf.dns.resolver.is_ok());
        assert!(
            conf.dns
                .summary
                .contains("timeout 1s, attempts 5, rotate, no-tld-query"),
            "{}",
            conf.dns.summary
        );
    }

    #[tokio::test]
    async fn missing_files_at_start_mean_defaults() {
        let dir = Scratch::new("missing");
        let conf = SystemConf::new(dir.paths(), Duration::ZERO).current();
        assert!(conf.dns.resolver.is_ok());
        assert!(
            conf.dns.summary.starts_with("nameservers [127.0.0.1, ::1]"),
            "{}",
            conf.dns.summary
        );
        assert_eq!(conf.dns.ndots, 1);
        assert_eq!(*conf.order, [Source::Files, Source::Dns]);
    }

    #[tokio::test]
    async fn a_changed_file_is_read_again_and_an_unreadable_one_kept() {
        let dir = Scratch::new("reload");
        let resolv = dir.write("resolv.conf", "search old.test\nnameserver 192.0.2.1\n");
        let hosts = dir.write("hosts", "192.0.2.7 old.example\n");
        let watched = SystemConf::new(dir.paths(), Duration::ZERO);
        let first = watched.current();
        assert_eq!(search(&first), ["old.test."]);

        dir.write("resolv.conf", "search new.test\nnameserver 192.0.2.1\n");
        dir.write("hosts", "192.0.2.8 new.example\n");
        let second = watched.current();
        assert_eq!(search(&second), ["new.test."]);
        let query = |name: &str| Query::query(Name::from_ascii(name).unwrap(), RecordType::A);
        assert!(second
            .hosts
            .lookup_static_host(&query("new.example."))
            .is_some());
        assert!(second
            .hosts
            .lookup_static_host(&query("old.example."))
            .is_none());
        // The probe that took the first snapshot still has it.
        assert_eq!(search(&first), ["old.test."]);

        // Replaced by a directory: read(2) fails with EISDIR, the last good settings stay.
        std::fs::remove_file(&resolv).unwrap();
        std::fs::create_dir(&resolv).unwrap();
        std::fs::remove_file(&hosts).unwrap();
        let third = watched.current();
        assert_eq!(search(&third), ["new.test."]);
        assert!(third
            .hosts
            .lookup_static_host(&query("new.example."))
            .is_some());
    }

    #[tokio::test]
    async fn no_check_before_the_interval() {
        let dir = Scratch::new("interval");
        dir.write("resolv.conf", "search old.test\nnameserver 192.0.2.1\n");
        let watched = SystemConf::new(dir.paths(), Duration::from_secs(3600));
        assert_eq!(search(&watched.current()), ["old.test."]);
        dir.write("resolv.conf", "search new.test\nnameserver 192.0.2.1\n");
        assert_eq!(search(&watched.current()), ["old.test."]);
    }

    #[test]
    fn nsswitch_hosts_line() {
        let order = |text: &str| parse_nsswitch(Path::new("nsswitch.conf"), text);
        use Source::{Dns, Files};
        assert_eq!(order("passwd: files\nhosts: files dns\n"), [Files, Dns]);
        assert_eq!(order("hosts: dns [!UNAVAIL=return] files"), [Dns, Files]);
        assert_eq!(
            order("hosts: files mdns4_minimal [NOTFOUND=return] resolve [ !UNAVAIL=return ] dns"),
            [Files, Dns]
        );
        assert_eq!(order("hosts: dns # files"), [Dns]);
        assert_eq!(order("# hosts: dns\n"), [Files, Dns]);
        assert_eq!(order("hosts: nis"), [Files, Dns]);
    }
}
