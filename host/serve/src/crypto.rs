//! Keys and sealing: every secret the service keeps at rest (a
//! connection's authData, an app's environment) is sealed with
//! XChaCha20-Poly1305 under a key derived from the service's master key.
//!
//! One master key (32 random bytes or more, from the config or the
//! environment) gives, by HMAC-SHA256 with a label each, the sealing key,
//! the host's stash-URL secret and its hydration secret: the same master
//! key after a restart opens the same credentials and the same file links.
//! A sealed value is `nonce (24 bytes) || ciphertext+tag`; the nonce is
//! random per write (192 bits, so no counter has to survive a crash), and
//! the associated data names the row it belongs to, so a sealed value
//! copied into another row does not open.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ServeError;

/// The fewest bytes a master key may have.
pub(crate) const MIN_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The keys derived from the master key.
pub(crate) struct Keys {
    cipher: XChaCha20Poly1305,
    /// The host's stash-URL secret (file links outlive a restart).
    pub(crate) stash: Vec<u8>,
    /// The host's hydration secret.
    pub(crate) hydration: Vec<u8>,
}

impl Keys {
    /// The keys of `master` (at least [`MIN_KEY_BYTES`]).
    pub(crate) fn derive(master: &[u8]) -> Keys {
        let sealing = derive(master, b"zapwasm-serve sealing v1");
        Keys {
            cipher: XChaCha20Poly1305::new((&sealing[..]).into()),
            stash: derive(master, b"zapwasm-serve stash v1").to_vec(),
            hydration: derive(master, b"zapwasm-serve hydration v1").to_vec(),
        }
    }

    /// `plaintext` sealed for the row `aad` names.
    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, ServeError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| ServeError::Crypto(format!("no randomness for a nonce: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .map_err(|_| ServeError::Crypto("cannot seal".into()))?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// What [`Keys::seal`] sealed for `aad`; an error when the key is not
    /// the one it was sealed with, or the value or its row was altered.
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, ServeError> {
        if sealed.len() < NONCE_BYTES {
            return Err(ServeError::Crypto("a sealed value is truncated".into()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() }).map_err(|_| {
            ServeError::Crypto(
                "a sealed value does not open: the master key is not the one it was sealed with, or the \
                     state file was altered"
                    .into(),
            )
        })
    }
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes a key of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// A master key as written in the config: base64 (standard or URL-safe,
/// padded or not) or hex, of at least [`MIN_KEY_BYTES`] bytes.
pub(crate) fn parse_key(text: &str) -> Result<Vec<u8>, ServeError> {
    let text = text.trim();
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
        .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
        .ok_or_else(|| ServeError::Config("secret_key: neither base64 nor hex".into()))?;
    if bytes.len() < MIN_KEY_BYTES {
        return Err(ServeError::Config(format!(
            "secret_key: {} bytes; use at least {MIN_KEY_BYTES} random bytes (e.g. `openssl rand -base64 32`)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The master key in `path`, made (32 random bytes, base64, mode 0600)
/// when there is none: `--dev`'s key, kept next to the state it opens.
pub(crate) fn key_file(path: &Path) -> Result<Vec<u8>, ServeError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse_key(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ServeError::Config(format!("cannot read {}: {e}", path.display()))),
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| ServeError::Crypto(format!("no randomness for a key: {e}")))?;
    let text = STANDARD.encode(key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(path).and_then(|mut file| {
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(key.to_vec()),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
        Err(e) => Err(ServeError::Config(format!("cannot write {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_row() {
        let keys = Keys::derive(&[7u8; 32]);
        let sealed = keys.seal("connection:a", b"{\"api_key\":\"secret\"}").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "the plaintext is not in the sealed value");
        assert_eq!(keys.open("connection:a", &sealed).unwrap(), b"{\"api_key\":\"secret\"}");
        assert!(keys.open("connection:b", &sealed).is_err(), "another row's value does not open");
        assert!(Keys::derive(&[8u8; 32]).open("connection:a", &sealed).is_err(), "another key does not open it");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(keys.open("connection:a", &altered).is_err());
        assert!(keys.open("connection:a", &sealed[..10]).is_err());
        assert_ne!(keys.seal("x", b"same").unwrap(), keys.seal("x", b"same").unwrap(), "a fresh nonce per write");
    }

    #[test]
    fn keys_are_read_as_base64_or_hex_and_short_ones_refused() {
        assert_eq!(parse_key(&STANDARD.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert_eq!(parse_key(&hex::encode([2u8; 40])).unwrap(), [2u8; 40]);
        assert_eq!(parse_key(&URL_SAFE_NO_PAD.encode([255u8; 32])).unwrap(), [255u8; 32]);
        assert!(parse_key(&STANDARD.encode([1u8; 16])).unwrap_err().to_string().contains("at least 32"));
        assert!(parse_key("not a key!").is_err());
    }

    #[test]
    fn a_key_file_is_made_once_and_read_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let made = key_file(&path).unwrap();
        assert_eq!(made.len(), 32);
        assert_eq!(key_file(&path).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
