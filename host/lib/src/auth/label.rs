//! The connection label: what a user sees for a connected account,
//! rendered from the auth test's result and authData.

use serde_json::Value;

/// Render a `connectionLabel` template: `{{bundle.inputData.x}}` reads the
/// test result, `{{bundle.authData.x}}` authData
/// ), and a bare `{{x}}` the test result.
pub(crate) fn render(template: &str, test_result: &Value, auth_data: &serde_json::Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let path = rest[start + 2..start + end].trim();
        let value = if let Some(p) = path.strip_prefix("bundle.authData.") {
            auth_data.get(p)
        } else {
            lookup(test_result, path.strip_prefix("bundle.inputData.").unwrap_or(path))
        };
        match value {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_from_the_test_result_and_auth_data() {
        let result = json!({"name": "Acme", "owner": {"email": "o@acme.test"}, "id": 7});
        let auth = json!({"subdomain": "acme"});
        let auth = auth.as_object().unwrap();
        assert_eq!(render("{{bundle.inputData.name}} ({{owner.email}})", &result, auth), "Acme (o@acme.test)");
        assert_eq!(render("{{bundle.authData.subdomain}} #{{id}}{{missing}}", &result, auth), "acme #7");
    }
}
