//! Triggers: new contacts, by polling (`new_contact`) or pushed by the CRM's
//! webhooks (`contact_created_hook`). Both return contacts in the same shape,
//! so a step mapped from one works with the other.

use zapwasm_guest::prelude::*;

use crate::{api_url, contact, hydrators, json_body, middleware};

/// Contacts per poll when the platform sets no limit.
const DEFAULT_PAGE_SIZE: i64 = 50;
/// The most `GET /contacts` returns in one page.
const MAX_PAGE_SIZE: i64 = 100;

/// `new_contact`: polls `GET /contacts` (newest first), one page per call,
/// following the API's cursor across pages.
pub(crate) fn new_contact() -> Trigger {
    Trigger::new("new_contact", "Contact")
        .display("New Contact", "Triggers when a contact is added to your CRM.")
        .operation(
            contact::described(Operation::polling().perform(poll_contacts).can_paginate(true))
                .output_field(Field::new("details").label("Contact Details (fetched when used)"))
                .output_field(Field::new("vcard").label("vCard").kind("file")),
        )
}

/// `triggers.new_contact.operation.perform`: page `bundle.meta.page` of the
/// contacts, each with its dehydrated `details` and `vcard` (see
/// [`hydrators`]).
///
/// Page 0 starts from the newest contact; each page leaves the cursor to the
/// next one in `z.cursor`. The cursor is cleared on the last page so a later
/// page request returns nothing instead of resuming an older listing.
fn poll_contacts(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let limit = if bundle.meta.is_populating_dedupe {
        MAX_PAGE_SIZE
    } else if bundle.meta.limit > 0 {
        bundle.meta.limit.min(MAX_PAGE_SIZE)
    } else {
        DEFAULT_PAGE_SIZE
    };
    let mut request = Request::get(api_url(z, "/contacts")?).param("limit", limit);
    if bundle.meta.page > 0 {
        match z.cursor().get().filter(|cursor| !cursor.is_empty()) {
            Some(cursor) => request = request.param("cursor", cursor),
            None => return Ok(json!([])),
        }
    }
    let page = json_body(z.request(request)?)?;
    z.cursor().set(page.get("next_cursor").and_then(Value::as_str).unwrap_or_default());
    let mut contacts = contacts_of(page)?;
    hydrators::add_dehydrated(z, &mut contacts)?;
    Ok(contacts)
}

/// The contacts of a `GET /contacts` page (`{"contacts":[..],"next_cursor":..}`).
fn contacts_of(mut page: Value) -> Result<Value, ZError> {
    match page.get_mut("contacts").map(Value::take) {
        Some(contacts @ Value::Array(_)) => Ok(contacts),
        _ => Err(ZError::General("The CRM API's contact list has no \"contacts\" array".to_string())),
    }
}

/// `contact_created_hook`: the CRM POSTs each new contact to the platform.
pub(crate) fn contact_created_hook() -> Trigger {
    Trigger::new("contact_created_hook", "Contact")
        .display(
            "New Contact (Instant)",
            "Triggers when a contact is added to your CRM, delivered instantly by webhook.",
        )
        .operation(contact::described(
            Operation::hook()
                .perform(contact_from_hook)
                .perform_list(recent_contacts)
                .perform_subscribe(subscribe)
                .perform_unsubscribe(unsubscribe),
        ))
}

/// The event the hook subscribes to.
const CONTACT_CREATED: &str = "contact.created";

/// `triggers.contact_created_hook.operation.performSubscribe`: registers
/// `bundle.targetUrl` with `POST /hooks`. The answer (`{"id","url","event"}`)
/// becomes `bundle.subscribeData`.
fn subscribe(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let target_url = bundle
        .target_url
        .as_deref()
        .ok_or_else(|| ZError::General("No target URL to subscribe the webhook to".to_string()))?;
    let request = Request::post(api_url(z, "/hooks")?).json(json!({ "url": target_url, "event": CONTACT_CREATED }));
    json_body(z.request(request)?)
}

/// `triggers.contact_created_hook.operation.performUnsubscribe`: deletes the
/// hook `performSubscribe` created. A hook the CRM no longer knows (404) counts
/// as deleted: the goal, no more deliveries, is met either way.
fn unsubscribe(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let id = bundle
        .subscribe_data
        .as_ref()
        .and_then(|data| data.get("id"))
        .filter(|id| id.is_number() || id.is_string())
        .ok_or_else(|| ZError::General("The subscription has no hook id to unsubscribe".to_string()))?;
    let path_id = match id {
        Value::String(text) => text.clone(),
        number => number.to_string(),
    };
    let request = Request::delete(api_url(z, &format!("/hooks/{path_id}"))?).skip_throw_for_status(true);
    let response = z.request(request)?;
    if response.status != 404 {
        if let Some(error) = middleware::api_error(&response) {
            return Err(error);
        }
        response.throw_for_status()?;
    }
    Ok(json!({ "deleted": true, "id": id }))
}

/// `triggers.contact_created_hook.operation.perform`: the contact from a
/// delivery (`{"event":"contact.created","contact":{..}}`). A delivery
/// without a contact triggers nothing.
fn contact_from_hook(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let contact = bundle
        .cleaned_request
        .as_ref()
        .and_then(|payload| payload.get("contact"))
        .filter(|contact| contact.is_object());
    Ok(match contact {
        Some(contact) => json!([contact]),
        None => json!([]),
    })
}

/// `triggers.contact_created_hook.operation.performList`: a few recent
/// contacts, so the user can test the trigger without creating one.
fn recent_contacts(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    let request = Request::get(api_url(z, "/contacts")?).param("limit", 3);
    contacts_of(json_body(z.request(request)?)?)
}
