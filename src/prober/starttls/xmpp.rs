//! XMPP `<starttls/>` (RFC 6120 section 5.4): open a stream to the target's domain, read the
//! stream features, which must list `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
//! send `<starttls/>`, read `<proceed/>`. The server's XML has no line ends, so the wire is
//! read up to the end of each expected element.

use super::{mismatch, refused, Wire};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// The STARTTLS namespace (RFC 6120 section 5.4.1).
const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// Which stream to open.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Client-to-server, namespace `jabber:client` (port 5222).
    Client,
    /// Server-to-server, namespace `jabber:server` (port 5269).
    Server,
}

/// Upgrades an XMPP stream to `host`: `<failure/>` is `starttls_refused` / `failure`, a
/// `<stream:error>` `starttls_refused` / `stream_error`, features without `<starttls/>`
/// `starttls_refused` / `starttls_not_offered`, anything but an XMPP stream
/// `protocol_mismatch`.
pub async fn upgrade(
    wire: &mut Wire,
    stream: Stream,
    host: &str,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let ns = match stream {
        Stream::Client => "jabber:client",
        Stream::Server => "jabber:server",
    };
    let open = format!(
        "<?xml version='1.0'?><stream:stream xmlns='{ns}' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
        escape(host)
    );
    wire.send(open.as_bytes(), log).await?;
    let features = wire.until(features_end, log).await?;
    if features.contains("<stream:error") {
        return Err(refused(UpgradeAnswer::XmppStreamError));
    }
    if !features.contains("<stream:stream") {
        return Err(mismatch(Detail::None));
    }
    if !offers_starttls(&features) {
        return Err(refused(UpgradeAnswer::NotOffered));
    }
    let request = format!("<starttls xmlns='{TLS_NS}'/>");
    wire.send(request.as_bytes(), log).await?;
    let answer = wire.until(answer_end, log).await?;
    if answer.contains("<proceed") {
        Ok(())
    } else if answer.contains("<stream:error") {
        Err(refused(UpgradeAnswer::XmppStreamError))
    } else {
        Err(refused(UpgradeAnswer::XmppFailure))
    }
}

/// `s` with the five XML special characters escaped, for an attribute value.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// Where the server's stream header and features end: after `</stream:features>` or an empty
/// `<stream:features/>`, or after a stream error or the stream's close. A peer that is no XMPP
/// server (an HTTP or SSH banner) ends there too, at its first `>` or line end without a
/// stream header.
fn features_end(buf: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buf).unwrap_or("");
    for end in [
        "</stream:features>",
        "<stream:features/>",
        "</stream:error>",
        "</stream:stream>",
    ] {
        if let Some(at) = text.find(end) {
            return Some(at + end.len());
        }
    }
    let first = buf.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'<' {
        let line_end = buf.iter().position(|&b| b == b'\n');
        return Some(line_end.map_or(buf.len(), |at| at + 1));
    }
    None
}

/// Where the answer to `<starttls/>` ends: after the `>` that closes `<proceed .../>` or
/// `<failure .../>` (with its `</failure>`), or after a stream error.
fn answer_end(buf: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buf).unwrap_or("");
    if let Some(at) = text.find("<proceed") {
        return text[at..].find('>').map(|end| at + end + 1);
    }
    for end in ["</failure>", "</stream:error>", "</stream:stream>"] {
        if let Some(at) = text.find(end) {
            return Some(at + end.len());
        }
    }
    let at = text.find("<failure")?;
    let close = text[at..].find("/>")?;
    Some(at + close + 2)
}

/// Whether the features hold a `<starttls>` element of the TLS namespace, with either quote.
fn offers_starttls(features: &str) -> bool {
    features.match_indices("<starttls").any(|(at, _)| {
        let tag = &features[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        tag.contains(&format!("'{TLS_NS}'")) || tag.contains(&format!("\"{TLS_NS}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_read_to_their_end() {
        let prosody = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>\
            <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>\
            </starttls></stream:features>";
        let with_more = format!("{prosody}<x/>");
        assert_eq!(features_end(with_more.as_bytes()), Some(prosody.len()));
        assert!(offers_starttls(prosody));
        assert!(!offers_starttls(
            "<stream:features><mechanisms/></stream:features>"
        ));
        assert_eq!(features_end(b"<stream:stream xmlns='jabber:client'"), None);
        assert_eq!(features_end(b"SSH-2.0-OpenSSH_9.2\r\n"), Some(21));
        assert_eq!(features_end(b"HTTP/1.1 400 Bad Request\r\n"), Some(26));
    }

    #[test]
    fn the_answer_ends_after_its_element() {
        let proceed = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        assert_eq!(answer_end(proceed), Some(proceed.len()));
        assert_eq!(answer_end(b"<proceed xmlns='urn:ietf"), None);
        let failure = b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
        assert_eq!(answer_end(failure), Some(failure.len()));
        assert_eq!(escape("a'b<"), "a&apos;b&lt;");
    }
}
