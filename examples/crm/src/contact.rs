//! The Contact noun, as every operation that takes or returns contacts
//! declares it: the `contact_id` input field, the sample and the output fields.
//!
//! The API's contact is `{"id","first_name","last_name","email","company","created_at"}`;
//! [`crate::triggers`], [`crate::searches`] and [`crate::creates`] return it as is.

use zapwasm_guest::prelude::*;

/// A contact as the CRM API returns it, for samples.
pub(crate) fn sample() -> Value {
    json!({
        "id": 1,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "company": "Analytical Engines",
        "created_at": "2026-01-01T09:30:00Z",
    })
}

/// The fields of a contact; `id` is the primary key the deduper uses.
pub(crate) fn output_fields() -> Vec<Field> {
    vec![
        Field::new("id").label("Contact ID").kind("integer").primary(true),
        Field::new("first_name").label("First Name").kind("string"),
        Field::new("last_name").label("Last Name").kind("string"),
        Field::new("email").label("Email").kind("string"),
        Field::new("company").label("Company").kind("string"),
        Field::new("created_at").label("Created At").kind("datetime"),
    ]
}

/// Adds the contact output fields and sample to `operation`.
pub(crate) fn described(operation: Operation) -> Operation {
    output_fields().into_iter().fold(operation, Operation::output_field).sample(sample())
}

/// The input field naming an existing contact: a dropdown of recent contacts,
/// or a Find Contact step.
pub(crate) fn id_input_field() -> Field {
    Field::new("contact_id")
        .label("Contact")
        .required(true)
        .kind("integer")
        .dynamic("new_contact.id.email")
        .search("find_contact.id")
        .help_text("Pick a contact, or map the ID from a Find Contact step.")
}

/// The `contact_id` input as a number. The platform coerces integer fields,
/// but a mapped value can still arrive as text.
pub(crate) fn id_input(bundle: &Bundle) -> Result<i64, ZError> {
    let value = bundle
        .input("contact_id")
        .filter(|value| !value.is_null())
        .ok_or_else(|| ZError::General("Contact is required".to_string()))?;
    let id = match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0)
        .ok_or_else(|| ZError::General(format!("Contact must be a contact ID (a whole number), got {value}")))
}
