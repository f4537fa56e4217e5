//! Unguessable IDs: invocation IDs (which name callback URLs), stash file
//! folders, and the nonces of digest and OAuth 1.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// 128 random bits, hex. Should the OS have no randomness to give, a hash
/// of the clock and a counter keeps IDs unique (if no longer secret).
pub(crate) fn random_id() -> String {
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let seed = format!("{:?}{}", std::time::SystemTime::now(), NEXT.fetch_add(1, Ordering::Relaxed));
        id.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
    }
    hex::encode(id)
}
