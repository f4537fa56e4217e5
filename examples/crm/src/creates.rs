//! Creates: adding a contact (`create_contact`), exporting one through a job
//! that reports back by callback (`export_contact`), and storing a contact's
//! vCard as a file later steps can use (`attach_vcard`).

use zapwasm_guest::prelude::*;

use crate::{api_url, contact, json_body, middleware};

/// `create_contact`: `POST /contacts`. A duplicate email halts the step
/// (see [`middleware::api_error`]) instead of failing the automation.
pub(crate) fn create_contact() -> Create {
    Create::new("create_contact", "Contact").display("Create Contact", "Creates a new contact in your CRM.").operation(
        contact::described(
            Operation::new()
                .perform(add_contact)
                .perform_buffer(add_contacts)
                .buffer(&["company"], BATCH_SIZE)
                .input_field(Field::new("first_name").label("First Name").kind("string"))
                .input_field(Field::new("last_name").label("Last Name").kind("string"))
                .input_field(
                    Field::new("email")
                        .label("Email")
                        .required(true)
                        .kind("string")
                        .help_text("Must be unique: the CRM refuses a second contact with the same email."),
                )
                .input_field(Field::new("company").label("Company").kind("string")),
        ),
    )
}

/// The contact fields `POST /contacts` accepts.
const CONTACT_INPUTS: [&str; 4] = ["first_name", "last_name", "email", "company"];

/// Runs of `create_contact` sent in one `POST /contacts/batch`: the
/// platform groups runs by company (one import per company) and calls
/// `performBuffer` with up to this many.
const BATCH_SIZE: u32 = 25;

/// `creates.create_contact.operation.perform`: the created contact. Fields the
/// user left empty are not sent.
fn add_contact(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let request = Request::post(api_url(z, "/contacts")?).json(contact_body(&bundle.input_data));
    json_body(z.request(request)?)
}

/// The body of a new contact: the fields the user filled in.
fn contact_body(input: &Map<String, Value>) -> Value {
    let mut body = Map::new();
    for key in CONTACT_INPUTS {
        if let Some(value) = input.get(key).filter(|value| !value.is_null()) {
            body.insert(key.to_string(), value.clone());
        }
    }
    Value::Object(body)
}

/// `creates.create_contact.operation.performBuffer`: every buffered run in
/// one `POST /contacts/batch`; each run's answer, keyed by its ID, is
/// `{"outputData": contact}` or `{"error": message}` (a duplicate email
/// fails only its own run).
fn add_contacts(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let contacts: Vec<Value> = bundle.buffer.iter().map(|run| contact_body(&run.input_data)).collect();
    let request = Request::post(api_url(z, "/contacts/batch")?).json(json!({ "contacts": contacts }));
    let answer = json_body(z.request(request)?)?;
    let results = answer.get("results").and_then(Value::as_array).filter(|r| r.len() == bundle.buffer.len());
    let results =
        results.ok_or_else(|| ZError::General("The CRM API's batch answer has no result per contact".into()))?;
    let mut by_run = Map::new();
    for (run, result) in bundle.buffer.iter().zip(results) {
        let entry = match (result.get("contact"), result.pointer("/error/message").and_then(Value::as_str)) {
            (Some(contact), _) => json!({ "outputData": contact }),
            (None, Some(message)) => json!({ "error": message }),
            (None, None) => json!({ "error": "The CRM API gave no result for this contact" }),
        };
        by_run.insert(run.meta.id.clone(), entry);
    }
    Ok(Value::Object(by_run))
}

/// `export_contact`: starts an export job; the step waits until the CRM POSTs
/// the job's result to the callback URL.
pub(crate) fn export_contact() -> Create {
    Create::new("export_contact", "Export")
        .display("Export Contact", "Exports a contact as a vCard and waits until the CRM reports the export done.")
        .operation(
            Operation::new()
                .perform(start_export)
                .perform_resume(finish_export)
                .input_field(contact::id_input_field())
                .output_field(Field::new("id").label("Export ID").kind("integer"))
                .output_field(Field::new("status").label("Status").kind("string"))
                .output_field(Field::new("contact_id").label("Contact ID").kind("integer"))
                .output_field(Field::new("lines").label("vCard Lines").kind("integer"))
                .output_field(Field::new("resumed").label("Resumed").kind("boolean"))
                .sample(json!({
                    "id": 1,
                    "export_id": 1,
                    "status": "done",
                    "contact_id": 1,
                    "lines": 9,
                    "resumed": true,
                })),
        )
}

/// `creates.export_contact.operation.perform`: `POST /exports` with a fresh
/// callback URL. The answer (`{"id","status":"pending"}`) is kept as
/// `bundle.outputData` for [`finish_export`].
fn start_export(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let contact_id = contact::id_input(bundle)?;
    let callback_url = z.generate_callback_url()?;
    let request =
        Request::post(api_url(z, "/exports")?).json(json!({ "contact_id": contact_id, "callback_url": callback_url }));
    json_body(z.request(request)?)
}

/// `creates.export_contact.operation.performResume`: the started export
/// updated with what the CRM posted back
/// (`{"export_id","status":"done","contact_id","lines"}`), marked `resumed`.
pub(crate) fn finish_export(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut result = Map::new();
    for part in [&bundle.output_data, &bundle.cleaned_request] {
        if let Some(Value::Object(fields)) = part {
            result.extend(fields.clone());
        }
    }
    result.insert("resumed".to_string(), Value::Bool(true));
    Ok(Value::Object(result))
}

/// `attach_vcard`: the contact's vCard, stored as a file.
pub(crate) fn attach_vcard() -> Create {
    Create::new("attach_vcard", "File")
        .display("Attach Contact Card", "Stores a contact's vCard as a file that later steps can attach or upload.")
        .operation(
            Operation::new()
                .perform(stash_vcard)
                .input_field(contact::id_input_field())
                .output_field(Field::new("contact_id").label("Contact ID").kind("integer"))
                .output_field(Field::new("file").label("vCard File").kind("file"))
                .sample(json!({
                    "contact_id": 1,
                    "file": "https://files.example.com/stash/ada-lovelace.vcf",
                })),
        )
}

/// `creates.attach_vcard.operation.perform`: has the host download
/// `GET /contacts/{id}/vcard` into the stash (the file is named from the
/// API's Content-Disposition) and returns the stashed file's URL.
fn stash_vcard(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let contact_id = contact::id_input(bundle)?;
    let mut request = Request::get(api_url(z, &format!("/contacts/{contact_id}/vcard"))?);
    // The host makes this request itself, outside z.request: beforeRequest
    // does not run, so the key is added here.
    if let Some(key) = bundle.auth_str("api_key") {
        request = request.header(middleware::API_KEY_HEADER, key);
    }
    let file = z.stash_file(request)?;
    Ok(json!({ "contact_id": contact_id, "file": file }))
}
