//! The probe runtime: probes run on a thread of their own, away from HTTP parsing and metric
//! encoding, so the instant a socket becomes ready is the instant a probe sees it.
//!
//! On a shared runtime a ready socket waits until a worker finishes the tasks ahead of it and
//! next polls the I/O driver; under load that wait lands in the phase being timed. Here the
//! probe thread runs a single-threaded tokio runtime that only ever holds probe tasks, mostly
//! waiting on sockets, while the server's runtime does the rest; it asks the kernel for a higher
//! priority ([`PROBE_NICE`]) so it runs as soon as a socket wakes it. The same thread's
//! responsiveness is measured continuously: a sampler thread hands it a task every
//! [`LAG_INTERVAL`] and reports how long the task waited for its first poll.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A running probe thread. Dropping it stops the thread; probes still running are cancelled.
#[derive(Debug)]
pub struct ProbeRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    sampling: Arc<AtomicBool>,
}

impl ProbeRuntime {
    /// Starts the probe thread and its lag sampler, which calls `on_lag` with each sample.
    ///
    /// The thread is created from the calling thread, so its sockets live in the caller's
    /// network namespace (setns(2) is per thread and inherited by new threads). Errors: the
    /// thread or the runtime could not be created (EAGAIN, EMFILE).
    pub fn start(on_lag: impl Fn(Duration) + Send + Sync + 'static) -> io::Result<ProbeRuntime> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        thread::Builder::new()
            .name("probe-io".into())
            .spawn(move || {
                if let Err(err) = crate::sys::set_thread_nice(PROBE_NICE) {
                    tracing::info!(
                        error = %err,
                        nice = PROBE_NICE,
                        "probe thread keeps the default priority: phase latencies may include \
                         scheduling lag on a busy host (see handshake_exporter_scheduling_lag_seconds)"
                    );
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
        let sampling = Arc::new(AtomicBool::new(true));
        let (h, on) = (handle.clone(), sampling.clone());
        thread::Builder::new()
            .name("probe-lag".into())
            .spawn(move || sample_lag(&h, &on, on_lag))?;
        Ok(ProbeRuntime {
            handle,
            stop: Some(stop),
            sampling,
        })
    }

    /// Runs one probe on the probe thread and returns its report.
    ///
    /// Dropping the returned future (the client went away) cancels the probe, as it would on
    /// the caller's runtime. A probe that panicked is reported as `prober_error`.
    pub async fn probe(&self, req: ProbeRequest) -> ProbeReport {
        let task = self.handle.spawn(probe(req));
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
}

impl Drop for ProbeRuntime {
    fn drop(&mut self) {
        self.sampling.store(false, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
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

/// Every [`LAG_INTERVAL`] until `on` turns false: the time from handing the probe thread a task
/// to that task's first poll, which is how late the thread would notice a ready socket.
fn sample_lag(handle: &Handle, on: &AtomicBool, on_lag: impl Fn(Duration) + Send + Sync + 'static) {
    let on_lag = Arc::new(on_lag);
    while on.load(Ordering::Relaxed) {
        thread::sleep(LAG_INTERVAL);
        let sent = Instant::now();
        let report = on_lag.clone();
        handle.spawn(async move { report(sent.elapsed()) });
    }
}
