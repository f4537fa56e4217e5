//! OAuth 1 (`tests/all/auth.rs`): the host signs every request with
//! HMAC-SHA1, the consumer from `CLIENT_ID`/`CLIENT_SECRET` and the token
//! from authData's `oauth_token`/`oauth_token_secret`; the app adds nothing.
//! Its getRequestToken and getAccessToken are shorthand requests.

#[path = "../../auth_common.rs"]
mod common;

use zapwasm_guest::prelude::*;

fn app() -> App {
    App::new("1.0.0")
        .authentication(
            Authentication::new(AuthType::OAuth1)
                .test(common::get)
                .connection_label("{{bundle.inputData.name}}")
                .oauth1(OAuth1Config {
                    // Asks for a temporary token, signed with the consumer alone.
                    get_request_token: Request::post("{{process.env.API_BASE}}/oauth/request_token")
                        .form(json!({"oauth_callback": "{{bundle.inputData.redirect_uri}}"}))
                        .into(),
                    authorize_url: Request::get("{{process.env.API_BASE}}/authorize")
                        .param("oauth_token", "{{bundle.inputData.oauth_token}}"),
                    // Exchanges the verifier for the access token.
                    get_access_token: Request::post("{{process.env.API_BASE}}/oauth/access_token")
                        .form(json!({"oauth_verifier": "{{bundle.inputData.oauth_verifier}}"}))
                        .into(),
                }),
        )
        .create(common::fetch_create())
        .create(common::fetch_skip_create())
        .create(
            Create::new("note", "Note")
                .display("Note", "POSTs inputData as a form to /notes?via=zapwasm.")
                .operation(Operation::new().perform(post_note).sample(json!({"data": {}}))),
        )
}

zapwasm_guest::export_app!(app);

/// POSTs `form` to `path` and returns the parsed answer.
fn post_form(z: &Z, path: &str, form: Value) -> Result<Value, ZError> {
    let request = Request::post(format!("{}{path}", common::base(z)?)).form(form);
    Ok(z.request(request)?.data.unwrap_or(Value::Null))
}

/// POSTs inputData form-encoded to `/notes?via=zapwasm`: the signature
/// covers the query and the form.
fn post_note(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!({ "data": post_form(z, "/notes?via=zapwasm", Value::Object(bundle.input_data.clone()))? }))
}
