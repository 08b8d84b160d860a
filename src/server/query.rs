//! URL query strings as `application/x-www-form-urlencoded` (WHATWG URL standard, section 5):
//! `&`-separated `name=value` pairs, `+` for a space, `%XX` escapes.
//!
//! Prometheus percent-encodes relabelled parameters, so `[::1]:443` arrives as
//! `%5B%3A%3A1%5D%3A443`.

/// Why a query string was rejected; the text is the one-line reason a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `%` not followed by two hex digits.
    #[error("failed to decode query string: bad percent escape in {0:?}")]
    BadEscape(String),
    /// The decoded bytes are not UTF-8.
    #[error("failed to decode query string: {0:?} is not UTF-8 once decoded")]
    NotUtf8(String),
}

/// The decoded `(name, value)` pairs of `query`, in order; a pair without `=` has an empty value
/// and empty pieces (`a=1&&b=2`) are skipped.
///
/// Errors: [`QueryError`] for a malformed `%` escape or a result that is not UTF-8.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Percent-encodes `text` for a query string: every byte but the RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so [`parse_query`] decodes it back unchanged. For
/// clients and tests that build `/probe` URLs.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first value of `name` in decoded `pairs` (as Go's `url.Values.Get`).
pub(super) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The `target` parameter decoded once more after the query string itself, as
/// blackbox_exporter master does (`url.QueryUnescape` in `prober/handler.go`, #1525): clients
/// that encode an already encoded value (`127.0.0.1%253A22`) then reach `127.0.0.1:22`. A value
/// that does not decode again (a lone `%`, bytes that are not UTF-8) is kept as it is.
pub fn decode_target(value: &str) -> std::borrow::Cow<'_, str> {
    match decode(value) {
        Ok(decoded) if decoded != value => std::borrow::Cow::Owned(decoded),
        _ => std::borrow::Cow::Borrowed(value),
    }
}

/// Decodes one component: `+` becomes a space, `%XX` the byte XX.
fn decode(component: &str) -> Result<String, QueryError> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(QueryError::BadEscape(component.to_string())),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8(component.to_string()))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_bracketed_ipv6() {
        let pairs = parse_query("target=%5B%3A%3A1%5D%3A443&module=tcp_connect").unwrap();
        assert_eq!(first(&pairs, "target"), Some("[::1]:443"));
        assert_eq!(first(&pairs, "module"), Some("tcp_connect"));
    }

    #[test]
    fn plus_is_space_and_first_value_wins() {
        let pairs = parse_query("a=x+y&a=z&flag&&b=").unwrap();
        assert_eq!(first(&pairs, "a"), Some("x y"));
        assert_eq!(first(&pairs, "flag"), Some(""));
        assert_eq!(first(&pairs, "b"), Some(""));
        assert_eq!(first(&pairs, "c"), None);
    }

    #[test]
    fn target_is_decoded_once_more() {
        let pairs = parse_query("target=127.0.0.1%253A22&b=50%25").unwrap();
        assert_eq!(first(&pairs, "target"), Some("127.0.0.1%3A22"));
        assert_eq!(decode_target("127.0.0.1%3A22"), "127.0.0.1:22");
        // Once only: a triple encoding keeps one level.
        assert_eq!(decode_target("h%25253A1"), "h%253A1");
        // Values that do not decode again are kept.
        assert_eq!(decode_target("50%"), "50%");
        assert_eq!(decode_target("a%ff"), "a%ff");
        assert_eq!(decode_target("[::1]:443"), "[::1]:443");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(matches!(
            parse_query("a=%zz"),
            Err(QueryError::BadEscape(_))
        ));
        assert!(matches!(parse_query("a=%4"), Err(QueryError::BadEscape(_))));
        assert!(matches!(parse_query("a=%ff"), Err(QueryError::NotUtf8(_))));
    }
}
