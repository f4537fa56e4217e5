//! Hydration: a value a call left for later (`z.dehydrate`,
//! `z.dehydrateFile`) turned into the value when a step needs it.
//!
//! Two halves, either side of the time in between:
//!
//! - [`sign_result`], run by the one-call runner on every result: with a
//!   hydration secret set ([`HostBuilder::hydration_secret`](crate::HostBuilder::hydration_secret)),
//!   each unsigned dehydrated string in the result is rewritten into the
//!   signed form, `hydrate|||<base64 of its JSON>:<base64 signature>|||hydrate`,
//!   before the result leaves the call. The guest cannot sign (it never
//!   holds the secret); the host signs what the integration wrote, so the
//!   signature says "this integration made this, on this host".
//! - [`App::hydrate`]: given such a string back, check it (a signing host
//!   takes only strings it signed, unaltered), then call the hydrator it
//!   names with `bundle.inputData` = the dehydrated inputData and the
//!   account's authData, as the reference platform does. A file hydrator
//!   stashes its file (`z.stashFile` is allowed in hydrators) and returns
//!   the file's URL, which is the result.
//!
//! The signature is HMAC-SHA1 of the base64 text, the reference platform's
//! form, keyed by the integration's own key, HMAC-SHA256(secret, the
//! scope's integration ID): a string one integration made never hydrates in
//! another that shares the host. It is compared in constant time.
//!
//! The string's format and limits are the rules both sides share
//! ([`zapwasm_rules::dehydrate`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::Sha256;
use zapwasm_rules::dehydrate::{self, Kind, Payload, Pointer};
use zapwasm_rules::method_path::MethodPath;

use crate::app::App;
use crate::bundle::{Bundle, Scope};
use crate::error::{CallError, ZError};
use crate::invoke::{Invocation, Outcome, Status};
use crate::json::Json;

/// Why a string cannot be hydrated. Nothing was called; each is a distinct
/// answer for whoever passed the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HydrateError {
    /// The text is not one dehydrated string (`hydrate|||...|||hydrate`
    /// holding a payload of the platform's shape, or a signed one).
    #[error("this is not a dehydrated value")]
    NotDehydrated,
    /// This host signs dehydrated strings, and this one is unsigned: it
    /// was not made by a call of this host (or its signature was stripped).
    #[error("this dehydrated value is not signed, and this host hydrates only what it signed")]
    Unsigned,
    /// The signature does not match: the string was altered, or signed
    /// for another integration or by a host with another secret.
    #[error("this dehydrated value's signature does not match (it was altered, or signed elsewhere)")]
    BadSignature,
    /// The string is signed, but this host has no hydration secret to
    /// check it with.
    #[error("this dehydrated value is signed, and this host has no hydration secret to check it")]
    NoSecret,
    /// The method it names is not a hydrator of this app.
    #[error("{method} is not a hydrator of this integration")]
    NotAHydrator {
        /// The method path the string names.
        method: String,
    },
}

impl HydrateError {
    /// The HTTP status for the answer: 400 for text that is not a
    /// dehydrated value, 403 for a signature missing, wrong or not
    /// checkable, 404 for a method the app does not have as a hydrator.
    pub fn http_status(&self) -> u16 {
        match self {
            HydrateError::NotDehydrated => 400,
            HydrateError::Unsigned | HydrateError::BadSignature | HydrateError::NoSecret => 403,
            HydrateError::NotAHydrator { .. } => 404,
        }
    }
}

