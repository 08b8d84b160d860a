//! No self-amplification: a `/probe` request that arrives on a connection the exporter itself
//! opened as a probe (its peer address is the local address of one of its live probe sockets)
//! is refused before anything else is read, so a module whose `send` asks the exporter for a
//! probe of itself cannot make one request start probe after probe.

use std::net::SocketAddr;

use hyper::StatusCode;

use super::{text, Reply, State};
use crate::metrics::RejectReason;
use crate::prober::sockets;

/// The one-line reason the refused request reads.
pub const REASON: &str =
    "probe refused: this request comes from one of the exporter's own probe connections \
     (a module whose target is the exporter itself)";

/// The answer to a `/probe` request from `peer` when `peer` is one of the exporter's own live
/// probe connections: 508 Loop Detected (RFC 5842, section 7.2) with [`REASON`], counted as
/// `self_probe`. `None` for any other peer.
pub(super) fn refuse(peer: SocketAddr, state: &State) -> Option<Reply> {
    if !sockets::is_own_probe(peer) {
        return None;
    }
    state.metrics().guard().rejected(RejectReason::SelfProbe);
    tracing::warn!(%peer, "probe refused: the request came from one of our own probes");
    Some(text(StatusCode::LOOP_DETECTED, REASON))
}
