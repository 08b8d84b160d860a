//! Real daemons from Debian packages (haproxy, danted, squid, tinyproxy) run inside a lab
//! namespace with a configuration the test writes: started in the foreground, waited for until
//! their port accepts, and stopped by the PID this helper started (never by name).

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Lab;

/// A daemon started in a lab namespace; killed (its own PID) when dropped.
pub struct Daemon {
    child: Child,
    name: String,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Runs `program args` in namespace `ns` (`ip netns exec`, which execs the program, so the
    /// child's PID is the daemon's) with its output in `<name>.log` of the lab directory, and
    /// waits up to 10 s until `listen` (an address in `ns`) accepts a connection.
    ///
    /// Panics with the daemon's log when it exits or does not listen in time.
    pub fn start(
        lab: &Lab,
        ns: &str,
        name: &str,
        program: &str,
        args: &[&str],
        listen: &str,
    ) -> Daemon {
        let log = lab.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("failed to create the daemon log");
        let err = out.try_clone().expect("failed to clone the log handle");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {program}: {e}"));
        let mut daemon = Daemon {
            child,
            name: name.to_string(),
            log,
        };
        daemon.wait_listening(ns, listen.parse().expect("listen address"));
        daemon
    }

    /// The daemon's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_listening(&mut self, ns: &str, addr: SocketAddr) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited early ({status}); log:\n{}",
                    self.name,
                    self.log()
                );
            }
            let up = super::netns::in_ns(ns, move || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            });
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} not listening on {addr} after 10 s; log:\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