impl App {
    /// Hydrate a dehydrated string from a result of this app (as a call
    /// returned it, signed or not): check it, then call the hydrator it
    /// names in `scope` (the scope of the call that made it: its
    /// integration keys the signature), with `bundle.authData` =
    /// `auth_data` and `bundle.inputData` = the dehydrated inputData.
    ///
    /// The outcome is the hydrator's call: its result is the value (for
    /// `z.dehydrateFile`, the URL of the file it stashed; a result that is
    /// not a URL is an error of the call). Refused before any call, with a
    /// [`HydrateError`]: text that is not a dehydrated string; under a host
    /// with a [hydration secret](crate::HostBuilder::hydration_secret), an
    /// unsigned string or one whose signature does not match; a method that
    /// is not one of the app's hydrators.
    pub async fn hydrate(
        &self,
        text: &str,
        auth_data: Map<String, Value>,
        scope: Scope,
    ) -> Result<Outcome, HydrateError> {
        let secret = self.parts().0.runner.services.signing.hydration.as_deref();
        let payload = open(text, secret, &scope.integration)?;
        let is_hydrator =
            matches!(MethodPath::split(&payload.method), Some(MethodPath::Hydrator(name)) if !name.is_empty());
        if !is_hydrator || !self.definition().has_method(&payload.method) {
            return Err(HydrateError::NotAHydrator { method: payload.method });
        }
        let bundle = Bundle { auth_data, input_data: payload.bundle, ..Bundle::default() };
        let mut outcome = self.invoke(Invocation::new(payload.method.clone(), bundle, scope)).await;
        if payload.kind == Kind::File
            && let Ok(result) = &outcome.result
            && !is_url(&result.value())
        {
            let message = format!(
                "the file hydrator {} returned {}, not the URL of a file: return what z.stashFile returns",
                payload.method,
                describe(&result.value())
            );
            outcome.result = Err(CallError::Integration { error: ZError::general(message) });
            outcome.status = Status::Error;
        }
        Ok(outcome)
    }
}

/// The payload of `text`, checked against the host's secret: unsigned
/// strings only without one, signed strings only with one and a matching
/// signature.
fn open(text: &str, secret: Option<&[u8]>, integration: &str) -> Result<Payload, HydrateError> {
    match (dehydrate::parse(text).ok_or(HydrateError::NotDehydrated)?, secret) {
        (Pointer::Unsigned(payload), None) => Ok(payload),
        (Pointer::Unsigned(_), Some(_)) => Err(HydrateError::Unsigned),
        (Pointer::Signed { .. }, None) => Err(HydrateError::NoSecret),
        (Pointer::Signed { payload, signature }, Some(secret)) => {
            let signature = STANDARD.decode(signature).map_err(|_| HydrateError::BadSignature)?;
            let mut mac = signer(secret, integration);
            mac.update(payload.as_bytes());
            // Constant time: the hmac crate's comparison.
            mac.verify_slice(&signature).map_err(|_| HydrateError::BadSignature)?;
            let json = STANDARD.decode(payload).map_err(|_| HydrateError::NotDehydrated)?;
            let json = String::from_utf8(json).map_err(|_| HydrateError::NotDehydrated)?;
            dehydrate::payload(&json).ok_or(HydrateError::NotDehydrated)
        }
    }
}

/// Every unsigned dehydrated string in a call's `result`, rewritten into
/// the signed form, when the host has a hydration `secret`; the result
/// untouched otherwise, or when it holds none.
///
/// Costs nothing without a secret, and one substring search of the text
/// when it holds no `hydrate|||`. The JSON text is otherwise kept byte for
/// byte: only its string literals that hold a dehydrated string are
/// decoded, rewritten and encoded again.
pub(crate) fn sign_result(result: Json, secret: Option<&[u8]>, integration: &str) -> Json {
    let Some(secret) = secret else { return result };
    if !result.as_str().contains(dehydrate::START) {
        return result;
    }
    match sign_json_text(result.as_str(), secret, integration) {
        // Strings replaced by strings: the text is still one JSON value.
        Some(signed) => Json::from_text(signed).unwrap_or(result),
        None => result,
    }
}

