//! A delay line made of two TUN devices: every IP packet the kernel sends into one device is
//! written into the other after a fixed delay, in both directions. With no netem on the kernel,
//! this is how a test gets a link whose round trip it knows.
//!
//! Each direction has a reader thread, which stamps a packet with a monotonic clock the moment
//! it is read and queues it, and a writer thread, which sleeps until the packet is due and spins
//! for the last stretch, so a packet leaves within microseconds of its due time even when the
//! scheduler wakes the thread late by a few hundred microseconds.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The last stretch before a due time that the writer spins instead of sleeping.
const SPIN: Duration = Duration::from_micros(300);
/// How often the threads look at the stop flag when there is no traffic.
const TICK: Duration = Duration::from_millis(20);

/// Opens a new layer-3 TUN device `name` (IFF_TUN | IFF_NO_PI: bare IP packets, no header) in
/// the calling thread's network namespace, and returns its file.
///
/// The device is made by the TUNSETIFF ioctl on /dev/net/tun, as linux
/// Documentation/networking/tuntap.rst describes; it lives as long as the file is open. The
/// namespace is the opener's: call this from [`super::netns::Netns::run`]. Errors: open(2) or ioctl(2) errno.
pub fn open_tun(name: &str) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain old data (a name array and a union of integers), so zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "name too long"));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one struct ifreq, which `req` is and which outlives the
    // call; the descriptor is open for the whole call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Two running directions of the line; dropping it stops and joins the threads.
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    worst_late_us: Arc<AtomicU64>,
    packets: Arc<AtomicU64>,
}

impl DelayLine {
    /// Starts forwarding `a` → `b` and `b` → `a`, each packet `delay` after it was read.
    pub fn start(a: File, b: File, delay: Duration) -> io::Result<DelayLine> {
        let mut line = DelayLine {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            worst_late_us: Arc::new(AtomicU64::new(0)),
            packets: Arc::new(AtomicU64::new(0)),
        };
        let (a2, b2) = (a.try_clone()?, b.try_clone()?);
        line.direction(a, b2, delay);
        line.direction(b, a2, delay);
        Ok(line)
    }

    /// Packets forwarded so far, both directions.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// The latest any packet left after its due time.
    pub fn worst_lateness(&self) -> Duration {
        Duration::from_micros(self.worst_late_us.load(Ordering::Relaxed))
    }

    fn direction(&mut self, from: File, to: File, delay: Duration) {
        let (tx, rx) = channel();
        let stop = self.stop.clone();
        self.threads
            .push(thread::spawn(move || read_loop(from, delay, tx, &stop)));
        let (stop, late, n) = (
            self.stop.clone(),
            self.worst_late_us.clone(),
            self.packets.clone(),
        );
        self.threads
            .push(thread::spawn(move || write_loop(to, rx, &stop, &late, &n)));
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Waits up to `timeout` for `file` to be readable (poll(2)); true when it is.
fn readable(file: &File, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, which outlives the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

fn read_loop(mut from: File, delay: Duration, tx: Sender<(Instant, Vec<u8>)>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        if !readable(&from, TICK) {
            continue;
        }
        match from.read(&mut buf) {
            Ok(n) if n > 0 => {
                let due = Instant::now() + delay;
                if tx.send((due, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            _ => thread::sleep(TICK),
        }
    }
}

fn write_loop(
    mut to: File,
    rx: Receiver<(Instant, Vec<u8>)>,
    stop: &AtomicBool,
    late: &AtomicU64,
    count: &AtomicU64,
) {
    while !stop.load(Ordering::Relaxed) {
        let (due, packet) = match rx.recv_timeout(TICK) {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        sleep_until(due);
        let lateness = Instant::now().saturating_duration_since(due);
        // A packet the kernel refuses (device going down at the end) is simply lost.
        let _ = to.write(&packet);
        late.fetch_max(lateness.as_micros() as u64, Ordering::Relaxed);
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sleeps until `due` on the monotonic clock: a plain sleep to `SPIN` before, then a spin.
fn sleep_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > SPIN {
            thread::sleep(left - SPIN);
        } else {
            std::hint::spin_loop();
        }
    }
}
