/// OAuth 2: the user grants access on the API's site; the code is exchanged
/// for tokens, refreshed on a 401. `CLIENT_ID` and `CLIENT_SECRET` come
/// from the integration's environment.
fn authentication() -> Authentication {
    Authentication::new(AuthType::OAuth2)
        .oauth2(OAuth2Config {
            authorize_url: Request::get("https://app.example.com/oauth/authorize")
                .param("client_id", "{{process.env.CLIENT_ID}}")
                .param("state", "{{bundle.inputData.state}}")
                .param("redirect_uri", "{{bundle.inputData.redirect_uri}}")
                .param("response_type", "code"),
            get_access_token: Step::Function(get_access_token),
            refresh_access_token: Some(Step::Function(refresh_access_token)),
            auto_refresh: true,
            scope: Some("read write".into()),
            enable_pkce: true,
        })
        .test(test_auth)
        .connection_label("{{bundle.inputData.email}}")
}

/// POSTs `form` (with the client's credentials) to `/oauth/token`: the tokens.
fn token(z: &Z, mut form: Map<String, Value>) -> Result<Value, ZError> {
    for (field, var) in [("client_id", "CLIENT_ID"), ("client_secret", "CLIENT_SECRET")] {
        form.insert(field.into(), json!(z.env(var).unwrap_or_default()));
    }
    json_body(z.request(Request::post(format!("{}/oauth/token", base_url(z))).form(Value::Object(form)))?)
}

/// `authentication.oauth2Config.getAccessToken`: the code (and the PKCE
/// verifier) for tokens, which become the account's authData.
fn get_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut form = Map::new();
    form.insert("grant_type".into(), json!("authorization_code"));
    for key in ["code", "redirect_uri", "code_verifier"] {
        if let Some(value) = bundle.input(key) {
            form.insert(key.into(), value.clone());
        }
    }
    token(z, form)
}

/// `authentication.oauth2Config.refreshAccessToken`: new tokens for the refresh token.
fn refresh_access_token(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let mut form = Map::new();
    form.insert("grant_type".into(), json!("refresh_token"));
    form.insert("refresh_token".into(), json!(bundle.auth_str("refresh_token").unwrap_or_default()));
    token(z, form)
}

/// `authentication.test`: the account the token belongs to.
fn test_auth(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    json_body(z.request(format!("{}/me", base_url(z)))?)
}

/// beforeRequest: the access token on every request to the API.
fn authorize(mut request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
    if let Some(token) = bundle.auth_str("access_token").filter(|token| !token.is_empty())
        && is_api(z, &request.url)
    {
        request.set_header("Authorization", format!("Bearer {token}"));
    }
    Ok(request)
}
