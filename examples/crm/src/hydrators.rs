//! Hydrators: what the platform calls for a dehydrated value, when (and
//! only if) a step uses it. A polled contact carries two (see
//! [`crate::triggers`]), so a poll makes one request however many contacts
//! it returns:
//!
//! - `details`: the contact as `GET /contacts/{id}` returns it when the step
//!   runs ([`contact`]);
//! - `vcard`: the contact's vCard as a file ([`vcard`]), stashed when the
//!   step runs.

use zapwasm_guest::prelude::*;

use crate::{api_url, json_body, middleware};

/// `hydrators.contact`, named in the dehydrated `details` of a contact.
pub(crate) const CONTACT: &str = "contact";
/// `hydrators.vcard`, named in the dehydrated `vcard` of a contact.
pub(crate) const VCARD: &str = "vcard";

/// `hydrators.contact`: `GET /contacts/{inputData.id}`, the contact now.
pub(crate) fn contact(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let id = id_input(bundle)?;
    json_body(z.request(api_url(z, &format!("/contacts/{id}"))?)?)
}

/// `hydrators.vcard`: has the host download `GET /contacts/{inputData.id}/vcard`
/// into the stash (named from the API's Content-Disposition) and returns
/// the file's URL.
pub(crate) fn vcard(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let id = id_input(bundle)?;
    let mut request = Request::get(api_url(z, &format!("/contacts/{id}/vcard"))?);
    // The host makes this request itself, outside z.request: beforeRequest
    // does not run, so the key is added here.
    if let Some(key) = bundle.auth_str("api_key") {
        request = request.header(middleware::API_KEY_HEADER, key);
    }
    Ok(Value::String(z.stash_file(request)?))
}

/// Adds the dehydrated `details` and `vcard` to each contact of `contacts`
/// (an array), pointing at the two hydrators with the contact's ID.
pub(crate) fn add_dehydrated(z: &Z, contacts: &mut Value) -> Result<(), ZError> {
    for contact in contacts.as_array_mut().into_iter().flatten() {
        let Some(id) = contact.get("id").cloned() else { continue };
        let details = z.dehydrate(CONTACT, json!({ "id": id }))?;
        let vcard = z.dehydrate_file(VCARD, json!({ "id": id }))?;
        if let Some(fields) = contact.as_object_mut() {
            fields.insert("details".to_string(), Value::String(details));
            fields.insert("vcard".to_string(), Value::String(vcard));
        }
    }
    Ok(())
}

/// The `id` a hydrator was given: a positive whole number (or its text).
fn id_input(bundle: &Bundle) -> Result<i64, ZError> {
    let id = match bundle.input("id") {
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0).ok_or_else(|| ZError::General("The hydrator needs a contact id".to_string()))
}
