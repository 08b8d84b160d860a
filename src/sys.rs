//! The one place with `unsafe`: system calls no safe crate exposes. Today that is `TCP_INFO`
//! (tcp(7)), which neither socket2 nor nix reads, and a thread's nice value (setpriority(2)),
//! which nix does not wrap.

use std::os::fd::AsRawFd;

/// Reads `TCP_INFO` of a connected socket (tcp(7), `struct tcp_info` in linux/tcp.h).
///
/// Returns the kernel's struct as is: `tcpi_rtt` is the smoothed RTT in microseconds,
/// `tcpi_total_retrans` the retransmissions so far (right after connect, only resent SYNs).
/// Errors: the getsockopt(2) errno, e.g. EBADF or ENOPROTOOPT on a non-TCP socket.
pub fn tcp_info<F: AsRawFd>(fd: &F) -> std::io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data (integers only), so all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `info`, which outlives the call; the kernel writes
    // at most `len` bytes and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(info)
}

/// Sets the calling thread's nice value to `nice` (-20 most favoured .. 19 least).
///
/// On Linux the nice value belongs to each thread: setpriority(2) with `PRIO_PROCESS` and a
/// thread id changes that thread alone (setpriority(2), NOTES). Errors: EACCES or EPERM when
/// lowering it below the current value without CAP_SYS_NICE or a matching RLIMIT_NICE
/// (getrlimit(2)).
pub fn set_thread_nice(nice: i32) -> std::io::Result<()> {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: plain integer arguments; the call reads and writes no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
