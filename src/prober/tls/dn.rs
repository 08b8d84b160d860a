//! Distinguished names printed exactly as Go's `pkix.Name.String()` prints them, because
//! `probe_ssl_last_chain_info{subject, issuer}` must carry the same label values as
//! blackbox_exporter for dashboards and alert rules to keep matching.
//!
//! Go (crypto/x509/pkix) folds the parsed name into fields, rebuilds an RDN sequence in a fixed
//! order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER, values of one type joined in a
//! multi-valued RDN), puts attributes it has no field for first, and prints the whole sequence
//! in reverse, RFC 4514 style. Unknown attributes print as `OID=#hex` of Go's re-encoding of
//! the value.

use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The standard attributes in Go's `ToRDNSequence` order: (last arc under 2.5.4, short name).
///
/// CN and SERIALNUMBER keep only their last value in Go (`Name.CommonName` is a string).
const ORDER: [(u64, &str); 9] = [
    (6, "C"),
    (8, "ST"),
    (7, "L"),
    (9, "STREET"),
    (17, "POSTALCODE"),
    (10, "O"),
    (11, "OU"),
    (3, "CN"),
    (5, "SERIALNUMBER"),
];

/// `name` as Go's `pkix.Name.String()` prints it, e.g. `CN=example.com,O=Acme\, Inc.,C=US`.
pub(crate) fn go_name_string(name: &X509Name<'_>) -> String {
    let mut extra: Vec<String> = Vec::new();
    let mut values: [Vec<String>; 9] = Default::default();
    for atv in name.iter_attributes() {
        match standard_slot(atv) {
            Some(slot) => {
                // Go drops standard attributes whose value is not a string.
                if let Some(value) = go_string(atv) {
                    if ORDER[slot].0 == 3 || ORDER[slot].0 == 5 {
                        values[slot].clear();
                    }
                    values[slot].push(value);
                }
            }
            None => extra.push(format!(
                "{}=#{}",
                atv.attr_type().to_id_string(),
                hex::encode(go_marshal(atv))
            )),
        }
    }
    let mut rdns = extra;
    for (slot, (_, short)) in ORDER.iter().enumerate() {
        if values[slot].is_empty() {
            continue;
        }
        let rdn: Vec<String> = values[slot]
            .iter()
            .map(|v| format!("{short}={}", escape(v)))
            .collect();
        rdns.push(rdn.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The index into [`ORDER`] of a standard attribute (OID 2.5.4.x), `None` for any other.
fn standard_slot(atv: &AttributeTypeAndValue<'_>) -> Option<usize> {
    let arcs: Vec<u64> = atv.attr_type().iter()?.collect();
    match arcs.as_slice() {
        [2, 5, 4, last] => ORDER.iter().position(|(arc, _)| arc == last),
        _ => None,
    }
}

/// The value as Go's parser decodes it: the string types Go accepts in names (PrintableString,
/// UTF8String, IA5String, NumericString, T61String, BMPString), `None` for any other type.
fn go_string(atv: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = atv.as_str() {
        return Some(s.to_string());
    }
    let value = atv.attr_value();
    match value.tag() {
        // Go keeps T61 bytes as they are; only their UTF-8 reading can go into a label.
        Tag::TeletexString => Some(String::from_utf8_lossy(value.data).into_owned()),
        Tag::BmpString => {
            let units = value
                .data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            Some(
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The DER Go's `asn1.Marshal` produces for the decoded value: a PrintableString when every
/// character allows it, else a UTF8String. A value that is not a string keeps its own DER.
fn go_marshal(atv: &AttributeTypeAndValue<'_>) -> Vec<u8> {
    let Some(text) = go_string(atv) else {
        return atv.attr_value().to_der_vec().unwrap_or_default();
    };
    let tag: u8 = if text.bytes().all(go_printable) {
        0x13
    } else {
        0x0c
    };
    let body = text.as_bytes();
    let mut der = vec![tag];
    let len = body.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        der.push(0x80 | (bytes.len() - skip) as u8);
        der.extend_from_slice(&bytes[skip..]);
    }
    der.extend_from_slice(body);
    der
}

/// Go's `isPrintable` as `asn1.Marshal` uses it (X.680 PrintableString, no `*` and no `&`).
fn go_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b' ' | b'\'' | b'(' | b')' | b'+'..=b'/' | b':' | b'=' | b'?'
        )
}

/// RFC 4514 escaping as Go applies it: `,+"\<>;` anywhere, a space at either end, `#` first.
fn escape(value: &str) -> String {
    let last = value.len().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (k, c) in value.char_indices() {
        let needs = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if needs {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_like_go() {
        assert_eq!(escape("Acme, Inc."), "Acme\\, Inc.");
        assert_eq!(escape(" lead#"), "\\ lead#");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(escape("a+b;c<d>\"e\\"), "a\\+b\\;c\\<d\\>\\\"e\\\\");
    }
}
