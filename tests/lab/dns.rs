//! A small authoritative DNS server for the lab, on UDP and TCP port 53 of the server address,
//! answering a fixed zone by name so each resolver outcome (RFC 1035 rcodes, RFC 2308 NODATA,
//! silence) can be produced on demand:
//!
//! | name | answer |
//! |---|---|
//! | `ok.lab.test` | A 203.0.113.2, AAAA 2001:db8:2::2 |
//! | `v4only.lab.test` | A 203.0.113.2, NODATA for AAAA |
//! | `v6only.lab.test` | AAAA 2001:db8:2::2, NODATA for A |
//! | `two.lab.test` | A 203.0.113.2 and 203.0.113.3, NODATA for AAAA |
//! | `two6.lab.test` | AAAA 2001:db8:2::2 and 2001:db8:2::3, NODATA for A |
//! | `servfail.lab.test` / `refused.lab.test` / `formerr.lab.test` | that rcode |
//! | `good.lab`, `ndots.lab.test` | A 203.0.113.2, NODATA for AAAA (search-list tests) |
//! | `ndots.lab.test.search.test` | A 203.0.113.3, NODATA for AAAA (the search-list candidate) |
//! | anything under `broken.test` | SERVFAIL |
//! | `silent.lab.test` | never answered |
//! | anything else (`nx.lab.test`) | NXDOMAIN |

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Lab, SERVER4, SERVER4_B, SERVER6, SERVER6_B};

/// TTL of every answer, seconds.
const TTL: u32 = 60;

/// Starts the UDP and TCP servers on `203.0.113.2:53` in the lab's server namespace; they stop
/// when the lab is dropped.
pub fn serve(lab: &Lab) {
    let (udp, tcp) = lab.in_server(|| {
        let udp = UdpSocket::bind((SERVER4, 53)).expect("failed to bind the DNS UDP socket");
        let tcp = TcpListener::bind((SERVER4, 53)).expect("failed to bind the DNS TCP socket");
        (udp, tcp)
    });
    let stop = lab.stop.clone();
    std::thread::spawn(move || serve_udp(udp, stop));
    let stop = lab.stop.clone();
    std::thread::spawn(move || serve_tcp(tcp, stop));
}

/// Answers datagrams until `stop` is set.
fn serve_udp(sock: UdpSocket, stop: Arc<AtomicBool>) {
    let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = answer(&buf[..n]) {
            let _ = sock.send_to(&reply, from);
        }
    }
}

/// Accepts connections until `stop` is set; each is served on its own thread.
fn serve_tcp(listener: TcpListener, stop: Arc<AtomicBool>) {
    let _ = listener.set_nonblocking(true);
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                std::thread::spawn(move || serve_tcp_conn(stream));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Serves length-prefixed messages (RFC 1035 §4.2.2) until EOF.
fn serve_tcp_conn(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut msg).is_err() {
            return;
        }
        if let Some(reply) = answer(&msg) {
            let Ok(len) = u16::try_from(reply.len()) else {
                return;
            };
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}

/// The encoded reply to one query, or `None` to stay silent (unparsable or `silent.lab.test`).
pub fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    if req.metadata.message_type != MessageType::Query {
        return None;
    }
    let q = req.queries.first()?.clone();
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authoritative = true;
    resp.edns = req.edns.as_ref().map(|_| Edns::new());
    resp.add_query(q.clone());
    let (v4, v6): (&[&str], &[&str]) = match name.as_str() {
        "silent.lab.test" => return None,
        "servfail.lab.test" => return rcode(resp, ResponseCode::ServFail),
        "refused.lab.test" => return rcode(resp, ResponseCode::Refused),
        "formerr.lab.test" => return rcode(resp, ResponseCode::FormErr),
        n if n.ends_with(".broken.test") => return rcode(resp, ResponseCode::ServFail),
        "ok.lab.test" => (&[SERVER4], &[SERVER6]),
        "v4only.lab.test" | "good.lab" | "ndots.lab.test" => (&[SERVER4], &[]),
        "ndots.lab.test.search.test" => (&[SERVER4_B], &[]),
        "v6only.lab.test" => (&[], &[SERVER6]),
        "two.lab.test" => (&[SERVER4, SERVER4_B], &[]),
        "two6.lab.test" => (&[], &[SERVER6, SERVER6_B]),
        _ => {
            resp.metadata.response_code = ResponseCode::NXDomain;
            resp.add_authority(soa());
            return resp.to_vec().ok();
        }
    };
    let wanted: &[&str] = match q.query_type() {
        RecordType::A => v4,
        RecordType::AAAA => v6,
        _ => &[],
    };
    for addr in wanted {
        let rdata = match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(ip) => RData::A(A(ip)),
            IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        resp.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
    }
    if wanted.is_empty() {
        // NODATA (RFC 2308 §2.2): NOERROR, empty answer, the zone's SOA in authority.
        resp.add_authority(soa());
    }
    resp.to_vec().ok()
}

/// `resp` encoded with `code` and nothing else.
fn rcode(mut resp: Message, code: ResponseCode) -> Option<Vec<u8>> {
    resp.metadata.response_code = code;
    resp.to_vec().ok()
}

/// The SOA of `lab.test`, for negative answers.
fn soa() -> Record {
    let zone = Name::from_ascii("lab.test.").unwrap_or_default();
    let mname = Name::from_ascii("ns.lab.test.").unwrap_or_default();
    let rname = Name::from_ascii("hostmaster.lab.test.").unwrap_or_default();
    Record::from_rdata(
        zone,
        TTL,
        RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 86400, TTL)),
    )
}

/// Builds a query for `name`/`rtype` (for self-tests that talk to the server directly).
pub fn query(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).expect("a valid name");
    msg.add_query(hickory_proto::op::Query::query(name, rtype));
    msg.to_vec().expect("an encodable query")
}

/// The rcode and the addresses of a reply (for self-tests).
pub fn parse_reply(reply: &[u8]) -> (ResponseCode, Vec<IpAddr>) {
    let msg = Message::from_vec(reply).expect("a parsable reply");
    let addrs = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(A(ip)) => Some(IpAddr::V4(*ip)),
            RData::AAAA(AAAA(ip)) => Some(IpAddr::V6(*ip)),
            _ => None,
        })
        .collect();
    (msg.metadata.response_code, addrs)
}
