//! No self-amplification: a `/probe` request that arrives on a connection the exporter itself
//! opened as a probe is refused before anything else is read, so a module whose `send` asks
//! the exporter for a probe of itself cannot make one request start probe after probe. The
//! connection is one of ours when its client address is the local address of a live probe
//! socket and its local address that socket's peer: the whole TCP 4-tuple, which no other
//! connection shares (a client on this host may reuse a probe's local port towards another
//! destination, tcp(7), so the client address alone is not enough).

use hyper::StatusCode;

use super::probe::Ends;
use super::{text, Reply, State};
use crate::metrics::RejectReason;
use crate::prober::sockets;

/// The one-line reason the refused request reads.
pub const REASON: &str =
    "probe refused: this request comes from one of the exporter's own probe connections \
     (a module whose target is the exporter itself)";

/// The answer to a `/probe` request on a connection with client address `peer` and local
/// address `local` when that connection is one of the exporter's own live probe connections:
/// 508 Loop Detected (RFC 5842, section 7.2) with [`REASON`], counted as `self_probe`. `None`
/// for any other connection.
pub(super) fn refuse((peer, local): Ends, state: &State) -> Option<Reply> {
    let own = local.is_some_and(|local| sockets::is_own_probe(peer, local));
    if !own {
        return None;
    }
    state.metrics().guard().rejected(RejectReason::SelfProbe);
    tracing::warn!(%peer, "probe refused: the request came from one of our own probes");
    Some(text(StatusCode::LOOP_DETECTED, REASON))
}
