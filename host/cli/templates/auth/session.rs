/// Session authentication: username and password are exchanged for a
/// session key (`POST /session`), sent on every request; a 401 gets a new one.
fn authentication() -> Authentication {
    Authentication::new(AuthType::Session)
        .field(Field::new("username").label("Username").required(true).kind("string"))
        .field(Field::new("password").label("Password").required(true).kind("password").help_text(
            "The password you sign in with; reset it [on the sign-in page](https://app.example.com/password-reset).",
        ))
        .session_perform(get_session_key)
        .test(test_auth)
        .connection_label("{{bundle.authData.username}}")
}

/// `authentication.sessionConfig.perform`: `{"session_key": ...}`, merged into authData.
fn get_session_key(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let body = json!({
        "username": bundle.auth_str("username").unwrap_or_default(),
        "password": bundle.auth_str("password").unwrap_or_default(),
    });
    let answer = json_body(z.request(Request::post(format!("{}/session", base_url(z))).json(body))?)?;
    let key = answer.get("session_key").and_then(Value::as_str);
    let key = key.ok_or_else(|| ZError::general("The API's session answer has no session_key"))?;
    Ok(json!({"session_key": key}))
}

/// `authentication.test`: the account the session belongs to.
fn test_auth(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    json_body(z.request(format!("{}/me", base_url(z)))?)
}

/// beforeRequest: the session key on every request to the API (not on the
/// request that gets it).
fn authorize(mut request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(key) = bundle.auth_str("session_key").filter(|key| !key.is_empty())
        && is_api(z, &request.url)
    {
        request.set_header("X-Session-Key", key);
    }
    Ok(request)
}
