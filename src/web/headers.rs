//! The response headers every page carries so a browser runs nothing but what the page is:
//! no content sniffing, a Content-Security-Policy that allows exactly the one stylesheet in
//! the page (by its SHA-256, CSP Level 3 `hash-source`) and nothing else, no framing, and no
//! Referer sent to the sites the runbooks link to.
//!
//! Headers from the web config's `http_server_config.headers` are applied after these and
//! replace them.

use std::sync::OnceLock;

use base64::Engine as _;
use hyper::header::{
    HeaderMap, HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use sha2::{Digest, Sha256};

/// The `X-Content-Type-Options` value `nosniff` (WHATWG Fetch): the declared type is the type.
pub fn nosniff() -> HeaderValue {
    HeaderValue::from_static("nosniff")
}

/// The Content-Security-Policy of the pages (W3C CSP Level 3): nothing is loaded or run but
/// the page's own stylesheet; no `<base>`, no form target, no framing (`frame-ancestors`).
pub fn content_security_policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let digest = Sha256::digest(super::STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        let policy = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        );
        HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
    })
}

/// Adds the page headers to `headers`: `X-Content-Type-Options: nosniff`, the
/// [`content_security_policy`], `X-Frame-Options: DENY` (RFC 7034, for browsers without
/// `frame-ancestors`) and `Referrer-Policy: no-referrer` (W3C Referrer Policy).
pub fn add_page_headers(headers: &mut HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, nosniff());
    headers.insert(CONTENT_SECURITY_POLICY, content_security_policy().clone());
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_page_stylesheet_and_nothing_else() {
        let policy = content_security_policy().to_str().expect("ascii");
        let digest = Sha256::digest(super::super::STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(policy.starts_with("default-src 'none'; "), "{policy}");
        assert!(
            policy.contains(&format!("style-src 'sha256-{hash}'")),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
    }
}
