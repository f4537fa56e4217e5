//! Customers: `customer_list`, a hidden trigger that feeds the customer
//! dropdown of an invoice; `find_customer`, a search by email;
//! `create_customer`; and the search-or-create pairing the two, so a step
//! can find a customer by email or create it.

use zapwasm_guest::prelude::*;

use crate::{api_url, json_body, list_of};

/// The key of the search, and of the search-or-create pairing it with the create.
const FIND_CUSTOMER: &str = "find_customer";
/// The key of the create.
const CREATE_CUSTOMER: &str = "create_customer";

/// A customer's sample and output fields.
fn customer_fields(operation: Operation) -> Operation {
    operation
        .output_field(Field::new("id").label("Customer ID").kind("integer").primary(true))
        .output_field(Field::new("name").label("Name").kind("string"))
        .output_field(Field::new("email").label("Email").kind("string"))
        .sample(json!({"id": 1, "name": "Acme Ltd", "email": "billing@acme.test"}))
}

/// `customer_list`: hidden, polled only to fill the dropdown of `customer_id`.
pub(crate) fn customer_list() -> Trigger {
    Trigger::new("customer_list", "Customer")
        .display("New Customer", "Triggers when a customer is added (lists customers for dropdowns).")
        .hidden(true)
        .operation(customer_fields(Operation::polling().perform(list_customers)))
}

/// `triggers.customer_list.operation.perform`: the newest customers.
fn list_customers(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let limit = if bundle.meta.limit > 0 { bundle.meta.limit.min(100) } else { 100 };
    let request = Request::get(api_url(z, "/customers")?).param("limit", limit);
    list_of(json_body(z.request(request)?)?, "customers")
}

/// `find_customer`: `GET /customers/search?email=...`.
pub(crate) fn find_customer() -> Search {
    Search::new(FIND_CUSTOMER, "Customer").display("Find Customer", "Finds a customer by email.").operation(
        customer_fields(Operation::new().perform(search_customers).input_field(
            Field::new("email").label("Email").required(true).kind("string").help_text("The customer's billing email."),
        )),
    )
}

/// `searches.find_customer.operation.perform`: the customers with the email (none or one).
fn search_customers(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let email = bundle.input_str("email").unwrap_or_default();
    let request = Request::get(api_url(z, "/customers/search")?).param("email", email);
    list_of(json_body(z.request(request)?)?, "customers")
}

/// `create_customer`: `POST /customers`.
pub(crate) fn create_customer() -> Create {
    Create::new(CREATE_CUSTOMER, "Customer").display("Create Customer", "Creates a customer.").operation(
        customer_fields(
            Operation::new()
                .perform(add_customer)
                .input_field(Field::new("email").label("Email").required(true).kind("string"))
                .input_field(
                    Field::new("name")
                        .label("Name")
                        .kind("string")
                        .help_text("Shown on invoices; the email when left out."),
                ),
        ),
    )
}

/// `creates.create_customer.operation.perform`: the created customer.
fn add_customer(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut body = Map::new();
    for key in ["email", "name"] {
        if let Some(value) = bundle.input(key).filter(|value| !value.is_null()) {
            body.insert(key.to_string(), value.clone());
        }
    }
    json_body(z.request(Request::post(api_url(z, "/customers")?).json(Value::Object(body)))?)
}

/// Find a customer by email, or create one with the same input.
pub(crate) fn find_or_create_customer() -> SearchOrCreate {
    SearchOrCreate::new(FIND_CUSTOMER, FIND_CUSTOMER, CREATE_CUSTOMER)
        .display("Find or Create Customer", "Finds a customer by email, or creates one when there is none.")
}
