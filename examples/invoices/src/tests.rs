//! Native unit tests: the integration's functions and middleware called
//! with a `Z` whose requests a fake invoicing API answers
//! (`zapwasm_guest::testing`), checking what they sent and what they made
//! of the answers. The end-to-end tests (`tests/all/invoices.rs`) run the
//! built component against the real example API.

use zapwasm_guest::prelude::*;
use zapwasm_guest::testing::{Dehydrated, FakeHttp, PointerKind, Reply, TestCall};

use crate::{app, auth, invoices};

const BASE: &str = "https://invoices.test/v1";

/// A call of the app against `api`, configured for it.
fn call(api: &FakeHttp) -> TestCall {
    TestCall::new(app(), api)
        .env("INVOICES_BASE_URL", format!("{BASE}/"))
        .env("CLIENT_ID", "client-1")
        .env("CLIENT_SECRET", "secret-1")
}

/// A connected account's bundle with this inputData.
fn bundle(input: Value) -> Bundle {
    let mut bundle = Bundle::default();
    bundle.auth_data.insert("access_token".into(), json!("token-1"));
    bundle.auth_data.insert("refresh_token".into(), json!("refresh-1"));
    bundle.input_data = input.as_object().cloned().unwrap_or_default();
    bundle
}

#[test]
fn the_bearer_token_goes_only_to_the_api_and_never_to_the_token_endpoint() {
    let z = call(&FakeHttp::new()).z(bundle(json!({})));
    let header = |url: String| {
        let request = auth::add_bearer(Request::get(url), &z, &bundle(json!({}))).unwrap();
        request.get_header("Authorization").map(str::to_string)
    };
    assert_eq!(header(format!("{BASE}/customers")), Some("Bearer token-1".into()));
    assert_eq!(header(format!("{BASE}/oauth/token")), None);
    assert_eq!(header("https://invoices.test/v1.evil/customers".into()), None);
    assert_eq!(header("https://other.test/v1/customers".into()), None);
}

#[test]
fn the_code_is_exchanged_with_the_pkce_verifier_and_the_clients_credentials() {
    let api = FakeHttp::new().on(
        "POST",
        &format!("{BASE}/oauth/token"),
        Reply::json(json!({"access_token": "a", "refresh_token": "r"})),
    );
    let input = json!({"code": "c-1", "redirect_uri": "https://app.test/cb", "code_verifier": "v-1"});
    let tokens = call(&api).run("authentication.oauth2Config.getAccessToken", bundle(input)).unwrap();
    assert_eq!(tokens, json!({"access_token": "a", "refresh_token": "r"}));
    let form = api.sent()[0].text();
    for pair in [
        "grant_type=authorization_code",
        "code=c-1",
        "code_verifier=v-1",
        "client_id=client-1",
        "client_secret=secret-1",
    ] {
        assert!(form.contains(pair), "{pair} in {form}");
    }
    assert_eq!(api.sent()[0].header("authorization"), None);
}

#[test]
fn line_items_go_out_with_whole_numbers_and_a_bad_line_is_named() {
    let line = |value: Value| invoices::line_item(1, &value);
    assert_eq!(
        line(json!({"description": "Domain", "quantity": "2", "unit_price": " 300 ", "note": "dropped"})).unwrap(),
        json!({"description": "Domain", "quantity": 2, "unit_price": 300})
    );
    assert_eq!(
        line(json!({"description": "Hosting", "quantity": 1, "unit_price": 2000})).unwrap(),
        json!({"description": "Hosting", "quantity": 1, "unit_price": 2000})
    );
    let error = line(json!({"description": "Hosting", "quantity": 1.5, "unit_price": 1})).unwrap_err();
    assert_eq!(error, ZError::General("Line item 2 needs quantity as a whole number".into()));
    let error = line(json!({"description": " ", "quantity": 1, "unit_price": 1})).unwrap_err();
    assert_eq!(error, ZError::General("Line item 2 needs a description".into()));
}