/// The JSON `text` with its string literals' dehydrated strings signed;
/// `None` when there were none to sign.
fn sign_json_text(text: &str, secret: &[u8], integration: &str) -> Option<String> {
    let mut signed = String::new();
    let mut copied = 0;
    for literal in string_literals(text) {
        let raw = &text[literal.clone()];
        if !raw.contains(dehydrate::START) {
            continue;
        }
        let Ok(decoded) = serde_json::from_str::<String>(raw) else { continue };
        let Some(rewritten) = sign_text(&decoded, secret, integration) else { continue };
        signed.push_str(&text[copied..literal.start]);
        signed.push_str(&Value::String(rewritten).to_string());
        copied = literal.end;
    }
    if copied == 0 {
        return None;
    }
    signed.push_str(&text[copied..]);
    Some(signed)
}

/// `text` with each unsigned dehydrated string in it signed; `None` when
/// it holds none.
fn sign_text(text: &str, secret: &[u8], integration: &str) -> Option<String> {
    let found = dehydrate::unsigned_pointers(text);
    if found.is_empty() {
        return None;
    }
    let mut signed = String::with_capacity(text.len() * 4 / 3 + 64);
    let mut copied = 0;
    for pointer in found {
        signed.push_str(&text[copied..pointer.whole.start]);
        signed.push_str(&sign_payload(&text[pointer.payload], secret, integration));
        copied = pointer.whole.end;
    }
    signed.push_str(&text[copied..]);
    Some(signed)
}

/// The signed string of an unsigned pointer's payload JSON.
fn sign_payload(json: &str, secret: &[u8], integration: &str) -> String {
    let payload = STANDARD.encode(json);
    let mut mac = signer(secret, integration);
    mac.update(payload.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!("{}{payload}:{signature}{}", dehydrate::START, dehydrate::END)
}

/// The HMAC-SHA1 of an integration's strings: keyed by
/// HMAC-SHA256(secret, integration ID), the integration's own key.
fn signer(secret: &[u8], integration: &str) -> Hmac<Sha1> {
    // HMAC takes a key of any length: neither can fail.
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    derive.update(integration.as_bytes());
    let key = derive.finalize().into_bytes();
    <Hmac<Sha1> as Mac>::new_from_slice(&key).expect("HMAC takes any key length")
}

/// The byte ranges of the string literals (quotes included) of the JSON
/// `text`, which is valid JSON: outside a literal `"` opens one, inside
/// `\` escapes the next byte and `"` closes it.
fn string_literals(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + bytes[at..].iter().position(|b| *b == b'"')?;
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    at = i + 1;
                    return Some(start..at);
                }
                _ => i += 1,
            }
        }
        None
    })
}

/// Whether a file hydrator's result is a URL (what z.stashFile returns).
fn is_url(value: &Value) -> bool {
    value.as_str().and_then(|text| url::Url::parse(text).ok()).is_some()
}

