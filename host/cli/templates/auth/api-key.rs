/// API-key authentication, tested with `GET /me`, labelled with the account's email.
fn authentication() -> Authentication {
    Authentication::new(AuthType::Custom)
        .field(Field::new("api_key").label("API Key").required(true).kind("password").help_text(
            "Create a key under [Settings > API keys](https://app.example.com/settings/api-keys) and paste it here.",
        ))
        .test(test_auth)
        // The label's inputData is what the test returned.
        .connection_label("{{bundle.inputData.email}}")
}

/// `authentication.test`: the account the key belongs to.
fn test_auth(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    json_body(z.request(format!("{}/me", base_url(z)))?)
}

/// beforeRequest: the account's key on every request to the API.
fn authorize(mut request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(key) = bundle.auth_str("api_key").filter(|key| !key.is_empty())
        && is_api(z, &request.url)
    {
        request.set_header("X-API-Key", key);
    }
    Ok(request)
}
