//! Connecting a CRM account: the user pastes an API key, and the connection
//! test asks the API whose key it is.
//!
//! Custom auth adds nothing to requests by itself; [`crate::middleware`] puts
//! the key on every request to the CRM, the test's included.

use zapwasm_guest::prelude::*;

use crate::{api_url, json_body};

/// API-key authentication, tested with `GET /me`, labelled with the account name.
pub(crate) fn authentication() -> Authentication {
    Authentication::new(AuthType::Custom)
        .field(Field::new("api_key").label("API Key").required(true).kind("password").help_text(
            "Create a key in your CRM under \
                     [Settings > API Keys](https://crm.example.com/settings/api-keys) \
                     and paste it here.",
        ))
        .test(test)
        // The label's inputData is what the test returned: the account from /me.
        .connection_label("{{bundle.inputData.name}}")
}

/// `authentication.test`: the account the key belongs to
/// (`{"id","name","email","plan"}`). A rejected key fails in the middleware
/// with an expired-auth error.
fn test(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    json_body(z.request(api_url(z, "/me")?)?)
}
