//! Path localization for a connect that stays silent: TCP SYNs to the same target with IP TTL /
//! IPv6 hop limit 1..=max_hops, sent at once from ordinary sockets. A router that decrements a
//! TTL to zero answers ICMP time exceeded (RFC 792 type 11; RFC 4443 type 3), which the kernel
//! reports on that socket's error queue with the router's address (`IP_RECVERR`, ip(7)). No raw
//! socket and no privilege is needed. The highest hop that answered is where silence begins.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::Socket;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::icmp;
use crate::report::{Hop, PathReport};

/// Sends one SYN per hop limit 1..=`max_hops` to `addr` and collects the hops that answered
/// until `until`.
///
/// Returns the answering hops ordered by hop number: routers that sent ICMP time exceeded or
/// destination unreachable (their address), and the target itself when a SYN reached it and it
/// answered (SYN-ACK or RST). Sockets that could not be created, or not taken from the probe
/// descriptor budget ([`super::sockets`]), are skipped; the function never fails and returns
/// by `until`.
pub async fn trace(
    addr: SocketAddr,
    source: Option<IpAddr>,
    max_hops: u8,
    until: Instant,
) -> PathReport {
    let mut set = JoinSet::new();
    for hop in 1..=max_hops {
        // Two descriptors per hop: the socket and its error-queue clone.
        let Ok(descriptors) = super::sockets::take(2) else {
            continue;
        };
        let Ok((socket, errq)) = hop_socket(addr, source, hop) else {
            continue;
        };
        set.spawn(async move {
            let _descriptors = descriptors;
            let answered = match socket.connect(addr).await {
                // The target itself answered this hop limit.
                Ok(_) => Some(addr.ip()),
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Some(addr.ip()),
                Err(_) => icmp::read_error_queue(&errq).map(|i| i.from),
            };
            answered.map(|address| Hop { hop, address })
        });
    }
    let mut hops = Vec::new();
    let _ = tokio::time::timeout_at(until, async {
        while let Some(done) = set.join_next().await {
            if let Ok(Some(hop)) = done {
                hops.push(hop);
            }
        }
    })
    .await;
    // Unanswered hop sockets are aborted with the set.
    set.abort_all();
    hops.sort_by_key(|h| h.hop);
    // Beyond the target every hop limit reaches it too: keep only its first appearance.
    if let Some(first) = hops.iter().position(|h| h.address == addr.ip()) {
        hops.truncate(first + 1);
    }
    PathReport { hops }
}

/// A connecting socket with hop limit `hop`, plus a second descriptor for its error queue.
fn hop_socket(
    addr: SocketAddr,
    source: Option<IpAddr>,
    hop: u8,
) -> io::Result<(TcpSocket, Socket)> {
    let socket = super::connect::new_socket(addr, source)?;
    if addr.is_ipv6() {
        socket.set_unicast_hops_v6(u32::from(hop))?;
    } else {
        socket.set_ttl_v4(u32::from(hop))?;
    }
    let errq = socket.try_clone()?;
    let std: std::net::TcpStream = socket.into();
    Ok((TcpSocket::from_std_stream(std), errq))
}
