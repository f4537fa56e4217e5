//! Searches: finding a contact by email (`find_contact`), so later steps can
//! use an existing contact, or a create can look one up before adding it.

use zapwasm_guest::prelude::*;

use crate::{api_url, contact, json_body};

/// `find_contact`: `GET /contacts/search?email=..`, an exact match that
/// ignores case.
pub(crate) fn find_contact() -> Search {
    Search::new("find_contact", "Contact").display("Find Contact", "Finds a contact by email address.").operation(
        contact::described(
            Operation::new().perform(search_by_email).input_field(
                Field::new("email")
                    .label("Email")
                    .required(true)
                    .kind("string")
                    .help_text("The contact's email address. Case does not matter."),
            ),
        ),
    )
}

/// `searches.find_contact.operation.perform`: the matching contacts, an
/// empty array when there are none.
fn search_by_email(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let email = bundle
        .input_str("email")
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .ok_or_else(|| ZError::General("Email is required to find a contact".to_string()))?;
    let request = Request::get(api_url(z, "/contacts/search")?).param("email", email);
    match json_body(z.request(request)?)? {
        contacts @ Value::Array(_) => Ok(contacts),
        _ => Err(ZError::General("The CRM API's search answer is not a list of contacts".to_string())),
    }
}
