//! One CRL download over HTTP/1.1 (RFC 5280 section 4.2.1.13: an `http://` distribution point
//! serves the DER CRL), to an address the module's restrictions allow, within a deadline and a
//! size bound. Redirects are not followed: the URL the certificate names is the only one asked.

use std::net::{IpAddr, SocketAddr};

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::config::Restrictions;
use crate::report::{CrlUnavailable, StepLog};

/// Largest CRL body read, in bytes (blackbox_exporter reads at most 10 MiB too). A body
/// announced or found larger is [`CrlUnavailable::TooLarge`]; what was read of it is dropped.
pub const MAX_CRL_BYTES: usize = 10 << 20;

/// Ends the connection task when the fetch ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Downloads the CRL at `url` (scheme `http`) before `until`, checking host and addresses
/// against `restrictions` first. Returns the body, at most [`MAX_CRL_BYTES`].
///
/// Errors: `Denied` when the restrictions refuse the host or an address it resolves to (no
/// connection is made), `TooLarge` past the bound, `FetchFailed` for everything else (no
/// address, connect error, HTTP error or status other than 200, deadline).
pub(super) async fn fetch(
    url: &Uri,
    restrictions: Option<&Restrictions>,
    until: Instant,
    log: &mut StepLog,
) -> Result<Vec<u8>, CrlUnavailable> {
    let failed = |log: &mut StepLog, why: String| {
        log.note(format!("tls: CRL {url}: {why}"));
        CrlUnavailable::FetchFailed
    };
    let host = url.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = url.port_u16().unwrap_or(80);
    let addr = match timeout_at(until, address(host, port, restrictions, log)).await {
        Ok(Ok(addr)) => addr,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(failed(log, "deadline passed while resolving".into())),
    };
    let fetched = timeout_at(until, get(url, addr)).await;
    match fetched {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(Got::TooLarge)) => {
            log.note(format!(
                "tls: CRL {url}: larger than {MAX_CRL_BYTES} bytes, not used"
            ));
            Err(CrlUnavailable::TooLarge)
        }
        Ok(Err(Got::Failed(why))) => Err(failed(log, why)),
        Err(_) => Err(failed(log, "deadline passed".into())),
    }
}

/// The address to connect to for `host`: a literal as it is, a name resolved by the system
/// resolver; every address must pass the restrictions, as a probe target's must.
async fn address(
    host: &str,
    port: u16,
    restrictions: Option<&Restrictions>,
    log: &mut StepLog,
) -> Result<SocketAddr, CrlUnavailable> {
    let denied = |log: &mut StepLog, why: String| {
        log.note(format!("tls: CRL host {host}: {why}: not fetched"));
        CrlUnavailable::Denied
    };
    if let Some(Err(rejection)) = restrictions.map(|r| r.check_host(host)) {
        return Err(denied(log, rejection.message));
    }
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(e) => {
                log.note(format!("tls: CRL host {host} does not resolve: {e}"));
                return Err(CrlUnavailable::FetchFailed);
            }
        },
    };
    if let Some(Err(rejection)) = restrictions.map(|r| r.check_addresses(host, &ips)) {
        return Err(denied(log, rejection.message));
    }
    let Some(ip) = ips.first() else {
        log.note(format!("tls: CRL host {host} has no address"));
        return Err(CrlUnavailable::FetchFailed);
    };
    Ok(SocketAddr::new(*ip, port))
}

/// How a GET ended short of a body.
enum Got {
    TooLarge,
    Failed(String),
}

/// `GET url` over a new connection to `addr`; the 200 answer's body, bounded.
async fn get(url: &Uri, addr: SocketAddr) -> Result<Vec<u8>, Got> {
    let failed = |what: &str, e: &dyn std::fmt::Display| Got::Failed(format!("{what}: {e}"));
    // From the probes' descriptor budget, held until the connection is gone.
    let _descriptor = crate::prober::sockets::take(1)
        .map_err(|_| Got::Failed("no descriptor left in the probe budget (EMFILE)".into()))?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| failed("connect", &e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed("HTTP", &e))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header(
            hyper::header::HOST,
            url.authority().map_or("", |a| a.as_str()),
        )
        .header(
            hyper::header::USER_AGENT,
            concat!("handshake_exporter/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed("request", &e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed("HTTP", &e))?;
    if response.status() != hyper::StatusCode::OK {
        return Err(Got::Failed(format!("HTTP status {}", response.status())));
    }
    let announced = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_CRL_BYTES as u64) {
        return Err(Got::TooLarge);
    }
    match Limited::new(response.into_body(), MAX_CRL_BYTES)
        .collect()
        .await
    {
        Ok(body) => Ok(body.to_bytes().to_vec()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Got::TooLarge),
        Err(e) => Err(Got::Failed(format!("body: {e}"))),
    }
}
