//! Basic authentication against the web config's bcrypt hashes (RFC 7617), with the toolkit's
//! safeguards: an unknown user still pays one bcrypt check (no user enumeration by timing),
//! bcrypt runs one at a time off the request workers, and outcomes are cached under a SHA-256
//! of user, hash and password so a scrape does not pay bcrypt's cost every time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use hyper::header::HeaderValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Cached outcomes kept; the oldest is dropped beyond this.
const CACHE_SIZE: usize = 128;

/// What a request's credentials amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No users configured, or user and password match.
    Allowed,
    /// No `Authorization: Basic` header, or one that does not decode to `user:password`.
    NoCredentials,
    /// Unknown user or wrong password.
    BadCredentials,
}

impl AuthOutcome {
    /// The `reason` label value of `handshake_exporter_web_auth_failures_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Allowed => "allowed",
            AuthOutcome::NoCredentials => "no_credentials",
            AuthOutcome::BadCredentials => "bad_credentials",
        }
    }
}

/// Checks credentials; one per server, shared by every connection.
#[derive(Debug, Default)]
pub struct Authenticator {
    /// (SHA-256 of user, hash and password; outcome), newest last.
    cache: Mutex<VecDeque<([u8; 32], bool)>>,
    /// One bcrypt check at a time: each costs tens of milliseconds of CPU.
    bcrypt: tokio::sync::Mutex<()>,
}

/// A bcrypt hash (cost 10, htpasswd's usual) checked for unknown users so their answer takes
/// as long as a known user's; its outcome is discarded, so the password does not matter.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| bcrypt::hash("decoy", 10).unwrap_or_default())
}

/// `(user, password)` of an `Authorization: Basic` value, `None` when it is not one.
pub fn basic_credentials(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl Authenticator {
    /// Checks `header` against `users` (user name to bcrypt hash). With no users every request
    /// is allowed.
    pub async fn check(
        &self,
        users: &BTreeMap<String, String>,
        header: Option<&HeaderValue>,
    ) -> AuthOutcome {
        if users.is_empty() {
            return AuthOutcome::Allowed;
        }
        let Some((user, password)) = header.and_then(basic_credentials) else {
            return AuthOutcome::NoCredentials;
        };
        let (hash, known) = match users.get(&user) {
            Some(hash) => (hash.clone(), true),
            None => (decoy_hash().to_string(), false),
        };
        let key = cache_key(&user, &hash, &password);
        let ok = match self.cached(&key) {
            Some(ok) => ok,
            None => {
                let _one = self.bcrypt.lock().await;
                let ok = tokio::task::spawn_blocking(move || {
                    bcrypt::verify(password, &hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false);
                self.remember(key, ok);
                ok
            }
        };
        if ok && known {
            AuthOutcome::Allowed
        } else {
            AuthOutcome::BadCredentials
        }
    }

    /// The cached outcome for `key`; every entry is compared in constant time.
    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut found = None;
        for (entry, ok) in cache.iter() {
            if bool::from(entry.ct_eq(key)) {
                found = Some(*ok);
            }
        }
        found
    }

    fn remember(&self, key: [u8; 32], ok: bool) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_SIZE {
            cache.pop_front();
        }
        cache.push_back((key, ok));
    }
}

/// SHA-256 over user, hash and password with length prefixes, so no two triples collide by
/// concatenation and the password itself is never stored.
fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user, hash, password] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {token}")).unwrap()
    }

    #[tokio::test]
    async fn right_wrong_unknown_and_missing() {
        let users = BTreeMap::from([("alice".to_string(), bcrypt::hash("secret", 4).unwrap())]);
        let auth = Authenticator::default();
        let right = header("alice", "secret");
        assert_eq!(auth.check(&users, Some(&right)).await, AuthOutcome::Allowed);
        // Cached now: the same answer without bcrypt.
        assert_eq!(auth.check(&users, Some(&right)).await, AuthOutcome::Allowed);
        let wrong = header("alice", "guess");
        assert_eq!(
            auth.check(&users, Some(&wrong)).await,
            AuthOutcome::BadCredentials
        );
        let unknown = header("mallory", "secret");
        assert_eq!(
            auth.check(&users, Some(&unknown)).await,
            AuthOutcome::BadCredentials
        );
        assert_eq!(auth.check(&users, None).await, AuthOutcome::NoCredentials);
        let garbage = HeaderValue::from_static("Basic %%%");
        assert_eq!(
            auth.check(&users, Some(&garbage)).await,
            AuthOutcome::NoCredentials
        );
        assert_eq!(
            auth.check(&BTreeMap::new(), None).await,
            AuthOutcome::Allowed
        );
    }
}
