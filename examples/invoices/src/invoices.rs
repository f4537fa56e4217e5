//! Invoices: `create_invoice`, whose input has line items (description,
//! quantity, unit price in cents) and a customer picked from a dropdown fed
//! by the hidden `customer_list` trigger; each created invoice carries its
//! PDF dehydrated, and the `invoice_pdf` hydrator stashes the PDF when a
//! step uses it.

use zapwasm_guest::prelude::*;

use crate::{api_url, json_body};

/// `hydrators.invoice_pdf`, named in the dehydrated `pdf` of an invoice.
pub(crate) const PDF_HYDRATOR: &str = "invoice_pdf";

/// `create_invoice`: `POST /invoices`.
pub(crate) fn create_invoice() -> Create {
    let line_items = Field::new("line_items").label("Line Items").required(true).children(vec![
        Field::new("description").label("Description").required(true).kind("string"),
        Field::new("quantity").label("Quantity").required(true).kind("integer"),
        Field::new("unit_price").label("Unit Price (cents)").required(true).kind("integer"),
    ]);
    Create::new("create_invoice", "Invoice").display("Create Invoice", "Creates an invoice with line items.").operation(
        Operation::new()
            .perform(add_invoice)
            .input_field(
                Field::new("customer_id")
                    .label("Customer")
                    .required(true)
                    .kind("integer")
                    .dynamic("customer_list.id.name")
                    .search("find_customer.id"),
            )
            .input_field(
                Field::new("currency")
                    .label("Currency")
                    .required(true)
                    .default("EUR")
                    .choices(json!(["EUR", "USD", "GBP"])),
            )
            .input_field(Field::new("due_date").label("Due Date").kind("string").help_text("As `YYYY-MM-DD`."))
            .input_field(line_items)
            .output_field(Field::new("id").label("Invoice ID").kind("integer").primary(true))
            .output_field(Field::new("number").label("Number").kind("string"))
            .output_field(Field::new("total").label("Total (cents)").kind("integer"))
            .output_field(Field::new("pdf").label("PDF").kind("file"))
            .sample(json!({
                "id": 1, "number": "INV-0001", "customer_id": 1, "currency": "EUR", "due_date": "2026-01-31",
                "line_items": [{"description": "Design", "quantity": 2, "unit_price": 1250, "amount": 2500}],
                "total": 2500, "pdf": "hydrate|||...|||hydrate"
            })),
    )
}

/// One line item as the API takes it: quantity and price as whole numbers
/// (given as numbers, or as their text when mapped from an earlier step).
pub(crate) fn line_item(index: usize, line: &Value) -> Result<Value, ZError> {
    let whole = |key: &str| match line.get(key) {
        Some(Value::Number(number)) if number.is_u64() => Ok(Value::Number(number.clone())),
        Some(Value::String(text)) if text.trim().parse::<u64>().is_ok() => Ok(json!(text.trim().parse::<u64>().ok())),
        _ => Err(ZError::General(format!("Line item {} needs {key} as a whole number", index + 1))),
    };
    let description = line.get("description").and_then(Value::as_str).filter(|text| !text.trim().is_empty());
    let description =
        description.ok_or_else(|| ZError::General(format!("Line item {} needs a description", index + 1)))?;
    Ok(json!({"description": description, "quantity": whole("quantity")?, "unit_price": whole("unit_price")?}))
}

/// `creates.create_invoice.operation.perform`: the created invoice, its
/// PDF dehydrated (fetched and stashed only if a later step uses it).
fn add_invoice(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let lines = match bundle.input("line_items") {
        Some(Value::Array(lines)) if !lines.is_empty() => lines,
        _ => return Err(ZError::General("An invoice needs at least one line item".into())),
    };
    let lines = lines.iter().enumerate().map(|(i, line)| line_item(i, line)).collect::<Result<Vec<_>, _>>()?;
    let mut body = json!({
        "customer_id": bundle.input("customer_id"),
        "currency": bundle.input_str("currency").unwrap_or("EUR"),
        "line_items": lines,
    });
    if let Some(due) = bundle.input_str("due_date").filter(|due| !due.is_empty()) {
        body["due_date"] = json!(due);
    }
    let mut invoice = json_body(z.request(Request::post(api_url(z, "/invoices")?).json(body))?)?;
    let id = invoice.get("id").cloned().unwrap_or(Value::Null);
    let pdf = z.dehydrate_file(PDF_HYDRATOR, json!({ "id": id }))?;
    invoice["pdf"] = Value::String(pdf);
    Ok(invoice)
}

/// `hydrators.invoice_pdf`: has the host download `GET /invoices/{id}/pdf`
/// into the stash (named from the API's Content-Disposition) and returns
/// the file's URL. The host makes this request itself, outside
/// `z.request`, so the bearer token is added here.
pub(crate) fn invoice_pdf(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let id = match bundle.input("id") {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    };
    let id = id.ok_or_else(|| ZError::General("The PDF hydrator needs an invoice id".into()))?;
    let mut request = Request::get(api_url(z, &format!("/invoices/{id}/pdf"))?);
    if let Some(token) = bundle.auth_str("access_token") {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    Ok(Value::String(z.stash_file(request)?))
}