/// A short description of a result, for an error message.
fn describe(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"a hydration secret of 32 bytes!!";

    fn pointer(bundle: Value) -> String {
        dehydrate::dehydrate(Kind::Method, "hydrators.contact", &bundle).unwrap()
    }

    fn sign(result: &Value, integration: &str) -> Value {
        let json = Json::from(result.clone());
        sign_result(json, Some(SECRET), integration).value()
    }

    #[test]
    fn the_signature_is_hmac_sha1_of_the_base64_under_the_integrations_key() {
        let json = r#"{"type":"method","method":"hydrators.contact","bundle":{"id":7}}"#;
        let signed = sign_payload(json, SECRET, "crm");
        let inner = signed.strip_prefix("hydrate|||").unwrap().strip_suffix("|||hydrate").unwrap();
        let (payload, signature) = inner.split_once(':').unwrap();
        assert_eq!(STANDARD.decode(payload).unwrap(), json.as_bytes());
        // Computed apart: key = HMAC-SHA256(secret, "crm"); HMAC-SHA1(key, base64).
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).unwrap();
        derive.update(b"crm");
        let key = derive.finalize().into_bytes();
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&key).unwrap();
        mac.update(payload.as_bytes());
        assert_eq!(STANDARD.decode(signature).unwrap(), mac.finalize().into_bytes().to_vec());
    }

    #[test]
    fn every_dehydrated_string_of_a_result_is_signed_and_nothing_else_changes() {
        let one = pointer(json!({"id": 1}));
        let two = dehydrate::dehydrate(Kind::File, "hydrators.vcard", &json!({"id": 2, "note": "\"q\"\n"})).unwrap();
        let result = json!([
            {"id": 1, "contact": one, "n": 1.5, "text": "plain"},
            {"id": 2, "files": [two, "not hydrate|||{oops}|||hydrate"], "embedded": format!("see {one} here")},
        ]);
        let signed = sign(&result, "crm");
        assert_eq!(signed[0]["n"], 1.5);
        assert_eq!(signed[1]["files"][1], "not hydrate|||{oops}|||hydrate");
        for value in [&signed[0]["contact"], &signed[1]["files"][0]] {
            let text = value.as_str().unwrap();
            assert!(matches!(dehydrate::parse(text), Some(Pointer::Signed { .. })), "{text}");
        }
        let opened = open(signed[0]["contact"].as_str().unwrap(), Some(SECRET), "crm").unwrap();
        assert_eq!(opened.bundle, json!({"id": 1}).as_object().cloned().unwrap());
        let opened = open(signed[1]["files"][0].as_str().unwrap(), Some(SECRET), "crm").unwrap();
        assert_eq!((opened.kind, opened.bundle["note"].as_str()), (Kind::File, Some("\"q\"\n")));
        let embedded = signed[1]["embedded"].as_str().unwrap();
        assert!(embedded.starts_with("see hydrate|||") && embedded.ends_with("|||hydrate here"), "{embedded}");
    }

    #[test]
    fn a_result_without_dehydrated_strings_is_returned_as_it_came() {
        let text = r#"[ {"id": 1, "n": 1.50e0} ]"#;
        let result = Json::from_text(text.to_string()).unwrap();
        assert_eq!(sign_result(result, Some(SECRET), "crm").as_str(), text);
        let unsigned = Json::from(json!({"p": pointer(json!({}))}));
        let kept = unsigned.as_str().to_string();
        assert_eq!(sign_result(unsigned, None, "crm").as_str(), kept, "no secret: nothing signed");
    }

    #[test]
    fn a_signing_host_refuses_unsigned_altered_and_foreign_strings() {
        let unsigned = pointer(json!({"id": 1}));
        assert_eq!(open(&unsigned, Some(SECRET), "crm"), Err(HydrateError::Unsigned));
        let signed = sign(&json!(unsigned), "crm");
        let signed = signed.as_str().unwrap();
        assert!(open(signed, Some(SECRET), "crm").is_ok());
        assert_eq!(open(signed, Some(SECRET), "other-integration"), Err(HydrateError::BadSignature));
        assert_eq!(open(signed, Some(b"another secret"), "crm"), Err(HydrateError::BadSignature));
        assert_eq!(open(signed, None, "crm"), Err(HydrateError::NoSecret));
        // The payload swapped for another, the signature kept.
        let forged = sign_payload(r#"{"type":"method","method":"hydrators.contact","bundle":{"id":2}}"#, b"x", "crm");
        let (_, forged_payload) = forged.split_once("|||").unwrap();
        let (forged_payload, _) = forged_payload.split_once(':').unwrap();
        let (_, signature) = signed.split_once(':').unwrap();
        let tampered = format!("hydrate|||{forged_payload}:{signature}");
        assert_eq!(open(&tampered, Some(SECRET), "crm"), Err(HydrateError::BadSignature));
        assert_eq!(open("hydrate|||nope|||hydrate", Some(SECRET), "crm"), Err(HydrateError::NotDehydrated));
        // Without a secret, unsigned strings hydrate as they come.
        assert!(open(&unsigned, None, "crm").is_ok());
    }

    #[test]
    fn string_literals_are_found_with_their_escapes() {
        let text = r#"{"a":"x\"y","b":["\\",""]}"#;
        let found: Vec<&str> = string_literals(text).map(|r| &text[r]).collect();
        assert_eq!(found, [r#""a""#, r#""x\"y""#, r#""b""#, r#""\\""#, r#""""#]);
    }
}
