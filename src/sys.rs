//! The one place with `unsafe`: socket options no safe crate exposes. Today that is `TCP_INFO`
//! (tcp(7)): neither socket2 nor nix reads `struct tcp_info`.

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
