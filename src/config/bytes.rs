//! `send_bytes`: bytes written as printable ASCII with escapes, so a binary request (a
//! PostgreSQL SSLRequest, an LDAP PDU) can be spelled in YAML without YAML or UTF-8 changing a
//! byte. `\xNN` is the byte of two hex digits, `\\` a backslash, `\r`, `\n`, `\t`, `\0` the
//! usual control bytes; any other character must be printable ASCII (space to `~`) and stands
//! for itself. Characters beyond ASCII are refused: YAML would make `é` (or a double-quoted
//! `"\xd2"`) two UTF-8 bytes, which is never what a binary dialogue means.

/// Most bytes one `send_bytes` may hold: a hand-written request, not a payload.
pub const MAX_SEND_BYTES: usize = 64 * 1024;

/// The bytes `text` spells.
///
/// Errors: a one-line reason naming the offending character's position (counted in
/// characters from 0) for a bad or unfinished escape, a character outside printable ASCII, or
/// more than [`MAX_SEND_BYTES`] bytes.
pub fn parse(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().enumerate();
    while let Some((at, c)) = chars.next() {
        let byte = match c {
            '\\' => match chars.next() {
                Some((_, 'x')) => {
                    let hi = chars.next().and_then(|(_, c)| c.to_digit(16));
                    let lo = chars.next().and_then(|(_, c)| c.to_digit(16));
                    match (hi, lo) {
                        // Two hex digits are below 256.
                        (Some(hi), Some(lo)) => (hi * 16 + lo) as u8,
                        _ => return Err(format!("`\\x` at {at} needs two hex digits")),
                    }
                }
                Some((_, '\\')) => b'\\',
                Some((_, 'r')) => b'\r',
                Some((_, 'n')) => b'\n',
                Some((_, 't')) => b'\t',
                Some((_, '0')) => 0,
                Some((_, other)) => {
                    return Err(format!(
                        "unknown escape `\\{other}` at {at}: use \\xNN, \\\\, \\r, \\n, \\t or \\0"
                    ))
                }
                None => return Err(format!("unfinished escape at {at}")),
            },
            ' '..='~' => c as u8,
            other => {
                return Err(format!(
                    "character {other:?} at {at} is not printable ASCII: write bytes as \\xNN \
                     (in single quotes, so YAML keeps the backslash)"
                ))
            }
        };
        out.push(byte);
        if out.len() > MAX_SEND_BYTES {
            return Err(format!("more than {MAX_SEND_BYTES} bytes"));
        }
    }
    Ok(out)
}

/// `bytes` spelled so that [`parse`] reads them back: printable ASCII as itself (backslash
/// doubled), every other byte as `\xNN`.
pub fn format(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => text.push_str("\\\\"),
            b' '..=b'~' => text.push(char::from(b)),
            _ => text.push_str(&format!("\\x{b:02x}")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_ssl_request_spelled_in_escapes() {
        let bytes = parse(r"\x00\x00\x00\x08\x04\xd2\x16\x2f").unwrap();
        assert_eq!(bytes, [0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]);
        assert_eq!(parse(r"EHLO a\r\n\\\t\0").unwrap(), b"EHLO a\r\n\\\t\0");
    }

    #[test]
    fn bad_text_is_refused_with_the_position() {
        assert_eq!(
            parse(r"ab\x4").unwrap_err(),
            "`\\x` at 2 needs two hex digits"
        );
        assert_eq!(
            parse(r"\xzz").unwrap_err(),
            "`\\x` at 0 needs two hex digits"
        );
        assert!(parse(r"a\q")
            .unwrap_err()
            .starts_with("unknown escape `\\q` at 1"));
        assert_eq!(parse("a\\").unwrap_err(), "unfinished escape at 1");
        assert!(parse("\u{d2}")
            .unwrap_err()
            .starts_with("character 'Ò' at 0 is not printable"));
        assert!(parse("a\nb")
            .unwrap_err()
            .contains("at 1 is not printable ASCII"));
        assert_eq!(
            parse(&"a".repeat(MAX_SEND_BYTES + 1)).unwrap_err(),
            format!("more than {MAX_SEND_BYTES} bytes")
        );
        assert_eq!(
            parse(&"a".repeat(MAX_SEND_BYTES)).unwrap().len(),
            MAX_SEND_BYTES
        );
    }

    #[test]
    fn format_reads_back() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(parse(&format(&all)).unwrap(), all);
    }
}
