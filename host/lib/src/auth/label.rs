//! The connection label: what a user sees for a connected account,
//! rendered from the auth test's result and authData.

use std::convert::Infallible;

use serde_json::Value;
use zapwasm_rules::curly;

use crate::censor::Censor;
use crate::json::Json;

/// Render a `connectionLabel` template: `{{bundle.inputData.x}}` reads the
/// test result, `{{bundle.authData.x}}` authData, and a bare `{{x}}` the
/// test result. A value that is missing or null renders as nothing. The
/// curlies are found as the guest SDK finds them ([`curly::scan`]); this
/// lookup is the host's own.
pub(crate) fn render(template: &str, test_result: &Value, auth_data: &serde_json::Map<String, Value>) -> String {
    let rendered = curly::replace(template, |curly, out| {
        let path = curly.expression;
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
        Ok::<(), Infallible>(())
    });
    let Ok(label) = rendered;
    label
}

/// A label a function returned, secrets censored: a string as it is; any
/// other JSON that holds a secret becomes its text, censored (what a
/// label that is not a string is shown as).
pub(crate) fn censored(label: Json, censor: &Censor) -> Json {
    match label.value() {
        Value::String(text) => Value::from(censor.apply(&text)).into(),
        _ if censor.finds(label.as_str()) => Value::from(censor.apply(label.as_str())).into(),
        _ => label,
    }
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

    #[test]
    fn a_function_label_is_censored_as_a_string_or_as_its_text() {
        let censor = Censor::new(json!({"api_key": "k3y-1/2"}).as_object().unwrap(), []);
        let label = |value: Value| censored(value.into(), &censor).value();
        assert_eq!(label(json!("Acme k3y-1/2")), json!("Acme :censored:"));
        assert_eq!(label(json!({"key": "k3y-1/2"})), json!(r#"{"key":":censored:"}"#));
        assert_eq!(label(json!({"name": "Acme"})), json!({"name": "Acme"}), "kept as it is without a secret");
    }

    #[test]
    fn an_unclosed_curly_is_kept_and_expressions_are_trimmed() {
        let result = json!({"name": "Acme"});
        let auth = serde_json::Map::new();
        assert_eq!(render("{{ name }} {{name", &result, &auth), "Acme {{name");
        assert_eq!(render("no curlies", &result, &auth), "no curlies");
    }
}