#[test]
fn a_duplicate_customer_halts_and_other_refusals_carry_the_apis_message() {
    let refusal =
        |status: u16, message: &str| Reply::json(json!({"error": "x", "message": message})).with_status(status);
    let api = FakeHttp::new().on(
        "POST",
        &format!("{BASE}/customers"),
        refusal(409, "a customer with the email a@b.test exists"),
    );
    let error =
        call(&api).run("creates.create_customer.operation.perform", bundle(json!({"email": "a@b.test"}))).unwrap_err();
    assert_eq!(error, ZError::Halted("a customer with the email a@b.test exists".into()));
    let api = FakeHttp::new().on("GET", &format!("{BASE}/customers/search"), refusal(422, "email is required"));
    let error = call(&api).run("searches.find_customer.operation.perform", bundle(json!({"email": ""}))).unwrap_err();
    assert_eq!(error, ZError::General("The invoicing API refused the request (422): email is required".into()));
}

#[test]
fn an_invoice_is_created_with_its_lines_and_its_pdf_dehydrated() {
    let created = json!({"id": 42, "number": "INV-0042", "customer_id": 3, "currency": "USD", "total": 2600});
    let api = FakeHttp::new().on("POST", &format!("{BASE}/invoices"), Reply::json(created).with_status(201));
    let call = call(&api);
    let input = json!({
        "customer_id": 3,
        "currency": "USD",
        "due_date": "2026-02-01",
        "line_items": [{"description": "Domain", "quantity": "2", "unit_price": 300}, {"description": "Hosting", "quantity": 1, "unit_price": 2000}],
    });
    let invoice = call.run("creates.create_invoice.operation.perform", bundle(input)).unwrap();
    let sent = &api.sent()[0];
    assert_eq!(sent.header("authorization"), Some("Bearer token-1"));
    assert_eq!(
        sent.json(),
        Some(json!({
            "customer_id": 3,
            "currency": "USD",
            "line_items": [
                {"description": "Domain", "quantity": 2, "unit_price": 300},
                {"description": "Hosting", "quantity": 1, "unit_price": 2000},
            ],
            "due_date": "2026-02-01",
        }))
    );
    assert_eq!((invoice["id"].clone(), invoice["number"].clone()), (json!(42), json!("INV-0042")));
    let pdf =
        Dehydrated { kind: PointerKind::File, method: "hydrators.invoice_pdf".into(), input_data: json!({"id": 42}) };
    assert_eq!(Dehydrated::read(invoice["pdf"].as_str().unwrap()), Some(pdf.clone()));
    assert_eq!(call.dehydrated(), [pdf]);
    let error = call.run("creates.create_invoice.operation.perform", bundle(json!({"line_items": []}))).unwrap_err();
    assert_eq!(error, ZError::General("An invoice needs at least one line item".into()));
    assert_eq!((api.sent().len(), call.dehydrated().len()), (1, 1), "nothing sent or dehydrated for a refused invoice");
}

#[test]
fn the_pdf_hydrator_stashes_the_pdf_with_the_accounts_token() {
    let api = FakeHttp::new().on(
        "GET",
        &format!("{BASE}/invoices/42/pdf"),
        Reply::text("%PDF-1.4 invoice 42")
            .header("content-type", "application/pdf")
            .header("content-disposition", "attachment; filename=\"INV-0042.pdf\""),
    );
    let call = call(&api);
    let url = call.run("hydrators.invoice_pdf", bundle(json!({"id": 42}))).unwrap();
    let stashed = call.stashed();
    assert_eq!(url, json!(stashed[0].url));
    assert_eq!((stashed[0].filename.as_str(), stashed[0].text()), ("INV-0042.pdf", "%PDF-1.4 invoice 42".into()));
    assert_eq!(api.sent()[0].header("authorization"), Some("Bearer token-1"));
    let error = call.run("hydrators.invoice_pdf", bundle(json!({}))).unwrap_err();
    assert_eq!(error, ZError::General("The PDF hydrator needs an invoice id".into()));
}
