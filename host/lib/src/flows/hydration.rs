//! Hydration: a value a call left for later (`z.dehydrate`,
//! `z.dehydrateFile`) turned into the value when a step needs it.
//!
//! Two halves, either side of the time in between:
//!
//! - [`seal`], the host's side of `z.dehydrate` (the `hydration` import):
//!   the SDK writes the pointer and hands it to the host, which checks it
//!   names one of the app's hydrators and, with a hydration secret set
//!   ([`HostBuilder::hydration_secret`](crate::HostBuilder::hydration_secret)),
//!   answers the signed form, `hydrate|||<base64 of its JSON>:<base64
//!   signature>|||hydrate`. The guest cannot sign (it never holds the
//!   secret), and the host signs only pointers the integration's code made
//!   in a call, never text that passes through a result: the signature
//!   says "this integration made this, on this host".
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
use crate::definition::Definition;
use crate::error::{CallError, ZError};
use crate::invoke::{Invocation, Outcome, Status};

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

/// What the `hydration` import answers a call's `z.dehydrate`: the
/// `pointer` the integration made, checked to name one of the app's
/// hydrators, and signed when the host has a hydration `key`. Only
/// pointers that come through here are ever signed, so text that merely
/// passes through a result (an API's data, the user's input) never
/// hydrates on a signing host.
pub(crate) fn seal(
    pointer: &str,
    definition: &Definition,
    key: Option<&[u8]>,
    integration: &str,
) -> Result<String, String> {
    let Some(Pointer::Unsigned(payload)) = dehydrate::parse(pointer) else {
        return Err("z.dehydrate was given something that is not a dehydrated pointer".into());
    };
    let is_hydrator =
        matches!(MethodPath::split(&payload.method), Some(MethodPath::Hydrator(name)) if !name.is_empty());
    if !is_hydrator || !definition.has_method(&payload.method) {
        return Err(format!("{} is not a hydrator of this integration", payload.method));
    }
    let Some(key) = key else { return Ok(pointer.to_string()) };
    let json = pointer.strip_prefix(dehydrate::START).and_then(|rest| rest.strip_suffix(dehydrate::END));
    // parse() accepted it whole, so it has both ends.
    Ok(sign_payload(json.unwrap_or_default(), key, integration))
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

    fn definition() -> Definition {
        Definition::parse(r#"{"hydrators":{"contact":{"$func":"hydrators.contact"}}}"#).unwrap()
    }

    fn sign(pointer: &str, integration: &str) -> String {
        seal(pointer, &definition(), Some(SECRET), integration).unwrap()
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
    fn a_pointer_is_sealed_only_when_it_names_a_hydrator_of_the_app() {
        let unsigned = pointer(json!({"id": 1}));
        assert_eq!(seal(&unsigned, &definition(), None, "crm").unwrap(), unsigned, "no secret: kept as made");
        let signed = sign(&unsigned, "crm");
        assert!(matches!(dehydrate::parse(&signed), Some(Pointer::Signed { .. })), "{signed}");
        assert_eq!(open(&signed, Some(SECRET), "crm").unwrap().bundle, json!({"id": 1}).as_object().cloned().unwrap());
        let other = dehydrate::dehydrate(Kind::Method, "hydrators.other", &json!({})).unwrap();
        assert!(seal(&other, &definition(), Some(SECRET), "crm").unwrap_err().contains("not a hydrator"));
        assert!(seal("see hydrate|||{}|||hydrate", &definition(), Some(SECRET), "crm").is_err());
        assert!(seal(&signed, &definition(), Some(SECRET), "crm").is_err(), "a signed pointer is not sealed again");
    }

    #[test]
    fn a_signing_host_refuses_unsigned_altered_and_foreign_strings() {
        let unsigned = pointer(json!({"id": 1}));
        assert_eq!(open(&unsigned, Some(SECRET), "crm"), Err(HydrateError::Unsigned));
        let signed = sign(&unsigned, "crm");
        let signed = signed.as_str();
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
}
