//! z.stashFile: files into the host's [`StashStore`](crate::StashStore),
//! named and capped as the reference platform names and caps them, behind
//! URLs that carry a signed, expiring token; and the other end,
//! [`open`] (what [`Host::open_stashed`](crate::Host::open_stashed) runs),
//! which checks a token and opens its file.
//!
//! A token is `<ID>.<expiry>.<signature>`: the file's ID (128 random bits,
//! hex, made here: no store can make a guessable one), the expiry in Unix
//! seconds, and base64url HMAC-SHA256 of `<ID>.<expiry>` under the host's
//! stash key. The signature is what makes a URL unforgeable (the ID alone
//! would do for unguessable, but not for the expiry); it is checked before
//! the expiry, so a forged token never learns whether its file exists.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zapwasm_rules::stash as stash_rules;

use crate::bindings::WitZError;
use crate::bindings::zapwasm::integration::http::Request;
use crate::bindings::zapwasm::integration::stash::Host;
use crate::capability::http::{self, SendFailure};
use crate::error::{CallError, LimitKind, ZError};
use crate::sandbox::{CallContext, HostAbort, Sandbox};
use crate::services::Services;
use crate::state::{ScopeKey, StashedDownload, StashedFile, StateError, expires_after};

/// The longest file name kept, in characters (a longer one is cut).
const MAX_FILENAME_CHARS: usize = 1000;

/// The most bytes one stashed file may hold: the reference platform's cap
/// on an upload (150 MB), whatever [`Limits::stash_bytes`](crate::Limits::stash_bytes)
/// allows a whole call.
const MAX_FILE_BYTES: u64 = 150_000_000;

