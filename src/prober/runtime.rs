//! The probe runtime: probes run on threads of their own, away from the server's accept loops
//! and background work, so the instant a socket becomes ready is the instant a probe sees it.
//!
//! On a shared multi-threaded runtime a ready socket waits until a worker finishes the tasks
//! ahead of it and next polls the I/O driver; under load that wait lands in the phase being
//! timed. Here each probe thread runs a single-threaded tokio runtime that looks at its sockets
//! often ([`EVENT_INTERVAL`]) and asks the kernel for a higher priority ([`PROBE_NICE`]) so it
//! runs as soon as a socket wakes it. There is one probe thread per CPU (available_parallelism),
//! so TLS handshakes (the part of a probe that needs CPU) use every core.
//!
//! An HTTP connection is handed to a probe thread once, when it is accepted
//! ([`ProbeRuntime::spawn`]), and the probes it asks for run on that same thread
//! ([`ProbeRuntime::probe`]): a request costs no hand-off between threads, which would cost two
//! thread wake-ups per probe, and the thread's work between a socket's readiness and the poll
//! that notices it is a few requests' parsing and encoding, tens of microseconds each. The
//! threads' responsiveness is measured continuously: a sampler thread hands each one a task
//! every [`LAG_INTERVAL`] and reports how long the task waited for its first poll.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{probe, ProbeRequest};
use crate::report::{Detail, Failure, FailureClass, Phase, ProbeReport};

/// How often the probe thread's scheduling lag is sampled.
pub const LAG_INTERVAL: Duration = Duration::from_millis(50);

/// The probe thread's nice value (-20..19). A thread that wakes at a higher priority than the
/// rest runs at once instead of queueing behind busy threads, ours or other programs'; it asks
/// for little CPU (most probe time is waiting), so it takes little from anyone. Needs
/// CAP_SYS_NICE or RLIMIT_NICE; without either the thread keeps the process's nice value.
pub const PROBE_NICE: i32 = -10;

/// Scheduler ticks between two looks at the I/O driver while tasks are queued (tokio's default
/// is 61): a socket's readiness waits behind at most this many probe task polls.
const EVENT_INTERVAL: u32 = 8;

thread_local! {
    /// True on a probe thread.
    static ON_PROBE_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Running probe threads. Dropping it stops the threads; probes still running are cancelled.
#[derive(Debug)]
pub struct ProbeRuntime {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stops: Vec<oneshot::Sender<()>>,
    sampling: Arc<AtomicBool>,
}

impl ProbeRuntime {
    /// Starts one probe thread per CPU the process may use (sched_getaffinity(2), through
    /// `available_parallelism`; 1 when unknown) and the lag sampler, which calls `on_lag` with
    /// each sample of each thread.
    ///
    /// The threads are created from the calling thread, so their sockets live in the caller's
    /// network namespace (setns(2) is per thread and inherited by new threads). Errors: a
    /// thread or a runtime could not be created (EAGAIN, EMFILE).
    pub fn start(on_lag: impl Fn(Duration) + Send + Sync + 'static) -> io::Result<ProbeRuntime> {
        let threads = thread::available_parallelism().map_or(1, |n| n.get());
        let mut handles = Vec::with_capacity(threads);
        let mut stops = Vec::with_capacity(threads);
        for i in 0..threads {
            let (handle, stop) = start_thread(i)?;
            handles.push(handle);
            stops.push(stop);
        }
        let sampling = Arc::new(AtomicBool::new(true));
        let (hs, on) = (handles.clone(), sampling.clone());
        thread::Builder::new()
            .name("probe-lag".into())
            .spawn(move || sample_lag(&hs, &on, on_lag))?;
        Ok(ProbeRuntime {
            handles,
            next: AtomicUsize::new(0),
            stops,
            sampling,
        })
    }
    /// Runs `task` (an accepted HTTP connection) on the next probe thread in turn, where the
    /// probes it asks for will run too.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.next_handle().spawn(task);
    }

    /// Runs one probe and returns its report: on the calling thread when that is a probe
    /// thread (a connection handed over by [`ProbeRuntime::spawn`]), else on the next probe
    /// thread in turn.
    ///
    /// Dropping the returned future (the client went away) cancels the probe. A probe that
    /// panicked on another thread is reported as `prober_error`.
    pub async fn probe(&self, req: ProbeRequest) -> ProbeReport {
        if ON_PROBE_THREAD.with(Cell::get) {
            // Boxed: inline, the whole probe future would sit in every request's future.
            return Box::pin(probe(req)).await;
        }
        let task = self.next_handle().spawn(probe(req));
        let _cancel = AbortOnDrop(task.abort_handle());
        task.await.unwrap_or_else(|_| ProbeReport {
            failure: Some(Failure::new(
                Phase::Resolve,
                FailureClass::ProberError,
                Detail::None,
            )),
            ..Default::default()
        })
    }

    fn next_handle(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }
}

impl Drop for ProbeRuntime {
    fn drop(&mut self) {
        self.sampling.store(false, Ordering::Relaxed);
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

/// Aborts a task when dropped; a no-op once the task has finished.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts probe thread `index`: a current-thread runtime at [`PROBE_NICE`] that runs until its
/// stop sender is used or dropped. Returns the runtime's handle and that sender.
fn start_thread(index: usize) -> io::Result<(Handle, oneshot::Sender<()>)> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    thread::Builder::new()
        .name(format!("probe-io-{index}"))
        .spawn(move || {
            ON_PROBE_THREAD.with(|on| on.set(true));
            if let Err(err) = crate::sys::set_thread_nice(PROBE_NICE) {
                if index == 0 {
                    tracing::info!(
                        error = %err,
                        nice = PROBE_NICE,
                        "probe threads keep the default priority: phase latencies may include \
                         scheduling lag on a busy host (see handshake_exporter_scheduling_lag_seconds)"
                    );
                }
            }
            let built = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .event_interval(EVENT_INTERVAL)
                .build();
            match built {
                Ok(rt) => {
                    let _ = ready_tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    let handle = ready_rx
        .recv()
        .map_err(|_| io::Error::other("probe thread ended before its runtime started"))??;
    Ok((handle, stop))
}

/// Every [`LAG_INTERVAL`] until `on` turns false, for each probe thread: the time from handing
/// the thread a task to that task's first poll, which is how late the thread would notice a
/// ready socket.
fn sample_lag(
    handles: &[Handle],
    on: &AtomicBool,
    on_lag: impl Fn(Duration) + Send + Sync + 'static,
) {
    let on_lag = Arc::new(on_lag);
    while on.load(Ordering::Relaxed) {
        thread::sleep(LAG_INTERVAL);
        for handle in handles {
            let sent = Instant::now();
            let report = on_lag.clone();
            handle.spawn(async move { report(sent.elapsed()) });
        }
    }
}
