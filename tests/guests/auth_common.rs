//! What the auth guests (`tests/guests/auth-*`) share: the API's base URL
//! from the app's environment, and a GET of `inputData.path` (default `/me`)
//! used as the auth test and as the `fetch` create.

use zapwasm_guest::prelude::*;

/// `API_BASE` from the app's environment.
pub fn base(z: &Z) -> Result<String, ZError> {
    z.env("API_BASE").ok_or_else(|| ZError::general("API_BASE is not set"))
}

/// GETs `API_BASE` + `inputData.path` (default `/me`) and returns the parsed body.
pub fn get(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let path = bundle.input_str("path").unwrap_or("/me");
    let response = z.request(format!("{}{path}", base(z)?))?;
    Ok(response.data.unwrap_or(Value::Null))
}

/// As [`fetch`] with skipThrowForStatus: `{"status": .., "data": ..}`.
pub fn fetch_skip(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let path = bundle.input_str("path").unwrap_or("/me");
    let response = z.request(Request::get(format!("{}{path}", base(z)?)).skip_throw_for_status(true))?;
    Ok(json!({ "status": response.status, "data": response.data }))
}

/// `{"data": <get>}`: the create's result must be an object.
pub fn fetch(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!({ "data": get(z, bundle)? }))
}

/// The `fetch` create.
pub fn fetch_create() -> Create {
    Create::new("fetch", "Item")
        .display("Fetch", "GETs inputData.path from the API.")
        .operation(Operation::new().perform(fetch).sample(json!({"data": {}})))
}

/// The `fetch_skip` create.
pub fn fetch_skip_create() -> Create {
    Create::new("fetch_skip", "Item")
        .display("Fetch Skipping Throw", "GETs inputData.path with skipThrowForStatus.")
        .operation(Operation::new().perform(fetch_skip).sample(json!({"status": 200})))
}

/// The username and password fields.
#[allow(dead_code, reason = "OAuth 2 has no user fields")]
pub fn with_user_fields(authentication: Authentication) -> Authentication {
    authentication
        .field(Field::new("username").label("Username").required(true))
        .field(Field::new("password").label("Password").required(true).kind("password"))
}