impl Host for Sandbox {
    async fn stash_bytes(
        &mut self,
        data: Vec<u8>,
        text: bool,
        known_length: Option<u64>,
        filename: Option<String>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<String, WitZError>> {
        let call = self.call.clone();
        // The platform refuses a declared length over its cap before
        // anything is sent; the author can catch it.
        if let Some(known) = known_length.filter(|known| *known > MAX_FILE_BYTES) {
            return finish(Err(ZError::general(format!("{known} is too big, {MAX_FILE_BYTES} is the max")).into()));
        }
        let (filename, content_type) = stash_rules::bytes_file(text, filename.as_deref(), content_type.as_deref());
        finish(stash(&call, filename, content_type, data).await)
    }

    async fn stash_request(
        &mut self,
        request: Request,
        filename: Option<String>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<String, WitZError>> {
        let call = self.call.clone();
        if let Err(e) = allowed_here(&call) {
            return finish(Err(e.into()));
        }
        // The request, and then the body, count against the call's host
        // memory until the body is stashed.
        let _request = match http::hold_requests(&call, std::slice::from_ref(&request)) {
            Ok(held) => held,
            Err(failure) => return finish(Err(failure)),
        };
        let (response, _body) = match http::send(&call, request).await {
            Ok(sent) => (sent.response, sent.held),
            Err(failure) => return finish(Err(failure)),
        };
        if response.status >= 400 {
            return finish(Err(ZError::general(format!(
                "cannot stash {}: the server answered {}",
                call.record.censor_text(&response.url),
                response.status
            ))
            .into()));
        }
        let header = |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let (filename, content_type) = stash_rules::response_file(
            filename.as_deref(),
            content_type.as_deref(),
            header("content-disposition"),
            header("content-type"),
            &response.url,
        );
        finish(stash(&call, filename, content_type, response.body).await)
    }
}

fn finish(result: Result<String, SendFailure>) -> wasmtime::Result<Result<String, WitZError>> {
    match result {
        Ok(url) => Ok(Ok(url)),
        Err(SendFailure::Z(e)) => Ok(Err(e.into())),
        Err(SendFailure::Abort(e)) => Err(wasmtime::Error::new(HostAbort(e))),
    }
}

fn allowed_here(call: &CallContext) -> Result<(), ZError> {
    if call.method.starts_with("creates.") || call.method.starts_with("hydrators.") {
        Ok(())
    } else {
        Err(ZError::general("Files can only be stashed within a create or hydration function/method."))
    }
}

async fn stash(
    call: &CallContext,
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
) -> Result<String, SendFailure> {
    allowed_here(call)?;
    let length = bytes.len() as u64;
    if length > MAX_FILE_BYTES {
        return Err(SendFailure::Abort(CallError::Limit {
            limit: LimitKind::Stash,
            value: format!("{MAX_FILE_BYTES} bytes per file"),
        }));
    }
    let total = call.counters.stashed_bytes.fetch_add(length, Ordering::Relaxed) + length;
    if total > call.limits.stash_bytes {
        return Err(SendFailure::Abort(CallError::Limit {
            limit: LimitKind::Stash,
            value: format!("{} bytes", call.limits.stash_bytes),
        }));
    }
    let file = StashedFile { filename: safe_filename(&filename), content_type, bytes };
    let id = crate::random_id::random_id();
    let services = &call.services;
    services
        .stores
        .stash
        .put(&ScopeKey::of(&call.scope), &id, file)
        .await
        .map_err(|e| SendFailure::Z(ZError::general(format!("stashing failed: {e}"))))?;
    let expires = unix_seconds(expires_after(SystemTime::now(), services.signing.stash_url_lifetime));
    let base = services.stores.stash.base_url().trim_end_matches('/');
    Ok(format!("{base}/files/{}", token(&services.signing.stash, &id, expires)))
}

/// Why a stash URL's token opens no file. [`StashError::http_status`]
/// gives the status a download service answers with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StashError {
    /// The token is not one this host signed: malformed, altered, or
    /// signed with another key (another host's, or this host's before a
    /// restart when it has no [`stash_secret`](crate::HostBuilder::stash_secret)).
    #[error("this file link is not valid")]
    BadToken,
    /// The token was valid, and its time ran out.
    #[error("this file link has expired")]
    Expired,
    /// The token is valid, but the store no longer has its file.
    #[error("this file no longer exists")]
    NotFound,
    /// The store failed; the download may be retried.
    #[error("cannot read the stashed file")]
    State(#[source] StateError),
}

impl StashError {
    /// The HTTP status for the answer: 403 for a bad token, 410 Gone for
    /// an expired one, 404 for a missing file, 503 for a store failure.
    pub fn http_status(&self) -> u16 {
        match self {
            StashError::BadToken => 403,
            StashError::Expired => 410,
            StashError::NotFound => 404,
            StashError::State(_) => 503,
        }
    }
}

/// The file a token names, opened: the token's signature checked (in
/// constant time), then its expiry, then the store asked.
pub(crate) async fn open(services: &Services, token: &str) -> Result<StashedDownload, StashError> {
    let id = check_token(&services.signing.stash, token, SystemTime::now())?;
    match services.stores.stash.open(id).await {
        Ok(Some(download)) => Ok(download),
        Ok(None) => Err(StashError::NotFound),
        Err(e) => Err(StashError::State(e)),
    }
}

/// `<id>.<expires>.<signature>`.
fn token(key: &[u8], id: &str, expires: u64) -> String {
    let expires = expires.to_string();
    let signature = token_mac(key, id, &expires).finalize().into_bytes();
    format!("{id}.{expires}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The MAC of a token's ID and expiry, as written in it.
fn token_mac(key: &[u8], id: &str, expires: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(expires.as_bytes());
    mac
}

/// The file ID of `token`, if this key signed it and it has not expired at `now`.
fn check_token<'t>(key: &[u8], token: &'t str, now: SystemTime) -> Result<&'t str, StashError> {
    let mut parts = token.split('.');
    let (Some(id), Some(expires), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StashError::BadToken);
    };
    let well_formed = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !expires.is_empty()
        && expires.len() <= 20
        && expires.bytes().all(|b| b.is_ascii_digit());
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| StashError::BadToken)?;
    if !well_formed {
        return Err(StashError::BadToken);
    }
    token_mac(key, id, expires).verify_slice(&signature).map_err(|_| StashError::BadToken)?;
    let expires: u64 = expires.parse().map_err(|_| StashError::BadToken)?;
    if unix_seconds(now) >= expires {
        return Err(StashError::Expired);
    }
    Ok(id)
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A name that is one path component (the platform keeps the base name),
/// without quotes or control characters (it goes into a
/// Content-Disposition header), no longer than the platform allows.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(MAX_FILENAME_CHARS).collect();
    match cleaned.trim() {
        "" | "." | ".." => "unnamedfile".into(),
        name => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use zapwasm_rules::stash::{disposition_filename, last_path_segment, with_extension};

    use super::*;

    #[test]
    fn names_files_like_the_reference_platform() {
        assert_eq!(disposition_filename(r#"attachment; filename="ann-lee.vcf""#).as_deref(), Some("ann-lee.vcf"));
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(last_path_segment("https://x.test/files/report?x=1").as_deref(), Some("report"));
        assert_eq!(with_extension("report".into(), "application/pdf"), "report.pdf");
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename(".."), "unnamedfile");
        assert_eq!(safe_filename("say \"hi\".txt"), "say hi.txt");
        assert_eq!(safe_filename(&"a".repeat(1500)).chars().count(), MAX_FILENAME_CHARS);
    }

    #[test]
    fn a_token_opens_until_it_expires() {
        let key = b"a stash key of thirty-two bytes!";
        let now = SystemTime::now();
        let expires = unix_seconds(now) + 60;
        let token = token(key, "0123456789abcdef0123456789abcdef", expires);
        assert_eq!(check_token(key, &token, now).unwrap(), "0123456789abcdef0123456789abcdef");
        let later = now + std::time::Duration::from_secs(61);
        assert!(matches!(check_token(key, &token, later), Err(StashError::Expired)));
    }

    #[test]
    fn a_forged_or_altered_token_is_refused() {
        let key = b"a stash key of thirty-two bytes!";
        let now = SystemTime::now();
        let expires = unix_seconds(now) + 60;
        let token = token(key, "0123456789abcdef0123456789abcdef", expires);
        let bad = |t: &str| matches!(check_token(key, t, now), Err(StashError::BadToken));
        // Another key's signature.
        assert!(bad(&super::token(b"another key", "0123456789abcdef0123456789abcdef", expires)));
        // A later expiry, another ID, under the same signature.
        let signature = token.rsplit('.').next().unwrap();
        assert!(bad(&format!("0123456789abcdef0123456789abcdef.{}.{signature}", expires + 3600)));
        assert!(bad(&format!("ffffffffffffffffffffffffffffffff.{expires}.{signature}")));
        // Malformed.
        for malformed in ["", "x", "a.b", "a.1.b.c", "../x.1.AAAA", &format!("{token}=")] {
            assert!(bad(malformed), "{malformed:?}");
        }
        // An expired token, re-signed by someone without the key, is still bad, not expired.
        assert!(bad(&super::token(b"guess", "0123456789abcdef0123456789abcdef", 1)));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use zapwasm_rules::stash::{disposition_filename, last_path_segment, with_extension};

    use super::*;
    use crate::fuzzing;

    /// What `Content-Disposition` values and file URLs are made of, for the mutations.
    const TOKENS: &[&str] = &[
        "attachment; ",
        "inline; ",
        "filename=",
        "filename*=",
        "UTF-8''",
        "''",
        "\"",
        ";",
        "../",
        "..\\",
        "/",
        "%2F",
        "%2E%2E",
        "%00",
        "%C3",
        ".pdf",
        "https://files.example/",
    ];

    /// Checks a name the stash would use: one path component, no control
    /// characters, not too long, never `.`, `..` or empty.
    fn check_safe(name: &str) -> Result<(), TestCaseError> {
        prop_assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
        prop_assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control), "{name:?}");
        prop_assert!(name.chars().count() <= MAX_FILENAME_CHARS && name.trim() == name, "{name:?}");
        Ok(())
    }

    /// `Content-Disposition` values and URLs of the files a guest stashes
    /// (both from the API): naming never panics, and whatever they say, the
    /// stashed file's name is one harmless path component.
    #[test]
    fn stashed_file_names_are_one_safe_component() {
        fuzzing::fuzz_text("content_disposition", TOKENS, |text| {
            let from_header = disposition_filename(text);
            if let Some(name) = &from_header {
                check_safe(&safe_filename(&with_extension(name.clone(), "application/pdf")))?;
            }
            if let Some(name) = last_path_segment(text) {
                check_safe(&safe_filename(&with_extension(name, "text/csv")))?;
            }
            check_safe(&safe_filename(text))?;
            Ok(())
        });
    }
}
